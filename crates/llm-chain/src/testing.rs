//! A scripted [`Provider`] for tests of code that uses llmux (feature `testing`): it answers each request
//! from a script of [`Reply`]s, waits only on the [`Clock`] it is given (a [`FakeClock`](crate::FakeClock)
//! in tests, so nothing really sleeps), and records every request it receives.
//!
//! A reply is a whole answer ([`Reply::text`], [`Reply::response`]), an error of any
//! [`ErrorKind`] with the status, `retry-after`, `x-should-retry` and connect-failure details a real
//! provider's error carries ([`Failure`]), a stream of [`StreamItem`]s each after its own delay, possibly
//! failing after some events ([`Reply::stream`]), or no answer at all ([`Reply::hang`]). The same script
//! serves `chat` and `stream`: a whole answer is streamed as `Start`, its text, its usage and `Finish`; a
//! stream asked for with `chat` is collected into one answer.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use llm_chain::testing::{Failure, Reply, ScriptedProvider};
//! use llm_chain::{Chain, Clock, Entry, FakeClock};
//! use llm_core::{ChatRequest, ErrorKind, Provider};
//!
//! let clock = FakeClock::new();
//! let busy = ScriptedProvider::new("busy")
//!     .clock(Arc::new(clock.clone()))
//!     .reply(Reply::error(Failure::new(ErrorKind::RateLimited).retry_after(Duration::from_secs(2))))
//!     .reply(Reply::text("hello").after(Duration::from_millis(300)));
//! let chain = Chain::builder()
//!     .entry(Entry::new(Arc::new(busy.clone()), "small-model"))
//!     .clock(Arc::new(clock.clone()))
//!     .build()?;
//!
//! let start = clock.now();
//! let answer = clock.block_on(chain.chat(&ChatRequest::new("any").user("hi"))).unwrap()?;
//! assert_eq!(answer.text, "hello");
//! assert_eq!(clock.now() - start, Duration::from_millis(2300)); // the retry-after, then the reply's delay
//! assert_eq!(busy.calls(), 2);
//! assert_eq!(busy.requests()[1].model, "small-model");
//! # Ok::<(), llm_core::Error>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::stream;
use llm_core::{
    ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, FinishReason, Fragment, ParamTable,
    Provider, StreamEvent, StreamStart, Usage,
};

use crate::clock::{Clock, SystemClock};

/// How a scripted error looks: its kind and the details a provider's error carries.
///
/// The status defaults to the one a provider usually sends for the kind (401 `auth`, 403 `permission`, 404
/// `not_found`, 400 `bad_request` and `context_length`, 402 `quota_exhausted`, 413 `payload_too_large`, 429
/// `rate_limited`, 503 `overloaded`, 500 `server`, 504 `timeout`; none for the others).
///
/// ```
/// use std::time::Duration;
/// use llm_chain::testing::Failure;
/// use llm_core::ErrorKind;
///
/// let e = Failure::new(ErrorKind::RateLimited).retry_after(Duration::from_secs(3)).to_error("p");
/// assert_eq!((e.kind(), e.status(), e.retry_after()), (ErrorKind::RateLimited, Some(429), Some(Duration::from_secs(3))));
/// assert!(Failure::refused().to_error("p").is_connect());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    kind: ErrorKind,
    message: String,
    status: Option<u16>,
    retry_after: Option<Duration>,
    should_retry: Option<bool>,
    connect_failed: bool,
    not_ready: bool,
}

impl Failure {
    /// A failure of `kind` with the kind's usual status and the message `scripted failure`.
    pub fn new(kind: ErrorKind) -> Self {
        Failure {
            kind,
            message: "scripted failure".to_owned(),
            status: usual_status(kind),
            retry_after: None,
            should_retry: None,
            connect_failed: false,
            not_ready: false,
        }
    }

    /// A connection that could not be established: `network`, no status, [`Error::is_connect`].
    pub fn refused() -> Self {
        Failure::new(ErrorKind::Network).connect_failed()
    }

