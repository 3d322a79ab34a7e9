//! How to reach the Messages API: base URL, key, API version, beta flags, extra headers, limits and client.

use std::borrow::Cow;

use llm_core::{ApiKey, Error, ErrorKind, Timeouts};

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
    /// The provider name used in errors, attempts and stream starts (default [`DEFAULT_NAME`]).
    pub name: Cow<'static, str>,
    /// The base URL without the `/v1/...` path (default [`DEFAULT_BASE_URL`]); a trailing slash is tolerated.
    pub base_url: String,
    /// The key sent as `x-api-key`; `None` sends no key.
    pub api_key: Option<ApiKey>,
    /// The `anthropic-version` header, always sent (default [`DEFAULT_API_VERSION`]).
    pub api_version: String,
    /// Beta flags, sent comma-separated in one `anthropic-beta` header (none by default).
    pub betas: Vec<String>,
    /// Extra headers sent with every request (e.g. a gateway's own authentication). They may not replace
    /// a header this crate writes (`x-api-key`, `anthropic-version`, `anthropic-beta`, `content-type`).
    pub headers: Vec<(String, String)>,
    /// The `max_tokens` sent when a request sets none (default [`DEFAULT_MAX_TOKENS`]).
    pub default_max_tokens: u32,
    /// Per-phase time limits.
    pub timeouts: Timeouts,
    /// A caller-supplied client (its own connect limit and TLS settings apply); `None` builds a pooled one.
    pub client: Option<reqwest::Client>,
}

impl Default for ClaudeConfig {
    fn default() -> Self {
        ClaudeConfig {
            name: Cow::Borrowed(DEFAULT_NAME),
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            api_version: DEFAULT_API_VERSION.to_owned(),
            betas: Vec::new(),
            headers: Vec::new(),
            default_max_tokens: DEFAULT_MAX_TOKENS,
            timeouts: Timeouts::default(),
            client: None,
        }
    }
}

impl ClaudeConfig {
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
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// [`ClaudeConfig::from_env`] over any variable lookup (tests pass a map instead of the process environment).
    ///
    /// # Errors
    /// An `auth` error naming [`API_KEY_ENV`] when the lookup gives no key or an empty one.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let key = lookup(API_KEY_ENV)
            .filter(|k| !k.trim().is_empty())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Auth,
                    format!("no api key: the environment variable {API_KEY_ENV} is not set"),
                )
                .with_provider(DEFAULT_NAME)
            })?;
        let mut config = ClaudeConfig::new(key.trim().to_owned());
        if let Some(base) = lookup(BASE_URL_ENV).filter(|b| !b.trim().is_empty()) {
            config.base_url = base.trim().to_owned();
        }
        Ok(config)
    }

    /// Sets the provider name used in errors and events.
    #[must_use]
    pub fn name(mut self, name: impl Into<Cow<'static, str>>) -> Self {
        self.name = name.into();
        self
    }

    /// Sets the base URL (`/v1/messages` is appended; a trailing slash is tolerated).
    #[must_use]
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// Sets the key.
    #[must_use]
    pub fn api_key(mut self, key: impl Into<ApiKey>) -> Self {
        self.api_key = Some(key.into());
        self
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

    /// Adds a header sent with every request.
    #[must_use]
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Sets the `max_tokens` sent when a request sets none.
    #[must_use]
    pub fn default_max_tokens(mut self, max_tokens: u32) -> Self {
        self.default_max_tokens = max_tokens;
        self
    }

    /// Sets the time limits.
    #[must_use]
    pub fn timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// Uses a caller-supplied client (shared pool, custom TLS or proxy).
    #[must_use]
    pub fn client(mut self, client: reqwest::Client) -> Self {
        self.client = Some(client);
        self
    }

    /// `{base}/v1/messages`.
    pub fn messages_url(&self) -> String {
        format!("{}/v1/messages", self.base_url.trim_end_matches('/'))
    }

    /// `{base}/v1/models`.
    pub fn models_url(&self) -> String {
        format!("{}/v1/models", self.base_url.trim_end_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
        assert!(c.api_key.is_none());
        assert_eq!(c.api_version, "2023-06-01");
        assert_eq!(c.default_max_tokens, 4096);
        assert_eq!(c.name, "claude");
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
        assert_eq!(c.api_key.as_ref().map(ApiKey::expose), Some("sk-ant-1"));
        assert_eq!(c.messages_url(), "http://x/v1/messages");
    }

    #[test]
    fn debug_never_prints_the_key() {
        let c = ClaudeConfig::new("sk-ant-very-secret");
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
