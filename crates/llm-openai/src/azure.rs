//! Azure OpenAI: the Chat Completions wire format on Azure's URLs and auth, as a [`WireConfig`] of this
//! crate's codec (no second copy of the format).
//!
//! - The endpoint is the resource URL (`https://NAME.openai.azure.com`); the model of a request is the
//!   deployment's name. Requests go to `{endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…`
//!   ([`AzureApi::Deployments`], the default, at [`DEFAULT_API_VERSION`]) or, with [`AzureApi::V1`], to
//!   `{endpoint}/openai/v1/chat/completions` with the deployment as the body's `model`.
//! - The key goes in the `api-key` header; or a [`TokenSource`] gives an Entra ID bearer token per request.
//! - Content-filter refusals: a finish reason `content_filter` is [`FinishReason::ContentFilter`]
//!   (llm_core::FinishReason), and a prompt the filter rejects (HTTP 400, code `content_filter`) is
//!   `bad_request` with that code in its detail, like any refused request.

use std::sync::Arc;

use llm_core::{Error, ErrorKind, ParamTable};
use llm_http::{Env, FromEnv, HttpConfig, IntoCodec};

use crate::codec::ChatCompletions;
use crate::config::{KeyHeader, PARAMS, TokenLimit, TokenSource, WireConfig};

/// The environment variable the key is read from.
pub const AZURE_API_KEY_ENV: &str = "AZURE_OPENAI_API_KEY";
/// The environment variable the resource endpoint is read from.
pub const AZURE_ENDPOINT_ENV: &str = "AZURE_OPENAI_ENDPOINT";
/// The environment variable an `api-version` is read from (as Azure's own SDKs do).
pub const AZURE_API_VERSION_ENV: &str = "OPENAI_API_VERSION";
/// The `api-version` sent by default: the latest generally available data-plane version.
pub const DEFAULT_API_VERSION: &str = "2024-10-21";
/// The name an [`AzureConfig`] reports.
pub const AZURE_PROVIDER: &str = "azure";

/// Which of Azure's URL forms requests use.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureApi {
    /// `/openai/deployments/{deployment}/chat/completions?api-version=VERSION`.
    Deployments {
        /// The `api-version` query parameter.
        api_version: String,
    },
    /// `/openai/v1/chat/completions`, the deployment as `model`.
    V1,
}

/// Azure OpenAI's configuration. `Default` has no endpoint and reads nothing from the environment;
/// `from_env()` ([`FromEnv`]) reads [`AZURE_ENDPOINT_ENV`], [`AZURE_API_KEY_ENV`] and, when set,
/// [`AZURE_API_VERSION_ENV`].
///
/// ```
/// use llm_openai::{AzureConfig, ChatCompletions};
/// let config = AzureConfig::new("https://acme.openai.azure.com/", "k");
/// let codec = ChatCompletions::new(&config).unwrap();
/// assert_eq!(
///     codec.chat_url_for("gpt-4o-prod"),
///     "https://acme.openai.azure.com/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
/// );
/// assert!(!format!("{config:?}").contains("\"k\""));
/// ```
#[derive(Debug, Clone)]
pub struct AzureConfig {
    http: HttpConfig,
    api: AzureApi,
    tokens: Option<Arc<dyn TokenSource>>,
    token_limit: TokenLimit,
}

impl Default for AzureConfig {
    fn default() -> Self {
        AzureConfig {
            http: HttpConfig::new(AZURE_PROVIDER, ""),
            api: AzureApi::Deployments {
                api_version: DEFAULT_API_VERSION.to_owned(),
            },
            tokens: None,
            token_limit: TokenLimit::MaxTokens,
        }
    }
}

impl AzureConfig {
    llm_http::http_config_builders!();

    /// The resource at `endpoint` (e.g. `https://NAME.openai.azure.com`) with `api_key`.
    pub fn new(endpoint: impl Into<String>, api_key: impl Into<llm_core::ApiKey>) -> Self {
        AzureConfig::default().base_url(endpoint).api_key(api_key)
    }

    /// Sets the URL form (default [`AzureApi::Deployments`] at [`DEFAULT_API_VERSION`]).
    #[must_use]
    pub fn api(mut self, api: AzureApi) -> Self {
        self.api = api;
        self
    }

    /// Uses the deployments form at `version`.
    #[must_use]
    pub fn api_version(self, version: impl Into<String>) -> Self {
        self.api(AzureApi::Deployments {
            api_version: version.into(),
        })
    }

    /// Authenticates with bearer tokens from `source` (Entra ID) instead of a key.
    #[must_use]
    pub fn token_source(mut self, source: Arc<dyn TokenSource>) -> Self {
        self.tokens = Some(source);
        self
    }