    /// Sets the message.
    #[must_use]
    pub fn message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }

    /// Sets the HTTP status.
    #[must_use]
    pub fn status(mut self, status: u16) -> Self {
        self.status = Some(status);
        self
    }

    /// Removes the HTTP status, as for a failure that never got a response.
    #[must_use]
    pub fn no_status(mut self) -> Self {
        self.status = None;
        self
    }

    /// Sets the wait the provider asks for (`retry-after`).
    #[must_use]
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// Sets the provider's explicit retry advice (`x-should-retry`), which overrides the kind's.
    #[must_use]
    pub fn should_retry(mut self, retry: bool) -> Self {
        self.should_retry = Some(retry);
        self
    }

    /// Marks the failure as a connection that could not be established (and drops the status).
    #[must_use]
    pub fn connect_failed(mut self) -> Self {
        self.connect_failed = true;
        self.status = None;
        self
    }

    /// A server that is up but not ready yet (a model still loading): `overloaded`, 503,
    /// [`Error::is_not_ready`].
    pub fn not_ready() -> Self {
        let mut failure = Failure::new(ErrorKind::Overloaded);
        failure.not_ready = true;
        failure.message = "Loading model".into();
        failure
    }

    /// The kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The error a provider named `provider` returns for this failure.
    pub fn to_error(&self, provider: &str) -> Error {
        let mut e = Error::new(self.kind, self.message.clone())
            .with_provider(provider.to_owned())
            .with_retry_after(self.retry_after)
            .with_should_retry(self.should_retry)
            .with_connect_failed(self.connect_failed)
            .with_not_ready(self.not_ready);
        if let Some(status) = self.status {
            e = e.with_status(status);
        }
        e
    }
}

impl From<ErrorKind> for Failure {
    fn from(kind: ErrorKind) -> Self {
        Failure::new(kind)
    }
}

fn usual_status(kind: ErrorKind) -> Option<u16> {
    Some(match kind {
        ErrorKind::Auth => 401,
        ErrorKind::Permission => 403,
        ErrorKind::NotFound => 404,
        ErrorKind::BadRequest | ErrorKind::ContextLength => 400,
        ErrorKind::PayloadTooLarge => 413,
        ErrorKind::RateLimited => 429,
        ErrorKind::QuotaExhausted => 402,
        ErrorKind::Overloaded => 503,
        ErrorKind::Server => 500,
        ErrorKind::Timeout => 504,
        _ => return None,
    })
}

/// One item of a scripted stream: after its delay, an event, an error (which ends the stream), or nothing
/// ever again.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamItem {
    after: Duration,
    what: ItemKind,
}

#[derive(Debug, Clone, PartialEq)]
enum ItemKind {
    /// `Start` for this provider and the request's model.
    Start,
    Event(StreamEvent),
    Fail(Failure),
    Hang,
}

impl StreamItem {
    fn new(what: ItemKind) -> Self {
        StreamItem {
            after: Duration::ZERO,
            what,
        }
    }

    /// [`StreamEvent::Start`] naming this provider and the model of the request it answers.
    pub fn start() -> Self {
        StreamItem::new(ItemKind::Start)
    }

    /// Any event, as given.
    pub fn event(event: StreamEvent) -> Self {
        StreamItem::new(ItemKind::Event(event))
    }

    /// A text delta.
    pub fn text(text: impl Into<Fragment>) -> Self {
        StreamItem::event(StreamEvent::TextDelta(text.into()))
    }

    /// A reasoning delta.
    pub fn reasoning(text: impl Into<Fragment>) -> Self {
        StreamItem::event(StreamEvent::ReasoningDelta(text.into()))
    }

    /// Token counts.
    pub fn usage(usage: Usage) -> Self {
        StreamItem::event(StreamEvent::Usage(usage))
    }

    /// The end of generation.
    pub fn finish(reason: FinishReason) -> Self {
        StreamItem::event(StreamEvent::Finish(reason))
    }

    /// An error item: the stream fails here, after the events before it.
    pub fn error(failure: impl Into<Failure>) -> Self {
        StreamItem::new(ItemKind::Fail(failure.into()))
    }

    /// The stream goes silent: it never yields again (until it is dropped).
    pub fn hang() -> Self {
        StreamItem::new(ItemKind::Hang)
    }

    /// Waits `delay` on the provider's clock before this item.
    #[must_use]
    pub fn after(mut self, delay: Duration) -> Self {
        self.after = delay;
        self
    }
}

/// What one request gets from a [`ScriptedProvider`].
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    after: Duration,
    what: ReplyKind,
}

#[derive(Debug, Clone, PartialEq)]
enum ReplyKind {
    Answer(Box<ChatResponse>),
    Fail(Failure),
    Stream(Vec<StreamItem>),
    Hang,
}

impl Reply {
    fn new(what: ReplyKind) -> Self {
        Reply {
            after: Duration::ZERO,
            what,
        }
    }

    /// A whole answer with `text`, finished with `stop`; its model is the request's and its provider this
    /// one. Streamed, it is `Start`, one text delta, `Finish`.
    pub fn text(text: impl Into<String>) -> Self {
        let mut response = ChatResponse::new("", "", text);
        response.finish_reason = Some(FinishReason::Stop);
        Reply::response(response)
    }

