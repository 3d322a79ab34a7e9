//! Where the `llama-server` is and how to talk to it: [`LlamaCppConfig`], which also describes the server's
//! OpenAI-compatible side to `llm-openai` through [`WireConfig`].

use std::borrow::Cow;
use std::time::Duration;

use llm_core::{ApiKey, Error, ErrorKind, ParamTable, Timeouts, validate};
use llm_openai::{TokenLimit, WireConfig, join_url};

/// The base URL used when nothing else is configured (llama-server's default host and port).
pub const DEFAULT_BASE_URL: &str = "http://127.0.0.1:8080";

/// The environment variable holding the server's base URL.
pub const URL_VAR: &str = "LLAMA_SERVER_URL";

/// The environment variable holding the key the server was started with (`--api-key`); llama-server itself
/// reads the same variable.
pub const API_KEY_VAR: &str = "LLAMA_API_KEY";

/// The provider name used unless [`LlamaCppConfig::name`] sets another.
pub const DEFAULT_NAME: &str = "llamacpp";

/// The parameter table of llama-server (the OpenAI-compatible set plus `top_k` and `repeat_penalty`).
pub const PARAMS: ParamTable = validate::openai_compatible(DEFAULT_NAME);

/// Configuration of a [`LlamaCpp`](crate::LlamaCpp) client.
///
/// `Default` is `http://127.0.0.1:8080`, no key, default time limits, a 30 s limit for waiting out a model
/// that is still loading, provider name `llamacpp`; it never reads the environment. `Debug` never prints
/// the key.
///
/// ```
/// use std::time::Duration;
/// use llm_llamacpp::LlamaCppConfig;
///
/// let config = LlamaCppConfig::default()
///     .base_url("http://127.0.0.1:8081/")
///     .load_wait(Duration::ZERO);
/// assert_eq!(config.base_url, "http://127.0.0.1:8081");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct LlamaCppConfig {
    /// The provider name used in errors, attempts and stream starts.
    pub name: Cow<'static, str>,
    /// `http://host:port` of the server, without a trailing slash (and without `/v1`).
    pub base_url: String,
    /// The key the server was started with (`--api-key`), sent as `Authorization: Bearer …`.
    pub api_key: Option<ApiKey>,
    /// Per-phase time limits.
    pub timeouts: Timeouts,
    /// How long a request that meets "503 Loading model" waits for the server to become ready before it
    /// is retried once (`Duration::ZERO`: return the `overloaded` error at once).
    pub load_wait: Duration,
    /// A caller-supplied HTTP client.
    pub http_client: Option<reqwest::Client>,
}

impl Default for LlamaCppConfig {
    fn default() -> Self {
        LlamaCppConfig {
            name: Cow::Borrowed(DEFAULT_NAME),
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            timeouts: Timeouts::default(),
            load_wait: LlamaCppConfig::DEFAULT_LOAD_WAIT,
            http_client: None,
        }
    }
}

impl LlamaCppConfig {
    /// The default [`LlamaCppConfig::load_wait`].
    pub const DEFAULT_LOAD_WAIT: Duration = Duration::from_secs(30);

    /// The default configuration with the base URL from `LLAMA_SERVER_URL` and the key from `LLAMA_API_KEY`,
    /// each when set and not empty (a server without `--api-key` needs no key). A URL that is not
    /// `http(s)://…` is a `validation` error naming the variable.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`LlamaCppConfig::from_env`] with the environment given as a lookup function.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut config = LlamaCppConfig::default();
        let set = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(url) = set(URL_VAR) {
            let url = url.trim();
            let lower = url.to_ascii_lowercase();
            if !(lower.starts_with("http://") || lower.starts_with("https://")) {
                return Err(Error::new(
                    ErrorKind::Validation,
                    format!("{URL_VAR}={url:?} is not an http:// or https:// url"),
                )
                .with_provider(DEFAULT_NAME));
            }
            config = config.base_url(url);
        }
        if let Some(key) = set(API_KEY_VAR) {
            config.api_key = Some(ApiKey::new(key.trim()));
        }
        Ok(config)
    }

    /// Sets the base URL (trailing `/` removed).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        let mut url = url.into();
        while url.ends_with('/') {
            url.pop();
        }
        self.base_url = url;
        self
    }

    /// Sets the provider name.
    #[must_use]
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the key the server was started with.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
    }

    /// Sets the time limits.
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Sets how long a request waits out a model that is still loading.
    #[must_use]
    pub fn load_wait(mut self, limit: Duration) -> Self {
        self.load_wait = limit;
        self
    }

    /// Uses `client` for every request.
    #[must_use]
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// `{base_url}/{path}`.
    pub fn url(&self, path: &str) -> String {
        join_url(&self.base_url, path)
    }
}

impl WireConfig for LlamaCppConfig {
    fn provider(&self) -> Cow<'static, str> {
        self.name.clone()
    }

    fn chat_url(&self) -> String {
        self.url("v1/chat/completions")
    }

    fn health_url(&self) -> String {
        self.url("health")
    }

    fn api_key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref()
    }

    fn token_limit(&self) -> TokenLimit {
        TokenLimit::MaxTokens
    }

    fn param_table(&self) -> ParamTable {
        PARAMS
    }

    fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    fn http_client(&self) -> Option<reqwest::Client> {
        self.http_client.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_lookup_reads_url_and_optional_key() {
        let unset = LlamaCppConfig::from_lookup(|_| None).unwrap();
        assert_eq!(unset.base_url, DEFAULT_BASE_URL);
        assert!(unset.api_key.is_none());
        let set = LlamaCppConfig::from_lookup(|k| match k {
            URL_VAR => Some("http://10.0.0.2:9000/".into()),
            API_KEY_VAR => Some("secret-key".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(set.base_url, "http://10.0.0.2:9000");
        assert_eq!(set.api_key.as_ref().map(ApiKey::expose), Some("secret-key"));
        assert!(!format!("{set:?}").contains("secret-key"));
        assert_eq!(set.chat_url(), "http://10.0.0.2:9000/v1/chat/completions");
        assert_eq!(set.health_url(), "http://10.0.0.2:9000/health");
        let err = LlamaCppConfig::from_lookup(|k| (k == URL_VAR).then(|| "localhost:8080".into()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        assert!(err.to_string().contains(URL_VAR), "{err}");
    }
}
