//! Configuration: the [`WireConfig`] trait that says what differs between servers speaking the OpenAI Chat
//! Completions wire format, and [`OpenAiConfig`], OpenAI's own configuration (also usable for any
//! OpenAI-compatible server through [`OpenAiConfig::compatible`]).
//!
//! A codec reads its configuration once, when it is built ([`ChatCompletions::new`](crate::ChatCompletions::new)):
//! URLs, headers and body extras are computed then, not per request.

use http::header::HeaderMap;
use llm_core::{EmbedTable, Error, MAX_INPUTS, Param, ParamTable, Pricing, Range};
use llm_http::{Env, FromEnv, HttpConfig, insert_header};
use serde_json::{Map, Value};

/// OpenAI's API base: `/chat/completions` is appended to it.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// The environment variable [`OpenAiConfig`]'s `from_env()` reads the key from.
pub const API_KEY_ENV: &str = "OPENAI_API_KEY";

/// The environment variable an optional base URL is read from, as the official SDKs do.
pub const BASE_URL_ENV: &str = "OPENAI_BASE_URL";

/// The name of the provider an [`OpenAiConfig::new`] configuration reports.
pub const PROVIDER: &str = "openai";

/// OpenAI Chat Completions' parameters and ranges.
pub const PARAMS: ParamTable = ParamTable {
    provider: PROVIDER,
    rules: &[
        (Param::Temperature, Range::float(0.0, 2.0)),
        (Param::TopP, Range::float(0.0, 1.0)),
        (Param::MaxTokens, Range::int_min(1)),
        (Param::Stop, Range::List { max: Some(4) }),
        (Param::Seed, Range::ANY_INT),
        (Param::FrequencyPenalty, Range::float(-2.0, 2.0)),
        (Param::PresencePenalty, Range::float(-2.0, 2.0)),
    ],
    requires_max_tokens: false,
};

/// The rules of OpenAI-compatible servers: the OpenAI set plus `top_k` and a repetition penalty, and any
/// number of stop sequences.
const COMPATIBLE_RULES: &[(Param, Range)] = &[
    (Param::Temperature, Range::float(0.0, 2.0)),
    (Param::TopP, Range::float(0.0, 1.0)),
    (Param::TopK, Range::int_min(0)),
    (Param::MaxTokens, Range::int_min(1)),
    (Param::Stop, Range::List { max: None }),
    (Param::Seed, Range::ANY_INT),
    (Param::FrequencyPenalty, Range::float(-2.0, 2.0)),
    (Param::PresencePenalty, Range::float(-2.0, 2.0)),
    (Param::RepeatPenalty, Range::float_min(0.0)),
];

/// The OpenAI set plus `top_k` and a repetition penalty, for OpenAI-compatible servers (OpenRouter,
/// llama.cpp, vLLM). `provider` names the server in messages.
pub const fn compatible_params(provider: &'static str) -> ParamTable {
    ParamTable {
        provider,
        rules: COMPATIBLE_RULES,
        requires_max_tokens: false,
    }
}

/// Which body field carries the token limit ([`llm_core::Params::max_tokens`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum TokenLimit {
    /// `max_completion_tokens`: OpenAI's current field (its reasoning models reject `max_tokens`).
    MaxCompletionTokens,
    /// `max_tokens`: what OpenAI-compatible servers (llama.cpp, OpenRouter, vLLM, …) expect.
    #[default]
    MaxTokens,
}

impl TokenLimit {
    /// The JSON field name.
    pub const fn field(self) -> &'static str {
        match self {
            TokenLimit::MaxCompletionTokens => "max_completion_tokens",
            TokenLimit::MaxTokens => "max_tokens",
        }
    }
}

