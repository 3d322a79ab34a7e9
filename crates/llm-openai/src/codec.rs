//! The Chat Completions codec: [`ChatCompletions`] is the wire format as pure code, built once from a
//! [`WireConfig`]; llm-http's [`HttpProvider`] drives it. [`OpenAi`] is OpenAI itself.

use std::time::SystemTime;

use http::HeaderMap;
use http::header::{CONTENT_TYPE, HeaderValue};
use llm_core::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, EmbedTable, Error, Pricing, classify,
};
use llm_http::{
    Codec, DefaultConfig, EmbedCodec, Framing, HttpConfig, HttpProvider, IntoCodec, WireRequest,
    insert_bearer, path_segment, secret_value,
};

use std::sync::Arc;

use crate::config::EmbedEncoding;
use crate::config::{KeyHeader, OpenAiConfig, TokenSource, WireConfig};
use crate::embed::{decode_embeddings, embeddings_body};
use crate::error::ERRORS;
use crate::request::Encoder;
use crate::response::{ResponseMeta, decode_response};
use crate::stream::ChunkDecoder;

/// OpenAI itself (or any server configured with [`OpenAiConfig`]): the HTTP driver over the Chat
/// Completions codec. Implements [`Provider`](llm_core::Provider); cheap to clone.
///
/// ```no_run
/// # async fn run() -> Result<(), llm_core::Error> {
/// use llm_core::{ChatRequest, Provider};
/// use llm_openai::{OpenAi, OpenAiConfig};
///
/// let client = OpenAi::new(OpenAiConfig::compatible("vllm", "http://127.0.0.1:8000/v1"))?;
/// let answer = client.chat(&ChatRequest::new("qwen").user("Hello").max_tokens(32)).await?;
/// println!("{}", answer.text);
/// # Ok(()) }
/// ```
pub type OpenAi = HttpProvider<ChatCompletions>;

/// The Chat Completions wire format for one server: URLs, headers and body extras computed once from a
/// [`WireConfig`], the request [`Encoder`], the response and stream decoders, and the error table.
#[derive(Debug, Clone)]
pub struct ChatCompletions {
    server: Server,
    chat_url: String,
    deployment_url: Option<(String, String)>,
    encoder: Encoder,
    request_id_from_body: bool,
    embeddings_url: String,
    embed_table: EmbedTable,
    embed_encoding: EmbedEncoding,
}

/// What both OpenAI wire formats (this one and [`Responses`](crate::Responses)) do alike for one server:
/// its transport settings, the headers of every request, the health check, the error table, and what the
/// decoders know of a response. Each codec holds one and adds its own URLs and encoder.
#[derive(Debug, Clone)]
pub(crate) struct Server {
    http: HttpConfig,
    /// The headers every request carries; a token source's bearer is added per request.
    headers: HeaderMap,
    tokens: Option<Arc<dyn TokenSource>>,
    health_url: String,
    pricing: Pricing,
}

impl Server {
    /// The server `config` describes. An invalid header is a `validation` error; a key that is not a valid
    /// header value is `auth`.
    pub(crate) fn new(config: &dyn WireConfig) -> Result<Self, Error> {
        let http = config.http().clone();
        let mut headers = config.headers()?;
        // The key as the server names it: a bearer token or a named header such as Azure's `api-key`.
        if let Some(key) = &http.api_key {
            match config.key_header() {
                KeyHeader::Named(name) => {
                    let name = http::HeaderName::from_static(name);
                    headers.insert(name, secret_value(&http.name, key.expose())?);
                }
                _ => http.bearer(&mut headers)?,
            }
        }
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(Server {
            headers,
            tokens: config.token_source(),
            health_url: config.health_url(),
            pricing: config.pricing(),
            http,
        })
    }

    /// The transport settings.
    pub(crate) fn http(&self) -> &HttpConfig {
        &self.http
    }

    /// Where the server's prices come from.
    pub(crate) fn pricing(&self) -> Pricing {
        self.pricing
    }

    /// The headers of one request: the fixed ones, and a fresh bearer token when a source gives them.
    pub(crate) fn request_headers(&self) -> Result<HeaderMap, Error> {
        let mut headers = self.headers.clone();
        if let Some(tokens) = &self.tokens {
            insert_bearer(&mut headers, &self.http.name, tokens.as_ref())?;
        }
        Ok(headers)
    }

    /// What the decoders know of a response for `model` that carried `headers`.
    pub(crate) fn meta(&self, model: &str, headers: &HeaderMap) -> ResponseMeta {
        ResponseMeta::new(self.http.name.clone(), model).request_id(classify::request_id(headers))
    }

