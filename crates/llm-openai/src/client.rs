//! The client: the only IO of the crate, through [`llm_http::Transport`]. Generic over a [`WireConfig`], so
//! OpenAI, OpenRouter, llama.cpp and any other OpenAI-compatible server share it.

use std::borrow::Cow;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use async_trait::async_trait;
use futures_core::Stream;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use llm_core::{ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, Provider, StreamEvent};
use llm_http::{Body, DEFAULT_MAX_BODY, Response, Transport};

use crate::config::{OpenAiConfig, WireConfig};
use crate::request::Encoder;
use crate::response::{ResponseMeta, decode_response, decode_response_events};
use crate::stream::SseDecoder;

/// A client for a server speaking the OpenAI Chat Completions wire format, described by `C`. Implements
/// [`Provider`]. Cheap to clone: clones share one connection pool and the configuration.
///
/// ```no_run
/// # async fn run() -> Result<(), llm_core::Error> {
/// use llm_core::{ChatRequest, Provider};
/// use llm_openai::{OpenAiClient, OpenAiConfig};
///
/// let client = OpenAiClient::new(OpenAiConfig::compatible("vllm", "http://127.0.0.1:8000/v1"))?;
/// let answer = client.chat(&ChatRequest::new("qwen").user("Hello").max_tokens(32)).await?;
/// println!("{}", answer.text);
/// # Ok(()) }
/// ```
pub struct OpenAiClient<C> {
    inner: Arc<Inner<C>>,
}

/// OpenAI itself: the generic client with [`OpenAiConfig`].
pub type OpenAi = OpenAiClient<OpenAiConfig>;

struct Inner<C> {
    config: C,
    provider: Cow<'static, str>,
    transport: Transport,
    chat_url: String,
    health_url: String,
    headers: HeaderMap,
    encoder: Encoder,
    request_id_from_body: bool,
}

impl<C> Clone for OpenAiClient<C> {
    fn clone(&self) -> Self {
        OpenAiClient {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for OpenAiClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiClient")
            .field("provider", &self.inner.provider)
            .field("chat_url", &self.inner.chat_url)
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl OpenAi {
    /// OpenAI with the key from `OPENAI_API_KEY`; an `auth` error naming the variable when it is missing.
    pub fn from_env() -> Result<Self, Error> {
        OpenAiClient::new(OpenAiConfig::from_env()?)
    }
}

impl<C: WireConfig> OpenAiClient<C> {
    /// A client for the server `config` describes: reads the configuration once (URLs, headers, body extras)
    /// and builds the pooled transport. An invalid header is a `validation` error.
    pub fn new(config: C) -> Result<Self, Error> {
        let provider = config.provider();
        let key = config.api_key().cloned();
        let mut headers = config.headers()?;
        if let Some(key) = &key {
            let mut value =
                HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                    Error::new(ErrorKind::Auth, "api key is not a valid header value")
                        .with_provider(provider.clone())
                })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        let transport = Transport::new(provider.clone(), config.timeouts(), config.http_client())?
            .with_secret(key);
        Ok(OpenAiClient {
            inner: Arc::new(Inner {
                provider,
                transport,
                chat_url: config.chat_url(),
                health_url: config.health_url(),
                headers,
                encoder: Encoder::new(&config),
                request_id_from_body: config.request_id_from_body(),
                config,
            }),
        })
    }

    /// The configuration the client was built from.
    pub fn config(&self) -> &C {
        &self.inner.config
    }

    /// The URL chat requests go to.
    pub fn chat_url(&self) -> &str {
        &self.inner.chat_url
    }

    /// The request encoder (for inspecting bodies without sending them).
    pub fn encoder(&self) -> &Encoder {
        &self.inner.encoder
    }

    /// The transport (its pool, limits and error scrubbing).
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    async fn post(
        &self,
        request: &ChatRequest,
        stream: bool,
    ) -> Result<(Response, ResponseMeta), Error> {
        let inner = &*self.inner;
        inner.encoder.validate(request)?;
        let body = inner.encoder.encode(request, stream)?;
        let mut builder = inner
            .transport
            .post(&inner.chat_url)
            .headers(inner.headers.clone())
            .body(body);
        if stream {
            builder = builder.header(ACCEPT, "text/event-stream");
        }
        let response = inner.transport.send(builder).await?;
        let meta = ResponseMeta::new(inner.provider.clone(), request.model.clone())
            .request_id(response.request_id())
            .request_id_from_body(inner.request_id_from_body);
        Ok((response, meta))
    }
}

#[async_trait]
impl<C: WireConfig> Provider for OpenAiClient<C> {
    fn name(&self) -> &str {
        &self.inner.provider
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        self.inner.encoder.validate(request)
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let (response, meta) = self.post(request, false).await?;
        let body = response.bytes(DEFAULT_MAX_BODY).await?;
        decode_response(&body, &meta).map_err(|e| self.inner.transport.finish(e))
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let (response, meta) = self.post(request, true).await?;
        let is_sse = response
            .media_type()
            .is_none_or(|m| m == "text/event-stream");
        if is_sse {
            return Ok(Box::pin(EventStream {
                body: Some(response.into_body()),
                decoder: SseDecoder::new(meta),
                transport: self.inner.transport.clone(),
            }));
        }
        // A streaming request answered with a whole body (some servers do for tools): decode it whole.
        let body = response.bytes(DEFAULT_MAX_BODY).await?;
        let events =
            decode_response_events(&body, &meta).map_err(|e| self.inner.transport.finish(e))?;
        Ok(Box::pin(futures_util::stream::iter(
            events.into_iter().map(Ok),
        )))
    }

    async fn health(&self) -> Result<(), Error> {
        let inner = &*self.inner;
        let request = inner
            .transport
            .get(&inner.health_url)
            .headers(inner.headers.clone());
        let response = inner.transport.send(request).await?;
        // Reading the body lets the connection go back to the pool; its content does not matter.
        let _body = response.bytes(DEFAULT_MAX_BODY).await;
        Ok(())
    }
}

/// A streamed answer: the response body decoded as it is polled, with no task of its own. After the last
/// event it reads the body to its end, so the connection can be reused; dropping it closes the connection.
struct EventStream {
    body: Option<Body>,
    decoder: SseDecoder,
    transport: Transport,
}

impl Stream for EventStream {
    type Item = Result<StreamEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.decoder.next_item() {
                if item.is_err() {
                    this.body = None;
                }
                return Poll::Ready(Some(item.map_err(|e| this.transport.finish(e))));
            }
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(body).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => this.decoder.feed(&bytes),
                Poll::Ready(Some(Err(e))) => {
                    this.body = None;
                    this.decoder.fail(e);
                }
                Poll::Ready(None) => {
                    this.body = None;
                    this.decoder.end();
                }
            }
        }
    }
}
