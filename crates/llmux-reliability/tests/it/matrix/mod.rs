//! The fault matrix's parts: the faults and what each must produce, the TRACE capture, starting the
//! llm-katan instances, and running one cell.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use llm_chain::{BreakerPolicy, Chain, Entry, Policy, RetryPolicy};
use llm_core::{Error, ErrorKind, Provider, Timeouts};
use llmux_e2e::Katan;
use llmux_reliability::guard::{Guarded, Row, guarded};
use llmux_reliability::wire::{Answer, Wire, call, request};

/// A request still running after this long is counted as hung (every client limit here is far shorter).
const HANG: Duration = Duration::from_secs(60);

/// The keys the suite configures clients with; none may appear in anything captured.
pub(crate) struct Secrets;

impl Secrets {
    /// The key of every client except the wrong-key ones.
    pub(crate) const KEY: &'static str = "sk-llmux-matrix-key-6f1d2c";
    /// The key the wrong-key clients send (llm-katan quotes it back in its 401 message).
    pub(crate) const WRONG: &'static str = "sk-llmux-wrong-key-93ab7e";
    /// Both.
    pub(crate) const CLIENT_KEYS: [&'static str; 2] = [Self::KEY, Self::WRONG];
}

/// One injected fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    ErrorAll,
    ErrorSome,
    RateLimit,
    TimeoutAfter,
    Inflight,
    Latency,
    Ttft,
    WrongKey,
}

/// The wire formats of the matrix: every one llm-katan speaks.
pub(crate) const WIRES: [Wire; 3] = [Wire::OpenAi, Wire::Anthropic, Wire::Gemini];

/// The good requests `--rate-limit-after` and `--timeout-after` allow.
const GOOD_BEFORE_TRIP: u32 = 2;
/// The short client limit the latency faults exceed.
const SHORT: Duration = Duration::from_millis(500);

impl Fault {
    pub(crate) const ALL: [Fault; 8] = [
        Fault::ErrorAll,
        Fault::ErrorSome,
        Fault::RateLimit,
        Fault::TimeoutAfter,
        Fault::Inflight,
        Fault::Latency,
        Fault::Ttft,
        Fault::WrongKey,
    ];

    pub(crate) fn label(self) -> &'static str {
        match self {
            Fault::ErrorAll => "error-rate 1.0",
            Fault::ErrorSome => "error-rate 0.3",
            Fault::RateLimit => "rate-limit-after 2",
            Fault::TimeoutAfter => "timeout-after 2",
            Fault::Inflight => "max-inflight 2 (x8 at once)",
            Fault::Latency => "latency 1.5s > total 0.5s",
            Fault::Ttft => "ttft 1.5s > first-byte 0.5s",
            Fault::WrongKey => "wrong key (401 echoes it)",
        }
    }

    pub(crate) fn healthy_args() -> Vec<String> {
        strings(&["--max-concurrent", "8"])
    }

    pub(crate) fn katan_args(self) -> Vec<String> {
        strings(match self {
            Fault::ErrorAll => &["--error-rate", "1.0"],
            Fault::ErrorSome => &["--error-rate", "0.3", "--max-concurrent", "4"],
            Fault::RateLimit => &["--rate-limit-after", "2"],
            Fault::TimeoutAfter => &["--timeout-after", "2"],
            Fault::Inflight => &[
                "--max-inflight",
                "2",
                "--max-concurrent",
                "8",
                "--latency-ms",
                "300",
            ],
            // Enough workers that abandoned slow requests never queue up the next ones.
            Fault::Latency => &["--latency-ms", "1500", "--max-concurrent", "16"],
            Fault::Ttft => &["--ttft-ms", "1500", "--max-concurrent", "16"],
            Fault::WrongKey => &[
                "--validate-keys",
                "--api-keys",
                "openai=sk-katan-expects-this-openai-key,anthropic=sk-katan-expects-this-anthropic-key,\
                 vertexai=sk-katan-expects-this-vertex-key",
            ],
        })
    }

    /// Whether the fault state is permanent once triggered (a fresh instance per format and mode).
    pub(crate) fn fresh_per_group(self) -> bool {
        matches!(self, Fault::RateLimit | Fault::TimeoutAfter)
    }

    /// The kind every failure must have.
    pub(crate) fn kind(self) -> ErrorKind {
        match self {
            Fault::ErrorAll | Fault::ErrorSome => ErrorKind::Server,
            Fault::RateLimit => ErrorKind::RateLimited,
            Fault::TimeoutAfter | Fault::Latency | Fault::Ttft => ErrorKind::Timeout,
            Fault::Inflight => ErrorKind::Overloaded,
            Fault::WrongKey => ErrorKind::Auth,
        }
    }

    /// Requests per cell, all sent at once.
    fn requests(self) -> usize {
        match self {
            Fault::ErrorSome => 12,
            Fault::Inflight => 8,
            Fault::Latency | Fault::Ttft | Fault::WrongKey => 3,
            _ => 4,
        }
    }

    /// Whether the faulty instance fails every request this cell sends (so a chain must answer from its
    /// healthy entry).
    fn always_fails(self) -> bool {
        !matches!(self, Fault::ErrorSome | Fault::Inflight)
    }

    /// The faulty client's limits.
    fn timeouts(self) -> Timeouts {
        let normal = Timeouts::default()
            .first_byte(Duration::from_secs(10))
            .idle(Duration::from_secs(10))
            .total(Duration::from_secs(20));
        match self {
            Fault::Latency => normal.first_byte(Duration::from_secs(10)).total(SHORT),
            Fault::Ttft => normal.first_byte(SHORT),
            _ => normal,
        }
    }

    fn key(self) -> &'static str {
        if self == Fault::WrongKey {
            Secrets::WRONG
        } else {
            Secrets::KEY
        }
    }

    /// Words the error message must contain (which limit fired).
    fn message_has(self) -> Option<&'static str> {
        match self {
            Fault::Latency => Some("total"),
            Fault::Ttft => Some("first byte"),
            _ => None,
        }
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| (*s).to_owned()).collect()
}

