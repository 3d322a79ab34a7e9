//! Fleet state through Redis (feature `redis`): every process whose chain has the same id and points at the
//! same Redis shares its breakers, cooldowns, half-open probes and rate budgets.
//!
//! ```no_run
//! # async fn demo(entries: Vec<llm_chain::Entry>) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use llm_chain::Chain;
//! use llm_chain::redis::{RedisOptions, RedisState};
//!
//! let state = RedisState::connect("redis://127.0.0.1:6379", RedisOptions::default().namespace("myapp"))?;
//! let mut builder = Chain::builder().id("support-bot").state(Arc::new(state));
//! for e in entries {
//!     builder = builder.entry(e);
//! }
//! let chain = builder.build()?;
//! # Ok(()) }
//! ```
//!
//! How it works. Decisions stay in process: the chain reads its [`FleetView`], which a subscriber task
//! keeps current from the chain's pub/sub channel (`{namespace}:{chain}`): a breaker opened or closed
//! anywhere reaches every process as one message. Before its first call a process reads every breaker
//! (one script), so a process that starts later honours what is open. Redis is asked, within a bounded
//! wait ([`RedisOptions::wait`], 5 ms by default), only for the half-open probe (a lease with an expiry:
//! one probe per fleet) and for room in a rate budget (a Lua script over per-second counters of the last
//! minute: atomic for the fleet). Outcomes go to a background task that runs the failure and success
//! scripts (fleet-wide consecutive failures: five processes that each see one failure trip the breaker as
//! one process seeing five would) without the call waiting for them.
//!
//! When Redis is down or slower than the bounded wait, every decision falls back to the in-process view;
//! the change is logged once (`fleet state: Redis unreachable`) and, when Redis answers again, the state is
//! read anew and logged once more (`fleet state: Redis reachable again`). No call fails or waits longer
//! than the bounded wait because of Redis. The URL (and any password in it) is never printed.
//!
//! Keys, under `{namespace}:{chain}:{target}`: `:b` the breaker (a hash: consecutive failures `f`, open
//! until `u` in the server's milliseconds), `:p` the probe lease, `:r` and `:t` requests and tokens per
//! second, `:h` the provider's own hold (`retry-after` on a rate-limited answer), `:$m`, `:$h` and `:$d` the
//! dollar budgets' spend (microdollars per second, minute and 24 minutes over the last minute, hour and day:
//! a reservation is counted when it is admitted and corrected by the real cost when it settles). Every time is the Redis
//! server's (`TIME`), so the hosts' clocks need not agree. `:ws` and `:wf` count successes and failures per
//! second over the [`BreakerPolicy`](crate::BreakerPolicy) window, so its failure ratio is the fleet's too
//! (successes are counted in process and sent with the target's next report, every 250 ms, and on
//! [`StateStore::flush`], so the call's path only adds to a counter).
//! A breaker this process opened while Redis was away is offered to the fleet when Redis returns: opened
//! for everyone unless the fleet already has it open. The provider's `x-ratelimit-remaining-*` and
//! `anthropic-ratelimit-*-remaining` headers (whole answers, streams and errors) lower the shared budget to
//! match for every process.

mod tasks;

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{Client, Script};
use llm_core::Usd;
use tokio::sync::{mpsc, watch};

use crate::fleet::{Answer, FleetView, Probe, Rate, Report, StateStore, StoreFuture};

/// Reports waiting for the background task; beyond this they are dropped (the in-process view has them).
const QUEUE: usize = 4096;

/// How the Redis store behaves.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisOptions {
    /// The prefix of every key and channel (default `llmux`).
    pub namespace: String,
    /// The longest a decision waits for Redis before it falls back to the in-process view (default 5 ms).
    pub wait: Duration,
    /// The longest the first call waits for the fleet's state to be read (default 100 ms).
    pub startup_wait: Duration,
    /// How long a half-open probe lease lasts when its holder never reports (default 30 s).
    pub probe_lease: Duration,
    /// The certificate authority a `rediss://` server's certificate must chain to, PEM (default: the
    /// system's roots).
    pub root_certificate: Option<Vec<u8>>,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            namespace: "llmux".to_owned(),
            wait: Duration::from_millis(5),
            startup_wait: Duration::from_millis(100),
            probe_lease: Duration::from_secs(30),
            root_certificate: None,
        }
    }
}

