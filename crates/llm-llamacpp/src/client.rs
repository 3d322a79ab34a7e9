//! [`LlamaCpp`]: an [`llm_core::Provider`] whose chat is llm-http's driver over `llm-openai`'s codec
//! (`/v1/chat/completions`), plus llama-server's native endpoints through the same driver and pool.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;
use std::sync::Arc;

use http::HeaderMap;
use http::header::{CONNECTION, CONTENT_TYPE, HeaderValue};
use llm_core::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, Embedder, Error, ErrorKind,
    Price, Provider,
};
use llm_http::{
    DEFAULT_MAX_BODY, Decoding, EventStream, Framing, HttpProvider, Response, Transport,
    WireRequest,
};
use llm_openai::{ChatCompletions, WireConfig};
use tokio::time::Instant;

use crate::config::LlamaCppConfig;
use crate::request::{CompletionRequest, completion_body};
use crate::response::{Completion, CompletionEvent, Props, decode_completion, decode_props};
use crate::stream::CompletionDecoder;

/// A streamed native completion; dropping it closes the connection.
pub type CompletionEvents = Pin<Box<dyn Stream<Item = Result<CompletionEvent, Error>> + Send>>;

/// Sends a request once more, at once, when it failed with a `network` error before any response arrived.
///
/// llama-server announces `Keep-Alive` on streamed responses but closes the connection after them, so the
/// next request on the pooled connection fails with "connection closed before message completed". A fresh
/// connection fixes that; a server that is really down fails the second attempt just as fast (a refused
/// loopback connection). Errors with a status, and errors inside a stream, are never repeated.
async fn with_fresh_connection<T, F, Fut>(send: F) -> Result<T, Error>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, Error>>,
{
    match send().await {
        Err(e) if e.kind() == ErrorKind::Network && e.status().is_none() => send().await,
        other => other,
    }
}

/// How often [`LlamaCpp::wait_ready`] asks `/health`.
const READY_POLL: Duration = Duration::from_millis(100);

/// A `llama-server` as an llmux [`Provider`] (chat through its OpenAI-compatible endpoint), with its native
/// API beside: [`LlamaCpp::complete`], [`LlamaCpp::complete_stream`], [`LlamaCpp::props`],
/// [`LlamaCpp::ready`] and [`LlamaCpp::wait_ready`]. Cheap to clone; clones share the connection pool.
///
/// A request that meets "503 Loading model" waits for `/health` up to
/// [`LlamaCppConfig::load_wait`] and is then sent once more; still loading after that, it fails with the
/// `overloaded` error marked [`Error::is_not_ready`]. [`LlamaCpp::without_load_wait`] (what a fallback
/// chain uses for entries that have a later one) reports that error at once.
///
/// ```no_run
/// # async fn run() -> Result<(), llm_core::Error> {
/// use std::time::Duration;
/// use llm_core::{ChatRequest, Provider};
/// use llm_llamacpp::{CompletionRequest, LlamaCpp, LlamaCppConfig};
///
/// let llama = LlamaCpp::new(LlamaCppConfig::from_env()?)?;
/// llama.wait_ready(Duration::from_secs(30)).await?;
/// let chat = llama.chat(&ChatRequest::new("any").user("Hi").max_tokens(16)).await?;
/// let raw = llama.complete(&CompletionRequest::new("Once upon a time").max_tokens(16)).await?;
/// println!("{} / {} ({:?})", chat.text, raw.text, raw.end.timings);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct LlamaCpp {
    chat: HttpProvider<ChatCompletions>,
    config: Arc<LlamaCppConfig>,
    headers: HeaderMap,
    health_url: String,
    props_url: String,
    completion_url: String,
}

impl LlamaCpp {
    /// A client for the server `config` describes, with its own connection pool.
    pub fn new(config: LlamaCppConfig) -> Result<Self, Error> {
        let mut headers = config.http.header_map(&["authorization", "content-type"])?;
        config.http.bearer(&mut headers)?;
        let health_url = config.health_url();
        let props_url = config.url("props");
        let completion_url = config.url("completion");
        Ok(LlamaCpp {
            chat: HttpProvider::new(ChatCompletions::new(&config)?)?,
            config: Arc::new(config),
            headers,
            health_url,
            props_url,
            completion_url,
        })
    }

