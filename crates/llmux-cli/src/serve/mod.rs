//! `llmux serve`: the chain behind an OpenAI- and Anthropic-compatible HTTP API.
//!
//! Routes: `POST /v1/chat/completions` ([`openai`]), `POST /v1/messages` ([`anthropic`]),
//! `POST /v1/embeddings` ([`embeddings`], the chain's entries that embed), `GET /v1/models`
//! (OpenAI's list, or Anthropic's when the request carries `anthropic-version`), `GET /health`,
//! `GET /metrics` ([`metrics`]). Every model name is served by the main chain, except the names given a
//! chain of their own with `--route NAME=FILE`. A streamed request is
//! answered once the chain has its first content (so every failure before it falls back, and what is
//! left is reported with a real status, [`errors`]); after it, a failure ends the stream with the
//! dialect's error event, never a clean end.
//!
//! Gateway keys come from `LLMUX_GATEWAY_KEYS` (comma-separated) and the main chain file's `[gateway] keys`,
//! sent as `Authorization: Bearer` or `x-api-key` and compared in constant time; `/health` and `/metrics`
//! need none. Without a key the server only listens on a loopback address. `--key-rpm` limits each key's
//! requests per minute, `--max-streams` and `--max-requests` what is served at once, and `--keepalive`
//! sends a stream's keep-alive while its provider is silent. Upstream keys stay in the chain's providers:
//! nothing here logs a key or a request body.

pub mod anthropic;
pub mod embeddings;
pub mod errors;
pub mod metrics;
pub mod openai;
pub mod wire;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::{FutureExt as _, StreamExt};
use llmux::chain::{AttemptObserver, BreakerState, Chain, SkipObserver};
use llmux::{ChatStream, Provider, StreamEvent};
use serde_json::json;
use subtle::ConstantTimeEq;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Sleep;

use crate::args::ServeArgs;
use crate::build::{self, Options};
use crate::env::Env;
use crate::exit;
use crate::spec::{self, ConfigError};
use errors::{ApiError, Dialect};
use metrics::Metrics;
use wire::{Encode, Parsed};

/// The environment variable holding the gateway keys, comma-separated.
pub const KEYS_VAR: &str = "LLMUX_GATEWAY_KEYS";

/// How much ready SSE text is gathered into one body chunk at most.
const COALESCE_BYTES: usize = 16 * 1024;

/// What every handler shares. Its `Debug` shows how many keys there are, never a key.
pub struct Gateway {
    chain: Chain,
    /// The embeddings chain of the main chain's spec, or why there is none.
    embeddings: Result<Chain, String>,
    routes: BTreeMap<String, Chain>,
    keys: Vec<Vec<u8>>,
    /// `--key-rpm` and, per key (one shared slot without keys), the current minute's start and count.
    windows: Option<(u32, Mutex<Vec<Window>>)>,
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
    next_id: AtomicU64,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("chain", &self.chain)
            .field("routes", &self.routes.keys().collect::<Vec<_>>())
            .field("keys", &self.keys.len())
            .field("key_rpm", &self.windows.as_ref().map(|(rpm, _)| rpm))
            .field("max_streams", &self.max_streams)
            .field("max_requests", &self.max_requests)
            .field("keepalive", &self.keepalive)
            .field("max_body", &self.max_body)
            .finish_non_exhaustive()
    }
}

type Shared = Arc<Gateway>;

/// When a key's current minute started, and how many requests it made in it.
type Window = (Instant, u32);

