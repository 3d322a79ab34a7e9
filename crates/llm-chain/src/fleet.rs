//! Fleet state: the boundary between a chain's in-process view of its breakers and budgets and a store
//! that shares them with every other process using the same chain.
//!
//! The chain always decides from its in-process view ([`FleetView`]): each target's breaker (see `health`)
//! and its rate window (see `rate`). A [`StateStore`] keeps that view current with what the fleet knows
//! (breakers other processes opened or closed, pushed to [`FleetView::opened`] and [`FleetView::closed`])
//! and is asked only where one process cannot decide alone: whether this process may send the half-open
//! probe ([`StateStore::acquire_probe`]) and whether a rate budget has room ([`StateStore::acquire_rate`]).
//! Outcomes are reported without waiting ([`StateStore::report`]). A store that cannot answer in time says
//! [`Answer::Local`], and the chain decides from its own view: no call fails or waits longer because a store
//! is gone.
//!
//! Without a store (the default) nothing is shared: the chain is exactly the in-process chain.
//! [`InProcess`] is that behaviour spelled as a store. The Redis store is `llm_chain::redis` (feature
//! `redis`).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::health::Health;
use crate::policy::BreakerPolicy;
pub use crate::rate::Rate;
use crate::rate::{Limits, LocalRate};
use crate::spend::LocalSpend;
use llm_core::Usd;

/// A boxed future a store returns.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A store's answer to a question only the fleet can answer.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<T> {
    /// The fleet's answer.
    Shared(T),
    /// The store cannot answer now (unreachable, slow): decide from the in-process view.
    Local,
}

/// The fleet's answer when this process wants to send the half-open probe of a target.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    /// This process holds the fleet's probe lease: send the probe.
    Granted,
    /// Another process holds the lease: skip the target.
    InFlight,
    /// The fleet's breaker is still open for this long: skip the target.
    Open(Duration),
    /// The fleet's breaker is closed (a probe elsewhere succeeded): send an ordinary request.
    Closed,
}

/// What happened to a request, reported to the store after it ended.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Report {
    /// The request succeeded; `probe` when it was the half-open probe.
    Success {
        /// Whether it was the probe.
        probe: bool,
    },
    /// The request failed.
    Failure {
        /// Whether the failure counts for the breaker ([`counts_for_health`](crate::counts_for_health)).
        counts: bool,
        /// Whether it was the half-open probe.
        probe: bool,
        /// The provider's `retry-after`, which lengthens the cooldown up to the policy's maximum.
        retry_after: Option<Duration>,
    },
    /// A probe this process held ended without an outcome (cancelled, rejected): give the lease back.
    ProbeReleased,
    /// The answer used this many tokens (input and output), counted against the target's `tpm`.
    Tokens(u64),
    /// The provider's rate-limit headers said this much is left (`x-ratelimit-remaining-*`,
    /// `anthropic-ratelimit-*`): the shared budget is lowered to match for every process.
    Remaining {
        /// Requests left.
        requests: Option<u64>,
        /// Tokens left.
        tokens: Option<u64>,
    },
    /// The provider said it is out of budget for this long (`retry-after` on a rate-limited answer): every
    /// process skips the target's rate budget until then.
    Exhausted(Duration),
    /// An attempt that reserved `reserved` against the target's dollar budgets ended having cost `actual`:
    /// the fleet's spend is corrected by the difference.
    Spent {
        /// What was reserved (and counted) when the attempt was admitted.
        reserved: Usd,
        /// What it cost.
        actual: Usd,
    },
}

/// Shares a chain's breakers, cooldowns, probes and rate budgets with other processes.
///
/// Every method must return promptly: a store bounds its own waits (a few milliseconds) and answers
/// [`Answer::Local`] when the fleet cannot answer in time. `report` must not wait at all.
pub trait StateStore: Send + Sync + fmt::Debug {
    /// Called once, when the chain is built: the view the store keeps current. The store reads the fleet's
    /// current state into it (see [`StateStore::ready`]) and applies the fleet's news as it arrives.
    fn attach(&self, view: Arc<FleetView>);

    /// Completes once the store has read the fleet's state into the view, or has given up within its
    /// bounded wait. The chain awaits it before its first call, so a process that starts later honours
    /// breakers opened before it started.
    fn ready(&self) -> StoreFuture<'_, ()>;

    /// This process wants to send the half-open probe of `target` (an index into [`FleetView::targets`]).
    fn acquire_probe(&self, target: usize) -> StoreFuture<'_, Answer<Probe>>;

    /// A request is about to be sent to `target`, which has a rate budget: is there room?
    fn acquire_rate(&self, target: usize) -> StoreFuture<'_, Answer<Rate>>;

