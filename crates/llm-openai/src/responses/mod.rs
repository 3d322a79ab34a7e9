//! The OpenAI Responses API (`POST {base}/responses`) as its own codec, [`Responses`], beside the Chat
//! Completions codec and built from the same [`WireConfig`]: the same key, base URL, extra headers,
//! `Authorization` or named key header and per-request token source. [`OpenAiResponses`] is OpenAI itself.
//!
//! What it writes and reads (see [`request`], [`response`], [`stream`] for the rules):
//! - system messages become `instructions`; user and assistant turns are `message` items (`input_text`,
//!   `input_image`, `input_file` parts), tool calls `function_call` items and tool results
//!   `function_call_output` items, linked by `call_id`; tools are the flat `{"type":"function","name",…}`;
//!   structured output is `text.format`; reasoning is `reasoning: {"effort", "summary": "auto"}`.
//! - Stateless by default: every request says `store: false`, and one that sets a reasoning effort (or
//!   sends back encrypted reasoning) asks for `include: ["reasoning.encrypted_content"]`, so the model's
//!   reasoning comes back encrypted and goes back in the next turn as a `reasoning` item
//!   ([`ResponsesConfig::encrypted_reasoning`] asks always or never; OpenAI refuses the `include` for
//!   models that do not reason; [`ResponsesConfig::store`] turns storage on). A request's
//!   [`extra`](llm_core::ChatRequest::extra) `previous_response_id` (a string) continues a stored response;
//!   it is per request, not per configuration, because it changes on every turn.
//! - Settings the API lacks (stop sequences, seed, penalties, `top_k`) are `validation` errors, through
//!   [`RESPONSES_PARAMS`].
//!
//! How a reasoning item survives a round trip through llm-core's types: its summary is the text of a
//! [`ContentPart::Reasoning`](llm_core::ContentPart::Reasoning) and its `id` and `encrypted_content` are
//! that part's `signature`, written as one small JSON object (`{"type":"reasoning","id":…,
//! "encrypted_content":…}`). A stream has one channel for it
//! ([`StreamEvent::ReasoningSignature`](llm_core::StreamEvent::ReasoningSignature), one string per
//! reasoning block) and the two values must
//! travel together, so they share the one string; JSON keeps any character of either intact and lets the
//! encoder tell its own signatures from another provider's (Claude's base64 signatures are not such an
//! object, and, like any other provider's reasoning, are not sent here).
//!
//! ```no_run
//! # async fn run() -> Result<(), llm_core::Error> {
//! use llm_core::{ChatRequest, Provider};
//! use llm_openai::OpenAiResponses;
//!
//! let openai = OpenAiResponses::from_env()?; // OPENAI_API_KEY, optional OPENAI_BASE_URL
//! let mut request = ChatRequest::new("gpt-5-mini").user("Say hi");
//! let answer = openai.chat(&request).await?;
//! // The next turn: the answer (reasoning items included) and a new question.
//! request = request.message(answer.to_message()).user("And in French?");
//! println!("{}", openai.chat(&request).await?.text);
//! # Ok(()) }
//! ```

/// The name of the Responses wire format in a [`Relay`](llm_core::Relay): a gateway relaying a Responses
/// client's hosted tools (`web_search`, …) names it, and this codec appends them to the tools it writes.
pub const RESPONSES_WIRE: &str = "openai.responses";

pub mod request;
pub mod response;
pub mod stream;

use std::borrow::Cow;
use std::time::SystemTime;

use http::HeaderMap;
use llm_core::{ChatRequest, ChatResponse, Error, Param, ParamTable, Pricing, Range};
use llm_http::{
    Codec, DefaultConfig, Env, FromEnv, HasHttpConfig, HttpConfig, HttpProvider, IntoCodec,
    WireRequest,
};

use crate::codec::Server;
use crate::config::{API_KEY_ENV, BASE_URL_ENV, OpenAiConfig, WireConfig};
use crate::response::ResponseMeta;

pub use request::ResponsesEncoder;
pub use response::{RESPONSE_ERRORS, ReasoningSignature, decode_responses};
pub use stream::{ResponsesDecoder, decode_responses_sse, responses_decoding};

