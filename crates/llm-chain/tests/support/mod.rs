//! Scripted providers and helpers shared by the chain's tests: each provider answers from a script of
//! steps, waits only on the fake clock, and records what it received.

// Each test file uses a different subset of these helpers.
#![allow(dead_code, unreachable_pub)]

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use futures::StreamExt;
use llm_chain::{Chain, ChainBuilder, Clock, Entry, FakeClock, Policy, RetryPolicy};
use llm_core::{
    ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, FinishReason, ParamTable, Provider,
    StreamEvent, StreamStart,
};

/// How a scripted error looks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fail {
    pub kind: ErrorKind,
    pub retry_after: Option<Duration>,
    pub should_retry: Option<bool>,
    /// The connection could not be established (`Error::is_connect`).
    pub connect: bool,
}

impl Fail {
    pub fn error(self, provider: &str) -> Error {
        let mut e = Error::new(self.kind, "scripted failure")
            .with_provider(provider.to_owned())
            .with_retry_after(self.retry_after)
            .with_should_retry(self.should_retry)
            .with_connect_failed(self.connect);
        if let Some(status) = status_for(self.kind) {
            e = e.with_status(status);
        }
        e
    }
}

fn status_for(kind: ErrorKind) -> Option<u16> {
    Some(match kind {
        ErrorKind::Auth => 401,
        ErrorKind::Permission => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::BadRequest | ErrorKind::ContextLength => 400,
        ErrorKind::RateLimited => 429,
        ErrorKind::QuotaExhausted => 402,
        ErrorKind::Overloaded => 503,
        ErrorKind::Server => 500,
        ErrorKind::Timeout => 504,
        _ => return None,
    })
}

/// One scripted stream item: wait `after`, then yield it.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Event(StreamEvent),
    Fail(Fail),
    /// Never yields again.
    Hang,
}

/// What one request gets.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// After `after`, a whole answer (`chat`) or Start, one text delta, Finish (`stream`).
    Ok { after: Duration, text: String },
    /// After `after`, an error (before any event, for streams).
    Fail { after: Duration, fail: Fail },
    /// Never answers.
    Hang,
    /// After `after`, a stream of items each with its own delay (for `chat`: their text joined, or the
    /// first failure).
    Stream {
        after: Duration,
        items: Vec<(Duration, Item)>,
    },
}

pub fn ok(text: &str) -> Step {
    Step::Ok {
        after: Duration::ZERO,
        text: text.to_owned(),
    }
}

pub fn ok_after(after: Duration, text: &str) -> Step {
    Step::Ok {
        after,
        text: text.to_owned(),
    }
}

pub fn fail(kind: ErrorKind) -> Step {
    fail_with(Fail {
        kind,
        retry_after: None,
        should_retry: None,
        connect: false,
    })
}

/// A connection refused before the request reached the provider: `network`, `is_connect()`.
pub fn refused() -> Step {
    fail_with(Fail {
        kind: ErrorKind::Network,
        retry_after: None,
        should_retry: None,
        connect: true,
    })
}

pub fn fail_with(fail: Fail) -> Step {
    Step::Fail {
        after: Duration::ZERO,
        fail,
    }
}

pub fn fail_after(after: Duration, kind: ErrorKind) -> Step {
    Step::Fail {
        after,
        fail: Fail {
            kind,
            retry_after: None,
            should_retry: None,
            connect: false,
        },
    }
}