/// What differs between servers that speak the OpenAI Chat Completions wire format. Implement it to reuse
/// this crate's codec for another server; [`OpenAiConfig`], `llm_openrouter::OpenRouterConfig` and
/// `llm_llamacpp::LlamaCppConfig` are the implementations in llmux.
///
/// Every method is called once, when a [`ChatCompletions`](crate::ChatCompletions) codec is built.
pub trait WireConfig: Send + Sync {
    /// The transport settings shared by every HTTP provider (name, base URL, key, limits, headers, client).
    fn http(&self) -> &HttpConfig;

    /// The full URL requests are POSTed to (default `{base}/chat/completions`).
    fn chat_url(&self) -> String {
        self.http().url("chat/completions")
    }

    /// For servers that put the model in the URL (Azure's deployments): the URL before the model's path
    /// segment and the query after the endpoint's path (`/chat/completions`, `/embeddings`); `None` (the
    /// default) posts every request to [`WireConfig::chat_url`] and [`WireConfig::embeddings_url`].
    fn deployment_url(&self) -> Option<(String, String)> {
        None
    }

    /// How the key is sent (default `Authorization: Bearer KEY`).
    fn key_header(&self) -> KeyHeader {
        KeyHeader::Bearer
    }

    /// A source of bearer tokens asked on every request (Azure's Entra ID), in place of a fixed key.
    fn token_source(&self) -> Option<std::sync::Arc<dyn TokenSource>> {
        None
    }

    /// Where the server's prices come from (default: unknown).
    fn pricing(&self) -> Pricing {
        Pricing::Unknown
    }

    /// The URL `health()` GETs; any 2xx answer means healthy (default `{base}/models`).
    fn health_url(&self) -> String {
        self.http().url("models")
    }

    /// Headers sent with every request besides `Authorization` and `Content-Type`: the format's own
    /// (organization, attribution) and the configured extras. An invalid name or value is an error when the
    /// codec is built.
    fn headers(&self) -> Result<HeaderMap, Error> {
        self.http().header_map(&["authorization", "content-type"])
    }

    /// The body field that carries the token limit.
    fn token_limit(&self) -> TokenLimit {
        TokenLimit::MaxTokens
    }

    /// Which parameters the server accepts, and in which range.
    fn param_table(&self) -> ParamTable;

    /// What the server takes beyond text, tools and the parameter table (default: everything OpenAI
    /// documents). A request using something the server does not take is a `validation` error.
    fn features(&self) -> Features {
        Features::OPENAI
    }

    /// Fields merged into every request body at the top level (e.g. OpenRouter's `provider` and `models`).
    /// A [`ChatRequest::extra`](llm_core::ChatRequest::extra) key that collides with one of these, or with a
    /// field this crate writes, is a `validation` error.
    fn body_extras(&self) -> Map<String, Value> {
        Map::new()
    }

    /// Whether streaming requests ask for usage with `stream_options: {"include_usage": true}`.
    fn stream_usage(&self) -> bool {
        true
    }

    /// Whether the body's `id` stands in for the request id when no request-id header came (OpenRouter's
    /// generation id).
    fn request_id_from_body(&self) -> bool {
        false
    }

    /// The full URL embeddings requests are POSTed to (default `{base}/embeddings`).
    fn embeddings_url(&self) -> String {
        self.http().url("embeddings")
    }

    /// The full URL the Responses API codec ([`Responses`](crate::Responses)) POSTs to (default
    /// `{base}/responses`).
    fn responses_url(&self) -> String {
        self.http().url("responses")
    }

    /// What the embeddings endpoint takes (default [`compatible_embed_table`] of a compatible server).
    fn embed_table(&self) -> EmbedTable {
        compatible_embed_table("this openai-compatible server")
    }

    /// How vectors are asked to travel (default [`EmbedEncoding::Float`], which every server speaks).
    fn embed_encoding(&self) -> EmbedEncoding {
        EmbedEncoding::Float
    }
}

/// How a server takes the API key.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyHeader {
    /// `Authorization: Bearer KEY` (OpenAI and most compatible servers).
    Bearer,
    /// The key alone in a header of this name (Azure's `api-key`).
    Named(&'static str),
}

