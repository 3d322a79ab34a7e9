//! The routes and what every API route shares: the key check and the request metrics (layers applied
//! once), reading a body, answering whole or streamed, and the headers that say who answered, what it cost
//! and what was taken out of the request.

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use llmux::chain::{BreakerState, Chain};
use llmux::{Attempt, ChatRequest, ChatResponse, Cost, Provider as _};
use serde_json::json;
use tokio::sync::OwnedSemaphorePermit;

use crate::anthropic::{self, MESSAGES};
use crate::dialect::{Dialect, Parsed, Reply};
use crate::error::ApiError;
use crate::openai::CHAT_COMPLETIONS;
use crate::responses::RESPONSES;
use crate::{Gateway, HostedTools, embeddings, stream};

pub(crate) type Shared = Arc<Gateway>;

/// The routes, the API ones behind the key check, all of them counted.
pub(crate) fn router(gateway: Shared) -> Router {
    let api = Router::new()
        .route(
            "/v1/chat/completions",
            post(|State(g): State<Shared>, headers: HeaderMap, body: Body| {
                answer(g, &CHAT_COMPLETIONS, headers, body)
            }),
        )
        .route(
            "/v1/responses",
            post(|State(g): State<Shared>, headers: HeaderMap, body: Body| {
                answer(g, &RESPONSES, headers, body)
            }),
        )
        .route(
            "/v1/messages",
            post(|State(g): State<Shared>, headers: HeaderMap, body: Body| {
                answer(g, &MESSAGES, headers, body)
            }),
        )
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1/embeddings", post(embeddings::handle))
        .route("/v1/models", get(models))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(&gateway),
            authorize,
        ))
        .route_layer(middleware::from_fn_with_state(Arc::clone(&gateway), record));
    Router::new()
        .merge(api)
        // Clients warm their connection with `HEAD /` (Claude Code does).
        .route("/", get(|| async { "llmux gateway\n" }))
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .with_state(gateway)
}

/// The API a request speaks, by its path (and `anthropic-version` on shared paths).
pub(crate) fn dialect_of(path: &str, headers: &HeaderMap) -> &'static dyn Dialect {
    if path.starts_with("/v1/messages") || headers.contains_key("anthropic-version") {
        &MESSAGES
    } else if path.starts_with("/v1/responses") {
        &RESPONSES
    } else {
        &CHAT_COMPLETIONS
    }
}

/// Marks a response whose body is a stream, for the request metrics.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Streamed;

/// Counts every API request once, by dialect, mode and status.
async fn record(State(gateway): State<Shared>, request: Request, next: Next) -> Response {
    let dialect = dialect_of(request.uri().path(), request.headers());
    let response = next.run(request).await;
    let streamed = response.extensions().get::<Streamed>().is_some();
    gateway
        .metrics
        .request(dialect.name(), streamed, response.status().as_u16());
    response
}

/// The gateway key, then the key's requests per minute. Without keys, what a web page could make a
/// browser send is refused instead: a request with an `Origin` (cross-site or not: no page of this
/// gateway's own calls it), one for another host name than the gateway's (DNS rebinding), and a body that
/// is not JSON (a form or `text/plain` post needs no preflight).
async fn authorize(State(gateway): State<Shared>, request: Request, next: Next) -> Response {
    let headers = request.headers();
    let dialect = dialect_of(request.uri().path(), headers);
    if gateway.keys.is_empty()
        && let Err(refusal) = keyless_check(&gateway, &request, dialect)
    {
        return refusal.into_response();
    }
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "));
    let api_key = headers.get("x-api-key").map(HeaderValue::as_bytes);
    let Some(slot) = gateway.keys.slot([bearer, api_key].into_iter().flatten()) else {
        return ApiError::unauthorized(dialect).into_response();
    };
    if let Err(wait) = gateway.keys.admit(slot, Instant::now()) {
        return ApiError::over_rpm(dialect, wait).into_response();
    }
    next.run(request).await
}

fn keyless_check(
    gateway: &Gateway,
    request: &Request,
    dialect: &'static dyn Dialect,
) -> Result<(), ApiError> {
    let headers = request.headers();
    if headers.contains_key(header::ORIGIN) {
        return Err(ApiError::forbidden(
            dialect,
            "a request from a web page (it carries `Origin`): a gateway without keys answers programs only",
        ));
    }
    if let Some(listen) = gateway.listen {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default();
        let port = listen.port();
        let allowed = [
            listen.to_string(),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ];
        if !allowed.iter().any(|a| a.eq_ignore_ascii_case(host)) {
            return Err(ApiError::forbidden(
                dialect,
                format!(
                    "the request names another host than this gateway ({listen}): a gateway without keys \
                     answers only for its own address"
                ),
            ));
        }
    }
    if request.method() == axum::http::Method::POST {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || m.ends_with("+json")
            });
        if !json {
            return Err(ApiError::media_type(dialect));
        }
    }
    Ok(())
}