    /// A request about to be sent to `target`, which has dollar budgets, may cost up to `reserve`: is there
    /// room in the fleet's windows with everything else reserved? When there is, the amount is counted
    /// until a [`Report::Spent`] corrects it. Default: [`Answer::Local`] (this process decides alone).
    fn acquire_spend(&self, target: usize, reserve: Usd) -> StoreFuture<'_, Answer<Rate>> {
        let _ = (target, reserve);
        Box::pin(std::future::ready(Answer::Local))
    }

    /// What happened to a request to `target`; never waits.
    fn report(&self, target: usize, report: Report);

    /// Completes once the reports made so far reached the fleet, or the store gave up within its bounded
    /// wait; for a short-lived process (a CLI call) before it exits. Default: at once.
    fn flush(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }
}

/// The in-process behaviour as a store: nothing is shared, every answer is [`Answer::Local`]. A chain
/// built without a store behaves the same (and skips even these calls).
#[derive(Debug, Clone, Copy, Default)]
pub struct InProcess;

impl StateStore for InProcess {
    fn attach(&self, _view: Arc<FleetView>) {}

    fn ready(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }

    fn acquire_probe(&self, _target: usize) -> StoreFuture<'_, Answer<Probe>> {
        Box::pin(std::future::ready(Answer::Local))
    }

    fn acquire_rate(&self, _target: usize) -> StoreFuture<'_, Answer<Rate>> {
        Box::pin(std::future::ready(Answer::Local))
    }

    fn report(&self, _target: usize, _report: Report) {}
}

/// One target of a chain: an entry, or one deployment of an entry that is a group.
#[derive(Debug)]
pub struct Target {
    /// Its id in the store: the entry's id, and for a deployment `entry-id/deployment-id`.
    pub(crate) id: String,
    /// The entry it belongs to, from 0.
    pub(crate) entry: usize,
    /// Its position within the entry's deployments, when the entry is a group.
    pub(crate) deployment: Option<usize>,
    pub(crate) health: Health,
    pub(crate) limits: Limits,
    pub(crate) rate: LocalRate,
    pub(crate) spend: LocalSpend,
}

impl Target {
    /// The id the store keys this target's state by.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The entry it belongs to, from 0.
    pub fn entry(&self) -> usize {
        self.entry
    }

    /// Its position among the entry's deployments, when the entry is a group.
    pub fn deployment(&self) -> Option<usize> {
        self.deployment
    }

    /// Requests per minute allowed fleet-wide (`None`: unlimited).
    pub fn rpm(&self) -> Option<u64> {
        self.limits.rpm
    }

    /// Tokens per minute allowed fleet-wide (`None`: unlimited).
    pub fn tpm(&self) -> Option<u64> {
        self.limits.tpm
    }

    /// Dollars allowed fleet-wide per minute, per hour and per day (`None`: unlimited).
    pub fn usd_limits(&self) -> [Option<Usd>; 3] {
        self.limits.usd.each()
    }
}

/// A chain's in-process view of its targets' breakers and rate windows: what every decision reads, and
/// what a [`StateStore`] keeps current with the fleet's news.
pub struct FleetView {
    pub(crate) chain: String,
    pub(crate) policy: BreakerPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) targets: Vec<Target>,
}

impl fmt::Debug for FleetView {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetView")
            .field("chain", &self.chain)
            .field("targets", &self.targets.len())
            .finish_non_exhaustive()
    }
}

impl FleetView {
    /// The chain's id (its name unless set with [`ChainBuilder::id`](crate::ChainBuilder::id)).
    pub fn chain(&self) -> &str {
        &self.chain
    }

    /// The breaker thresholds every target shares.
    pub fn policy(&self) -> &BreakerPolicy {
        &self.policy
    }

    /// Every target, in chain order (a group's deployments in their order).
    pub fn targets(&self) -> &[Target] {
        &self.targets
    }

    /// The fleet says `target`'s breaker is open for `remaining` more: the target is skipped until then.
    pub fn opened(&self, target: usize, remaining: Duration) {
        if let Some(t) = self.targets.get(target) {
            t.health.fleet_opened(self.clock.now(), remaining);
        }
    }

    /// The fleet says `target`'s breaker is closed (its probe succeeded somewhere).
    pub fn closed(&self, target: usize) {
        if let Some(t) = self.targets.get(target) {
            t.health.fleet_closed();
        }
    }

    /// How long `target`'s breaker in this process stays open (`None`: it is not open), for a store to
    /// offer what this process learned while the fleet could not hear it.
    pub fn open_for(&self, target: usize) -> Option<Duration> {
        self.targets
            .get(target)
            .and_then(|t| t.health.open_for(self.clock.now()))
    }

    /// The current time on the chain's clock.
    pub fn now(&self) -> Instant {
        self.clock.now()
    }
}