/// Gives a bearer token for each request (Azure's Entra ID); the trait lives in llm-http, shared with the
/// other providers that take bearer tokens from a caller (Vertex AI).
pub use llm_http::TokenSource;

/// What an OpenAI-compatible server takes besides text, tools and its parameter table.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Features {
    /// `image_url` content parts.
    pub images: bool,
    /// `file` content parts (PDFs as `file_data`).
    pub documents: bool,
    /// `response_format` with `json_schema`.
    pub json_schema: bool,
    /// `response_format` `json_object`.
    pub json_object: bool,
    /// `reasoning_effort`.
    pub reasoning_effort: bool,
    /// A `tool_choice` naming one function (`{"type":"function","function":{"name":…}}`).
    pub named_tool_choice: bool,
}

impl Features {
    /// Everything OpenAI's Chat Completions API documents.
    pub const OPENAI: Features = Features {
        images: true,
        documents: true,
        json_schema: true,
        json_object: true,
        reasoning_effort: true,
        named_tool_choice: true,
    };

    /// Text only: no parts, formats or reasoning settings (tools, with any tool choice, as every
    /// compatible server documents them).
    pub const TEXT: Features = Features {
        images: false,
        documents: false,
        json_schema: false,
        json_object: false,
        reasoning_effort: false,
        named_tool_choice: true,
    };

    /// Sets `images`.
    #[must_use]
    pub const fn images(mut self, on: bool) -> Self {
        self.images = on;
        self
    }

    /// Sets `documents`.
    #[must_use]
    pub const fn documents(mut self, on: bool) -> Self {
        self.documents = on;
        self
    }

    /// Sets both structured-output forms.
    #[must_use]
    pub const fn structured_output(mut self, on: bool) -> Self {
        self.json_schema = on;
        self.json_object = on;
        self
    }

    /// Sets `reasoning_effort`.
    #[must_use]
    pub const fn reasoning_effort(mut self, on: bool) -> Self {
        self.reasoning_effort = on;
        self
    }

    /// Sets `named_tool_choice`.
    #[must_use]
    pub const fn named_tool_choice(mut self, on: bool) -> Self {
        self.named_tool_choice = on;
        self
    }
}

/// The configuration of OpenAI itself or of any OpenAI-compatible server.
///
/// `Default` is OpenAI at [`DEFAULT_BASE_URL`] without a key and reads nothing from the environment;
/// `from_env()` ([`FromEnv`]) reads [`API_KEY_ENV`] and, when set, [`BASE_URL_ENV`].
///
/// ```
/// use llm_openai::{OpenAiConfig, TokenLimit};
/// let config = OpenAiConfig::new("sk-test").organization("org-1").project("proj-1");
/// assert_eq!(config.token_limit_field(), TokenLimit::MaxCompletionTokens);
/// let local = OpenAiConfig::compatible("vllm", "http://127.0.0.1:8000/v1");
/// assert_eq!(local.token_limit_field(), TokenLimit::MaxTokens);
/// assert!(!format!("{config:?}").contains("sk-test"));
/// ```
#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    http: HttpConfig,
    health_path: String,
    health_url: Option<String>,
    organization: Option<String>,
    project: Option<String>,
    token_limit: TokenLimit,
    params: ParamTable,
    features: Features,
    stream_usage: bool,
    embed_table: EmbedTable,
    embed_encoding: EmbedEncoding,
    pricing: Option<Pricing>,
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            http: HttpConfig::new(PROVIDER, DEFAULT_BASE_URL),
            health_path: "models".to_owned(),
            health_url: None,
            pricing: None,
            organization: None,
            project: None,
            token_limit: TokenLimit::MaxCompletionTokens,
            params: PARAMS,
            features: Features::OPENAI,
            stream_usage: true,
            embed_table: EMBED_TABLE,
            embed_encoding: EmbedEncoding::Base64,
        }
    }
}