/// OpenAI's Responses API: the HTTP driver over the [`Responses`] codec. Implements
/// [`Provider`](llm_core::Provider); cheap to clone.
///
/// ```no_run
/// # async fn run() -> Result<(), llm_core::Error> {
/// use llm_core::{ChatRequest, Provider};
/// use llm_openai::{OpenAiConfig, OpenAiResponses, ResponsesConfig};
///
/// let client = OpenAiResponses::new(ResponsesConfig::new(OpenAiConfig::new("sk-…")))?;
/// let answer = client.chat(&ChatRequest::new("gpt-5-mini").user("Hello")).await?;
/// println!("{}", answer.text);
/// # Ok(()) }
/// ```
pub type OpenAiResponses = HttpProvider<Responses>;

/// The name a default [`ResponsesConfig`] reports (in errors, attempts and stream starts), so a chain
/// with both of OpenAI's APIs tells them apart.
pub const RESPONSES_PROVIDER: &str = "openai-responses";

/// The Responses API's parameters and ranges: temperature, top_p and the token limit
/// (`max_output_tokens`, at least 16). Everything else (stop sequences, seed, penalties, `top_k`) is a
/// `validation` error: the API has no field for it.
pub const RESPONSES_PARAMS: ParamTable = ParamTable {
    provider: RESPONSES_PROVIDER,
    rules: &[
        (Param::Temperature, Range::float(0.0, 2.0)),
        (Param::TopP, Range::float(0.0, 1.0)),
        (Param::MaxTokens, Range::int_min(16)),
    ],
    requires_max_tokens: false,
};

/// The configuration of a [`Responses`] codec: any [`WireConfig`] (OpenAI's [`OpenAiConfig`] by default,
/// or Azure's, or a compatible server's) for the transport, key and headers, plus what only this API has.
///
/// `Default` is OpenAI at its default base URL, without a key, named [`RESPONSES_PROVIDER`]; it reads
/// nothing from the environment. `from_env()` ([`FromEnv`]) reads `OPENAI_API_KEY` and, when set,
/// `OPENAI_BASE_URL`.
///
/// ```
/// use llm_openai::{OpenAiConfig, Responses, ResponsesConfig};
/// let config = ResponsesConfig::new(OpenAiConfig::new("sk-test").base_url("http://127.0.0.1:9/v1"));
/// let codec = Responses::new(&config).unwrap();
/// assert_eq!(codec.responses_url(), "http://127.0.0.1:9/v1/responses");
/// assert!(!format!("{config:?}").contains("sk-test"));
/// ```
#[derive(Debug, Clone)]
pub struct ResponsesConfig<W = OpenAiConfig> {
    wire: W,
    store: bool,
    encrypted_reasoning: Option<bool>,
}

impl Default for ResponsesConfig<OpenAiConfig> {
    fn default() -> Self {
        ResponsesConfig::new(OpenAiConfig::default().name(RESPONSES_PROVIDER))
    }
}

impl<W: WireConfig> ResponsesConfig<W> {
    /// The Responses API on the server `wire` describes, stateless (`store: false`), named as `wire` is.
    pub fn new(wire: W) -> Self {
        ResponsesConfig {
            wire,
            store: false,
            encrypted_reasoning: None,
        }
    }

    /// Whether responses are stored by the server (default false: stateless, reasoning sent back
    /// encrypted). With storage on, no encrypted reasoning is asked for, reasoning items go back by id, and
    /// a request's `previous_response_id` extra can continue an earlier response.
    #[must_use]
    pub fn store(mut self, on: bool) -> Self {
        self.store = on;
        self
    }

    /// Whether stateless requests ask for encrypted reasoning (`include: ["reasoning.encrypted_content"]`):
    /// `Some(true)` always (a reasoning model that reasons without being asked to, so its reasoning can go
    /// back), `Some(false)` never, `None` (the default) when a request sets a reasoning effort or sends back
    /// an encrypted reasoning item. Models that do not reason refuse the `include`.
    #[must_use]
    pub fn encrypted_reasoning(mut self, on: Option<bool>) -> Self {
        self.encrypted_reasoning = on;
        self
    }

    /// The transport configuration.
    pub fn wire(&self) -> &W {
        &self.wire
    }

    /// The transport configuration, to change.
    pub fn wire_mut(&mut self) -> &mut W {
        &mut self.wire
    }
}

