//! Configuration: the [`WireConfig`] trait that says what differs between servers speaking the OpenAI Chat
//! Completions wire format, and [`OpenAiConfig`], OpenAI's own configuration (also usable for any
//! OpenAI-compatible server through [`OpenAiConfig::compatible`]).
//!
//! A client reads its configuration once, when it is built ([`OpenAiClient::new`](crate::OpenAiClient::new)):
//! URLs, headers and body extras are computed then, not per request.

use std::borrow::Cow;
use std::fmt;

use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use llm_core::{ApiKey, Error, ErrorKind, ParamTable, Timeouts, validate};
use serde_json::{Map, Value};

/// OpenAI's API base: `/chat/completions` is appended to it.
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

/// The environment variable [`OpenAiConfig::from_env`] reads the key from.
pub const API_KEY_ENV: &str = "OPENAI_API_KEY";

/// The name of the provider an [`OpenAiConfig::new`] configuration reports.
pub const PROVIDER: &str = "openai";

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
/// this crate's request encoding, response and stream decoding, error classification and client for
/// another server; [`OpenAiConfig`] and `llm_openrouter::OpenRouterConfig` are the implementations in
/// llmux.
///
/// Every method is called once, when an [`OpenAiClient`](crate::OpenAiClient) is built.
pub trait WireConfig: fmt::Debug + Send + Sync + 'static {
    /// The provider's name, e.g. `openai` (in errors, stream starts and responses).
    fn provider(&self) -> Cow<'static, str>;

    /// The full URL requests are POSTed to, e.g. `https://api.openai.com/v1/chat/completions`.
    fn chat_url(&self) -> String;

    /// The URL `health()` GETs; any 2xx answer means healthy (e.g. `{base}/models`).
    fn health_url(&self) -> String;

    /// The key sent as `Authorization: Bearer …`; `None` sends no authorization header.
    fn api_key(&self) -> Option<&ApiKey>;

    /// Headers sent with every request besides `Authorization` and `Content-Type` (organization, project,
    /// attribution, caller-supplied extras). An invalid name or value is an error when the client is built.
    fn headers(&self) -> Result<HeaderMap, Error> {
        Ok(HeaderMap::new())
    }

    /// The body field that carries the token limit.
    fn token_limit(&self) -> TokenLimit {
        TokenLimit::MaxTokens
    }

    /// Which parameters the server accepts, and in which range.
    fn param_table(&self) -> ParamTable;

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

    /// Per-phase time limits.
    fn timeouts(&self) -> Timeouts {
        Timeouts::default()
    }

    /// A caller-supplied `reqwest::Client` to use instead of a new pooled one (its own connect limit then
    /// applies).
    fn http_client(&self) -> Option<reqwest::Client> {
        None
    }
}

/// `base` with a trailing slash removed and `path` appended.
pub fn join_url(base: &str, path: &str) -> String {
    let base = base.trim_end_matches('/');
    let path = path.trim_start_matches('/');
    format!("{base}/{path}")
}

/// Inserts header `name: value` into `headers`, or returns a `validation` error naming the header (never its
/// value, which may be a secret).
pub fn insert_header(
    headers: &mut HeaderMap,
    provider: &str,
    name: &str,
    value: &str,
) -> Result<(), Error> {
    let bad = |what: &str| {
        Error::new(
            ErrorKind::Validation,
            format!("invalid header {what}: `{name}`"),
        )
        .with_provider(provider.to_owned())
    };
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("name"))?;
    let mut value = HeaderValue::from_str(value).map_err(|_| bad("value for"))?;
    value.set_sensitive(name == AUTHORIZATION);
    headers.append(name, value);
    Ok(())
}

