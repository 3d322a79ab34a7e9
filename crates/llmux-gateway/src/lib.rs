//! The llmux gateway: a fallback [`Chain`] behind the APIs the official SDKs and coding agents speak, as an
//! axum [`Router`].
//!
//! ```no_run
//! # async fn run(chain: llmux::chain::Chain) -> std::io::Result<()> {
//! let gateway = llmux_gateway::Gateway::builder().chain(chain).build();
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! gateway.serve(listener, std::future::pending()).await
//! # }
//! ```
//!
//! Routes: `POST /v1/chat/completions` (OpenAI Chat Completions, [`openai`]), `POST /v1/responses` (OpenAI
//! Responses, [`responses`]), `POST /v1/messages` and `POST /v1/messages/count_tokens` (Anthropic Messages,
//! [`anthropic`]), `POST /v1/embeddings` ([`embeddings`], the chain's entries that embed), `GET /v1/models`
//! (OpenAI's list, or Anthropic's when the request carries `anthropic-version`), `GET /health`,
//! `GET /metrics` ([`metrics`]).
//!
//! Every API is one [`Dialect`]: the handlers, the stream pump and the error path are written once against
//! it. Every model name is served by the main chain, except the names given a chain of their own with
//! [`GatewayBuilder::route`]. A streamed request is answered once the chain has its first content (so every
//! failure before it falls back, and what is left is reported with a real status, [`error`]); after it, a
//! failure ends the stream with the dialect's error event, never a clean end.
//!
//! Gateway keys ([`GatewayBuilder::keys`]) are sent as `Authorization: Bearer` or `x-api-key` and compared
//! in constant time; `/health` and `/metrics` need none. The key check, the per-key requests-per-minute
//! limit and the request metrics are layers applied once to every API route. Upstream keys stay in the
//! chain's providers: nothing here logs a key, a prompt or an answer.

pub mod anthropic;
pub mod dialect;
pub mod embeddings;
pub mod error;
mod handle;
mod keys;
pub mod metrics;
pub mod openai;
pub mod responses;
mod serve;
mod stream;
pub mod wire;

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use llmux::chain::{AttemptObserver, Chain, EntryHealth, SkipObserver};
use tokio::sync::Semaphore;

pub use dialect::{Dialect, Encode, Parsed, Reply};
pub use error::{ApiError, Problem};
pub use handle::{REMOVED_FIELDS, REMOVED_TOOLS};
pub use keys::key_index;
pub use metrics::Metrics;

/// What the gateway does with a hosted tool (`web_search`, `code_interpreter`, …) in a Responses request.
/// It always goes, as given, to an entry that runs it (an OpenAI Responses upstream); this says what
/// happens otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HostedTools {
    /// When another provider answers, it answers without the tool, and the answer names it in
    /// `x-llmux-removed-tools`.
    #[default]
    Remove,
    /// When no entry of the chain runs it, the request is a 400 naming it.
    Refuse,
}

/// The most a request may carry, checked once it is read (a request over a cap is a 400 naming it): bounds
/// on what one client can make the chain validate, copy for each entry and send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    /// Messages (input items) in one request.
    pub messages: usize,
    /// Content parts in all its messages together.
    pub parts: usize,
    /// Tool definitions.
    pub tools: usize,
}

impl Default for Caps {
    fn default() -> Self {
        Caps {
            messages: 20_000,
            parts: 200_000,
            tools: 2_048,
        }
    }
}

impl Caps {
    /// The first cap `request` goes over, as a 400's message.
    pub fn check(&self, request: &llmux::ChatRequest) -> Result<(), String> {
        let parts: usize = request.messages.iter().map(|m| m.content.len()).sum();
        for (what, count, cap) in [
            ("messages", request.messages.len(), self.messages),
            ("content parts", parts, self.parts),
            ("tools", request.tools.len(), self.tools),
        ] {
            if count > cap {
                return Err(format!(
                    "the request has {count} {what}; this gateway takes at most {cap}"
                ));
            }
        }
        Ok(())
    }
}