/// Runs `llmux serve` until ctrl-c or SIGTERM and returns the exit code.
pub async fn run(args: &ServeArgs, env: &Env) -> u8 {
    let (gateway, addr) = match prepare(args, env) {
        Ok(ready) => ready,
        Err(e) => {
            eprintln!("llmux: {e}");
            return exit::CONFIG;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("llmux: cannot listen on {addr}: {e}");
            return exit::CONFIG;
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    eprintln!(
        "llmux serve: listening on http://{local} ({} chain entries, {} routes, {} gateway keys)",
        gateway.chain.entries().len(),
        gateway.routes.len(),
        gateway.keys.len()
    );
    let gateway = Arc::new(gateway);
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    // Each SSE event is its own small write: without TCP_NODELAY, Nagle holds the next one back until the
    // client's delayed ACK (about 40 ms a token).
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let server = axum::serve(listener, router(gateway)).with_graceful_shutdown(async move {
        shutdown_signal().await;
        eprintln!("llmux serve: shutting down, finishing open requests");
        let _ = stop.send(true);
    });
    let grace = args.shutdown_timeout;
    tokio::select! {
        served = server.into_future() => match served {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("llmux: the server failed: {e}");
                exit::OTHER
            }
        },
        () = async move {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            eprintln!("llmux serve: requests still open after {grace:?}; exiting");
            exit::OTHER
        }
    }
}

fn prepare(args: &ServeArgs, env: &Env) -> Result<(Gateway, SocketAddr), ConfigError> {
    let addr: SocketAddr = args.listen.parse().map_err(|_| {
        ConfigError(format!(
            "--listen `{}`: expected HOST:PORT with an IP address, e.g. 127.0.0.1:8080",
            args.listen
        ))
    })?;
    let mut route_files = Vec::new();
    for route in &args.routes {
        match route.split_once('=') {
            Some((name, file)) if !name.is_empty() && !file.is_empty() => {
                route_files.push((name, file));
            }
            _ => {
                return Err(ConfigError(format!(
                    "--route `{route}`: expected NAME=FILE (a model name and a chain file)"
                )));
            }
        }
    }
    let prices = args.prices.prices_file.as_deref();
    let spec = spec::resolve(&args.select, env)?.with_prices_file(prices)?;
    let mut keys = gateway_keys(env);
    keys.extend(
        spec.gateway_keys
            .expose()
            .iter()
            .map(|k| k.as_bytes().to_vec()),
    );
    if keys.is_empty() && !addr.ip().is_loopback() {
        return Err(ConfigError(format!(
            "refusing to listen on {addr} without a gateway key: set {KEYS_VAR}, give the chain file \
             `[gateway] keys`, or listen on a loopback address"
        )));
    }
    let options = Options::from_limits(&args.limits);
    let metrics = Arc::new(Metrics::default());
    // Each route's attempts are counted under its name (`""`: the main chain), their costs too.
    let observer_for = |route: &str| -> AttemptObserver {
        let metrics = Arc::clone(&metrics);
        let route = route.to_owned();
        Arc::new(move |attempt| metrics.attempt(&route, attempt))
    };
    let observer = observer_for("");
    let skips: SkipObserver = {
        let metrics = Arc::clone(&metrics);
        Arc::new(move |skipped| metrics.skip(skipped))
    };
    let chain = build::chain(
        &spec,
        options,
        Some(Arc::clone(&observer)),
        Some(Arc::clone(&skips)),
    )?;
    // Its entries that embed; a chain without any still serves chat (and says why on /v1/embeddings).
    let embeddings =
        build::embed_chain(&spec, options, Some(Arc::clone(&observer))).map_err(|e| e.0);
    let mut routes = BTreeMap::new();
    for (name, file) in route_files {
        let select = crate::args::SelectArgs {
            chain: Some(file.into()),
            ..crate::args::SelectArgs::default()
        };
        let mut spec = spec::resolve(&select, env)?.with_prices_file(prices)?;
        spec.route = Some(name.to_owned());
        if !spec.gateway_keys.expose().is_empty() {
            return Err(ConfigError(format!(
                "--route `{name}`: [gateway] keys are read from the main chain file only"
            )));
        }
        let built = build::chain(
            &spec,
            options,
            Some(observer_for(name)),
            Some(Arc::clone(&skips)),
        )?;
        if routes.insert(name.to_owned(), built).is_some() {
            return Err(ConfigError(format!("--route `{name}` is given twice")));
        }
    }
    let windows = args.key_rpm.map(|rpm| {
        let now = Instant::now();
        (rpm, Mutex::new(vec![(now, 0); keys.len().max(1)]))
    });
    let max_streams = args.max_streams.max(1);
    let max_requests = args.max_requests.max(1);
    Ok((
        Gateway {
            chain,
            embeddings,
            routes,
            windows,
            keys,
            metrics,
            streams: Arc::new(Semaphore::new(max_streams)),
            max_streams,
            requests: Arc::new(Semaphore::new(max_requests)),
            max_requests,
            keepalive: Some(args.keepalive).filter(|d| !d.is_zero()),
            max_body: args.max_body_bytes,
            next_id: AtomicU64::new(1),
        },
        addr,
    ))
}

/// The keys of `LLMUX_GATEWAY_KEYS`, blanks dropped.
pub fn gateway_keys(env: &Env) -> Vec<Vec<u8>> {
    env.get(KEYS_VAR)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| k.as_bytes().to_vec())
        .collect()
}

