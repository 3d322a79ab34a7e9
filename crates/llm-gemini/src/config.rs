//! How to reach Gemini: the Gemini API (`generativelanguage.googleapis.com`, an API key) or Vertex AI (a
//! project and location, OAuth bearer tokens), plus the limits, headers and client every provider takes.

use std::sync::Arc;

use llm_core::{ApiKey, Error, ErrorKind};
use llm_http::{Env, FromEnv, HttpConfig, TokenSource, path_segment};

/// The environment variable [`GeminiConfig::from_env`] reads the key from first.
pub const API_KEY_ENV: &str = "GEMINI_API_KEY";

/// The environment variable read when [`API_KEY_ENV`] is not set (as Google's SDKs do).
pub const FALLBACK_API_KEY_ENV: &str = "GOOGLE_API_KEY";

/// The Gemini API's host; `/v1beta/models/{model}:…` is appended to it.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// The Gemini API version in the path (`v1beta` carries thinking, JSON Schema output and embeddings).
pub const DEFAULT_API_VERSION: &str = "v1beta";

/// The provider name of a Gemini API configuration unless configured otherwise.
pub const DEFAULT_NAME: &str = "gemini";

/// The provider name of a Vertex AI configuration unless configured otherwise.
pub const VERTEX_NAME: &str = "vertex";

/// Where requests go: the Gemini API or Vertex AI. Both take the same body and answer the same way.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `{base}/{version}/models/{model}:generateContent`, the key in `x-goog-api-key`.
    Gemini {
        /// The path's version (default [`DEFAULT_API_VERSION`]).
        version: String,
    },
    /// `{base}/v1/projects/{project}/locations/{location}/publishers/google/models/{model}:generateContent`,
    /// authenticated with `Authorization: Bearer` (a [`TokenSource`], or a fixed access token as the key).
    Vertex {
        /// The Google Cloud project id.
        project: String,
        /// The region (`us-central1`, …) or `global`.
        location: String,
    },
}

/// Configuration of a [`Gemini`](crate::Gemini) provider.
///
/// `Default` is the Gemini API without a key and reads nothing from the environment;
/// [`GeminiConfig::from_env`] reads [`API_KEY_ENV`], else [`FALLBACK_API_KEY_ENV`]. [`GeminiConfig::vertex`]
/// is Vertex AI. `Debug` never shows the key or a token.
///
/// ```
/// use llm_gemini::GeminiConfig;
///
/// let gemini = GeminiConfig::new("AIza-example");
/// assert_eq!(
///     gemini.model_url("gemini-2.5-flash", "generateContent"),
///     "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:generateContent"
/// );
/// let vertex = GeminiConfig::vertex("my-project", "us-central1");
/// assert_eq!(
///     vertex.model_url("gemini-2.5-pro", "generateContent"),
///     "https://us-central1-aiplatform.googleapis.com/v1/projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent"
/// );
/// assert!(!format!("{gemini:?}").contains("AIza-example"));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct GeminiConfig {
    /// Name, base URL (the host, without a path), key, limits, extra headers and a caller's client. Extra
    /// headers may not replace a header this crate writes (`x-goog-api-key`, `content-type`, and
    /// `authorization` where it sends a bearer token: Vertex AI or a token source).
    pub http: HttpConfig,
    /// The Gemini API or Vertex AI.
    pub endpoint: Endpoint,
    /// Vertex AI: asked for a bearer token on every request (in place of a fixed key).
    pub tokens: Option<Arc<dyn TokenSource>>,
}

impl Default for GeminiConfig {
    fn default() -> Self {
        GeminiConfig {
            http: HttpConfig::new(DEFAULT_NAME, DEFAULT_BASE_URL),
            endpoint: Endpoint::Gemini {
                version: DEFAULT_API_VERSION.to_owned(),
            },
            tokens: None,
        }
    }
}

impl FromEnv for GeminiConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let env = Env::new(DEFAULT_NAME, lookup);
        Ok(GeminiConfig::new(
            env.first_key(&[API_KEY_ENV, FALLBACK_API_KEY_ENV])?,
        ))
    }
}

impl llm_http::HasHttpConfig for GeminiConfig {
    fn http_mut(&mut self) -> &mut HttpConfig {
        &mut self.http
    }
}

impl GeminiConfig {
    llm_http::http_config_builders!();

    /// The Gemini API with `api_key` (sent as `x-goog-api-key`, never in the URL).
    pub fn new(api_key: impl Into<ApiKey>) -> Self {
        GeminiConfig::default().api_key(api_key)
    }

    /// Vertex AI in `project` at `location`, at `https://{location}-aiplatform.googleapis.com` (or
    /// `https://aiplatform.googleapis.com` for `global`), named [`VERTEX_NAME`]. Give it a
    /// [`GeminiConfig::token_source`] (or a fixed access token with `api_key`).
    pub fn vertex(project: impl Into<String>, location: impl Into<String>) -> Self {
        let location = location.into();
        let host = if location == "global" {
            "https://aiplatform.googleapis.com".to_owned()
        } else {
            format!("https://{location}-aiplatform.googleapis.com")
        };
        GeminiConfig {
            http: HttpConfig::new(VERTEX_NAME, host),
            endpoint: Endpoint::Vertex {
                project: project.into(),
                location,
            },
            tokens: None,
        }
    }

    /// The key from [`API_KEY_ENV`], else [`FALLBACK_API_KEY_ENV`].
    ///
    /// # Errors
    /// An `auth` error naming both variables when neither is set (or both are blank).
    pub fn from_env() -> Result<Self, Error> {
        <Self as FromEnv>::from_env()
    }

