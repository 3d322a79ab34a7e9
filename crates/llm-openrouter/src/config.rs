//! OpenRouter's configuration: base URL, key, attribution headers, routing options, limits and client. It
//! implements [`WireConfig`], which is how the OpenAI wire code of `llm-openai` serves OpenRouter.

use std::borrow::Cow;
use std::fmt;

use http::HeaderMap;
use llm_core::{ApiKey, Error, ParamTable, Timeouts, validate};
use llm_openai::{TokenLimit, WireConfig, env_key, insert_header, join_url};
use serde_json::{Map, Value};

use crate::routing::ProviderPreferences;

/// OpenRouter's API base: `/chat/completions` is appended to it.
pub const DEFAULT_BASE_URL: &str = "https://openrouter.ai/api/v1";

/// The environment variable [`OpenRouterConfig::from_env`] reads the key from.
pub const API_KEY_ENV: &str = "OPENROUTER_API_KEY";

/// The provider name OpenRouter reports.
pub const PROVIDER: &str = "openrouter";

/// OpenRouter's configuration.
///
/// `Default` has no key and reads nothing from the environment; [`OpenRouterConfig::from_env`] reads
/// [`API_KEY_ENV`].
///
/// ```
/// use llm_openrouter::{OpenRouterConfig, ProviderPreferences};
/// let config = OpenRouterConfig::new("sk-or-test")
///     .referer("https://example.com")
///     .title("Example")
///     .models(["anthropic/claude-sonnet-4.5", "openai/gpt-4o-mini"])
///     .provider_preferences(ProviderPreferences::default().allow_fallbacks(false));
/// # let _ = config;
/// ```
#[derive(Clone)]
pub struct OpenRouterConfig {
    base_url: String,
    api_key: Option<ApiKey>,
    referer: Option<String>,
    title: Option<String>,
    headers: Vec<(String, String)>,
    timeouts: Timeouts,
    http_client: Option<reqwest::Client>,
    preferences: Option<ProviderPreferences>,
    models: Vec<String>,
}

impl fmt::Debug for OpenRouterConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("OpenRouterConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("referer", &self.referer)
            .field("title", &self.title)
            .field("headers", &header_names)
            .field("timeouts", &self.timeouts)
            .field("preferences", &self.preferences)
            .field("models", &self.models)
            .field("custom_http_client", &self.http_client.is_some())
            .finish()
    }
}

impl Default for OpenRouterConfig {
    fn default() -> Self {
        OpenRouterConfig {
            base_url: DEFAULT_BASE_URL.to_owned(),
            api_key: None,
            referer: None,
            title: None,
            headers: Vec::new(),
            timeouts: Timeouts::default(),
            http_client: None,
            preferences: None,
            models: Vec::new(),
        }
    }
}

impl OpenRouterConfig {
    /// OpenRouter with `api_key`.
    pub fn new(api_key: impl Into<ApiKey>) -> Self {
        OpenRouterConfig::default().api_key(api_key)
    }

    /// OpenRouter with the key from `OPENROUTER_API_KEY`; an `auth` error naming the variable when it is
    /// unset or empty.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// As [`OpenRouterConfig::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Ok(OpenRouterConfig::new(env_key(
            PROVIDER,
            API_KEY_ENV,
            lookup,
        )?))
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

    /// Sends `HTTP-Referer` (the app's URL, for OpenRouter's attribution).
    #[must_use]
    pub fn referer(mut self, url: impl Into<String>) -> Self {
        self.referer = Some(url.into());
        self
    }

    /// Sends `X-Title` (the app's name, for OpenRouter's attribution).
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = Some(title.into());
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

    /// Sets provider routing preferences (the body's `provider` object).
    #[must_use]
    pub fn provider_preferences(mut self, preferences: ProviderPreferences) -> Self {
        self.preferences = Some(preferences);
        self
    }

    /// Sets the server-side model fallback list (the body's `models`): OpenRouter tries them in order when
    /// the request's model fails.
    #[must_use]
    pub fn models<I: IntoIterator<Item = S>, S: Into<String>>(mut self, models: I) -> Self {
        self.models = models.into_iter().map(Into::into).collect();
        self
    }
}

impl WireConfig for OpenRouterConfig {
    fn provider(&self) -> Cow<'static, str> {
        Cow::Borrowed(PROVIDER)
    }

    fn chat_url(&self) -> String {
        join_url(&self.base_url, "chat/completions")
    }

    /// `GET {base}/key`: describes the key, so it checks that the key is accepted (`/models` is public).
    fn health_url(&self) -> String {
        join_url(&self.base_url, "key")
    }

    fn api_key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref()
    }

    fn headers(&self) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        if let Some(referer) = &self.referer {
            insert_header(&mut headers, PROVIDER, "http-referer", referer)?;
        }
        if let Some(title) = &self.title {
            insert_header(&mut headers, PROVIDER, "x-title", title)?;
        }
        for (name, value) in &self.headers {
            insert_header(&mut headers, PROVIDER, name, value)?;
        }
        Ok(headers)
    }

    fn token_limit(&self) -> TokenLimit {
        TokenLimit::MaxTokens
    }

    fn param_table(&self) -> ParamTable {
        validate::openai_compatible(PROVIDER)
    }

    fn body_extras(&self) -> Map<String, Value> {
        let mut extras = Map::new();
        if let Some(prefs) = &self.preferences {
            // Strings, bools and numbers only: serializing into a Value cannot fail (a non-finite price becomes null).
            if let Ok(value) = serde_json::to_value(prefs) {
                extras.insert("provider".to_owned(), value);
            }
        }
        if !self.models.is_empty() {
            extras.insert("models".to_owned(), Value::from(self.models.clone()));
        }
        extras
    }

    fn request_id_from_body(&self) -> bool {
        true
    }

    fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    fn http_client(&self) -> Option<reqwest::Client> {
        self.http_client.clone()
    }
}