pub fn retry_after(kind: ErrorKind, wait: Duration) -> Step {
    fail_with(Fail {
        kind,
        retry_after: Some(wait),
        should_retry: None,
        connect: false,
    })
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

pub fn start(provider: &str) -> Item {
    Item::Event(StreamEvent::Start(StreamStart::new(provider, "scripted")))
}

pub fn text(t: &str) -> Item {
    Item::Event(StreamEvent::TextDelta(t.to_owned()))
}

pub fn finish() -> Item {
    Item::Event(StreamEvent::Finish(FinishReason::Stop))
}

pub fn item_fail(kind: ErrorKind) -> Item {
    Item::Fail(Fail {
        kind,
        retry_after: None,
        should_retry: None,
        connect: false,
    })
}

/// Counts requests in flight; a request's guard lives inside its future or stream, so dropping either
/// brings the count down.
#[derive(Debug)]
struct Live(Arc<AtomicUsize>);

impl Live {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Live(Arc::clone(count))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A provider that answers from a script.
#[derive(Debug)]
pub struct Scripted {
    name: &'static str,
    clock: FakeClock,
    steps: Mutex<VecDeque<Step>>,
    requests: Mutex<Vec<ChatRequest>>,
    table: Option<ParamTable>,
    live: Arc<AtomicUsize>,
}

impl Scripted {
    pub fn new(name: &'static str, clock: &FakeClock, steps: Vec<Step>) -> Arc<Self> {
        Arc::new(Scripted {
            name,
            clock: clock.clone(),
            steps: Mutex::new(steps.into()),
            requests: Mutex::new(Vec::new()),
            table: None,
            live: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn with_table(
        name: &'static str,
        clock: &FakeClock,
        table: ParamTable,
        steps: Vec<Step>,
    ) -> Arc<Self> {
        Arc::new(Scripted {
            name,
            clock: clock.clone(),
            steps: Mutex::new(steps.into()),
            requests: Mutex::new(Vec::new()),
            table: Some(table),
            live: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Requests received so far.
    pub fn calls(&self) -> usize {
        self.requests.lock().unwrap().len()
    }

    /// The requests received, in order.
    pub fn requests(&self) -> Vec<ChatRequest> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests whose future or stream is still alive.
    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Adds steps at the end of the script.
    pub fn push(&self, steps: impl IntoIterator<Item = Step>) {
        self.steps.lock().unwrap().extend(steps);
    }

    fn next(&self, request: &ChatRequest) -> Step {
        self.requests.lock().unwrap().push(request.clone());
        self.steps
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or(Step::Fail {
                after: Duration::ZERO,
                fail: Fail {
                    kind: ErrorKind::Unknown,
                    retry_after: None,
                    should_retry: None,
                    connect: false,
                },
            })
    }

    fn stream_of(&self, items: Vec<(Duration, Item)>, live: Live) -> ChatStream {
        let clock = self.clock.clone();
        let name = self.name;
        let state = (VecDeque::from(items), clock, live);
        Box::pin(futures::stream::unfold(
            state,
            move |(mut items, clock, live)| async move {
                let (after, item) = items.pop_front()?;
                clock.sleep(after).await;
                let out = match item {
                    Item::Event(e) => Ok(e),
                    Item::Fail(f) => {
                        items.clear();
                        Err(f.error(name))
                    }
                    Item::Hang => std::future::pending().await,
                };
                Some((out, (items, clock, live)))
            },
        ))
    }
}

#[async_trait]
impl Provider for Scripted {
    fn name(&self) -> &str {
        self.name
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        match &self.table {
            Some(t) => t.validate(request),
            None => Ok(()),
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let _live = Live::new(&self.live);
        match self.next(request) {
            Step::Ok { after, text } => {
                self.clock.sleep(after).await;
                Ok(ChatResponse::new(self.name, request.model.clone(), text))
            }
            Step::Fail { after, fail } => {
                self.clock.sleep(after).await;
                Err(fail.error(self.name))
            }
            Step::Hang => std::future::pending().await,
            Step::Stream { after, items } => {
                self.clock.sleep(after).await;
                let mut out = String::new();
                for (wait, item) in items {
                    self.clock.sleep(wait).await;
                    match item {
                        Item::Event(StreamEvent::TextDelta(t)) => out.push_str(&t),
                        Item::Event(_) => {}
                        Item::Fail(f) => return Err(f.error(self.name)),
                        Item::Hang => std::future::pending::<()>().await,
                    }
                }
                Ok(ChatResponse::new(self.name, request.model.clone(), out))
            }
        }
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let live = Live::new(&self.live);
        match self.next(request) {
            Step::Ok { after, text: t } => {
                self.clock.sleep(after).await;
                let items = vec![
                    (Duration::ZERO, start(self.name)),
                    (Duration::ZERO, text(&t)),
                    (Duration::ZERO, finish()),
                ];
                Ok(self.stream_of(items, live))
            }
            Step::Fail { after, fail } => {
                self.clock.sleep(after).await;
                Err(fail.error(self.name))
            }
            Step::Hang => std::future::pending().await,
            Step::Stream { after, items } => {
                self.clock.sleep(after).await;
                Ok(self.stream_of(items, live))
            }
        }
    }

    async fn health(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// A builder over `providers` (model `m{i}` each) on `clock`, with no jitter and breakers as given by
/// `policy`.
pub fn chain_with(clock: &FakeClock, providers: &[&Arc<Scripted>], policy: Policy) -> Chain {
    builder(clock, providers).policy(policy).build().unwrap()
}

/// The default policy without jitter (so waits are exact), plus no retries unless a test asks.
pub fn exact() -> Policy {
    Policy::default().retry(RetryPolicy::default().jitter(0.0))
}

pub fn builder(clock: &FakeClock, providers: &[&Arc<Scripted>]) -> ChainBuilder {
    let mut b = Chain::builder().clock(Arc::new(clock.clone()));
    for (i, p) in providers.iter().enumerate() {
        let p: Arc<dyn Provider> = Arc::clone(p) as Arc<dyn Provider>;
        b = b.entry(Entry::new(p, format!("m{i}")));
    }
    b
}

pub fn request() -> ChatRequest {
    ChatRequest::new("caller-model").user("hello")
}

/// Runs `future` in virtual time; fails the test when it can never finish.
pub fn run<F: Future>(clock: &FakeClock, future: F) -> F::Output {
    clock
        .block_on(future)
        .expect("the future got stuck with no sleep pending")
}

/// Runs a chat call and reports the virtual time it took.
pub fn chat(clock: &FakeClock, chain: &Chain) -> (Result<ChatResponse, Error>, Duration) {
    let t0 = clock.now();
    let out = run(clock, chain.chat(&request()));
    (out, clock.now() - t0)
}

/// Runs a stream call to its end: the events (errors included) and the virtual time it took.
pub fn stream(
    clock: &FakeClock,
    chain: &Chain,
) -> (Result<Vec<Result<StreamEvent, Error>>, Error>, Duration) {
    let t0 = clock.now();
    let out = run(clock, async {
        let s = chain.stream(&request()).await?;
        Ok(s.collect::<Vec<_>>().await)
    });
    (out, clock.now() - t0)
}

/// The text deltas of `events`, joined.
pub fn text_of(events: &[Result<StreamEvent, Error>]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(StreamEvent::TextDelta(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

/// `(entry, outcome)` of each attempt.
pub fn outline(attempts: &[llm_core::Attempt]) -> Vec<(usize, &'static str)> {
    attempts
        .iter()
        .map(|a| (a.entry, a.outcome_str()))
        .collect()
}