impl FromEnv for OpenAiConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let env = Env::new(PROVIDER, lookup);
        let mut config = OpenAiConfig::new(env.key(API_KEY_ENV)?);
        if let Some(url) = env.optional(BASE_URL_ENV) {
            config = config.base_url(url);
        }
        Ok(config)
    }
}

impl llm_http::HasHttpConfig for OpenAiConfig {
    fn http_mut(&mut self) -> &mut HttpConfig {
        &mut self.http
    }
}

impl OpenAiConfig {
    llm_http::http_config_builders!();

    /// OpenAI with `api_key`.
    pub fn new(api_key: impl Into<llm_core::ApiKey>) -> Self {
        OpenAiConfig::default().api_key(api_key)
    }

    /// OpenAI with the key from `OPENAI_API_KEY` (and the base URL from `OPENAI_BASE_URL` when set); an
    /// `auth` error naming the variable when the key is unset or empty.
    pub fn from_env() -> Result<Self, Error> {
        <Self as FromEnv>::from_env()
    }

    /// As [`OpenAiConfig::from_env`], reading variables through `lookup` (for tests and for callers with
    /// their own settings source).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        <Self as FromEnv>::from_lookup(&lookup)
    }

    /// An OpenAI-compatible server named `provider` at `base_url` (the prefix `/chat/completions` is appended
    /// to, e.g. `http://127.0.0.1:8000/v1`): no key, `max_tokens` as the token limit field, and the
    /// [`compatible_params`] parameter table.
    pub fn compatible(provider: &'static str, base_url: impl Into<String>) -> Self {
        OpenAiConfig {
            http: HttpConfig::new(provider, base_url),
            token_limit: TokenLimit::MaxTokens,
            params: compatible_params(provider),
            embed_table: compatible_embed_table(provider),
            embed_encoding: EmbedEncoding::Float,
            ..OpenAiConfig::default()
        }
    }

    /// Sets what the embeddings endpoint takes (default [`EMBED_TABLE`] for OpenAI,
    /// [`compatible_embed_table`] for [`OpenAiConfig::compatible`]).
    #[must_use]
    pub fn embed_table(mut self, table: EmbedTable) -> Self {
        self.embed_table = table;
        self
    }

    /// Sets how vectors are asked to travel (default base64 for OpenAI, float for a compatible server).
    #[must_use]
    pub fn embed_encoding(mut self, encoding: EmbedEncoding) -> Self {
        self.embed_encoding = encoding;
        self
    }

    /// Sets the path below the base URL that `health()` GETs (default `models`).
    #[must_use]
    pub fn health_path(mut self, path: impl Into<String>) -> Self {
        self.health_path = path.into();
        self
    }

    /// Sets the full URL `health()` GETs, overriding the health path (e.g. llama.cpp's
    /// `http://127.0.0.1:8080/health`, which is not below its `/v1` base).
    #[must_use]
    pub fn health_url(mut self, url: impl Into<String>) -> Self {
        self.health_url = Some(url.into());
        self
    }

    /// Where this server's prices come from (default: OpenAI's own table, [`prices`](crate::prices), by
    /// model name): for an OpenAI-compatible server that charges otherwise, [`Pricing::Free`] for one on
    /// your own machine or [`Pricing::Unknown`].
    #[must_use]
    pub fn pricing(mut self, pricing: Pricing) -> Self {
        self.pricing = Some(pricing);
        self
    }

    /// Sends `OpenAI-Organization`.
    #[must_use]
    pub fn organization(mut self, organization: impl Into<String>) -> Self {
        self.organization = Some(organization.into());
        self
    }

    /// Sends `OpenAI-Project`.
    #[must_use]
    pub fn project(mut self, project: impl Into<String>) -> Self {
        self.project = Some(project.into());
        self
    }

    /// Sets the token limit field.
    #[must_use]
    pub fn token_limit(mut self, token_limit: TokenLimit) -> Self {
        self.token_limit = token_limit;
        self
    }

    /// Sets the parameter table.
    #[must_use]
    pub fn param_table(mut self, table: ParamTable) -> Self {
        self.params = table;
        self
    }

    /// Sets what the server takes beyond text and tools (default [`Features::OPENAI`]): a compatible server
    /// that cannot take images, say, then rejects them in validation, so a chain skips it.
    #[must_use]
    pub fn features(mut self, features: Features) -> Self {
        self.features = features;
        self
    }

    /// Whether streaming requests send `stream_options.include_usage` (default true; turn it off for a
    /// server that rejects the field).
    #[must_use]
    pub fn stream_usage(mut self, on: bool) -> Self {
        self.stream_usage = on;
        self
    }

    /// The configured token limit field.
    pub fn token_limit_field(&self) -> TokenLimit {
        self.token_limit
    }

    /// The configured base URL.
    pub fn base(&self) -> &str {
        &self.http.base_url
    }
}

