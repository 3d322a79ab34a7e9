//! OpenRouter's configuration: base URL, key, attribution headers, routing options, limits and client. It
//! implements [`WireConfig`], which is how the OpenAI wire code of `llm-openai` serves OpenRouter.

use http::HeaderMap;
use llm_core::{ApiKey, Error, ParamTable};
use llm_http::{Env, FromEnv, HttpConfig, IntoCodec, insert_header};
use llm_openai::{ChatCompletions, TokenLimit, WireConfig, compatible_params};
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
#[derive(Debug, Clone)]
pub struct OpenRouterConfig {
    http: HttpConfig,
    referer: Option<String>,
    title: Option<String>,
    preferences: Option<ProviderPreferences>,
    models: Vec<String>,
}

impl Default for OpenRouterConfig {
    fn default() -> Self {
        OpenRouterConfig {
            http: HttpConfig::new(PROVIDER, DEFAULT_BASE_URL),
            referer: None,
            title: None,
            preferences: None,
            models: Vec::new(),
        }
    }
}

impl FromEnv for OpenRouterConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        Ok(OpenRouterConfig::new(
            Env::new(PROVIDER, lookup).key(API_KEY_ENV)?,
        ))
    }
}

impl IntoCodec for OpenRouterConfig {
    type Codec = ChatCompletions;

    fn into_codec(self) -> Result<ChatCompletions, Error> {
        ChatCompletions::new(&self)
    }
}

impl llm_http::HasHttpConfig for OpenRouterConfig {
    fn http_mut(&mut self) -> &mut HttpConfig {
        &mut self.http
    }
}

impl OpenRouterConfig {
    llm_http::http_config_builders!();

    /// OpenRouter with `api_key`.
    pub fn new(api_key: impl Into<ApiKey>) -> Self {
        OpenRouterConfig::default().api_key(api_key)
    }

    /// OpenRouter with the key from `OPENROUTER_API_KEY`; an `auth` error naming the variable when it is
    /// unset or empty.
    pub fn from_env() -> Result<Self, Error> {
        <Self as FromEnv>::from_env()
    }

    /// As [`OpenRouterConfig::from_env`], reading variables through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        <Self as FromEnv>::from_lookup(&lookup)
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
    fn http(&self) -> &HttpConfig {
        &self.http
    }

    /// `GET {base}/key`: describes the key, so it checks that the key is accepted (`/models` is public).
    fn health_url(&self) -> String {
        self.http.url("key")
    }

    fn headers(&self) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        if let Some(referer) = &self.referer {
            insert_header(&mut headers, PROVIDER, "http-referer", referer)?;
        }
        if let Some(title) = &self.title {
            insert_header(&mut headers, PROVIDER, "x-title", title)?;
        }
        for (name, value) in self.http.header_map(&[])? {
            if let Some(name) = name {
                headers.append(name, value);
            }
        }
        Ok(headers)
    }

    fn token_limit(&self) -> TokenLimit {
        TokenLimit::MaxTokens
    }

    fn param_table(&self) -> ParamTable {
        compatible_params(PROVIDER)
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
}