impl RedisOptions {
    /// Sets the key namespace.
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// Sets the bounded wait of a decision.
    #[must_use]
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Sets the bounded wait for the first read of the fleet's state.
    #[must_use]
    pub fn startup_wait(mut self, wait: Duration) -> Self {
        self.startup_wait = wait;
        self
    }

    /// Trusts `pem` (a certificate authority, PEM) for a `rediss://` server's certificate, instead of the
    /// system's roots: a private CA, or a server's self-signed certificate.
    #[must_use]
    pub fn root_certificate(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificate = Some(pem.into());
        self
    }

    /// Sets the probe lease's expiry.
    #[must_use]
    pub fn probe_lease(mut self, lease: Duration) -> Self {
        self.probe_lease = lease;
        self
    }
}

/// Why the Redis store could not be set up. Never carries the URL.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// The URL is not a Redis URL (`redis://`, `rediss://` or `unix://`).
    InvalidUrl,
    /// No tokio runtime is running (the store spawns its background tasks on it).
    NoRuntime,
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::InvalidUrl => f.write_str("invalid redis url"),
            StateError::NoRuntime => f.write_str("the redis state store needs a tokio runtime"),
        }
    }
}

impl std::error::Error for StateError {}

/// Bounded waits that must pass in a row before Redis counts as away.
const SLOW_IN_A_ROW: u32 = 3;
/// The least time between two warnings about Redis coming and going.
const WARN_EVERY: Duration = Duration::from_secs(30);

/// Whether a warning may be logged at `now`, the last one having been at `last`; records it when it may.
fn warn_now(last: &mut Option<std::time::Instant>, now: std::time::Instant) -> bool {
    if last.is_some_and(|at| now.saturating_duration_since(at) < WARN_EVERY) {
        return false;
    }
    *last = Some(now);
    true
}

/// Whether Redis answered lately, for the once-per-change log lines.
const UNKNOWN: u8 = 0;
const UP: u8 = 1;
const DOWN: u8 = 2;

/// The keys of one target.
#[derive(Debug)]
struct Keys {
    id: String,
    breaker: String,
    probe: String,
    requests: String,
    tokens: String,
    hold: String,
    /// The dollar windows: minute, hour, day.
    spend: [String; 3],
    /// The failure-ratio window's per-second successes and failures.
    window_ok: String,
    window_failed: String,
    /// The fleet may count failures for this target: the next success is reported.
    dirty: AtomicBool,
    /// A failure was seen while Redis was away: the next sync offers this process's breaker to the fleet.
    unsynced: AtomicBool,
    /// Successes not yet counted in the fleet's failure-ratio window: counted here (no queueing on the
    /// call's path) and sent with the target's next report or the reporter's next tick.
    pending_ok: AtomicU64,
}

impl Keys {
    /// `report` never reached Redis: a failure the fleet should have counted makes the next sync offer
    /// this process's breaker instead.
    fn missed(&self, report: &Report) {
        if matches!(report, Report::Failure { counts: true, .. }) {
            self.unsynced.store(true, Ordering::Relaxed);
        }
    }
}

/// Whether the breaker's failure-ratio rule can trip, so the fleet must count every outcome in its window.
pub(crate) fn ratio_window(policy: &crate::BreakerPolicy) -> bool {
    policy.enabled
        && policy.consecutive_failures > 0
        && policy.failure_ratio <= 1.0
        && !policy.window.is_zero()
}

/// What is known once the chain is attached.
#[derive(Debug)]
struct Bound {
    view: Arc<FleetView>,
    keys: Vec<Keys>,
    channel: String,
    reports: mpsc::Sender<(usize, Report)>,
}

/// The Lua scripts, each prefixed with the server-time preamble.
#[derive(Debug)]
struct Scripts {
    failure: Script,
    success: Script,
    probe: Script,
    release: Script,
    rate: Script,
    tokens: Script,
    exhausted: Script,
    remaining: Script,
    spend: Script,
    sync: Script,
}