impl ResponsesConfig<OpenAiConfig> {
    /// OpenAI's Responses API with `api_key`, named [`RESPONSES_PROVIDER`] (where
    /// [`ResponsesConfig::new`] keeps the name of the configuration it is given).
    pub fn openai(api_key: impl Into<llm_core::ApiKey>) -> Self {
        ResponsesConfig::new(OpenAiConfig::new(api_key).name(RESPONSES_PROVIDER))
    }

    /// OpenAI's Responses API with the key from `OPENAI_API_KEY` (and the base URL from `OPENAI_BASE_URL`
    /// when set); an `auth` error naming the variable when the key is unset or empty.
    pub fn from_env() -> Result<Self, Error> {
        <Self as FromEnv>::from_env()
    }
}

impl FromEnv for ResponsesConfig<OpenAiConfig> {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let env = Env::new(RESPONSES_PROVIDER, lookup);
        let mut config = ResponsesConfig::openai(env.key(API_KEY_ENV)?);
        if let Some(url) = env.optional(BASE_URL_ENV) {
            config.wire = config.wire.base_url(url);
        }
        Ok(config)
    }
}

impl<W: WireConfig> IntoCodec for ResponsesConfig<W> {
    type Codec = Responses;

    fn into_codec(self) -> Result<Responses, Error> {
        Responses::new(&self)
    }
}

impl<W: HasHttpConfig> HasHttpConfig for ResponsesConfig<W> {
    fn http_mut(&mut self) -> &mut HttpConfig {
        self.wire.http_mut()
    }
}

/// The Responses wire format for one server: URL and headers computed once from a [`ResponsesConfig`],
/// the request [`ResponsesEncoder`], the response and stream decoders, and the error table.
#[derive(Debug, Clone)]
pub struct Responses {
    server: Server,
    url: String,
    encoder: ResponsesEncoder,
}

impl Responses {
    /// The codec for `config`. An invalid header is a `validation` error; a key that is not a valid
    /// header value is `auth`.
    pub fn new<W: WireConfig>(config: &ResponsesConfig<W>) -> Result<Self, Error> {
        let wire = &config.wire;
        let name = &wire.http().name;
        let mut table = RESPONSES_PARAMS;
        if let Cow::Borrowed(name) = name {
            table.provider = name;
        }
        Ok(Responses {
            server: Server::new(wire)?,
            url: wire.responses_url(),
            encoder: ResponsesEncoder::new(name.clone(), table, wire.features(), config.store)
                .encrypted_reasoning(config.encrypted_reasoning)
                .with_extras(wire.body_extras()),
        })
    }

    /// The URL requests go to ([`WireConfig::responses_url`]: `{base}/responses` by default).
    pub fn responses_url(&self) -> &str {
        &self.url
    }

    /// The request encoder (for inspecting bodies without sending them).
    pub fn encoder(&self) -> &ResponsesEncoder {
        &self.encoder
    }

    /// What the decoders know of a response to `request` that carried `headers`.
    pub fn meta(&self, request: &ChatRequest, headers: &HeaderMap) -> ResponseMeta {
        self.server.meta(&request.model, headers)
    }
}

impl Codec for Responses {
    type Decoder = ResponsesDecoder;

    fn name(&self) -> &str {
        &self.server.http().name
    }

    fn pricing(&self) -> Pricing {
        self.server.pricing()
    }

    fn http(&self) -> &HttpConfig {
        self.server.http()
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        self.encoder.validate(request)
    }

    fn relay_wire(&self) -> Option<&'static str> {
        Some(RESPONSES_WIRE)
    }

    fn encode(&self, request: &ChatRequest, stream: bool) -> Result<WireRequest, Error> {
        let body = self.encoder.encode(request, stream)?;
        Ok(WireRequest::post(
            &self.url,
            self.server.request_headers()?,
            body,
        ))
    }

    fn decode(
        &self,
        request: &ChatRequest,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<ChatResponse, Error> {
        decode_responses(body, &self.meta(request, headers))
    }

    fn framing(&self) -> llm_http::Framing {
        llm_http::Framing::Sse
    }

    fn decoder(&self, request: &ChatRequest, headers: &HeaderMap) -> ResponsesDecoder {
        ResponsesDecoder::new(self.meta(request, headers))
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Error {
        self.server.error(status, headers, body, now)
    }

    fn health(&self) -> WireRequest {
        self.server.health()
    }
}

impl DefaultConfig for Responses {
    type Config = ResponsesConfig<OpenAiConfig>;
}