    /// Sets the token limit field (default `max_tokens`; reasoning deployments on recent API versions want
    /// `max_completion_tokens`).
    #[must_use]
    pub fn token_limit(mut self, limit: TokenLimit) -> Self {
        self.token_limit = limit;
        self
    }

    fn endpoint(&self) -> &str {
        self.http.base_url.trim_end_matches('/')
    }
}

impl WireConfig for AzureConfig {
    fn http(&self) -> &HttpConfig {
        &self.http
    }

    fn chat_url(&self) -> String {
        match &self.api {
            AzureApi::V1 => format!("{}/openai/v1/chat/completions", self.endpoint()),
            AzureApi::Deployments { .. } => format!("{}/openai/deployments/", self.endpoint()),
        }
    }

    fn deployment_url(&self) -> Option<(String, String)> {
        match &self.api {
            AzureApi::Deployments { api_version } => Some((
                format!("{}/openai/deployments/", self.endpoint()),
                format!("?api-version={api_version}"),
            )),
            AzureApi::V1 => None,
        }
    }

    fn embeddings_url(&self) -> String {
        format!("{}/openai/v1/embeddings", self.endpoint())
    }

    /// `{endpoint}/openai/v1/responses`, or `{endpoint}/openai/responses?api-version=…` (the version must
    /// be one that has the Responses API, 2025-03-01-preview or later).
    fn responses_url(&self) -> String {
        match &self.api {
            AzureApi::V1 => format!("{}/openai/v1/responses", self.endpoint()),
            AzureApi::Deployments { api_version } => format!(
                "{}/openai/responses?api-version={api_version}",
                self.endpoint()
            ),
        }
    }

    fn health_url(&self) -> String {
        match &self.api {
            AzureApi::V1 => format!("{}/openai/v1/models", self.endpoint()),
            AzureApi::Deployments { api_version } => {
                format!(
                    "{}/openai/models?api-version={api_version}",
                    self.endpoint()
                )
            }
        }
    }

    fn key_header(&self) -> KeyHeader {
        KeyHeader::Named("api-key")
    }

    fn token_source(&self) -> Option<Arc<dyn TokenSource>> {
        self.tokens.clone()
    }

    fn token_limit(&self) -> TokenLimit {
        self.token_limit
    }

    fn param_table(&self) -> ParamTable {
        ParamTable {
            provider: AZURE_PROVIDER,
            ..PARAMS
        }
    }
}

impl FromEnv for AzureConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let env = Env::new(AZURE_PROVIDER, lookup);
        let endpoint = env.optional(AZURE_ENDPOINT_ENV).ok_or_else(|| {
            Error::new(
                ErrorKind::Validation,
                format!(
                    "environment variable {AZURE_ENDPOINT_ENV} is not set (the resource endpoint)"
                ),
            )
            .with_provider(AZURE_PROVIDER)
        })?;
        let mut config = AzureConfig::new(endpoint, env.key(AZURE_API_KEY_ENV)?);
        if let Some(version) = env.optional(AZURE_API_VERSION_ENV) {
            config = config.api_version(version);
        }
        Ok(config)
    }
}

impl IntoCodec for AzureConfig {
    type Codec = ChatCompletions;

    fn into_codec(self) -> Result<ChatCompletions, Error> {
        if self.endpoint().is_empty() {
            return Err(Error::new(
                ErrorKind::Validation,
                "azure needs its resource endpoint (base_url), e.g. https://NAME.openai.azure.com",
            )
            .with_provider(AZURE_PROVIDER));
        }
        ChatCompletions::new(&self)
    }
}

impl llm_http::HasHttpConfig for AzureConfig {
    fn http_mut(&mut self) -> &mut HttpConfig {
        &mut self.http
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_env_names_what_is_missing_and_reads_the_version() {
        let none = AzureConfig::from_lookup(&|_| None).unwrap_err();
        assert_eq!(none.kind(), ErrorKind::Validation);
        assert!(none.to_string().contains(AZURE_ENDPOINT_ENV), "{none}");
        let no_key =
            AzureConfig::from_lookup(&|v| (v == AZURE_ENDPOINT_ENV).then(|| "https://a".into()))
                .unwrap_err();
        assert_eq!(no_key.kind(), ErrorKind::Auth);
        assert!(no_key.to_string().contains(AZURE_API_KEY_ENV), "{no_key}");
        let full = AzureConfig::from_lookup(&|v| match v {
            AZURE_ENDPOINT_ENV => Some("https://acme.openai.azure.com".into()),
            AZURE_API_KEY_ENV => Some("secret".into()),
            AZURE_API_VERSION_ENV => Some("2025-01-01-preview".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(
            full.deployment_url().unwrap().1,
            "?api-version=2025-01-01-preview"
        );
    }
}