/// The configuration of OpenAI itself or of any OpenAI-compatible server.
///
/// `Default` is OpenAI at [`DEFAULT_BASE_URL`] without a key and reads nothing from the environment;
/// [`OpenAiConfig::from_env`] reads [`API_KEY_ENV`].
///
/// ```
/// use llm_openai::{OpenAiConfig, TokenLimit};
/// let config = OpenAiConfig::new("sk-test").organization("org-1").project("proj-1");
/// assert_eq!(config.token_limit_field(), TokenLimit::MaxCompletionTokens);
/// let local = OpenAiConfig::compatible("vllm", "http://127.0.0.1:8000/v1");
/// assert_eq!(local.token_limit_field(), TokenLimit::MaxTokens);
/// ```
#[derive(Clone)]
pub struct OpenAiConfig {
    provider: Cow<'static, str>,
    base_url: String,
    health_path: String,
    health_url: Option<String>,
    api_key: Option<ApiKey>,
    organization: Option<String>,
    project: Option<String>,
    headers: Vec<(String, String)>,
    timeouts: Timeouts,
    http_client: Option<reqwest::Client>,
    token_limit: TokenLimit,
    params: ParamTable,
    stream_usage: bool,
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OpenAiConfig")
            .field("provider", &self.provider)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("organization", &self.organization)
            .field("project", &self.project)
            .field("headers", &header_names)
            .field("timeouts", &self.timeouts)
            .field("token_limit", &self.token_limit)
            .field("custom_http_client", &self.http_client.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for OpenAiConfig {
    fn default() -> Self {
        OpenAiConfig {
            provider: Cow::Borrowed(PROVIDER),
            base_url: DEFAULT_BASE_URL.to_owned(),
            health_path: "models".to_owned(),
            health_url: None,
            api_key: None,
            organization: None,
            project: None,
            headers: Vec::new(),
            timeouts: Timeouts::default(),
            http_client: None,
            token_limit: TokenLimit::MaxCompletionTokens,
            params: validate::OPENAI,
            stream_usage: true,
        }
    }
}

impl OpenAiConfig {
    /// OpenAI with `api_key`.
    pub fn new(api_key: impl Into<ApiKey>) -> Self {
        OpenAiConfig::default().api_key(api_key)
    }

    /// OpenAI with the key from the `OPENAI_API_KEY` environment variable; an `auth` error naming the variable
    /// when it is unset or empty.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`OpenAiConfig::from_env`], reading variables through `lookup` (for tests and for callers with
    /// their own settings source).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let key = env_key(PROVIDER, API_KEY_ENV, lookup)?;
        Ok(OpenAiConfig::new(key))
    }

    /// An OpenAI-compatible server named `provider` at `base_url` (the prefix `/chat/completions` is appended
    /// to, e.g. `http://127.0.0.1:8000/v1`): no key, `max_tokens` as the token limit field, and the
    /// [`validate::openai_compatible`] parameter table.
    pub fn compatible(provider: &'static str, base_url: impl Into<String>) -> Self {
        OpenAiConfig {
            provider: Cow::Borrowed(provider),
            base_url: base_url.into(),
            token_limit: TokenLimit::MaxTokens,
            params: validate::openai_compatible(provider),
            ..OpenAiConfig::default()
        }
    }

    /// Sets the key.
    #[must_use]
    pub fn api_key(mut self, api_key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }

    /// Sets the base URL (`/chat/completions` is appended; a trailing slash is tolerated).
    #[must_use]
    pub fn base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = base_url.into();
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

    /// Adds a header sent with every request.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the per-phase time limits.
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Uses `client` instead of a new pooled client (its own connect limit then applies).
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
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
        &self.base_url
    }
}

impl WireConfig for OpenAiConfig {
    fn provider(&self) -> Cow<'static, str> {
        self.provider.clone()
    }

    fn chat_url(&self) -> String {
        join_url(&self.base_url, "chat/completions")
    }

    fn health_url(&self) -> String {
        match &self.health_url {
            Some(url) => url.clone(),
            None => join_url(&self.base_url, &self.health_path),
        }
    }

    fn api_key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref()
    }

    fn headers(&self) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        if let Some(org) = &self.organization {
            insert_header(&mut headers, &self.provider, "openai-organization", org)?;
        }
        if let Some(project) = &self.project {
            insert_header(&mut headers, &self.provider, "openai-project", project)?;
        }
        for (name, value) in &self.headers {
            insert_header(&mut headers, &self.provider, name, value)?;
        }
        Ok(headers)
    }

    fn token_limit(&self) -> TokenLimit {
        self.token_limit
    }

    fn param_table(&self) -> ParamTable {
        self.params
    }

    fn stream_usage(&self) -> bool {
        self.stream_usage
    }

    fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    fn http_client(&self) -> Option<reqwest::Client> {
        self.http_client.clone()
    }
}

/// Reads an API key from `variable` through `lookup`: an `auth` error naming the variable when it is unset or
/// empty. Shared by the `from_env()` constructors of the crates built on this one.
pub fn env_key(
    provider: &str,
    variable: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<ApiKey, Error> {
    match lookup(variable) {
        Some(key) if !key.trim().is_empty() => Ok(ApiKey::new(key.trim())),
        Some(_) => Err(Error::new(
            ErrorKind::Auth,
            format!("environment variable {variable} is empty"),
        )
        .with_provider(provider.to_owned())),
        None => Err(Error::new(
            ErrorKind::Auth,
            format!("environment variable {variable} is not set"),
        )
        .with_provider(provider.to_owned())),
    }
}
