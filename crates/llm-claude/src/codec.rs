//! The Messages API codec: [`ClaudeCodec`] is the wire format as pure code, built once from a
//! [`ClaudeConfig`]; llm-http's [`HttpProvider`] drives it. [`Claude`] is the provider.

use std::time::SystemTime;

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue};
use llm_core::{
    ChatRequest, ChatResponse, Error, Param, ParamTable, Pricing, Range, RateLimit, Violation,
    classify,
};
use llm_http::{Codec, DefaultConfig, Framing, HttpConfig, HttpProvider, IntoCodec, WireRequest};

use crate::config::ClaudeConfig;
use crate::stream::MessagesDecoder;
use crate::{error, request, response};

/// The Messages API's parameters and ranges (temperature 0..=1; no seed or penalties).
pub const PARAMS: ParamTable = ParamTable {
    provider: crate::config::DEFAULT_NAME,
    rules: &[
        (Param::Temperature, Range::float(0.0, 1.0)),
        (Param::TopP, Range::float(0.0, 1.0)),
        (Param::TopK, Range::int_min(1)),
        (Param::MaxTokens, Range::int_min(1)),
        (Param::Stop, Range::List { max: None }),
    ],
    requires_max_tokens: false,
};

/// The Anthropic Claude provider: the Messages API (`POST {base}/v1/messages`), streamed and not, through
/// llm-http's driver. Cheap to clone: clones share the connection pool and the prepared headers.
///
/// Request mapping (see [`request`](crate::request) for the details):
/// - system messages become the top-level `system` field, several joined with a blank line (`"\n\n"`);
/// - consecutive messages of the same role are merged, their texts joined with `"\n\n"`;
/// - a conversation whose first non-system message is the assistant's is a `validation` error (nothing is
///   invented on the caller's behalf);
/// - `max_tokens` is always sent: the request's, else [`ClaudeConfig::default_max_tokens`] (4096 unless
///   configured);
/// - `stop` becomes `stop_sequences`; temperature (0..=1), top_p and top_k are checked against [`PARAMS`];
///   other parameters are rejected, never dropped;
/// - [`ChatRequest::extra`] is merged at the top level; a key this crate writes is a `validation` error.
///
/// `health()` is `GET {base}/v1/models`: it checks reachability and the key and costs no tokens.
pub type Claude = HttpProvider<ClaudeCodec>;

/// The Messages API wire format for one configuration: URLs and headers computed once.
#[derive(Debug, Clone)]
pub struct ClaudeCodec {
    config: ClaudeConfig,
    messages_url: String,
    models_url: String,
    headers: HeaderMap,
}

impl ClaudeCodec {
    /// The codec for `config`.
    ///
    /// # Errors
    /// `validation` when a configured header is not valid HTTP or replaces one this crate writes.
    pub fn new(config: ClaudeConfig) -> Result<Self, Error> {
        Ok(ClaudeCodec {
            headers: request::headers(&config)?,
            messages_url: config.messages_url(),
            models_url: config.models_url(),
            config,
        })
    }

    /// The URL requests are sent to (`{base}/v1/messages`).
    pub fn messages_url(&self) -> &str {
        &self.messages_url
    }

    /// The JSON body a chat (or, with `stream`, a streamed chat) would send for `request`.
    ///
    /// # Errors
    /// The `validation` error the request would get.
    pub fn request_body(&self, request: &ChatRequest, stream: bool) -> Result<Vec<u8>, Error> {
        request::body(
            &self.config.http.name,
            request,
            self.config.default_max_tokens,
            stream,
        )
    }
}

impl Codec for ClaudeCodec {
    type Decoder = MessagesDecoder;

    fn rate_limit(&self, headers: &HeaderMap) -> Option<RateLimit> {
        classify::rate_limit(headers, &error::RATE_LIMITS)
    }

    fn name(&self) -> &str {
        &self.config.http.name
    }

    fn pricing(&self) -> Pricing {
        Pricing::Table(crate::prices::prices(), crate::prices::PROVIDER)
    }

    fn http(&self) -> &HttpConfig {
        &self.config.http
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        let violations = request::violations(request);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(self.config.http.name.clone(), violations))
        }
    }

    fn encode(&self, request: &ChatRequest, stream: bool) -> Result<WireRequest, Error> {
        let body = self.request_body(request, stream)?;
        let mut headers = self.headers.clone();
        let flags = request::beta_flags(&self.config.betas, request);
        if flags.len() > self.config.betas.len() {
            let joined = flags.join(",");
            let value = HeaderValue::from_str(&joined).map_err(|_| {
                Error::validation(
                    self.config.http.name.clone(),
                    vec![Violation::new(
                        "relay.headers.anthropic-beta",
                        "flags that are a valid header value",
                        format!("`{joined}`"),
                    )],
                )
            })?;
            headers.insert("anthropic-beta", value);
        }
        Ok(WireRequest::post(&self.messages_url, headers, body))
    }

    fn relay_wire(&self) -> Option<&'static str> {
        Some(crate::WIRE)
    }

    fn decode(
        &self,
        request: &ChatRequest,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<ChatResponse, Error> {
        response::decode(
            &self.config.http.name,
            &request.model,
            classify::request_id(headers),
            body,
        )
    }

    fn framing(&self) -> Framing {
        Framing::Sse
    }

    fn decoder(&self, request: &ChatRequest, headers: &HeaderMap) -> MessagesDecoder {
        MessagesDecoder::new(
            self.config.http.name.as_ref(),
            &request.model,
            classify::request_id(headers),
        )
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Error {
        error::from_response(&self.config.http.name, status, headers, body, now)
    }

    fn health(&self) -> WireRequest {
        let mut headers = self.headers.clone();
        headers.remove(CONTENT_TYPE);
        WireRequest::get(&self.models_url, headers)
    }
}

impl DefaultConfig for ClaudeCodec {
    type Config = ClaudeConfig;
}

impl IntoCodec for ClaudeConfig {
    type Codec = ClaudeCodec;

    fn into_codec(self) -> Result<ClaudeCodec, Error> {
        ClaudeCodec::new(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_the_key() {
        let c = Claude::new(ClaudeConfig::new("sk-ant-hidden-123")).expect("builds");
        let d = c.clone();
        assert!(!format!("{c:?} {d:?}").contains("hidden-123"));
    }

    #[test]
    fn the_table_rejects_what_the_messages_api_does_not_take() {
        let base = || ChatRequest::new("m").user("hi");
        assert!(PARAMS.validate(&base().temperature(1.0).top_k(1)).is_ok());
        for bad in [
            base().temperature(1.5),
            base().top_k(0),
            base().seed(1),
            base().frequency_penalty(0.1),
        ] {
            assert_eq!(PARAMS.violations(&bad).len(), 1, "{bad:?}");
        }
    }
}
