//! The only IO of this crate: [`Ollama`], an [`llm_core::Provider`] over [`llm_http::Transport`].

use async_trait::async_trait;
use futures_util::stream;
use llm_core::{
    ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, Provider, StreamStart, validate,
};
use llm_http::{DEFAULT_MAX_BODY, Transport};

use crate::config::OllamaConfig;
use crate::request::chat_body;
use crate::response::decode_chat;
use crate::stream::{OllamaStream, events_from_response};

/// An Ollama server as an llmux [`Provider`]: `POST /api/chat` (NDJSON when streamed), health through
/// `GET /api/tags`. Cheap to clone; clones share the connection pool.
///
/// ```no_run
/// # async fn run() -> Result<(), llm_core::Error> {
/// use llm_core::{ChatRequest, Provider};
/// use llm_ollama::{Ollama, OllamaConfig};
///
/// let ollama = Ollama::new(OllamaConfig::from_env()?)?;
/// let answer = ollama.chat(&ChatRequest::new("llama3.2").user("Say hi").max_tokens(16)).await?;
/// println!("{}", answer.text);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Ollama {
    config: OllamaConfig,
    transport: Transport,
}

impl Ollama {
    /// A client for `config` with its own connection pool.
    pub fn new(config: OllamaConfig) -> Result<Self, Error> {
        let transport = Transport::new(config.name.clone(), config.timeouts, None)?;
        Ok(Ollama { config, transport })
    }

    /// A client for `config` that sends through `client` (its own connect limit applies).
    pub fn with_client(config: OllamaConfig, client: reqwest::Client) -> Result<Self, Error> {
        let transport = Transport::new(config.name.clone(), config.timeouts, Some(client))?;
        Ok(Ollama { config, transport })
    }

    /// The configuration in use.
    pub fn config(&self) -> &OllamaConfig {
        &self.config
    }

    fn check(&self, request: &ChatRequest) -> Result<(), Error> {
        validate::OLLAMA
            .validate(request)
            .map_err(|e| e.with_provider(self.config.name.clone()))
    }

    async fn post(&self, request: &ChatRequest, stream: bool) -> Result<llm_http::Response, Error> {
        self.check(request)?;
        let body = chat_body(&self.config, request, stream)?;
        let builder = self
            .transport
            .post(&self.config.chat_url())
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body);
        self.transport.send(builder).await
    }
}

#[async_trait]
impl Provider for Ollama {
    fn name(&self) -> &str {
        &self.config.name
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        self.check(request)?;
        chat_body(&self.config, request, false).map(drop)
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let response = self.post(request, false).await?;
        let request_id = response.request_id();
        let body = response.bytes(DEFAULT_MAX_BODY).await?;
        decode_chat(self.config.name.clone(), &request.model, &body, request_id)
            .map_err(|e| self.transport.finish(e))
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let response = self.post(request, true).await?;
        let mut start = StreamStart::new(self.config.name.as_ref(), request.model.as_str());
        start.request_id = response.request_id();
        if response.media_type().as_deref() == Some("application/json") {
            // A whole answer where a stream was asked for (e.g. a proxy that buffers): replay it as events.
            let request_id = start.request_id.clone();
            let body = response.bytes(DEFAULT_MAX_BODY).await?;
            let whole = decode_chat(self.config.name.clone(), &request.model, &body, request_id)?;
            let events = events_from_response(start, whole);
            return Ok(Box::pin(stream::iter(events.into_iter().map(Ok))));
        }
        Ok(Box::pin(OllamaStream::new(response.into_body(), start)))
    }

    async fn health(&self) -> Result<(), Error> {
        let response = self
            .transport
            .send(self.transport.get(&self.config.tags_url()))
            .await?;
        // Read the (small) list to its end, so the connection goes back to the pool.
        let body = response.bytes(DEFAULT_MAX_BODY).await?;
        if serde_json::from_slice::<serde_json::Value>(&body).is_ok() {
            Ok(())
        } else {
            Err(self.transport.error(
                ErrorKind::InvalidResponse,
                "GET /api/tags did not answer with json: is this an ollama server?",
            ))
        }
    }
}