/// Which of `keys` `presented` is. Every key is compared, each in constant time, so the time taken says
/// nothing about which bytes matched (only a length differing from every key's is quicker).
pub fn key_index(keys: &[Vec<u8>], presented: &[u8]) -> Option<usize> {
    let mut found = None;
    for (i, key) in keys.iter().enumerate() {
        if bool::from(key.as_slice().ct_eq(presented)) {
            found = Some(i);
        }
    }
    found
}

impl Gateway {
    /// The chain serving `model`: its route's, else the main one.
    fn chain_for(&self, model: &str) -> &Chain {
        self.routes.get(model).unwrap_or(&self.chain)
    }

    /// Counts one request of key `slot` against `--key-rpm`; `Err` holds the wait until its minute ends.
    fn admit(&self, slot: usize, now: Instant) -> Result<(), Duration> {
        let Some((rpm, windows)) = &self.windows else {
            return Ok(());
        };
        let mut windows = windows.lock().unwrap_or_else(|e| e.into_inner());
        let Some((start, count)) = windows.get_mut(slot) else {
            return Ok(());
        };
        let minute = Duration::from_secs(60);
        if now.duration_since(*start) >= minute {
            *start = now;
            *count = 0;
        }
        if *count >= *rpm {
            return Err(minute.saturating_sub(now.duration_since(*start)));
        }
        *count += 1;
        Ok(())
    }

    /// Every chain's entries' health, labelled by route (`""` for the main chain).
    fn health(&self) -> Vec<(&str, Vec<llmux::chain::EntryHealth>)> {
        std::iter::once(("", &self.chain))
            .chain(self.routes.iter().map(|(n, c)| (n.as_str(), c)))
            .map(|(name, chain)| (name, chain.health_snapshot()))
            .collect()
    }
}

/// The routes, behind the key check for `/v1`.
pub fn router(gateway: Shared) -> Router {
    let api = Router::new()
        .route("/v1/chat/completions", post(chat_completions))
        .route("/v1/messages", post(messages))
        .route("/v1/embeddings", post(embeddings::handle))
        .route("/v1/models", get(models))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&gateway),
            authorize,
        ));
    Router::new()
        .merge(api)
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .with_state(gateway)
}

fn dialect_of(path: &str, headers: &HeaderMap) -> Dialect {
    if path.starts_with("/v1/messages") || headers.contains_key("anthropic-version") {
        Dialect::Anthropic
    } else {
        Dialect::OpenAi
    }
}

async fn authorize(State(gateway): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let dialect = dialect_of(request.uri().path(), headers);
    let slot = if gateway.keys.is_empty() {
        Some(0)
    } else {
        let bearer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
        let api_key = headers.get("x-api-key").map(HeaderValue::as_bytes);
        [bearer, api_key]
            .into_iter()
            .flatten()
            .find_map(|k| key_index(&gateway.keys, k))
    };
    let Some(slot) = slot else {
        gateway.metrics.request(dialect.as_str(), false, 401);
        return ApiError::unauthorized(dialect).into_response();
    };
    if let Err(wait) = gateway.admit(slot, Instant::now()) {
        gateway.metrics.request(dialect.as_str(), false, 429);
        return ApiError::over_rpm(dialect, wait).into_response();
    }
    next.run(request).await
}

async fn not_found(request: Request) -> Response {
    let dialect = dialect_of(request.uri().path(), request.headers());
    let mut e = ApiError::invalid(
        dialect,
        format!("no route for {} {}", request.method(), request.uri().path()),
    );
    e.status = StatusCode::NOT_FOUND;
    e.kind = match dialect {
        Dialect::OpenAi => "invalid_request_error",
        Dialect::Anthropic => "not_found_error",
    };
    e.into_response()
}

async fn chat_completions(State(gateway): State<Shared>, body: Body) -> Response {
    answer(gateway, Dialect::OpenAi, body).await
}