macro_rules! script {
    ($file:literal) => {
        Script::new(concat!(include_str!("now.lua"), include_str!($file)))
    };
    // The scripts that count per second: the breaker's failure-ratio window, the rate budgets.
    (window $file:literal) => {
        Script::new(concat!(
            include_str!("now.lua"),
            include_str!("window.lua"),
            include_str!($file)
        ))
    };
}

impl Scripts {
    fn new() -> Self {
        Scripts {
            failure: script!(window "failure.lua"),
            success: script!(window "success.lua"),
            probe: script!("probe.lua"),
            release: script!("release.lua"),
            rate: script!(window "rate.lua"),
            tokens: script!(window "tokens.lua"),
            exhausted: script!("exhausted.lua"),
            remaining: script!(window "remaining.lua"),
            spend: script!("spend.lua"),
            sync: script!("sync.lua"),
        }
    }
}

pub(crate) struct Shared {
    client: Client,
    manager: ConnectionManager,
    options: RedisOptions,
    scripts: Scripts,
    /// This process's probe-lease token.
    token: String,
    status: AtomicU8,
    /// Bounded waits that passed in a row without an answer.
    slow: AtomicU32,
    /// When Redis's coming or going was last a warning.
    last_warning: std::sync::Mutex<Option<std::time::Instant>>,
    bound: OnceLock<Bound>,
    /// `true` once the first read of the fleet's state is done (or given up).
    synced: watch::Sender<bool>,
    /// Reports queued for the background task, and reports it has finished with.
    queued: AtomicU64,
    handled: watch::Sender<u64>,
    runtime: tokio::runtime::Handle,
}

/// A [`StateStore`] that shares a chain's breakers and budgets through Redis. One store serves one chain
/// (pass it to [`ChainBuilder::state`](crate::ChainBuilder::state)); clones share it.
#[derive(Clone)]
pub struct RedisState {
    shared: Arc<Shared>,
}

impl fmt::Debug for RedisState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the URL: it may hold a password.
        f.debug_struct("RedisState")
            .field("namespace", &self.shared.options.namespace)
            .field("reachable", &self.is_reachable())
            .finish_non_exhaustive()
    }
}

impl RedisState {
    /// A store for the Redis at `url` (`redis://[:password@]host:port[/db]`, or `rediss://` for TLS: the
    /// server's certificate checked against the system's roots or [`RedisOptions::root_certificate`]). Nothing is sent yet: the
    /// connection is made in the background, and a Redis that is down now is only logged, never an error.
    /// Must be called inside a tokio runtime.
    pub fn connect(url: &str, options: RedisOptions) -> Result<RedisState, StateError> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| StateError::NoRuntime)?;
        let client = match &options.root_certificate {
            Some(pem) if url.starts_with("rediss://") => Client::build_with_tls(
                url,
                ::redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            ),
            _ => Client::open(url),
        }
        .map_err(|_| StateError::InvalidUrl)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(250)))
            .set_response_timeout(Some(Duration::from_secs(1)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(100));
        let manager = {
            let _guard = runtime.enter();
            ConnectionManager::new_lazy_with_config(client.clone(), config)
                .map_err(|_| StateError::InvalidUrl)?
        };
        let (synced, _) = watch::channel(false);
        let (handled, _) = watch::channel(0);
        Ok(RedisState {
            shared: Arc::new(Shared {
                client,
                manager,
                options,
                scripts: Scripts::new(),
                token: format!("{:016x}", fastrand::u64(..)),
                status: AtomicU8::new(UNKNOWN),
                slow: AtomicU32::new(0),
                last_warning: std::sync::Mutex::new(None),
                bound: OnceLock::new(),
                synced,
                queued: AtomicU64::new(0),
                handled,
                runtime,
            }),
        })
    }

    /// Whether Redis answered the last time it was asked.
    pub fn is_reachable(&self) -> bool {
        self.shared.status.load(Ordering::Relaxed) == UP
    }

    /// Completes once Redis is reachable and the fleet's state has been read (after a start or an outage);
    /// for tests and health checks. Never completes while Redis stays down.
    pub async fn reachable(&self) {
        let mut rx = self.shared.synced.subscribe();
        while !(self.is_reachable() && *rx.borrow_and_update()) {
            if rx.changed().await.is_err() {
                return;
            }
        }
    }
}

