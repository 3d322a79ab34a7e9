//! The only IO of this crate: sending requests through the shared [`llm_http::Transport`].

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use http::HeaderMap;
use llm_core::{
    ApiKey, ChatRequest, ChatResponse, ChatStream, Error, Provider, StreamEvent, StreamStart,
};
use llm_http::{DEFAULT_MAX_BODY, Transport};

use crate::config::ClaudeConfig;
use crate::request;
use crate::response;
use crate::stream::{ClaudeStream, StreamDecoder};

/// The Anthropic Claude provider: the Messages API (`POST {base}/v1/messages`), streamed and not.
///
/// Cheap to clone: clones share the connection pool and the prepared headers.
///
/// Request mapping (see [`request`](crate::request) for the details):
/// - system messages become the top-level `system` field, several joined with a blank line (`"\n\n"`);
/// - consecutive messages of the same role are merged, their texts joined with `"\n\n"`;
/// - a conversation whose first non-system message is the assistant's is a `validation` error (nothing is
///   invented on the caller's behalf);
/// - `max_tokens` is always sent: the request's, else [`ClaudeConfig::default_max_tokens`] (4096 unless
///   configured);
/// - `stop` becomes `stop_sequences`; temperature (0..=1), top_p and top_k are checked against
///   [`llm_core::validate::CLAUDE`]; other parameters are rejected, never dropped;
/// - [`ChatRequest::extra`] is merged at the top level; a key this crate writes is a `validation` error.
///
/// [`Provider::health`] is `GET {base}/v1/models`: it checks reachability and the key and costs no tokens.
#[derive(Clone)]
pub struct Claude {
    inner: Arc<Inner>,
}

struct Inner {
    name: Cow<'static, str>,
    transport: Transport,
    messages_url: String,
    models_url: String,
    headers: HeaderMap,
    default_max_tokens: u32,
    secret: Option<ApiKey>,
}

impl fmt::Debug for Claude {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        f.debug_struct("Claude")
            .field("name", &i.name)
            .field("messages_url", &i.messages_url)
            .field("api_key", &i.secret)
            .field("default_max_tokens", &i.default_max_tokens)
            .field("timeouts", &i.transport.timeouts())
            .finish_non_exhaustive()
    }
}

impl Claude {
    /// A provider for `config`.
    ///
    /// # Errors
    /// `validation` when a configured header is not valid HTTP or replaces one this crate writes;
    /// `unknown` when the HTTP client cannot be built.
    pub fn new(config: ClaudeConfig) -> Result<Self, Error> {
        let headers = request::headers(&config)?;
        let transport =
            Transport::new(config.name.clone(), config.timeouts, config.client.clone())?
                .with_secret(config.api_key.clone());
        Ok(Claude {
            inner: Arc::new(Inner {
                messages_url: config.messages_url(),
                models_url: config.models_url(),
                name: config.name,
                transport,
                headers,
                default_max_tokens: config.default_max_tokens,
                secret: config.api_key,
            }),
        })
    }

    /// A provider configured from the environment ([`ClaudeConfig::from_env`]).
    ///
    /// # Errors
    /// `auth` naming `ANTHROPIC_API_KEY` when it is not set; otherwise as [`Claude::new`].
    pub fn from_env() -> Result<Self, Error> {
        Claude::new(ClaudeConfig::from_env()?)
    }

    /// The URL requests are sent to (`{base}/v1/messages`).
    pub fn messages_url(&self) -> &str {
        &self.inner.messages_url
    }

    /// The JSON body [`Provider::chat`] (or, with `stream`, [`Provider::stream`]) would send for `request`.
    ///
    /// # Errors
    /// The `validation` error the request would get.
    pub fn request_body(&self, request: &ChatRequest, stream: bool) -> Result<Vec<u8>, Error> {
        request::body(
            &self.inner.name,
            request,
            self.inner.default_max_tokens,
            stream,
        )
    }