/// The default largest request body: 32 MiB (images and documents travel inline).
pub const DEFAULT_MAX_BODY: usize = 32 * 1024 * 1024;

/// What every handler shares. Its `Debug` shows how many keys there are, never a key.
pub struct Gateway {
    chain: Chain,
    /// The embeddings chain, or why there is none.
    embeddings: Result<Chain, String>,
    routes: BTreeMap<String, Chain>,
    keys: keys::Keys,
    metrics: Arc<Metrics>,
    streams: Arc<Semaphore>,
    max_streams: usize,
    /// Whole (unstreamed) answers being prepared at once, at most `max_requests`; the permits taken are
    /// the `llmux_open_requests` gauge.
    requests: Arc<Semaphore>,
    max_requests: usize,
    /// How long a stream may stay silent before a keep-alive goes out (`None`: never).
    keepalive: Option<Duration>,
    max_body: usize,
    /// Request bodies being read and parsed at once, in KiB: each takes its declared length (or the body
    /// limit) before its first byte is read.
    body_budget: Arc<Semaphore>,
    body_budget_kib: u32,
    hosted_tools: HostedTools,
    /// The key `/metrics` asks for (`None`: none).
    metrics_key: Option<Vec<u8>>,
    /// The address a keyless gateway answers for (its `Host` check); `None` until known.
    listen: Option<SocketAddr>,
    /// How long a request's body may take to arrive once its head has.
    body_timeout: Duration,
    caps: Caps,
    /// What [`Gateway::serve`] allows each connection.
    limits: serve::Limits,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("chain", &self.chain)
            .field("routes", &self.routes.keys().collect::<Vec<_>>())
            .field("keys", &self.keys)
            .field("max_streams", &self.max_streams)
            .field("max_requests", &self.max_requests)
            .field("keepalive", &self.keepalive)
            .field("max_body", &self.max_body)
            .field("hosted_tools", &self.hosted_tools)
            .finish_non_exhaustive()
    }
}

/// Builds a [`Gateway`]. Its `Debug` shows how many keys there are, never a key.
pub struct GatewayBuilder {
    chain: Option<Chain>,
    embeddings: Option<Result<Chain, String>>,
    routes: BTreeMap<String, Chain>,
    keys: Vec<Vec<u8>>,
    key_rpm: Option<u32>,
    metrics: Arc<Metrics>,
    max_streams: usize,
    max_requests: usize,
    keepalive: Option<Duration>,
    max_body: usize,
    body_budget: Option<usize>,
    hosted_tools: HostedTools,
    metrics_key: Option<Vec<u8>>,
    listen: Option<SocketAddr>,
    body_timeout: Duration,
    caps: Caps,
    limits: serve::Limits,
}

impl std::fmt::Debug for GatewayBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayBuilder")
            .field("routes", &self.routes.keys().collect::<Vec<_>>())
            .field("keys", &self.keys.len())
            .field("key_rpm", &self.key_rpm)
            .finish_non_exhaustive()
    }
}

impl Default for GatewayBuilder {
    fn default() -> Self {
        GatewayBuilder {
            chain: None,
            embeddings: None,
            routes: BTreeMap::new(),
            keys: Vec::new(),
            key_rpm: None,
            metrics: Arc::new(Metrics::default()),
            max_streams: 256,
            max_requests: 256,
            keepalive: None,
            max_body: DEFAULT_MAX_BODY,
            body_budget: None,
            hosted_tools: HostedTools::Remove,
            metrics_key: None,
            listen: None,
            body_timeout: Duration::from_secs(60),
            caps: Caps::default(),
            limits: serve::Limits::default(),
        }
    }
}

impl GatewayBuilder {
    /// The chain serving every model name without a route of its own. Required.
    pub fn chain(mut self, chain: Chain) -> Self {
        self.chain = Some(chain);
        self
    }