/// Direct to the faulty instance, or through a chain of it and a healthy one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Path {
    Direct,
    Chain,
}

/// Everything written to the tracing subscriber, plus whatever the suite records itself.
#[derive(Debug, Clone, Default)]
pub(crate) struct Capture {
    buf: Arc<Mutex<Vec<u8>>>,
}

struct Sink(Arc<Mutex<Vec<u8>>>);

impl Write for Sink {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Installs a TRACE subscriber (and the `log` bridge, for reqwest and hyper) writing into the capture.
    pub(crate) fn install() -> Capture {
        let capture = Capture::default();
        let buf = Arc::clone(&capture.buf);
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || Sink(Arc::clone(&buf)))
            .try_init()
            .expect("the only subscriber of this binary");
        capture
    }

    /// Adds a line.
    pub(crate) fn record(&self, line: &str) {
        let mut buf = self.buf.lock().unwrap_or_else(|e| e.into_inner());
        buf.extend_from_slice(line.as_bytes());
        buf.push(b'\n');
    }

    /// The `Debug` and `Display` of an error, and of its sources.
    pub(crate) fn error(&self, e: &Error) {
        self.record(&format!("{e:?}"));
        self.record(&e.to_string());
        let mut source = std::error::Error::source(e);
        while let Some(s) = source {
            self.record(&format!("{s} / {s:?}"));
            source = s.source();
        }
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
    }
}

/// Starts every named instance at once (each start blocks until its `/health` answers).
pub(crate) async fn start_all(wanted: Vec<(String, Vec<String>)>) -> HashMap<String, Katan> {
    let starts = wanted.into_iter().map(|(name, args)| {
        // Every instance also speaks Gemini (llm-katan's `vertexai` provider) for the Gemini cells.
        let katan = Katan::builder().args(["--providers", "openai,anthropic,vertexai"]);
        tokio::task::spawn_blocking(move || (name, katan.args(args).start()))
    });
    join_all(starts)
        .await
        .into_iter()
        .map(|r| r.expect("llm-katan starts"))
        .collect()
}

fn chain_of(faulty: Arc<dyn Provider>, healthy: Arc<dyn Provider>) -> Chain {
    Chain::builder()
        .entry(Entry::new(faulty, Katan::MODEL))
        .entry(Entry::new(healthy, Katan::MODEL))
        .policy(
            Policy::default()
                .retry(
                    RetryPolicy::default()
                        .max_attempts(2)
                        .backoff(Duration::from_millis(10), Duration::from_millis(50)),
                )
                // Every call must meet the faulty entry; the load suite covers breakers.
                .breaker(BreakerPolicy::disabled()),
        )
        .build()
        .expect("two entries")
}

