//! How to reach the Messages API: base URL, key, API version, beta flags, extra headers, limits and client.

use llm_core::{ApiKey, Error};
use llm_http::{Env, FromEnv, HttpConfig};

/// The environment variable [`ClaudeConfig::from_env`] reads the key from.
pub const API_KEY_ENV: &str = "ANTHROPIC_API_KEY";

/// The environment variable [`ClaudeConfig::from_env`] reads an optional base URL from (as the official SDKs do).
pub const BASE_URL_ENV: &str = "ANTHROPIC_BASE_URL";

/// The default base URL; `/v1/messages` and `/v1/models` are appended to it.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";

/// The `anthropic-version` header sent when the configuration does not say otherwise.
pub const DEFAULT_API_VERSION: &str = "2023-06-01";

/// The `max_tokens` sent when the request sets none: the Messages API requires the field, llmux does not.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

/// The provider name used in errors, attempts and stream starts unless configured otherwise.
pub const DEFAULT_NAME: &str = "claude";

/// Configuration of a [`Claude`](crate::Claude) provider.
///
/// `Default` reads nothing from the environment: it has no key (requests then carry no `x-api-key`, which
/// suits gateways that authenticate by other headers). [`ClaudeConfig::from_env`] reads
/// [`API_KEY_ENV`]. `Debug` never shows the key.
///
/// ```
/// use std::time::Duration;
/// use llm_claude::ClaudeConfig;
/// use llm_core::Timeouts;
///
/// let config = ClaudeConfig::new("sk-ant-example")
///     .base_url("http://127.0.0.1:8080/")
///     .beta("prompt-caching-2024-07-31")
///     .default_max_tokens(1024)
///     .timeouts(Timeouts::default().first_byte(Duration::from_secs(20)));
/// assert!(!format!("{config:?}").contains("sk-ant-example"));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ClaudeConfig {
    /// Name (default [`DEFAULT_NAME`]), base URL without the `/v1/...` path (default [`DEFAULT_BASE_URL`]),
    /// the key sent as `x-api-key` (`None` sends none), limits, extra headers and a caller's client. Extra
    /// headers may not replace a header this crate writes (`x-api-key`, `anthropic-version`,
    /// `anthropic-beta`, `content-type`).
    pub http: HttpConfig,
    /// The `anthropic-version` header, always sent (default [`DEFAULT_API_VERSION`]).
    pub api_version: String,
    /// Beta flags, sent comma-separated in one `anthropic-beta` header (none by default).
    pub betas: Vec<String>,
    /// The `max_tokens` sent when a request sets none (default [`DEFAULT_MAX_TOKENS`]).
    pub default_max_tokens: u32,
}

impl Default for ClaudeConfig {
    fn default() -> Self {
        ClaudeConfig {
            http: HttpConfig::new(DEFAULT_NAME, DEFAULT_BASE_URL),
            api_version: DEFAULT_API_VERSION.to_owned(),
            betas: Vec::new(),
            default_max_tokens: DEFAULT_MAX_TOKENS,
        }
    }
}

impl FromEnv for ClaudeConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let env = Env::new(DEFAULT_NAME, lookup);
        let mut config = ClaudeConfig::new(env.key(API_KEY_ENV)?);
        if let Some(base) = env.optional(BASE_URL_ENV) {
            config = config.base_url(base);
        }
        Ok(config)
    }
}

impl llm_http::HasHttpConfig for ClaudeConfig {
    fn http_mut(&mut self) -> &mut HttpConfig {
        &mut self.http
    }
}

impl ClaudeConfig {
    llm_http::http_config_builders!();

    /// The default configuration with `api_key`.
    pub fn new(api_key: impl Into<ApiKey>) -> Self {
        ClaudeConfig::default().api_key(api_key)
    }

    /// The default configuration with the key from [`API_KEY_ENV`] and, when set and not empty, the base URL
    /// from [`BASE_URL_ENV`].
    ///
    /// # Errors
    /// An `auth` error naming [`API_KEY_ENV`] when it is unset, empty or not unicode.
    pub fn from_env() -> Result<Self, Error> {
        <Self as FromEnv>::from_env()
    }

    /// [`ClaudeConfig::from_env`] over any variable lookup (tests pass a map instead of the process environment).
    ///
    /// # Errors
    /// An `auth` error naming [`API_KEY_ENV`] when the lookup gives no key or an empty one.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        <Self as FromEnv>::from_lookup(&lookup)
    }

    /// Sets the `anthropic-version` header.
    #[must_use]
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        self.api_version = version.into();
        self
    }

    /// Adds a beta flag to the `anthropic-beta` header.
    #[must_use]
    pub fn beta(mut self, flag: impl Into<String>) -> Self {
        self.betas.push(flag.into());
        self
    }

    /// Sets the `max_tokens` sent when a request sets none.
    #[must_use]
    pub fn default_max_tokens(mut self, max_tokens: u32) -> Self {
        self.default_max_tokens = max_tokens;
        self
    }

    /// `{base}/v1/messages`.
    pub fn messages_url(&self) -> String {
        self.http.url("v1/messages")
    }

    /// `{base}/v1/models`.
    pub fn models_url(&self) -> String {
        self.http.url("v1/models")
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use llm_core::ErrorKind;

    use super::*;

    #[test]
    fn urls_append_the_path_and_tolerate_a_trailing_slash() {
        for base in ["http://h:1", "http://h:1/", "http://h:1//"] {
            let c = ClaudeConfig::default().base_url(base);
            assert_eq!(c.messages_url(), "http://h:1/v1/messages");
            assert_eq!(c.models_url(), "http://h:1/v1/models");
        }
        assert_eq!(
            ClaudeConfig::default().messages_url(),
            "https://api.anthropic.com/v1/messages"
        );
    }

    #[test]
    fn default_reads_no_environment_and_has_no_key() {
        let c = ClaudeConfig::default();
        assert!(c.http.api_key.is_none());
        assert_eq!(c.api_version, "2023-06-01");
        assert_eq!(c.default_max_tokens, 4096);
        assert_eq!(c.http.name, "claude");
    }

    #[test]
    fn from_lookup_names_the_missing_variable() {
        for env in [HashMap::new(), HashMap::from([(API_KEY_ENV, "  ")])] {
            let err = ClaudeConfig::from_lookup(|k| env.get(k).map(|v| (*v).to_owned()))
                .expect_err("no key");
            assert_eq!(err.kind(), ErrorKind::Auth);
            assert!(err.to_string().contains(API_KEY_ENV), "{err}");
        }
    }

    #[test]
    fn from_lookup_reads_key_and_base_url() {
        let env = HashMap::from([(API_KEY_ENV, "sk-ant-1"), (BASE_URL_ENV, "http://x/")]);
        let c = ClaudeConfig::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).expect("ok");
        assert_eq!(
            c.http.api_key.as_ref().map(ApiKey::expose),
            Some("sk-ant-1")
        );
        assert_eq!(c.messages_url(), "http://x/v1/messages");
    }

    #[test]
    fn debug_never_prints_the_key() {
        let c = ClaudeConfig::new("sk-ant-very-secret");
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