impl WireConfig for OpenAiConfig {
    fn http(&self) -> &HttpConfig {
        &self.http
    }

    fn pricing(&self) -> Pricing {
        self.pricing.unwrap_or(Pricing::Table(
            crate::prices::prices(),
            crate::prices::PROVIDER,
        ))
    }

    fn health_url(&self) -> String {
        match &self.health_url {
            Some(url) => url.clone(),
            None => self.http.url(&self.health_path),
        }
    }

    fn headers(&self) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        let name: &str = &self.http.name;
        if let Some(org) = &self.organization {
            insert_header(&mut headers, name, "openai-organization", org)?;
        }
        if let Some(project) = &self.project {
            insert_header(&mut headers, name, "openai-project", project)?;
        }
        for (key, value) in self.http.header_map(&[])? {
            if let Some(key) = key {
                headers.append(key, value);
            }
        }
        Ok(headers)
    }

    fn token_limit(&self) -> TokenLimit {
        self.token_limit
    }

    fn param_table(&self) -> ParamTable {
        self.params
    }

    fn features(&self) -> Features {
        self.features
    }

    fn stream_usage(&self) -> bool {
        self.stream_usage
    }

    fn embed_table(&self) -> EmbedTable {
        self.embed_table
    }

    fn embed_encoding(&self) -> EmbedEncoding {
        self.embed_encoding
    }
}

/// How vectors travel in the answer (`encoding_format`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum EmbedEncoding {
    /// A JSON array of numbers per vector: what every compatible server speaks.
    #[default]
    Float,
    /// A base64 string of little-endian `f32`s per vector: about a quarter of the bytes, decoded without
    /// parsing numbers (OpenAI's SDKs ask for it).
    Base64,
}

impl EmbedEncoding {
    /// The `encoding_format` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            EmbedEncoding::Float => "float",
            EmbedEncoding::Base64 => "base64",
        }
    }
}

/// OpenAI's `/v1/embeddings`: 2,048 inputs per request, `dimensions` taken (by the `text-embedding-3`
/// models), no input kind. Its per-input limit is documented in tokens (8,192), which llmux cannot count,
/// so an input too long is the server's `400`.
pub const EMBED_TABLE: EmbedTable = EmbedTable {
    provider: PROVIDER,
    max_batch: 2048,
    max_inputs: MAX_INPUTS,
    max_input_bytes: None,
    dimensions: true,
    input_kind: false,
};

/// The table of a compatible server named `provider`: OpenAI's batch size, no `dimensions` (not every
/// server can shorten vectors: set a table that says so when yours can), no input kind.
pub const fn compatible_embed_table(provider: &'static str) -> EmbedTable {
    EmbedTable {
        provider,
        dimensions: false,
        ..EMBED_TABLE
    }
}