    /// A client configured by [`LlamaCppConfig::from_env`] (`LLAMA_SERVER_URL`, `LLAMA_API_KEY`).
    pub fn from_env() -> Result<Self, Error> {
        LlamaCpp::new(LlamaCppConfig::from_env()?)
    }

    /// The configuration in use.
    pub fn config(&self) -> &LlamaCppConfig {
        &self.config
    }

    /// The driver over the OpenAI-compatible codec that serves chat.
    pub fn openai(&self) -> &HttpProvider<ChatCompletions> {
        &self.chat
    }

    /// The same server, reporting "503 Loading model" at once (`overloaded`) instead of waiting it out:
    /// what a caller with somewhere else to go wants (a fallback chain entry that is not the last). Shares
    /// the connection pool.
    pub fn without_load_wait(&self) -> LlamaCpp {
        let mut config = (*self.config).clone();
        config.load_wait = Duration::ZERO;
        LlamaCpp {
            config: Arc::new(config),
            ..self.clone()
        }
    }

    fn transport(&self) -> &Transport {
        self.chat.transport()
    }

    fn provider_name(&self) -> &str {
        &self.config().http.name
    }

    async fn get(&self, url: &str) -> Result<Response, Error> {
        with_fresh_connection(|| {
            self.chat
                .send(WireRequest::get(url, self.headers.clone()), false)
        })
        .await
    }

    /// One `GET /health`: `Ok` when the server answers 200; "503 Loading model" is `overloaded`; a refused
    /// connection is `network`.
    pub async fn ready(&self) -> Result<(), Error> {
        let response = self.get(&self.health_url).await?;
        // Read the small body so the connection goes back to the pool.
        response.bytes(DEFAULT_MAX_BODY).await.map(drop)
    }