    /// [`GeminiConfig::from_env`] over any variable lookup (tests pass a map instead of the environment).
    ///
    /// # Errors
    /// As [`GeminiConfig::from_env`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        <Self as FromEnv>::from_lookup(&lookup)
    }

    /// Sets the Gemini API version in the path (default [`DEFAULT_API_VERSION`]); no effect on Vertex AI.
    #[must_use]
    pub fn api_version(mut self, version: impl Into<String>) -> Self {
        if let Endpoint::Gemini { version: v } = &mut self.endpoint {
            *v = version.into();
        }
        self
    }

    /// Authenticates with bearer tokens from `source`, asked on every request (Vertex AI's OAuth tokens).
    #[must_use]
    pub fn token_source(mut self, source: Arc<dyn TokenSource>) -> Self {
        self.tokens = Some(source);
        self
    }

    /// True for Vertex AI.
    pub fn is_vertex(&self) -> bool {
        matches!(self.endpoint, Endpoint::Vertex { .. })
    }

    /// `{base}/…/models/{model}`: the prefix of every method URL (the model's `models/` prefix, if the caller
    /// wrote one, is not doubled).
    pub fn model_path(&self, model: &str) -> String {
        let model = path_segment(model.strip_prefix("models/").unwrap_or(model));
        match &self.endpoint {
            Endpoint::Gemini { version } => self.http.url(&format!("{version}/models/{model}")),
            Endpoint::Vertex { project, location } => self.http.url(&format!(
                "v1/projects/{}/locations/{}/publishers/google/models/{model}",
                path_segment(project),
                path_segment(location)
            )),
        }
    }

    /// The URL of `method` (`generateContent`, `streamGenerateContent`, `embedContent`, …) for `model`.
    pub fn model_url(&self, model: &str, method: &str) -> String {
        format!("{}:{method}", self.model_path(model))
    }

    /// What `health()` gets: the Gemini API's model list, or Vertex AI's publisher model resource of
    /// Gemini 2.5 Flash (reachability and the token; no tokens spent).
    pub fn health_url(&self) -> String {
        match &self.endpoint {
            Endpoint::Gemini { version } => self.http.url(&format!("{version}/models")),
            Endpoint::Vertex { .. } => self
                .http
                .url("v1/publishers/google/models/gemini-2.5-flash"),
        }
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        if self.http.base_url.trim().is_empty() {
            return Err(Error::new(
                ErrorKind::Validation,
                "gemini needs a base URL (the host, e.g. https://generativelanguage.googleapis.com)",
            )
            .with_provider(self.http.name.clone()));
        }
        if let Endpoint::Vertex { project, location } = &self.endpoint
            && (project.trim().is_empty() || location.trim().is_empty())
        {
            return Err(Error::new(
                ErrorKind::Validation,
                "vertex ai needs a project and a location",
            )
            .with_provider(self.http.name.clone()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn urls_tolerate_slashes_and_the_models_prefix() {
        for base in ["http://h:1", "http://h:1/"] {
            let c = GeminiConfig::default().base_url(base);
            assert_eq!(
                c.model_url("models/gemini-2.5-flash", "streamGenerateContent"),
                "http://h:1/v1beta/models/gemini-2.5-flash:streamGenerateContent"
            );
        }
        let v = GeminiConfig::vertex("p", "global").base_url("http://h:2/");
        assert_eq!(
            v.model_url("m", "generateContent"),
            "http://h:2/v1/projects/p/locations/global/publishers/google/models/m:generateContent"
        );
        assert_eq!(
            GeminiConfig::vertex("p", "global").http.base_url,
            "https://aiplatform.googleapis.com"
        );
        assert_eq!(
            GeminiConfig::default().model_url("a/b c", "x"),
            "https://generativelanguage.googleapis.com/v1beta/models/a%2Fb%20c:x"
        );
    }

    #[test]
    fn from_lookup_prefers_gemini_then_google_and_names_both() {
        let read = |env: HashMap<&str, &str>| {
            GeminiConfig::from_lookup(move |k| env.get(k).map(|v| (*v).to_owned()))
        };
        let err = read(HashMap::new()).expect_err("no key");
        assert_eq!(err.kind(), ErrorKind::Auth);
        assert!(
            err.to_string().contains(API_KEY_ENV) && err.to_string().contains(FALLBACK_API_KEY_ENV),
            "{err}"
        );
        let both = read(HashMap::from([
            (API_KEY_ENV, "g"),
            (FALLBACK_API_KEY_ENV, "o"),
        ]))
        .unwrap();
        assert_eq!(both.http.api_key.as_ref().map(ApiKey::expose), Some("g"));
        let google = read(HashMap::from([
            (API_KEY_ENV, " "),
            (FALLBACK_API_KEY_ENV, "o"),
        ]))
        .unwrap();
        assert_eq!(google.http.api_key.as_ref().map(ApiKey::expose), Some("o"));
    }

    #[test]
    fn default_reads_nothing_and_debug_hides_the_key() {
        let c = GeminiConfig::default();
        assert!(c.http.api_key.is_none());
        assert_eq!(c.http.name, DEFAULT_NAME);
        let k = GeminiConfig::new("AIza-very-secret");
        assert!(!format!("{k:?}").contains("very-secret"));
        assert!(
            GeminiConfig::vertex("", "us").check().is_err(),
            "a project is needed"
        );
    }
}