impl Shared {
    fn bound(&self) -> Option<&Bound> {
        self.bound.get()
    }

    /// Redis answered.
    fn mark_up(&self) {
        self.slow.store(0, Ordering::Relaxed);
        if self.status.swap(UP, Ordering::Relaxed) == DOWN {
            let namespace = self.options.namespace.as_str();
            if self.may_warn() {
                tracing::warn!(
                    namespace,
                    "fleet state: Redis reachable again; shared state re-synced"
                );
            } else {
                tracing::debug!(
                    namespace,
                    "fleet state: Redis reachable again; shared state re-synced"
                );
            }
        }
    }

    /// Redis did not answer in time, or failed: decide in process until it is back.
    fn mark_down(&self, why: &str) {
        if self.status.swap(DOWN, Ordering::Relaxed) != DOWN {
            let namespace = self.options.namespace.as_str();
            if self.may_warn() {
                tracing::warn!(
                    namespace,
                    reason = why,
                    "fleet state: Redis unreachable; deciding from in-process state until it returns"
                );
            } else {
                tracing::debug!(
                    namespace,
                    reason = why,
                    "fleet state: Redis unreachable; deciding from in-process state until it returns"
                );
            }
        }
    }

    /// Whether a change of Redis's state may be a warning: at most one every [`WARN_EVERY`], so a Redis
    /// that comes and goes does not fill the log (the changes in between are logged at debug).
    fn may_warn(&self) -> bool {
        let now = std::time::Instant::now();
        let mut last = self.last_warning.lock().unwrap_or_else(|e| e.into_inner());
        warn_now(&mut last, now)
    }

    fn is_up(&self) -> bool {
        self.status.load(Ordering::Relaxed) == UP
    }

    /// Runs `invocation` within `wait`; `None` (and Redis marked down) when it fails or is too slow.
    async fn ask<T: ::redis::FromRedisValue>(
        &self,
        script: &Script,
        keys: &[&str],
        args: &[String],
        wait: Duration,
    ) -> Option<T> {
        let mut invocation = script.prepare_invoke();
        for k in keys {
            invocation.key(*k);
        }
        for a in args {
            invocation.arg(a.as_str());
        }
        let mut connection = self.manager.clone();
        match tokio::time::timeout(wait, invocation.invoke_async::<T>(&mut connection)).await {
            Ok(Ok(v)) => {
                self.slow.store(0, Ordering::Relaxed);
                Some(v)
            }
            Ok(Err(e)) => {
                self.mark_down(error_kind(&e));
                None
            }
            Err(_) => {
                // One slow answer is this decision's to make alone; only several in a row say Redis is
                // away (a Redis answering near the bounded wait would otherwise flap up and down).
                if self.slow.fetch_add(1, Ordering::Relaxed) + 1 >= SLOW_IN_A_ROW {
                    self.mark_down("timeout");
                }
                None
            }
        }
    }
}

/// A short description of a Redis error that cannot carry the URL.
fn error_kind(e: &::redis::RedisError) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connection_refusal() {
        "connection refused"
    } else if e.is_io_error() || e.is_connection_dropped() {
        "connection lost"
    } else {
        "redis error"
    }
}

fn ms(d: Duration) -> String {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).to_string()
}

/// `ms` milliseconds read from Redis, at most `max`: a value anyone could have written never holds a
/// target longer than this process's own policy would.
fn clamped(ms: i64, max: Duration) -> Duration {
    Duration::from_millis(u64::try_from(ms).unwrap_or(0)).min(max)
}

/// The longest a rate budget's window holds a request back.
const RATE_WINDOW: Duration = Duration::from_secs(60);
/// The longest a dollar budget's window holds a request back.
const SPEND_WINDOW: Duration = Duration::from_secs(86_400);