    /// The chain of `/v1/embeddings`, or why there is none (said to a client that asks).
    pub fn embeddings(mut self, embeddings: Result<Chain, String>) -> Self {
        self.embeddings = Some(embeddings);
        self
    }

    /// Serves requests for model `name` with `chain`. A name given twice keeps the last chain.
    pub fn route(mut self, name: impl Into<String>, chain: Chain) -> Self {
        self.routes.insert(name.into(), chain);
        self
    }

    /// The gateway keys; none means no key is asked for (listen on loopback only, then).
    pub fn keys(mut self, keys: Vec<Vec<u8>>) -> Self {
        self.keys = keys;
        self
    }

    /// At most `rpm` requests a minute per key (one shared count without keys).
    pub fn key_rpm(mut self, rpm: Option<u32>) -> Self {
        self.key_rpm = rpm;
        self
    }

    /// At most `n` streams at once (at least 1); more are answered 503 (529 in the Anthropic dialect).
    pub fn max_streams(mut self, n: usize) -> Self {
        self.max_streams = n.max(1);
        self
    }

    /// At most `n` whole answers being prepared at once (at least 1).
    pub fn max_requests(mut self, n: usize) -> Self {
        self.max_requests = n.max(1);
        self
    }

    /// A keep-alive after `quiet` of a stream's silence (`None` or zero: never).
    pub fn keepalive(mut self, quiet: Option<Duration>) -> Self {
        self.keepalive = quiet.filter(|d| !d.is_zero());
        self
    }

    /// The largest request body accepted, in bytes; larger ones are answered 413.
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// How many bytes of request bodies may be read and parsed at once, all requests together (default:
    /// twice the body limit, at least 64 MiB); a body that would go over is answered 503 (529) at once,
    /// before it is read.
    pub fn body_budget(mut self, bytes: usize) -> Self {
        self.body_budget = Some(bytes);
        self
    }

    /// The most one request may carry (default [`Caps::default`]).
    pub fn caps(mut self, caps: Caps) -> Self {
        self.caps = caps;
        self
    }

    /// At most `n` connections open at once (at least 1; default 4096): one more is closed at once.
    pub fn max_connections(mut self, n: usize) -> Self {
        self.limits.max_connections = n.max(1);
        self
    }

    /// How long a request's head may take to arrive (default 30 s): a client trickling it is cut off.
    pub fn header_timeout(mut self, limit: Duration) -> Self {
        self.limits.header_timeout = limit;
        self
    }

    /// How long a request's body may take to arrive once its head has (default 60 s): then 408.
    pub fn body_timeout(mut self, limit: Duration) -> Self {
        self.body_timeout = limit;
        self
    }

    /// How long writing an answer may make no progress (default 60 s): a client that stops reading is
    /// disconnected, and a stream it held frees its slot and cancels its upstream request.
    pub fn stall_timeout(mut self, limit: Duration) -> Self {
        self.limits.stall_timeout = limit;
        self
    }

    /// A key `/metrics` asks for (`Authorization: Bearer KEY`); `None` (the default): open, like `/health`.
    pub fn metrics_key(mut self, key: Option<Vec<u8>>) -> Self {
        self.metrics_key = key.filter(|k| !k.is_empty());
        self
    }

    /// The address the gateway listens on. Without gateway keys, only requests whose `Host` names it
    /// (or `localhost` on its port) are answered, so a web page cannot reach it through DNS rebinding;
    /// [`Gateway::serve`] sets it from its listener.
    pub fn listen_addr(mut self, addr: SocketAddr) -> Self {
        self.listen = Some(addr);
        self
    }

    /// What a hosted tool in a request gets (default: removed and named).
    pub fn hosted_tools(mut self, policy: HostedTools) -> Self {
        self.hosted_tools = policy;
        self
    }

    /// The counters `/metrics` shows.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// An observer counting the attempts of the chain of `route` (`""`: the main chain) and their costs,
    /// to give that chain when it is built.
    pub fn attempt_observer(&self, route: &str) -> AttemptObserver {
        let metrics = Arc::clone(&self.metrics);
        let route = route.to_owned();
        Arc::new(move |attempt| metrics.attempt(&route, attempt))
    }

