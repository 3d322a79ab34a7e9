//! Ollama's native `/api/chat` as a codec: [`OllamaCodec`] is the wire format as pure code; llm-http's
//! [`HttpProvider`] drives it. [`Ollama`] is the provider.

use std::time::SystemTime;

use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderValue};
use llm_core::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, EmbedTable, Error, ErrorKind, Param,
    ParamTable, Pricing, Range, StreamStart, classify,
};
use llm_http::{
    Codec, DefaultConfig, EmbedCodec, Framing, HttpConfig, HttpProvider, IntoCodec, WireRequest,
};

use crate::config::OllamaConfig;
use crate::embed::{EMBED_TABLE, decode_embed, embed_body};
use crate::error::ERRORS;
use crate::request::chat_body;
use crate::response::decode_chat;
use crate::stream::ChatDecoder;

/// `/api/chat`'s parameters and ranges (`max_tokens` is sent as `num_predict`).
pub const PARAMS: ParamTable = ParamTable {
    provider: crate::config::DEFAULT_NAME,
    rules: &[
        (Param::Temperature, Range::float_min(0.0)),
        (Param::TopP, Range::float(0.0, 1.0)),
        (Param::TopK, Range::int_min(1)),
        (Param::MaxTokens, Range::int_min(1)),
        (Param::Stop, Range::List { max: None }),
        (Param::Seed, Range::ANY_INT),
        (Param::RepeatPenalty, Range::float_min(0.0)),
    ],
    requires_max_tokens: false,
};

/// An Ollama server as an llmux [`Provider`](llm_core::Provider): `POST /api/chat` (NDJSON when streamed),
/// health through `GET /api/tags`. Cheap to clone; clones share the connection pool.
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
pub type Ollama = HttpProvider<OllamaCodec>;

/// The `/api/chat` wire format for one configuration.
#[derive(Debug, Clone)]
pub struct OllamaCodec {
    config: OllamaConfig,
    chat_url: String,
    embed_url: String,
    tags_url: String,
    headers: HeaderMap,
}

impl OllamaCodec {
    /// The codec for `config`.
    ///
    /// # Errors
    /// `validation` for an invalid extra header, `auth` for a key that is not a valid header value.
    pub fn new(config: OllamaConfig) -> Result<Self, Error> {
        let mut headers = config.http.header_map(&["authorization", "content-type"])?;
        config.http.bearer(&mut headers)?;
        Ok(OllamaCodec {
            chat_url: config.chat_url(),
            embed_url: config.http.url("api/embed"),
            tags_url: config.tags_url(),
            headers,
            config,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &OllamaConfig {
        &self.config
    }

    fn name(&self) -> &str {
        &self.config.http.name
    }
}

impl Codec for OllamaCodec {
    type Decoder = ChatDecoder;

    fn name(&self) -> &str {
        OllamaCodec::name(self)
    }

    /// An Ollama server runs on the user's own machine: its tokens cost nothing.
    fn pricing(&self) -> Pricing {
        Pricing::Free
    }

    fn http(&self) -> &HttpConfig {
        &self.config.http
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        PARAMS
            .validate(request)
            .map_err(|e| e.with_provider(self.config.http.name.clone()))?;
        chat_body(&self.config, request, false).map(drop)
    }

    fn encode(&self, request: &ChatRequest, stream: bool) -> Result<WireRequest, Error> {
        let body = chat_body(&self.config, request, stream)?;
        let mut headers = self.headers.clone();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(WireRequest::post(&self.chat_url, headers, body))
    }

    fn decode(
        &self,
        request: &ChatRequest,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<ChatResponse, Error> {
        decode_chat(
            self.config.http.name.clone(),
            &request.model,
            body,
            classify::request_id(headers),
        )
    }

    fn framing(&self) -> Framing {
        Framing::Ndjson
    }

    fn decoder(&self, request: &ChatRequest, headers: &HeaderMap) -> ChatDecoder {
        let mut start = StreamStart::new(self.name(), request.model.as_str());
        start.request_id = classify::request_id(headers);
        ChatDecoder::new(start)
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Error {
        classify::error_from_response(
            self.config.http.name.clone(),
            status,
            headers,
            body,
            now,
            &ERRORS,
        )
    }

    fn health(&self) -> WireRequest {
        WireRequest::get(&self.tags_url, self.headers.clone())
    }

    /// `GET /api/tags` lists local models as JSON: anything else is not an Ollama server.
    fn check_health(&self, body: &[u8]) -> Result<(), Error> {
        if serde_json::from_slice::<serde_json::Value>(body).is_ok() {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::InvalidResponse,
                "GET /api/tags did not answer with json: is this an ollama server?",
            )
            .with_provider(self.config.http.name.clone()))
        }
    }
}

impl DefaultConfig for OllamaCodec {
    type Config = OllamaConfig;
}

impl EmbedCodec for OllamaCodec {
    fn embed_table(&self) -> EmbedTable {
        EMBED_TABLE
    }

    fn encode_embed(
        &self,
        request: &EmbedRequest,
        inputs: &[String],
    ) -> Result<WireRequest, Error> {
        let body = embed_body(&self.config, request, inputs)?;
        let mut headers = self.headers.clone();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(WireRequest::post(&self.embed_url, headers, body))
    }

    fn decode_embed(
        &self,
        _request: &EmbedRequest,
        inputs: usize,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<EmbedResponse, Error> {
        decode_embed(
            self.config.http.name.clone(),
            body,
            inputs,
            classify::request_id(headers),
        )
    }
}

impl IntoCodec for OllamaConfig {
    type Codec = OllamaCodec;

    fn into_codec(self) -> Result<OllamaCodec, Error> {
        OllamaCodec::new(self)
    }
}