impl StateStore for RedisState {
    fn attach(&self, view: Arc<FleetView>) {
        let shared = &self.shared;
        let prefix = format!(
            "{}:{}",
            component(&shared.options.namespace),
            component(view.chain())
        );
        let keys = view
            .targets()
            .iter()
            .map(|t| {
                let base = format!("{prefix}:{}", component(t.id()));
                Keys {
                    id: t.id().to_owned(),
                    breaker: format!("{base}:b"),
                    probe: format!("{base}:p"),
                    requests: format!("{base}:r"),
                    tokens: format!("{base}:t"),
                    hold: format!("{base}:h"),
                    spend: [
                        format!("{base}:$m"),
                        format!("{base}:$h"),
                        format!("{base}:$d"),
                    ],
                    window_ok: format!("{base}:ws"),
                    window_failed: format!("{base}:wf"),
                    dirty: AtomicBool::new(false),
                    unsynced: AtomicBool::new(false),
                    pending_ok: AtomicU64::new(0),
                }
            })
            .collect();
        let (tx, rx) = mpsc::channel(QUEUE);
        let bound = Bound {
            view,
            keys,
            channel: prefix,
            reports: tx,
        };
        if shared.bound.set(bound).is_err() {
            tracing::warn!(
                "fleet state: a RedisState serves one chain; a second chain shares nothing"
            );
            return;
        }
        tasks::spawn(Arc::clone(shared), rx);
    }

    fn ready(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let mut rx = self.shared.synced.subscribe();
            let wait = self.shared.options.startup_wait;
            let _ = tokio::time::timeout(wait, rx.wait_for(|done| *done)).await;
        })
    }

    fn acquire_probe(&self, target: usize) -> StoreFuture<'_, Answer<Probe>> {
        Box::pin(async move {
            let shared = &self.shared;
            let (Some(bound), true) = (shared.bound(), shared.is_up()) else {
                return Answer::Local;
            };
            let Some(keys) = bound.keys.get(target) else {
                return Answer::Local;
            };
            let args = [ms(shared.options.probe_lease), shared.token.clone()];
            let answer: Option<(i64, i64)> = shared
                .ask(
                    &shared.scripts.probe,
                    &[&keys.breaker, &keys.probe],
                    &args,
                    shared.options.wait,
                )
                .await;
            match answer {
                Some((0, _)) => Answer::Shared(Probe::Closed),
                Some((1, left)) => {
                    Answer::Shared(Probe::Open(clamped(left, bound.view.policy().max_cooldown)))
                }
                Some((2, _)) => Answer::Shared(Probe::Granted),
                Some((3, _)) => Answer::Shared(Probe::InFlight),
                _ => Answer::Local,
            }
        })
    }

    fn acquire_rate(&self, target: usize) -> StoreFuture<'_, Answer<Rate>> {
        Box::pin(async move {
            let shared = &self.shared;
            let (Some(bound), true) = (shared.bound(), shared.is_up()) else {
                return Answer::Local;
            };
            let (Some(keys), Some(t)) = (bound.keys.get(target), bound.view.targets().get(target))
            else {
                return Answer::Local;
            };
            let args = [
                t.rpm().unwrap_or(0).to_string(),
                t.tpm().unwrap_or(0).to_string(),
            ];
            let answer: Option<(i64, i64)> = shared
                .ask(
                    &shared.scripts.rate,
                    &[&keys.requests, &keys.tokens, &keys.hold],
                    &args,
                    shared.options.wait,
                )
                .await;
            match answer {
                Some((1, _)) => Answer::Shared(Rate::Admitted),
                Some((_, wait)) => Answer::Shared(Rate::Denied(clamped(wait, RATE_WINDOW))),
                None => Answer::Local,
            }
        })
    }

    fn acquire_spend(&self, target: usize, reserve: Usd) -> StoreFuture<'_, Answer<Rate>> {
        Box::pin(async move {
            let shared = &self.shared;
            let (Some(bound), true) = (shared.bound(), shared.is_up()) else {
                return Answer::Local;
            };
            let (Some(keys), Some(t)) = (bound.keys.get(target), bound.view.targets().get(target))
            else {
                return Answer::Local;
            };
            let mut args = vec!["reserve".to_owned(), micros(reserve).to_string()];
            args.extend(spend_limits(t));
            let [m, h, d] = &keys.spend;
            let answer: Option<(i64, i64)> = shared
                .ask(
                    &shared.scripts.spend,
                    &[m, h, d],
                    &args,
                    shared.options.wait,
                )
                .await;
            match answer {
                Some((1, _)) => Answer::Shared(Rate::Admitted),
                Some((_, wait)) => Answer::Shared(Rate::Denied(clamped(wait, SPEND_WINDOW))),
                None => Answer::Local,
            }
        })
    }

    fn report(&self, target: usize, report: Report) {
        let Some(bound) = self.shared.bound() else {
            return;
        };
        let Some(keys) = bound.keys.get(target) else {
            return;
        };
        match report {
            Report::Failure { counts: true, .. } => keys.dirty.store(true, Ordering::Relaxed),
            // The common path: a success where the fleet counts no failure costs no queueing at all; for
            // the fleet's failure-ratio window it is only counted, and sent later with others.
            Report::Success { probe: false } if !keys.dirty.load(Ordering::Relaxed) => {
                if ratio_window(bound.view.policy()) && self.shared.is_up() {
                    keys.pending_ok.fetch_add(1, Ordering::Relaxed);
                }
                return;
            }
            _ => {}
        }
        if !self.shared.is_up() {
            keys.missed(&report);
            return;
        }
        // Counted before it is sent, so a flush never misses it.
        self.shared.queued.fetch_add(1, Ordering::SeqCst);
        if let Err(full) = bound.reports.try_send((target, report)) {
            keys.missed(&full.into_inner().1);
            self.shared.handled.send_modify(|n| *n += 1);
            tracing::debug!(
                target,
                "fleet state: report queue full; this report stays in process"
            );
        }
    }

    fn flush(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let bound = self.shared.options.startup_wait;
            // Successes only counted so far go out now too (a short-lived process exits next).
            if self.shared.is_up() {
                let _ =
                    tokio::time::timeout(bound, tasks::send_counted_successes(&self.shared)).await;
            }
            let goal = self.shared.queued.load(Ordering::SeqCst);
            let mut rx = self.shared.handled.subscribe();
            let _ = tokio::time::timeout(bound, rx.wait_for(|n| *n >= goal)).await;
        })
    }
}