    /// The error a failed response is, classified by OpenAI's error table.
    pub(crate) fn error(
        &self,
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        now: SystemTime,
    ) -> Error {
        classify::error_from_response(self.http.name.clone(), status, headers, body, now, &ERRORS)
    }

    /// The health check: a `GET` of the health URL with the request headers but no content type.
    pub(crate) fn health(&self) -> WireRequest {
        // A token source that fails now leaves the fixed headers: the health check then reports `auth`.
        let mut headers = self
            .request_headers()
            .unwrap_or_else(|_| self.headers.clone());
        headers.remove(CONTENT_TYPE);
        WireRequest::get(&self.health_url, headers)
    }
}

impl ChatCompletions {
    /// The codec for the server `config` describes. An invalid header is a `validation` error; a key that
    /// is not a valid header value is `auth`.
    pub fn new(config: &dyn WireConfig) -> Result<Self, Error> {
        Ok(ChatCompletions {
            server: Server::new(config)?,
            chat_url: config.chat_url(),
            deployment_url: config.deployment_url(),
            encoder: Encoder::new(config),
            request_id_from_body: config.request_id_from_body(),
            embeddings_url: config.embeddings_url(),
            embed_table: config.embed_table(),
            embed_encoding: config.embed_encoding(),
        })
    }

    /// The URL chat requests go to (for a server with the model in the URL, the URL without a model:
    /// see [`ChatCompletions::chat_url_for`]).
    pub fn chat_url(&self) -> &str {
        &self.chat_url
    }

    /// The URL a request for `model` goes to.
    pub fn chat_url_for(&self, model: &str) -> String {
        self.url_for(model, "chat/completions", &self.chat_url)
    }

    /// The URL of `endpoint` for `model`: below the model's deployment when the server puts the model in
    /// the URL, else `fixed`.
    fn url_for(&self, model: &str, endpoint: &str, fixed: &str) -> String {
        match &self.deployment_url {
            Some((before, query)) => format!("{before}{}/{endpoint}{query}", path_segment(model)),
            None => fixed.to_owned(),
        }
    }

    /// The URL embeddings requests go to.
    pub fn embeddings_url(&self) -> &str {
        &self.embeddings_url
    }

    /// The request encoder (for inspecting bodies without sending them).
    pub fn encoder(&self) -> &Encoder {
        &self.encoder
    }

    /// What the decoders know of a response to `request` that carried `headers`.
    pub fn meta(&self, request: &ChatRequest, headers: &HeaderMap) -> ResponseMeta {
        self.server
            .meta(&request.model, headers)
            .request_id_from_body(self.request_id_from_body)
    }
}

impl Codec for ChatCompletions {
    type Decoder = ChunkDecoder;

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

    fn encode(&self, request: &ChatRequest, stream: bool) -> Result<WireRequest, Error> {
        let body = self.encoder.encode(request, stream)?;
        Ok(WireRequest::post(
            self.chat_url_for(&request.model),
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
        decode_response(body, &self.meta(request, headers))
    }

    fn framing(&self) -> Framing {
        Framing::Sse
    }

    fn decoder(&self, request: &ChatRequest, headers: &HeaderMap) -> ChunkDecoder {
        ChunkDecoder::new(self.meta(request, headers))
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Error {
        self.server.error(status, headers, body, now)
    }

    fn health(&self) -> WireRequest {
        self.server.health()
    }
}

impl EmbedCodec for ChatCompletions {
    fn embed_table(&self) -> EmbedTable {
        self.embed_table
    }

    fn encode_embed(
        &self,
        request: &EmbedRequest,
        inputs: &[String],
    ) -> Result<WireRequest, Error> {
        let body = embeddings_body(request, inputs, self.embed_encoding)?;
        // A server with the model in the URL (Azure's deployments) embeds at the deployment's URL too.
        let url = self.url_for(&request.model, "embeddings", &self.embeddings_url);
        Ok(WireRequest::post(url, self.server.request_headers()?, body))
    }

    fn decode_embed(
        &self,
        request: &EmbedRequest,
        inputs: usize,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<EmbedResponse, Error> {
        decode_embeddings(body, &self.server.meta(&request.model, headers), inputs)
    }
}

impl DefaultConfig for ChatCompletions {
    type Config = OpenAiConfig;
}

impl IntoCodec for OpenAiConfig {
    type Codec = ChatCompletions;

    fn into_codec(self) -> Result<ChatCompletions, Error> {
        ChatCompletions::new(&self)
    }
}
