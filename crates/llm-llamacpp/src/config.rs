//! Where the `llama-server` is and how to talk to it: [`LlamaCppConfig`], which also describes the server's
//! OpenAI-compatible side to `llm-openai` through [`WireConfig`].

use std::time::Duration;

use llm_core::{EmbedTable, Error, ErrorKind, ParamTable, Pricing};
use llm_http::{Env, FromEnv, HttpConfig, IntoCodec};
use llm_openai::{
    ChatCompletions, Features, TokenLimit, WireConfig, compatible_embed_table, compatible_params,
};

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
pub const PARAMS: ParamTable = compatible_params(DEFAULT_NAME);

/// What llama-server's `/v1/embeddings` takes: no `dimensions` (the model's width is the width), no input
/// kind, 64 inputs per request (each must fit the server's batch; a longer one is the server's error).
pub const EMBED_TABLE: EmbedTable = EmbedTable {
    max_batch: 64,
    ..compatible_embed_table(DEFAULT_NAME)
};

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
/// assert_eq!(config.http().base_url, "http://127.0.0.1:8081");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct LlamaCppConfig {
    /// Name, `http://host:port` of the server (without a trailing slash and without `/v1`), the key the
    /// server was started with (`--api-key`, sent as `Authorization: Bearer …`), limits, extra headers and a
    /// caller's client.
    pub http: HttpConfig,
    /// How long a request that meets "503 Loading model" waits for the server to become ready before it
    /// is sent once more (`Duration::ZERO`: return the `overloaded` error at once).
    pub load_wait: Duration,
    /// The most inputs one `/v1/embeddings` request carries (default [`EMBED_TABLE`]'s 64); a call with more
    /// is sent in several, joined in order.
    pub embed_batch: usize,
}

impl Default for LlamaCppConfig {
    fn default() -> Self {
        LlamaCppConfig {
            http: HttpConfig::new(DEFAULT_NAME, DEFAULT_BASE_URL),
            load_wait: LlamaCppConfig::DEFAULT_LOAD_WAIT,
            embed_batch: EMBED_TABLE.max_batch,
        }
    }
}

impl FromEnv for LlamaCppConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let env = Env::new(DEFAULT_NAME, lookup);
        let mut config = LlamaCppConfig::default();
        if let Some(url) = env.optional(URL_VAR) {
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
        if let Some(key) = env.optional(API_KEY_VAR) {
            config = config.api_key(key);
        }
        Ok(config)
    }
}

impl IntoCodec for LlamaCppConfig {
    type Codec = ChatCompletions;

    fn into_codec(self) -> Result<ChatCompletions, Error> {
        ChatCompletions::new(&self)
    }
}

impl llm_http::HasHttpConfig for LlamaCppConfig {
    fn http_mut(&mut self) -> &mut HttpConfig {
        &mut self.http
    }
}

impl LlamaCppConfig {
    llm_http::http_config_builders!();

    /// The default [`LlamaCppConfig::load_wait`].
    pub const DEFAULT_LOAD_WAIT: Duration = Duration::from_secs(30);

    /// The default configuration with the base URL from `LLAMA_SERVER_URL` and the key from `LLAMA_API_KEY`,
    /// each when set and not empty (a server without `--api-key` needs no key). A URL that is not
    /// `http(s)://…` is a `validation` error naming the variable.
    pub fn from_env() -> Result<Self, Error> {
        <Self as FromEnv>::from_env()
    }

    /// [`LlamaCppConfig::from_env`] with the environment given as a lookup function.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        <Self as FromEnv>::from_lookup(&lookup)
    }

    /// Sets how long a request waits out a model that is still loading.
    #[must_use]
    pub fn load_wait(mut self, limit: Duration) -> Self {
        self.load_wait = limit;
        self
    }

    /// Sets how many inputs one embeddings request carries (at least 1).
    #[must_use]
    pub fn embed_batch(mut self, n: usize) -> Self {
        self.embed_batch = n.max(1);
        self
    }

    /// `{base_url}/{path}`.
    pub fn url(&self, path: &str) -> String {
        self.http.url(path)
    }
}

impl WireConfig for LlamaCppConfig {
    fn http(&self) -> &HttpConfig {
        &self.http
    }

    /// A llama-server runs on the user's own machine: its tokens cost nothing.
    fn pricing(&self) -> Pricing {
        Pricing::Free
    }

    fn chat_url(&self) -> String {
        self.url("v1/chat/completions")
    }

    fn health_url(&self) -> String {
        self.url("health")
    }

    fn token_limit(&self) -> TokenLimit {
        TokenLimit::MaxTokens
    }

    fn param_table(&self) -> ParamTable {
        PARAMS
    }

    /// llama-server constrains output to a JSON Schema or JSON by grammar and takes `image_url` parts
    /// (answered only when it was started with a multimodal projector); it has no file parts and no
    /// `reasoning_effort`, and reads `tool_choice` only as `auto`, `none` or `required` (a choice naming
    /// a function is taken as `auto`, silently).
    fn features(&self) -> Features {
        Features::OPENAI
            .documents(false)
            .reasoning_effort(false)
            .named_tool_choice(false)
    }

    fn embeddings_url(&self) -> String {
        self.url("v1/embeddings")
    }

    fn embed_table(&self) -> EmbedTable {
        EmbedTable {
            max_batch: self.embed_batch.max(1),
            ..EMBED_TABLE
        }
    }
}

#[cfg(test)]
mod tests {
    use llm_core::ApiKey;

    use super::*;

    #[test]
    fn from_lookup_reads_url_and_optional_key() {
        let unset = LlamaCppConfig::from_lookup(|_| None).unwrap();
        assert_eq!(unset.http.base_url, DEFAULT_BASE_URL);
        assert!(unset.http.api_key.is_none());
        let set = LlamaCppConfig::from_lookup(|k| match k {
            URL_VAR => Some("http://10.0.0.2:9000/".into()),
            API_KEY_VAR => Some("secret-key".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(set.http.base_url, "http://10.0.0.2:9000");
        assert_eq!(
            set.http.api_key.as_ref().map(ApiKey::expose),
            Some("secret-key")
        );
        assert!(!format!("{set:?}").contains("secret-key"));
        assert_eq!(set.chat_url(), "http://10.0.0.2:9000/v1/chat/completions");
        assert_eq!(set.health_url(), "http://10.0.0.2:9000/health");
        let err = LlamaCppConfig::from_lookup(|k| (k == URL_VAR).then(|| "localhost:8080".into()))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        assert!(err.to_string().contains(URL_VAR), "{err}");
    }
}