/// Dollars as the fleet counts them: whole microdollars, rounded up (Lua's numbers are doubles, exact for
/// microdollar sums up to billions of dollars, where picodollars would not be).
pub(crate) fn micros(usd: Usd) -> i64 {
    i64::try_from(usd.picos().div_ceil(1_000_000)).unwrap_or(i64::MAX)
}

/// A target's dollar limits as the spend script's arguments (microdollars; 0: none).
pub(crate) fn spend_limits(target: &crate::fleet::Target) -> [String; 3] {
    target.usd_limits().map(|l| l.map_or(0, micros).to_string())
}

/// One part of a key or channel name: `:` (the separator) and `%` written as `%3A` and `%25`, so that no
/// namespace, chain id and target id can run together into another's.
fn component(part: &str) -> std::borrow::Cow<'_, str> {
    if part.contains([':', '%']) {
        std::borrow::Cow::Owned(part.replace('%', "%25").replace(':', "%3A"))
    } else {
        std::borrow::Cow::Borrowed(part)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn warnings_about_redis_coming_and_going_are_one_per_thirty_seconds() {
        let t0 = Instant::now();
        let mut last = None;
        assert!(warn_now(&mut last, t0));
        assert!(!warn_now(&mut last, t0 + Duration::from_secs(1)));
        assert!(!warn_now(&mut last, t0 + Duration::from_secs(29)));
        assert!(warn_now(&mut last, t0 + Duration::from_secs(30)));
    }

    #[test]
    fn key_components_cannot_run_together() {
        assert_eq!(component("llmux"), "llmux");
        assert_eq!(component("a:b"), "a%3Ab");
        assert_eq!(component("50%:x"), "50%25%3Ax");
        assert_ne!(
            format!("{}:{}", component("a:b"), component("c")),
            format!("{}:{}", component("a"), component("b:c"))
        );
    }

    #[test]
    fn times_read_from_redis_are_clamped() {
        let max = Duration::from_secs(300);
        assert_eq!(clamped(i64::MAX, max), max);
        assert_eq!(clamped(-5, max), Duration::ZERO);
        assert_eq!(clamped(1_500, max), Duration::from_millis(1_500));
    }
}