async fn messages(State(gateway): State<Shared>, body: Body) -> Response {
    answer(gateway, Dialect::Anthropic, body).await
}

async fn answer(gateway: Shared, dialect: Dialect, body: Body) -> Response {
    let arrived = Instant::now();
    let bytes = match axum::body::to_bytes(body, gateway.max_body).await {
        Ok(b) => b,
        Err(_) => {
            gateway.metrics.request(dialect.as_str(), false, 413);
            return ApiError::too_large(dialect, gateway.max_body).into_response();
        }
    };
    let parsed = match dialect {
        Dialect::OpenAi => openai::parse(&bytes),
        Dialect::Anthropic => anthropic::parse(&bytes),
    };
    let parsed = match parsed {
        Ok(p) => p,
        Err(message) => {
            gateway.metrics.request(dialect.as_str(), false, 400);
            return ApiError::invalid(dialect, message).into_response();
        }
    };
    let stream = parsed.stream;
    let response = if stream {
        streamed(&gateway, dialect, parsed, arrived).await
    } else {
        whole(&gateway, dialect, parsed).await
    };
    gateway
        .metrics
        .request(dialect.as_str(), stream, response.status().as_u16());
    response
}

fn fresh_id(gateway: &Gateway, dialect: Dialect) -> String {
    let n = gateway.next_id.fetch_add(1, Ordering::Relaxed);
    match dialect {
        Dialect::OpenAi => format!("chatcmpl-llmux-{n}"),
        Dialect::Anthropic => format!("msg_llmux_{n}"),
    }
}

fn provider_header(response: &mut Response, provider: &str) {
    if let Ok(v) = HeaderValue::from_str(provider) {
        response.headers_mut().insert("x-llmux-provider", v);
    }
}

/// `x-llmux-cost-usd`: what a whole answer cost, every attempt included, in dollars; absent when unknown.
pub(crate) fn cost_header(response: &mut Response, cost: Option<llmux::Cost>) {
    if let Some(v) = cost.and_then(|c| HeaderValue::from_str(&c.usd.to_string()).ok()) {
        response.headers_mut().insert("x-llmux-cost-usd", v);
    }
}