async fn not_found(request: Request) -> Response {
    let dialect = dialect_of(request.uri().path(), request.headers());
    ApiError::no_route(dialect, request.method().as_str(), request.uri().path()).into_response()
}

/// The body, read within the gateway's budget of bodies being read and parsed at once, or the answer
/// that refuses it: 413 over the body limit, 503 (529) when the budget is spent. The permit comes back with
/// the bytes: hold it until they are parsed.
pub(crate) async fn body_bytes(
    gateway: &Gateway,
    dialect: &'static dyn Dialect,
    headers: &HeaderMap,
    body: Body,
) -> Result<(axum::body::Bytes, OwnedSemaphorePermit), Response> {
    // What the body may take: its declared length, else the most any body may be.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(gateway.max_body)
        .min(gateway.max_body);
    let kib = u32::try_from(declared.div_ceil(1024).max(1)).unwrap_or(u32::MAX);
    let Ok(permit) = Arc::clone(&gateway.body_budget).try_acquire_many_owned(kib) else {
        return Err(ApiError::busy(
            dialect,
            gateway.body_budget_kib as usize / 1024,
            "MiB of request bodies",
        )
        .into_response());
    };
    match tokio::time::timeout(
        gateway.body_timeout,
        axum::body::to_bytes(body, gateway.max_body),
    )
    .await
    {
        Ok(Ok(bytes)) => Ok((bytes, permit)),
        Ok(Err(_)) => Err(ApiError::too_large(dialect, gateway.max_body).into_response()),
        Err(_) => Err(ApiError::new(
            dialect,
            crate::Problem::SlowBody,
            format!(
                "the request body did not arrive within {:?}",
                gateway.body_timeout
            ),
        )
        .into_response()),
    }
}

/// A chat request in any dialect: read, served whole or streamed, its headers added.
async fn answer(
    gateway: Shared,
    dialect: &'static dyn Dialect,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let arrived = Instant::now();
    let (bytes, permit) = match body_bytes(&gateway, dialect, &headers, body).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    let parsed = match dialect.read(&bytes, &headers) {
        Ok(p) => p,
        Err(message) => return ApiError::invalid(dialect, message).into_response(),
    };
    // The request is in the vocabulary now: the body and its share of the budget go.
    drop((bytes, permit));
    if let Err(message) = gateway.caps.check(&parsed.request) {
        return ApiError::invalid(dialect, message).into_response();
    }
    if gateway.hosted_tools == HostedTools::Refuse
        && let Some(relay) = parsed.request.relay.as_ref()
        && let Some(tool) = relay.tools.first()
        && !gateway
            .chain_for(&parsed.model)
            .entries()
            .any(|e| e.provider().relay_wire() == Some(relay.wire.as_str()))
    {
        return ApiError::invalid(
            dialect,
            format!(
                "the hosted tool `{}` is run by no provider behind this gateway",
                tool_kind(tool)
            ),
        )
        .into_response();
    }
    if parsed.stream {
        let mut r = stream::answer(&gateway, dialect, parsed, arrived).await;
        r.extensions_mut().insert(Streamed);
        r
    } else {
        whole(&gateway, dialect, parsed).await
    }
}

/// The header naming, by type, the hosted tools of a request the answering provider was not sent (it runs
/// none), comma-separated.
pub const REMOVED_TOOLS: &str = "x-llmux-removed-tools";
/// The header naming the fields of a request's [`Relay`](llmux::Relay) (beta fields that only tune the
/// provider's side) that the answering provider was not sent, comma-separated.
pub const REMOVED_FIELDS: &str = "x-llmux-removed-fields";

/// When the entry that answered (the last of `attempts`) speaks another wire format than the request's
/// relay, it was not sent it: names the relay's fields in `x-llmux-removed-fields` and its hosted tools
/// (by type) in `x-llmux-removed-tools`.
pub(crate) fn relay_header(
    response: &mut Response,
    chain: &Chain,
    attempts: &[Attempt],
    request: &ChatRequest,
) {
    let Some(relay) = request.relay.as_ref() else {
        return;
    };
    let sent = attempts
        .last()
        .and_then(|a| chain.entries().nth(a.entry))
        .is_some_and(|e| e.provider().relay_wire() == Some(relay.wire.as_str()));
    if sent {
        return;
    }
    let fields: Vec<String> = relay.fields.keys().cloned().collect();
    let tools: Vec<String> = relay
        .tools
        .iter()
        .map(|t| tool_kind(t).to_owned())
        .collect();
    for (name, list) in [(REMOVED_FIELDS, fields), (REMOVED_TOOLS, tools)] {
        if let Some(v) = list_header(&list) {
            response.headers_mut().insert(name, v);
        }
    }
}