    /// Exactly `response` (an empty provider or model is filled with this provider's name and the
    /// request's model). Streamed: `Start`, the reasoning and the text as one delta each when not empty,
    /// the usage when set, and `Finish` when a finish reason is set.
    pub fn response(response: ChatResponse) -> Self {
        Reply::new(ReplyKind::Answer(Box::new(response)))
    }

    /// An error before any answer (for `stream`: before the stream opens).
    pub fn error(failure: impl Into<Failure>) -> Self {
        Reply::new(ReplyKind::Fail(failure.into()))
    }

    /// A stream of `items`, each after its own delay. Asked for with `chat`, the items are collected into
    /// one answer (text and reasoning joined, the last usage and finish reason, the model from `Start`), or
    /// the first error item's error.
    pub fn stream(items: impl IntoIterator<Item = StreamItem>) -> Self {
        Reply::new(ReplyKind::Stream(items.into_iter().collect()))
    }

    /// No answer, ever: the request stays in flight until it is dropped.
    pub fn hang() -> Self {
        Reply::new(ReplyKind::Hang)
    }

    /// Waits `delay` on the provider's clock before answering (for a stream: before it opens).
    #[must_use]
    pub fn after(mut self, delay: Duration) -> Self {
        self.after = delay;
        self
    }
}

/// What clones of one scripted provider share.
#[derive(Debug, Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<ChatRequest>>,
    in_flight: AtomicUsize,
}

/// A [`Provider`] that answers from a script of [`Reply`]s, one per request in order, and records each
/// request. When the script runs out, a request gets an `unknown` error saying so.
///
/// Clones share the script and the record, so a test keeps one clone to inspect while the chain owns
/// another. Delays wait on the clock set with [`ScriptedProvider::clock`] (by default the
/// [`SystemClock`], which needs a tokio runtime).
#[derive(Clone)]
pub struct ScriptedProvider {
    name: String,
    clock: Arc<dyn Clock>,
    table: Option<ParamTable>,
    shared: Arc<Shared>,
}

impl fmt::Debug for ScriptedProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedProvider")
            .field("name", &self.name)
            .field("clock", &self.clock)
            .field("table", &self.table.map(|t| t.provider))
            .field("remaining", &self.remaining())
            .field("calls", &self.calls())
            .finish()
    }
}

impl ScriptedProvider {
    /// A provider named `name` with an empty script, the system clock and no parameter table (it accepts
    /// every request).
    pub fn new(name: impl Into<String>) -> Self {
        ScriptedProvider {
            name: name.into(),
            clock: Arc::new(SystemClock),
            table: None,
            shared: Arc::default(),
        }
    }

    /// Waits on `clock` (give it the chain's [`FakeClock`](crate::FakeClock)).
    #[must_use]
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Validates requests against `table`, as a real provider does.
    #[must_use]
    pub fn table(mut self, table: ParamTable) -> Self {
        self.table = Some(table);
        self
    }

    /// Appends a reply to the script.
    #[must_use]
    pub fn reply(self, reply: Reply) -> Self {
        self.push(reply);
        self
    }

    /// Appends replies to the script.
    #[must_use]
    pub fn replies(self, replies: impl IntoIterator<Item = Reply>) -> Self {
        self.extend(replies);
        self
    }

    /// Appends a reply to the script of this provider and its clones, at any time.
    pub fn push(&self, reply: Reply) {
        lock(&self.shared.script).push_back(reply);
    }

    /// Appends replies to the script of this provider and its clones, at any time.
    pub fn extend(&self, replies: impl IntoIterator<Item = Reply>) {
        lock(&self.shared.script).extend(replies);
    }

    /// Replies not used yet.
    pub fn remaining(&self) -> usize {
        lock(&self.shared.script).len()
    }

    /// Requests received so far (`chat` and `stream`; validation alone is not a request).
    pub fn calls(&self) -> usize {
        lock(&self.shared.requests).len()
    }

    /// The requests received, in order, as the provider got them (for a chain entry: with the entry's model
    /// and parameters).
    pub fn requests(&self) -> Vec<ChatRequest> {
        lock(&self.shared.requests).clone()
    }

    /// The last request received.
    pub fn last_request(&self) -> Option<ChatRequest> {
        lock(&self.shared.requests).last().cloned()
    }