    /// Polls `/health` until it answers 200 or `limit` passes, then returns the last error. Errors that
    /// waiting cannot fix (anything not retryable, e.g. `auth` or `not_found`) are returned at once; a
    /// refused connection is retried (a server that is starting has not bound its port yet).
    pub async fn wait_ready(&self, limit: Duration) -> Result<(), Error> {
        let deadline = Instant::now() + limit;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            let attempt = tokio::time::timeout(remaining.max(READY_POLL), self.ready()).await;
            let err = match attempt {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) if !e.is_retryable() => return Err(e),
                Ok(Err(e)) => e,
                Err(_) => self.transport().error(
                    ErrorKind::Timeout,
                    format!("GET /health did not answer within {limit:?}"),
                ),
            };
            if Instant::now() + READY_POLL > deadline {
                return Err(err);
            }
            // Polling a readiness endpoint at a fixed interval, bounded by `limit`.
            tokio::time::sleep(READY_POLL).await;
        }
    }

    /// `GET /props`: slots, model path, default generation settings, chat template.
    pub async fn props(&self) -> Result<Props, Error> {
        let response = self.get(&self.props_url).await?;
        let body = response.bytes(DEFAULT_MAX_BODY).await?;
        decode_props(self.provider_name(), &body).map_err(|e| self.transport().finish(e))
    }

    /// Whether `err` is the server saying it is still loading (llama-server answers 503 only for that).
    fn is_loading(err: &Error) -> bool {
        err.kind() == ErrorKind::Overloaded && err.status() == Some(503)
    }

    async fn post_completion(
        &self,
        request: &CompletionRequest,
        stream: bool,
    ) -> Result<Response, Error> {
        let body = completion_body(self.provider_name(), request, stream)?;
        let mut headers = self.headers.clone();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if stream {
            // The server closes the connection after a stream anyway; saying so keeps it out of the pool.
            headers.insert(CONNECTION, HeaderValue::from_static("close"));
        }
        let send = || {
            let wire = WireRequest::post(&self.completion_url, headers.clone(), body.clone());
            self.chat.send(wire, stream)
        };
        self.waiting_out_a_load(|| with_fresh_connection(send))
            .await
    }

    /// Sends with `send`; a "503 Loading model" answer waits for `/health` up to the load wait and sends once
    /// more. When the server is still loading after the wait, the error is the `overloaded` one it answered
    /// (retryable: the classification of 503), never a `timeout`; an error the wait cannot fix (`auth`, …)
    /// is returned as it is.
    async fn waiting_out_a_load<T, F, Fut>(&self, send: F) -> Result<T, Error>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, Error>>,
    {
        let mark = |e: Error| {
            if Self::is_loading(&e) {
                e.with_not_ready(true)
            } else {
                e
            }
        };
        match send().await {
            Err(e) if Self::is_loading(&e) && !self.config().load_wait.is_zero() => {
                match self.wait_ready(self.config().load_wait).await {
                    Ok(()) => send().await.map_err(mark),
                    Err(waited) if waited.is_retryable() => Err(mark(e)),
                    Err(waited) => Err(waited),
                }
            }
            other => other.map_err(mark),
        }
    }

    /// A raw prompt completion through the native `POST /completion`.
    pub async fn complete(&self, request: &CompletionRequest) -> Result<Completion, Error> {
        let response = self.post_completion(request, false).await?;
        let request_id = response.request_id();
        let body = response.bytes(DEFAULT_MAX_BODY).await?;
        decode_completion(self.provider_name(), &body, request_id)
            .map_err(|e| self.transport().finish(e))
    }

    /// A raw prompt completion through the native `POST /completion`, streamed: text pieces, then one
    /// [`CompletionEvent::End`] with the finish reason, usage and timings.
    pub async fn complete_stream(
        &self,
        request: &CompletionRequest,
    ) -> Result<CompletionEvents, Error> {
        let response = self.post_completion(request, true).await?;
        let is_sse = response
            .media_type()
            .is_none_or(|m| m == "text/event-stream");
        if is_sse {
            let name = self.config().http.name.clone();
            let decoding = Decoding::new(name.clone(), Framing::Sse, CompletionDecoder::new(name));
            return Ok(Box::pin(EventStream::new(
                response.into_body(),
                decoding,
                self.transport().clone(),
            )));
        }
        // A whole answer where a stream was asked for: replay it as events.
        let request_id = response.request_id();
        let body = response.bytes(DEFAULT_MAX_BODY).await?;
        let whole = decode_completion(self.provider_name(), &body, request_id)
            .map_err(|e| self.transport().finish(e))?;
        let mut events = Vec::with_capacity(2);
        if !whole.text.is_empty() {
            events.push(Ok(CompletionEvent::Text(whole.text)));
        }
        events.push(Ok(CompletionEvent::End(Box::new(whole.end))));
        Ok(Box::pin(futures_util::stream::iter(events)))
    }
}

#[async_trait]
impl Provider for LlamaCpp {
    fn name(&self) -> &str {
        self.chat.name()
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        self.chat.validate(request)
    }

    /// A llama-server runs on the user's own machine: its tokens cost nothing.
    fn price(&self, model: &str) -> Option<Price> {
        self.chat.price(model)
    }

    fn identity(&self) -> Option<String> {
        self.chat.identity()
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.waiting_out_a_load(|| with_fresh_connection(|| self.chat.chat(request)))
            .await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.waiting_out_a_load(|| with_fresh_connection(|| self.chat.stream(request)))
            .await
    }

    fn without_waiting(&self) -> Option<Arc<dyn Provider>> {
        Some(Arc::new(self.without_load_wait()))
    }

    async fn health(&self) -> Result<(), Error> {
        self.ready().await
    }
}

/// `POST /v1/embeddings` of a server started with `--embeddings` (see
/// [`ManagedConfig::embeddings`](crate::ManagedConfig::embeddings)), through llm-openai's codec on the shared
/// driver (batches split and joined there), waiting out a model that is still loading as chat does.
#[async_trait]
impl Embedder for LlamaCpp {
    fn embedder_name(&self) -> &str {
        self.chat.embedder_name()
    }

    fn validate_embed(&self, request: &EmbedRequest) -> Result<(), Error> {
        self.chat.validate_embed(request)
    }

    async fn embed(&self, request: &EmbedRequest) -> Result<EmbedResponse, Error> {
        self.waiting_out_a_load(|| with_fresh_connection(|| self.chat.embed(request)))
            .await
    }

    fn embed_without_waiting(&self) -> Option<Arc<dyn Embedder>> {
        Some(Arc::new(self.without_load_wait()))
    }
}