async fn whole(gateway: &Gateway, dialect: Dialect, parsed: Parsed) -> Response {
    // Held (and counted as open) until this future ends, answered or dropped with its client.
    let Ok(_permit) = Arc::clone(&gateway.requests).try_acquire_owned() else {
        return ApiError::busy(dialect, gateway.max_requests, "whole requests").into_response();
    };
    match gateway.chain_for(&parsed.model).chat(&parsed.request).await {
        Ok(answer) => {
            let id = fresh_id(gateway, dialect);
            let body = match dialect {
                Dialect::OpenAi => openai::response(&answer, &id),
                Dialect::Anthropic => anthropic::response(&answer, &id),
            };
            let mut response = (
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response();
            provider_header(&mut response, &answer.provider);
            cost_header(&mut response, answer.cost());
            response
        }
        Err(e) => ApiError::from_error(dialect, &e).into_response(),
    }
}

async fn streamed(
    gateway: &Gateway,
    dialect: Dialect,
    parsed: Parsed,
    arrived: Instant,
) -> Response {
    let Ok(permit) = Arc::clone(&gateway.streams).try_acquire_owned() else {
        return ApiError::busy(dialect, gateway.max_streams, "streams").into_response();
    };
    let mut stream = match gateway
        .chain_for(&parsed.model)
        .stream(&parsed.request)
        .await
    {
        Ok(s) => s,
        Err(e) => return ApiError::from_error(dialect, &e).into_response(),
    };
    // The chain hands the stream over at its first content: everything before it is settled.
    gateway.metrics.ttft(arrived.elapsed());
    let id = fresh_id(gateway, dialect);
    let mut encoder: Box<dyn Encode> = match dialect {
        Dialect::OpenAi => Box::new(openai::Chunks::new(id, parsed.include_usage)),
        Dialect::Anthropic => Box::new(anthropic::Events::new(id)),
    };
    let mut first = String::new();
    let mut provider = None;
    let mut done = false;
    // The start event is already buffered: read it so the response's headers can name the provider.
    match stream.next().await {
        Some(Ok(event)) => {
            if let StreamEvent::Start(start) = &event {
                provider = Some(start.provider.clone());
            }
            encoder.event(event, &mut first);
        }
        Some(Err(e)) => return ApiError::from_error(dialect, &e).into_response(),
        None => {
            encoder.end(&mut first);
            done = true;
        }
    }
    gateway.metrics.streams(1);
    let live = Live {
        stream,
        encoder,
        dialect,
        done,
        first: Some(first),
        keepalive: gateway
            .keepalive
            .map(|quiet| (quiet, Box::pin(tokio::time::sleep(quiet)))),
        _permit: permit,
        metrics: Arc::clone(&gateway.metrics),
    };
    let body = futures_util::stream::unfold(live, |mut live| async move {
        let chunk = live.next_chunk().await?;
        Some((Ok::<Bytes, Infallible>(Bytes::from(chunk)), live))
    });
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response();
    if let Some(p) = provider {
        provider_header(&mut response, &p);
    }
    response
}

/// A stream being sent: it holds its slot among the open streams until the body is done or dropped (a
/// client that goes away drops it, which cancels the upstream request).
struct Live {
    stream: ChatStream,
    encoder: Box<dyn Encode>,
    dialect: Dialect,
    done: bool,
    first: Option<String>,
    /// `--keepalive` and the one timer, reset for each wait, that sends it.
    keepalive: Option<(Duration, Pin<Box<Sleep>>)>,
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Live {
    /// The next piece of the body, `None` after the end.
    async fn next_chunk(&mut self) -> Option<String> {
        if let Some(first) = self.first.take().filter(|f| !f.is_empty()) {
            return Some(first);
        }
        if self.done {
            return None;
        }
        let mut out = String::new();
        while out.is_empty() {
            let next = match &mut self.keepalive {
                // A silent provider (a long think, a slow tool call) would leave the client's and every
                // proxy's idle timer running out: a keep-alive tells them the stream is alive. Waiting on
                // `next()` again after the timer fires loses nothing: the stream keeps its own state.
                Some((quiet, timer)) => {
                    // A `quiet` too long for an `Instant` is never: `sleep` set the timer far ahead.
                    if let Some(deadline) = tokio::time::Instant::now().checked_add(*quiet) {
                        timer.as_mut().reset(deadline);
                    }
                    tokio::select! {
                        // An event that is ready goes out before a keep-alive that is due.
                        biased;
                        next = self.stream.next() => next,
                        () = timer.as_mut() => {
                            self.encoder.keepalive(&mut out);
                            continue;
                        }
                    }
                }
                None => self.stream.next().await,
            };
            self.take(next, &mut out);
        }
        // Events that are already here go out in the same write: one chunk and one syscall for a burst,
        // and no event waits for another.
        while !self.done && out.len() < COALESCE_BYTES {
            match self.stream.next().now_or_never() {
                Some(next) => self.take(next, &mut out),
                None => break,
            }
        }
        Some(out)
    }

    /// Encodes one item of the chain's stream (`None`: its end) into `out`.
    fn take(&mut self, item: Option<Result<StreamEvent, llmux::Error>>, out: &mut String) {
        match item {
            Some(Ok(event)) => self.encoder.event(event, out),
            Some(Err(e)) => {
                out.push_str(&ApiError::from_error(self.dialect, &e).stream_event());
                self.metrics.stream_failed(self.dialect.as_str());
                self.done = true;
            }
            None => {
                self.encoder.end(out);
                self.done = true;
            }
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.metrics.streams(-1);
    }
}

async fn models(State(gateway): State<Shared>, headers: HeaderMap) -> Response {
    let mut names = vec!["llmux".to_owned()];
    names.extend(gateway.routes.keys().cloned());
    for entry in gateway.chain.entries() {
        if !names.iter().any(|n| n == entry.model()) {
            names.push(entry.model().to_owned());
        }
    }
    let body = if headers.contains_key("anthropic-version") {
        let data: Vec<_> = names
            .iter()
            .map(|n| json!({"type": "model", "id": n, "display_name": n, "created_at": "1970-01-01T00:00:00Z"}))
            .collect();
        json!({"data": data, "has_more": false, "first_id": names.first(), "last_id": names.last()})
    } else {
        let data: Vec<_> = names
            .iter()
            .map(|n| json!({"id": n, "object": "model", "created": 0, "owned_by": "llmux"}))
            .collect();
        json!({"object": "list", "data": data})
    };
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn health(State(gateway): State<Shared>) -> Response {
    let entries: Vec<_> = gateway
        .health()
        .into_iter()
        .flat_map(|(route, entries)| entries.into_iter().map(move |h| (route, h)))
        .map(|(route, h)| {
            let breaker = match h.state {
                BreakerState::Closed => "closed",
                BreakerState::Open { .. } => "open",
                _ => "half_open",
            };
            json!({"route": route, "entry": h.entry, "provider": h.provider, "model": h.model, "breaker": breaker})
        })
        .collect();
    let body = json!({"status": "ok", "entries": entries});
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn metrics_text(State(gateway): State<Shared>) -> Response {
    let open_requests = gateway.max_requests - gateway.requests.available_permits();
    let text = gateway.metrics.render(open_requests, &gateway.health());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// Waits for ctrl-c or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_trimmed_and_matched_exactly() {
        let env = Env::from_pairs([(KEYS_VAR, " k1 , ,k2")]);
        let keys = gateway_keys(&env);
        assert_eq!(keys, [b"k1".to_vec(), b"k2".to_vec()]);
        assert_eq!(key_index(&keys, b"k2"), Some(1));
        assert_eq!(key_index(&keys, b"k"), None);
        assert_eq!(key_index(&keys, b"k22"), None);
        assert_eq!(key_index(&[], b""), None);
        let args = test_args_with(&["--provider", "openai"]);
        let env = Env::from_pairs([
            (KEYS_VAR, "gw-secret-1"),
            ("OPENAI_API_KEY", "sk-up-secret"),
        ]);
        let (gateway, _) = prepare(&args, &env).unwrap();
        let shown = format!("{gateway:?}");
        assert!(
            !shown.contains("gw-secret") && !shown.contains("sk-up-secret"),
            "{shown}"
        );
    }

    #[test]
    fn each_key_gets_its_own_minute_of_requests() {
        let args = test_args_with(&["--key-rpm", "2", "--provider", "openai"]);
        let env = Env::from_pairs([(KEYS_VAR, "a,b"), ("OPENAI_API_KEY", "sk-x")]);
        let (gateway, _) = prepare(&args, &env).unwrap();
        let t0 = Instant::now();
        assert!(gateway.admit(0, t0).is_ok());
        assert!(gateway.admit(0, t0).is_ok());
        let wait = gateway.admit(0, t0 + Duration::from_secs(20)).unwrap_err();
        // The minute began when the gateway was built, just before t0.
        assert!(
            wait <= Duration::from_secs(40) && wait > Duration::from_secs(39),
            "{wait:?}"
        );
        assert!(
            gateway.admit(1, t0).is_ok(),
            "another key has its own count"
        );
        assert!(
            gateway.admit(0, t0 + Duration::from_secs(60)).is_ok(),
            "a new minute"
        );
    }

    #[test]
    fn routes_need_a_name_and_a_file() {
        for bad in ["fast", "=x.toml", "fast="] {
            let args = test_args_with(&["--route", bad]);
            let err = prepare(&args, &Env::default()).unwrap_err();
            assert!(err.0.contains("NAME=FILE"), "{bad}: {}", err.0);
        }
    }

    #[test]
    fn without_a_key_only_loopback_is_accepted() {
        let mut args = test_args_with(&["--listen", "0.0.0.0:0", "--provider", "openai"]);
        let env = Env::from_pairs([("OPENAI_API_KEY", "sk-x")]);
        let err = prepare(&args, &env).unwrap_err();
        assert!(err.0.contains("refusing"), "{}", err.0);
        let keyed = Env::from_pairs([("OPENAI_API_KEY", "sk-x"), (KEYS_VAR, "gw")]);
        assert!(prepare(&args, &keyed).is_ok(), "a key allows any address");
        args.listen = "not an address".into();
        assert!(prepare(&args, &keyed).is_err());
    }

    fn test_args_with(extra: &[&str]) -> ServeArgs {
        use clap::Parser as _;
        let cli = crate::Cli::parse_from(["llmux", "serve"].iter().chain(extra));
        match cli.command {
            crate::Command::Serve(a) => a,
            _ => unreachable!("parsed as serve"),
        }
    }
}