    /// Requests whose answer future or stream is still alive (not finished and not dropped).
    pub fn in_flight(&self) -> usize {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Records `request` and takes the next reply.
    fn next(&self, request: &ChatRequest) -> Reply {
        lock(&self.shared.requests).push(request.clone());
        lock(&self.shared.script).pop_front().unwrap_or_else(|| {
            Reply::error(
                Failure::new(ErrorKind::Unknown)
                    .message(format!("the script of {} has run out", self.name)),
            )
        })
    }

    /// `response` with the provider and the request's model filled in where empty.
    fn complete(&self, mut response: ChatResponse, request: &ChatRequest) -> ChatResponse {
        if response.provider.is_empty() {
            response.provider.clone_from(&self.name);
        }
        if response.model.is_empty() {
            response.model.clone_from(&request.model);
        }
        response
    }

    /// The events of a streamed whole answer.
    fn items_of(&self, response: ChatResponse) -> Vec<StreamItem> {
        let mut start = StreamStart::new(response.provider, response.model);
        start.request_id = response.request_id;
        start.rate_limit = response.rate_limit.map(Box::new);
        let mut items = vec![StreamItem::event(StreamEvent::Start(start))];
        if let Some(r) = response.reasoning.filter(|r| !r.is_empty()) {
            items.push(StreamItem::reasoning(r));
        }
        if !response.text.is_empty() {
            items.push(StreamItem::text(response.text));
        }
        items.extend(response.usage.map(StreamItem::usage));
        items.extend(response.finish_reason.map(StreamItem::finish));
        items
    }

    fn stream_of(&self, items: Vec<StreamItem>, model: String, guard: InFlight) -> ChatStream {
        let state = (
            VecDeque::from(items),
            Arc::clone(&self.clock),
            self.name.clone(),
            model,
            guard,
        );
        Box::pin(stream::unfold(
            state,
            |(mut items, clock, name, model, guard)| async move {
                let item = items.pop_front()?;
                clock.sleep(item.after).await;
                let out = match item.what {
                    ItemKind::Start => Ok(StreamEvent::Start(StreamStart::new(&name, &model))),
                    ItemKind::Event(e) => Ok(e),
                    ItemKind::Fail(f) => {
                        items.clear();
                        Err(f.to_error(&name))
                    }
                    ItemKind::Hang => std::future::pending().await,
                };
                Some((out, (items, clock, name, model, guard)))
            },
        ))
    }

    /// A stream's items collected into one answer, waiting each item's delay.
    async fn collect(
        &self,
        items: Vec<StreamItem>,
        request: &ChatRequest,
    ) -> Result<ChatResponse, Error> {
        let mut response = ChatResponse::new(&self.name, request.model.clone(), "");
        for item in items {
            self.clock.sleep(item.after).await;
            match item.what {
                ItemKind::Start => {}
                ItemKind::Event(StreamEvent::Start(s)) => response.model = s.model,
                ItemKind::Event(StreamEvent::TextDelta(t)) => response.text.push_str(&t),
                ItemKind::Event(StreamEvent::ReasoningDelta(t)) => {
                    response.reasoning.get_or_insert_default().push_str(&t);
                }
                ItemKind::Event(StreamEvent::Usage(u)) => response.usage = Some(u),
                ItemKind::Event(StreamEvent::Finish(f)) => response.finish_reason = Some(f),
                ItemKind::Event(_) => {}
                ItemKind::Fail(f) => return Err(f.to_error(&self.name)),
                ItemKind::Hang => std::future::pending::<()>().await,
            }
        }
        Ok(response)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update is a push, a pop or a clone: a poisoned lock still holds consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts a request in flight while it lives inside the answer's future or stream.
#[derive(Debug)]
struct InFlight(Arc<Shared>);

impl InFlight {
    fn new(shared: &Arc<Shared>) -> Self {
        shared.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(Arc::clone(shared))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Provider for ScriptedProvider {
    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        match &self.table {
            Some(t) => t.validate(request),
            None => Ok(()),
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let _guard = InFlight::new(&self.shared);
        let reply = self.next(request);
        self.clock.sleep(reply.after).await;
        match reply.what {
            ReplyKind::Answer(r) => Ok(self.complete(*r, request)),
            ReplyKind::Fail(f) => Err(f.to_error(&self.name)),
            ReplyKind::Stream(items) => self.collect(items, request).await,
            ReplyKind::Hang => std::future::pending().await,
        }
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let guard = InFlight::new(&self.shared);
        let reply = self.next(request);
        self.clock.sleep(reply.after).await;
        let items = match reply.what {
            ReplyKind::Answer(r) => self.items_of(self.complete(*r, request)),
            ReplyKind::Fail(f) => return Err(f.to_error(&self.name)),
            ReplyKind::Stream(items) => items,
            ReplyKind::Hang => std::future::pending().await,
        };
        Ok(self.stream_of(items, request.model.clone(), guard))
    }

    async fn health(&self) -> Result<(), Error> {
        Ok(())
    }
}

#[cfg(test)]
#[path = "testing_tests.rs"]
mod tests;