    /// An observer counting the entries chains pass over without a request.
    pub fn skip_observer(&self) -> SkipObserver {
        let metrics = Arc::clone(&self.metrics);
        Arc::new(move |skipped| metrics.skip(skipped))
    }

    /// The gateway.
    ///
    /// # Panics
    /// Without a [`chain`](GatewayBuilder::chain): a gateway with nothing to serve is a programming error.
    pub fn build(self) -> Gateway {
        let chain = self
            .chain
            .expect("GatewayBuilder::chain is required before build");
        // At least one body of the largest size fits.
        let budget = self
            .body_budget
            .unwrap_or_else(|| self.max_body.saturating_mul(2).max(64 << 20))
            .max(self.max_body);
        let budget_kib = u32::try_from(budget.div_ceil(1024)).unwrap_or(u32::MAX);
        Gateway {
            chain,
            embeddings: self
                .embeddings
                .unwrap_or_else(|| Err("no embeddings chain is configured".to_owned())),
            routes: self.routes,
            keys: keys::Keys::new(self.keys, self.key_rpm),
            metrics: self.metrics,
            streams: Arc::new(Semaphore::new(self.max_streams)),
            max_streams: self.max_streams,
            requests: Arc::new(Semaphore::new(self.max_requests)),
            max_requests: self.max_requests,
            keepalive: self.keepalive,
            max_body: self.max_body,
            body_budget: Arc::new(Semaphore::new(budget_kib as usize)),
            body_budget_kib: budget_kib,
            hosted_tools: self.hosted_tools,
            metrics_key: self.metrics_key,
            listen: self.listen,
            body_timeout: self.body_timeout,
            caps: self.caps,
            limits: self.limits,
            next_id: AtomicU64::new(1),
        }
    }
}

impl Gateway {
    /// A builder with the defaults: no keys, 256 streams and 256 whole answers at once, no keep-alive,
    /// bodies up to [`DEFAULT_MAX_BODY`].
    pub fn builder() -> GatewayBuilder {
        GatewayBuilder::default()
    }

    /// The main chain.
    pub fn chain(&self) -> &Chain {
        &self.chain
    }

    /// The names with a chain of their own.
    pub fn routes(&self) -> impl Iterator<Item = &str> {
        self.routes.keys().map(String::as_str)
    }

    /// How many gateway keys there are.
    pub fn key_count(&self) -> usize {
        self.keys.len()
    }

    /// The counters `/metrics` shows.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Every route's HTTP handlers.
    pub fn router(self) -> Router {
        handle::router(Arc::new(self))
    }

    /// Serves on `listener` until `shutdown` completes, then finishes the open requests, within the
    /// connection limits ([`GatewayBuilder::max_connections`], [`GatewayBuilder::header_timeout`],
    /// [`GatewayBuilder::stall_timeout`]).
    ///
    /// # Errors
    /// None so far: a failed accept is waited out and retried; the result leaves room for one.
    pub async fn serve(
        mut self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        if self.listen.is_none() {
            self.listen = listener.local_addr().ok();
        }
        serve::serve(self, listener, shutdown).await
    }

    /// The chain serving `model`: its route's, else the main one.
    fn chain_for(&self, model: &str) -> &Chain {
        self.routes.get(model).unwrap_or(&self.chain)
    }

    /// A fresh answer id in `dialect`'s form.
    fn fresh_id(&self, dialect: &dyn Dialect) -> String {
        dialect.fresh_id(self.next_id.fetch_add(1, Ordering::Relaxed))
    }

    /// Every chain's entries' health, labelled by route (`""` for the main chain).
    fn health(&self) -> Vec<(&str, Vec<EntryHealth>)> {
        std::iter::once(("", &self.chain))
            .chain(self.routes.iter().map(|(n, c)| (n.as_str(), c)))
            .map(|(name, chain)| (name, chain.health_snapshot()))
            .collect()
    }
}