/// A relayed tool's `type`.
fn tool_kind(tool: &serde_json::Value) -> &str {
    tool.get("type")
        .and_then(serde_json::Value::as_str)
        .unwrap_or("tool")
}

/// `names` as one header value (`None` for none, or a name a header cannot carry: it is the client's
/// own text, so an odd name only loses the header, never the answer).
fn list_header(names: &[String]) -> Option<HeaderValue> {
    if names.is_empty() {
        return None;
    }
    HeaderValue::from_str(&names.join(", ")).ok()
}

async fn whole(gateway: &Gateway, dialect: &'static dyn Dialect, parsed: Parsed) -> Response {
    // Held (and counted as open) until this future ends, answered or dropped with its client.
    let Ok(_permit) = Arc::clone(&gateway.requests).try_acquire_owned() else {
        return ApiError::busy(dialect, gateway.max_requests, "whole requests").into_response();
    };
    let chain = gateway.chain_for(&parsed.model);
    match collected(chain, &parsed.request).await {
        Ok(answer) => {
            let reply = Reply {
                id: gateway.fresh_id(dialect),
                model: entry_model(&answer, &parsed.model),
            };
            let body = dialect.whole(&answer, &reply, &parsed);
            let mut response = (
                [(header::CONTENT_TYPE, "application/json")],
                body.to_string(),
            )
                .into_response();
            provider_header(&mut response, &answer.provider);
            cost_header(&mut response, answer.cost());
            relay_header(&mut response, chain, &answer.attempts, &parsed.request);
            response
        }
        Err(e) => ApiError::from_error(dialect, &e).into_response(),
    }
}

/// A whole answer, asked of the chain as a stream and collected: the first-byte limit then times the
/// first token, not the whole generation, so a long answer is not cut at that limit (and retried, billed
/// twice); every failure before the first content still falls back, as for any chain call.
async fn collected(chain: &Chain, request: &ChatRequest) -> Result<ChatResponse, llmux::Error> {
    use futures_util::StreamExt as _;
    let mut stream = chain.stream(request).await?;
    let mut collector = llmux::Collector::default();
    while let Some(event) = stream.next().await {
        collector.push(event?);
    }
    Ok(collector.finish())
}

/// The model an answer names: the answering entry's model as configured (never what a local server calls
/// its model file), else the name the client sent.
fn entry_model(answer: &ChatResponse, asked: &str) -> String {
    answer
        .attempts
        .last()
        .map(|a| a.model.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(|| asked.to_owned())
}

pub(crate) fn provider_header(response: &mut Response, provider: &str) {
    if let Ok(v) = HeaderValue::from_str(provider) {
        response.headers_mut().insert("x-llmux-provider", v);
    }
}

/// `x-llmux-cost-usd`: what a whole answer cost, every attempt included, in dollars; absent when unknown.
pub(crate) fn cost_header(response: &mut Response, cost: Option<Cost>) {
    if let Some(v) = cost.and_then(|c| HeaderValue::from_str(&c.usd.to_string()).ok()) {
        response.headers_mut().insert("x-llmux-cost-usd", v);
    }
}

/// The names a client may ask for: `llmux`, the routes, then every main-chain entry's model.
async fn models(State(gateway): State<Shared>, request: Request) -> Response {
    let dialect = dialect_of(request.uri().path(), request.headers());
    let mut names = vec!["llmux".to_owned()];
    names.extend(gateway.routes.keys().cloned());
    for entry in gateway.chain.entries() {
        if !names.iter().any(|n| n == entry.model()) {
            names.push(entry.model().to_owned());
        }
    }
    (
        [(header::CONTENT_TYPE, "application/json")],
        dialect.models(&names).to_string(),
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

async fn metrics_text(State(gateway): State<Shared>, headers: HeaderMap) -> Response {
    if let Some(key) = &gateway.metrics_key {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
            .unwrap_or_default();
        if crate::key_index(std::slice::from_ref(key), presented).is_none() {
            return (
                axum::http::StatusCode::UNAUTHORIZED,
                "send the metrics key as `Authorization: Bearer KEY`\n",
            )
                .into_response();
        }
    }
    let open_requests = gateway.max_requests - gateway.requests.available_permits();
    let text = gateway.metrics.render(open_requests, &gateway.health());
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}