/// Runs one cell; returns its row and every broken expectation.
pub(crate) async fn run_cell(
    fault: Fault,
    wire: Wire,
    stream: bool,
    via: Path,
    faulty: &Katan,
    healthy: &Katan,
    capture: &Capture,
) -> (Row, Vec<String>) {
    let cell = format!(
        "{} | {} | {} | {}",
        fault.label(),
        wire.name(),
        if stream { "stream" } else { "chat" },
        if via == Path::Direct {
            "direct"
        } else {
            "chain"
        }
    );
    let faulty_client = wire.provider(&faulty.base_url(), fault.key(), fault.timeouts());
    capture.record(&format!("{faulty_client:?}"));
    let (target, chain): (Arc<dyn Provider>, Option<Chain>) = match via {
        Path::Direct => (faulty_client, None),
        Path::Chain => {
            let healthy_client = wire.provider(
                &healthy.base_url(),
                Secrets::KEY,
                Fault::ErrorAll.timeouts(),
            );
            let chain = chain_of(faulty_client, healthy_client);
            capture.record(&format!("{chain:?}"));
            (Arc::new(chain.clone()), Some(chain))
        }
    };
    let req = request(Katan::MODEL);
    capture.record(&format!("{req:?}"));
    let runs = (0..fault.requests())
        .map(|_| guarded(HANG, call(Arc::clone(&target), req.clone(), stream)));
    let outcomes: Vec<Guarded<Result<Answer, Error>>> = join_all(runs).await;

    let mut row = Row::new(cell.clone());
    let mut problems = Vec::new();
    let mut entry0_kinds: HashMap<&'static str, u32> = HashMap::new();
    let mut answered_by = [0u32; 2];
    for outcome in &outcomes {
        let counted = match outcome {
            Guarded::Done(Ok(answer)) => {
                capture.record(&format!("{answer:?}"));
                if answer.text.is_empty() {
                    problems.push(format!("{cell}: an empty answer"));
                }
                if via == Path::Chain {
                    for a in &answer.attempts {
                        if let (0, Some(kind)) = (a.entry, a.outcome) {
                            *entry0_kinds.entry(kind.as_str()).or_default() += 1;
                            if kind != fault.kind() {
                                problems.push(format!("{cell}: entry 0 failed as {kind}: {a:?}"));
                            }
                        }
                    }
                    match answer.attempts.last() {
                        Some(last) if last.outcome.is_none() => answered_by[last.entry.min(1)] += 1,
                        other => problems.push(format!(
                            "{cell}: answer without a successful attempt: {other:?}"
                        )),
                    }
                }
                Guarded::Done(Ok(()))
            }
            Guarded::Done(Err(e)) => {
                capture.error(e);
                if e.kind() != fault.kind() {
                    problems.push(format!("{cell}: expected {}, got {e:?}", fault.kind()));
                }
                if let Some(word) = fault.message_has()
                    && !e.to_string().contains(word)
                {
                    problems.push(format!(
                        "{cell}: the message does not name the {word} limit: {e}"
                    ));
                }
                Guarded::Done(Err(e.kind()))
            }
            Guarded::Hung => Guarded::Hung,
            Guarded::Panicked => Guarded::Panicked,
        };
        row.count(&counted);
    }

    let n = u32::try_from(fault.requests()).unwrap_or(u32::MAX);
    match via {
        Path::Direct => {
            let expect_ok = match fault {
                Fault::RateLimit | Fault::TimeoutAfter => Some(GOOD_BEFORE_TRIP),
                f if f.always_fails() => Some(0),
                _ => None,
            };
            if let Some(ok) = expect_ok
                && row.ok != ok
            {
                problems.push(format!("{cell}: {} succeeded, expected {ok}", row.ok));
            }
            if fault == Fault::Inflight
                && (row.ok == 0 || row.failed_as(ErrorKind::Overloaded) == 0)
            {
                problems.push(format!(
                    "{cell}: 8 at once against 2 slots must both pass and overload"
                ));
            }
        }
        Path::Chain => {
            if row.ok != n {
                problems.push(format!("{cell}: {} of {n} chain calls succeeded", row.ok));
            }
            if fault.always_fails() && answered_by[0] > 0 {
                problems.push(format!(
                    "{cell}: the always-failing entry answered {} times",
                    answered_by[0]
                ));
            }
            let mut kinds: Vec<_> = entry0_kinds
                .iter()
                .map(|(k, v)| format!("{k}:{v}"))
                .collect();
            kinds.sort();
            row.note = format!(
                "answered by entry0:{} entry1:{}; entry0 failures {}",
                answered_by[0],
                answered_by[1],
                if kinds.is_empty() {
                    "-".to_owned()
                } else {
                    kinds.join(" ")
                }
            );
            if let Some(chain) = chain {
                capture.record(&format!("{:?}", chain.health_snapshot()));
            }
        }
    }
    (row, problems)
}
