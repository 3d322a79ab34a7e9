//! The IO of a client: [`LlamaCpp`], an [`llm_core::Provider`] whose chat goes through `llm-openai`'s
//! generic client (`/v1/chat/completions`), plus llama-server's native endpoints over the same pooled
//! transport.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use futures_core::Stream;
use http::HeaderMap;
use http::header::{ACCEPT, AUTHORIZATION, CONNECTION, CONTENT_TYPE, HeaderValue};
use llm_core::{ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, Provider};
use llm_http::{DEFAULT_MAX_BODY, Response, Transport};
use llm_openai::{OpenAiClient, WireConfig};
use tokio::time::Instant;

use crate::config::LlamaCppConfig;
use crate::request::{CompletionRequest, completion_body};
use crate::response::{Completion, CompletionEvent, Props, decode_completion, decode_props};
use crate::stream::CompletionStream;

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
/// [`LlamaCppConfig::load_wait`] and is then sent once more.
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
    chat: OpenAiClient<LlamaCppConfig>,
    headers: HeaderMap,
    health_url: String,
    props_url: String,
    completion_url: String,
}

impl LlamaCpp {
    /// A client for the server `config` describes, with its own connection pool.
    pub fn new(config: LlamaCppConfig) -> Result<Self, Error> {
        let mut headers = HeaderMap::new();
        if let Some(key) = &config.api_key {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    Error::new(ErrorKind::Auth, "api key is not a valid header value")
                        .with_provider(config.name.clone())
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let health_url = config.health_url();
        let props_url = config.url("props");
        let completion_url = config.url("completion");
        Ok(LlamaCpp {
            chat: OpenAiClient::new(config)?,
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
        self.chat.config()
    }

    /// The OpenAI-compatible client that serves chat.
    pub fn openai(&self) -> &OpenAiClient<LlamaCppConfig> {
        &self.chat
    }

    fn transport(&self) -> &Transport {
        self.chat.transport()
    }

    fn provider_name(&self) -> &str {
        &self.config().name
    }

    async fn get(&self, url: &str) -> Result<Response, Error> {
        with_fresh_connection(|| {
            let request = self.transport().get(url).headers(self.headers.clone());
            self.transport().send(request)
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

    /// Whether `err` is the server saying it is still loading, and this client waits that out.
    fn should_wait(&self, err: &Error) -> bool {
        err.kind() == ErrorKind::Overloaded
            && err.status() == Some(503)
            && !self.config().load_wait.is_zero()
    }

    async fn post_completion(
        &self,
        request: &CompletionRequest,
        stream: bool,
    ) -> Result<Response, Error> {
        let body = completion_body(self.provider_name(), request, stream)?;
        let send = || {
            let mut builder = self
                .transport()
                .post(&self.completion_url)
                .headers(self.headers.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(body.clone());
            if stream {
                // The server closes the connection after a stream anyway; saying so keeps it out of the pool.
                builder = builder
                    .header(ACCEPT, "text/event-stream")
                    .header(CONNECTION, "close");
            }
            self.transport().send(builder)
        };
        match with_fresh_connection(send).await {
            Err(e) if self.should_wait(&e) => {
                self.wait_ready(self.config().load_wait).await?;
                with_fresh_connection(send).await
            }
            other => other,
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
            let transport = self.transport().clone();
            let stream = CompletionStream::new(response.into_body(), self.config().name.clone());
            return Ok(Box::pin(futures_util::StreamExt::map(
                stream,
                move |item| item.map_err(|e| transport.finish(e)),
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

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let send = || self.chat.chat(request);
        match with_fresh_connection(send).await {
            Err(e) if self.should_wait(&e) => {
                self.wait_ready(self.config().load_wait).await?;
                with_fresh_connection(send).await
            }
            other => other,
        }
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let send = || self.chat.stream(request);
        match with_fresh_connection(send).await {
            Err(e) if self.should_wait(&e) => {
                self.wait_ready(self.config().load_wait).await?;
                with_fresh_connection(send).await
            }
            other => other,
        }
    }

    async fn health(&self) -> Result<(), Error> {
        self.ready().await
    }
}