    async fn send(&self, request: &ChatRequest, stream: bool) -> Result<llm_http::Response, Error> {
        let body = self.request_body(request, stream)?;
        let t = &self.inner.transport;
        let builder = t
            .post(&self.inner.messages_url)
            .headers(self.inner.headers.clone())
            .body(body);
        t.send(builder).await
    }
}

#[async_trait]
impl Provider for Claude {
    fn name(&self) -> &str {
        &self.inner.name
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        let violations = request::violations(request);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(self.inner.name.clone(), violations))
        }
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let response = self.send(request, false).await?;
        let request_id = response.request_id();
        let body = response.bytes(DEFAULT_MAX_BODY).await?;
        response::decode(&self.inner.name, &request.model, request_id, &body)
            .map_err(|e| self.inner.transport.finish(e))
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let response = self.send(request, true).await?;
        let request_id = response.request_id();
        let is_sse = response
            .media_type()
            .is_none_or(|m| m == "text/event-stream");
        if is_sse {
            let decoder = StreamDecoder::new(self.inner.name.as_ref(), &request.model, request_id);
            let body = response.into_body();
            return Ok(Box::pin(ClaudeStream::new(
                body,
                decoder,
                self.inner.secret.clone(),
            )));
        }
        // A server that answers a streaming request with a whole response: replay it as events.
        let body = response.bytes(DEFAULT_MAX_BODY).await?;
        let whole = response::decode(&self.inner.name, &request.model, request_id, &body)
            .map_err(|e| self.inner.transport.finish(e))?;
        Ok(Box::pin(futures_util::stream::iter(
            replay(whole).into_iter().map(Ok),
        )))
    }

    async fn health(&self) -> Result<(), Error> {
        let t = &self.inner.transport;
        let mut headers = self.inner.headers.clone();
        headers.remove(http::header::CONTENT_TYPE);
        let response = t
            .send(t.get(&self.inner.models_url).headers(headers))
            .await?;
        // Read (bounded) so the connection goes back to the pool.
        response.bytes(DEFAULT_MAX_BODY).await.map(drop)
    }
}

/// The events a stream would have produced for a whole response.
fn replay(response: ChatResponse) -> Vec<StreamEvent> {
    let mut start = StreamStart::new(response.provider, response.model);
    start.request_id = response.request_id;
    let mut events = vec![StreamEvent::Start(start)];
    if let Some(reasoning) = response.reasoning.filter(|r| !r.is_empty()) {
        events.push(StreamEvent::ReasoningDelta(reasoning));
    }
    if !response.text.is_empty() {
        events.push(StreamEvent::TextDelta(response.text));
    }
    if let Some(usage) = response.usage {
        events.push(StreamEvent::Usage(usage));
    }
    if let Some(reason) = response.finish_reason {
        events.push(StreamEvent::Finish(reason));
    }
    events
}

#[cfg(test)]
mod tests {
    use llm_core::{FinishReason, Usage};

    use super::*;

    #[test]
    fn replay_emits_start_reasoning_text_usage_finish_in_order() {
        let mut r = ChatResponse::new("claude", "m", "hi");
        r.reasoning = Some("think".into());
        r.usage = Some(Usage::new(1, 2));
        r.finish_reason = Some(FinishReason::Stop);
        r.request_id = Some("req".into());
        let events = replay(r);
        assert!(
            matches!(&events[0], StreamEvent::Start(s) if s.request_id.as_deref() == Some("req"))
        );
        assert_eq!(events[1], StreamEvent::ReasoningDelta("think".into()));
        assert_eq!(events[2], StreamEvent::TextDelta("hi".into()));
        assert_eq!(events[3], StreamEvent::Usage(Usage::new(1, 2)));
        assert_eq!(events[4], StreamEvent::Finish(FinishReason::Stop));
    }

    #[test]
    fn debug_hides_the_key_and_clones_share_state() {
        let c = Claude::new(ClaudeConfig::new("sk-ant-hidden-123")).expect("builds");
        let d = c.clone();
        assert!(Arc::ptr_eq(&c.inner, &d.inner));
        assert!(!format!("{c:?}").contains("hidden-123"));
    }
}
