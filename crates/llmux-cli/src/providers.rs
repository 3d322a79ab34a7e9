//! The one table of providers the CLI knows: a row per provider (its name, `--provider` help, key and
//! address variables, default models, base URL, and how its clients are built), from which the flags'
//! values and help, the chain-file checks, the environment defaults and the builders all read.

use std::sync::Arc;

use llmux::claude::{Claude, ClaudeConfig};
use llmux::gemini::{Gemini, GeminiConfig};
use llmux::http::HasHttpConfig;
use llmux::llamacpp::{LlamaCpp, LlamaCppConfig};
use llmux::ollama::{Ollama, OllamaConfig};
use llmux::openai::{AzureConfig, OpenAi, OpenAiConfig, OpenAiResponses, ResponsesConfig};
use llmux::openrouter::{OpenRouter, OpenRouterConfig};
use llmux::{ApiKey, Embedder, Error, ErrorKind, Provider, Timeouts};

/// A provider as the CLI names it; everything about each is its row in [`PROVIDERS`]
/// (its spelling, its `--provider` help, its variables, how it is built).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProviderName {
    /// OpenAI Chat Completions.
    Openai,
    /// OpenAI's Responses API.
    OpenaiResponses,
    /// Anthropic Messages.
    Claude,
    /// OpenRouter.
    Openrouter,
    /// Ollama's native API.
    Ollama,
    /// llama.cpp's llama-server.
    Llamacpp,
    /// Azure OpenAI.
    Azure,
    /// Google Gemini API.
    Gemini,
}

/// `--provider`'s values and their help, from the providers' table.
impl clap::ValueEnum for ProviderName {
    fn value_variants<'a>() -> &'a [Self] {
        &ProviderName::ALL
    }

    fn to_possible_value(&self) -> Option<clap::builder::PossibleValue> {
        let row = row(*self);
        Some(clap::builder::PossibleValue::new(row.id).help(row.help))
    }
}

impl ProviderName {
    /// Every provider, in the order the default chain tries them.
    pub const ALL: [ProviderName; 8] = [
        ProviderName::Openai,
        ProviderName::OpenaiResponses,
        ProviderName::Claude,
        ProviderName::Openrouter,
        ProviderName::Ollama,
        ProviderName::Llamacpp,
        ProviderName::Azure,
        ProviderName::Gemini,
    ];

    /// The name as written on the command line and in chain files.
    pub fn as_str(self) -> &'static str {
        row(self).id
    }

    /// The provider named `name`, if any.
    pub fn from_name(name: &str) -> Option<ProviderName> {
        ProviderName::ALL.into_iter().find(|p| p.as_str() == name)
    }
}

/// The fixed facts about a provider the CLI needs.
#[derive(Debug, Clone, Copy)]
pub struct ProviderInfo {
    /// The variable holding its key, if it takes one.
    pub key_var: Option<&'static str>,
    /// The variable holding an optional key (sent when set), for servers that may run without one.
    pub optional_key_var: Option<&'static str>,
    /// The variable holding its server's address, if any (the provider is used only when it is set).
    pub host_var: Option<&'static str>,
    /// The variable that moves its base URL when set, as its official SDK reads it (`OPENAI_BASE_URL`,
    /// `ANTHROPIC_BASE_URL`): for proxies and compatible servers.
    pub base_url_var: Option<&'static str>,
    /// The model asked for when none is given.
    pub default_model: &'static str,
    /// The embedding model `llmux embed` asks for when none is given; `None` when the provider does not
    /// embed through llmux.
    pub default_embed_model: Option<&'static str>,
    /// The base URL its crate uses by default (shown by `llmux providers`).
    pub default_base_url: &'static str,
}

/// A client as both a provider (for the chain's health) and an embedder.
pub type Both = (Arc<dyn Provider>, Arc<dyn Embedder>);

/// Builds a provider's client from an entry's base URL and key and the CLI's limits.
pub type Build<T> = fn(Option<String>, Option<ApiKey>, Timeouts) -> Result<T, Error>;

/// One provider as the CLI knows it: its name on the command line and in chain files, its `--provider`
/// help, where its settings come from, and how its chat client and (when it embeds through llmux) its
/// embeddings client are built. Adding a provider to the CLI is one row.
#[derive(Debug)]
pub struct ProviderRow {
    /// The enum the rest of the CLI keys by.
    pub name: ProviderName,
    /// How it is written on the command line and in chain files.
    pub id: &'static str,
    /// Its `--provider` help.
    pub help: &'static str,
    /// Its variables, defaults and base URL.
    pub info: ProviderInfo,
    /// The variable naming its endpoint, when it has no default base URL and cannot be built without one
    /// (Azure).
    pub endpoint_var: Option<&'static str>,
    /// Its chat client.
    pub chat: Build<Arc<dyn Provider>>,
    /// Its embeddings client, when it embeds through llmux.
    pub embed: Option<Build<Both>>,
}

/// Every provider, in the order the default chain tries them.
pub static PROVIDERS: [ProviderRow; 8] = [
    ProviderRow {
        name: ProviderName::Openai,
        id: "openai",
        help: "OpenAI Chat Completions (OPENAI_API_KEY)",
        info: ProviderInfo {
            key_var: Some("OPENAI_API_KEY"),
            optional_key_var: None,
            host_var: None,
            base_url_var: Some(llmux::openai::BASE_URL_ENV),
            default_model: "gpt-4o-mini",
            default_embed_model: Some("text-embedding-3-small"),
            default_base_url: llmux::openai::DEFAULT_BASE_URL,
        },
        endpoint_var: None,
        chat: |u, k, t| Ok(Arc::new(OpenAi::new(configured::<OpenAiConfig>(u, k, t))?)),
        embed: Some(|u, k, t| OpenAi::new(configured::<OpenAiConfig>(u, k, t)).map(both)),
    },
    ProviderRow {
        name: ProviderName::OpenaiResponses,
        id: "openai-responses",
        help: "OpenAI's Responses API, stateless (OPENAI_API_KEY; the same base URL as openai)",
        info: ProviderInfo {
            key_var: Some("OPENAI_API_KEY"),
            optional_key_var: None,
            host_var: None,
            base_url_var: Some(llmux::openai::BASE_URL_ENV),
            default_model: "gpt-4o-mini",
            default_embed_model: None,
            default_base_url: llmux::openai::DEFAULT_BASE_URL,
        },
        endpoint_var: None,
        chat: |u, k, t| {
            Ok(Arc::new(OpenAiResponses::new(
                configured::<ResponsesConfig>(u, k, t),
            )?))
        },
        embed: None,
    },
    ProviderRow {
        name: ProviderName::Claude,
        id: "claude",
        help: "Anthropic Messages (ANTHROPIC_API_KEY)",
        info: ProviderInfo {
            key_var: Some("ANTHROPIC_API_KEY"),
            optional_key_var: None,
            host_var: None,
            base_url_var: Some(llmux::claude::config::BASE_URL_ENV),
            default_model: "claude-haiku-4-5",
            default_embed_model: None,
            default_base_url: llmux::claude::config::DEFAULT_BASE_URL,
        },
        endpoint_var: None,
        chat: |u, k, t| Ok(Arc::new(Claude::new(configured::<ClaudeConfig>(u, k, t))?)),
        embed: None,
    },
    ProviderRow {
        name: ProviderName::Openrouter,
        id: "openrouter",
        help: "OpenRouter (OPENROUTER_API_KEY)",
        info: ProviderInfo {
            key_var: Some("OPENROUTER_API_KEY"),
            optional_key_var: None,
            host_var: None,
            base_url_var: None,
            default_model: "openrouter/auto",
            default_embed_model: None,
            default_base_url: llmux::openrouter::DEFAULT_BASE_URL,
        },
        endpoint_var: None,
        chat: |u, k, t| {
            Ok(Arc::new(OpenRouter::new(configured::<OpenRouterConfig>(
                u, k, t,
            ))?))
        },
        embed: None,
    },
    ProviderRow {
        name: ProviderName::Ollama,
        id: "ollama",
        help: "Ollama's native API (OLLAMA_HOST)",
        info: ProviderInfo {
            key_var: None,
            optional_key_var: None,
            host_var: Some("OLLAMA_HOST"),
            base_url_var: None,
            default_model: "llama3.2",
            default_embed_model: Some("nomic-embed-text"),
            default_base_url: llmux::ollama::DEFAULT_BASE_URL,
        },
        endpoint_var: None,
        chat: |u, k, t| Ok(Arc::new(Ollama::new(configured::<OllamaConfig>(u, k, t))?)),
        embed: Some(|u, k, t| Ollama::new(configured::<OllamaConfig>(u, k, t)).map(both)),
    },
    ProviderRow {
        name: ProviderName::Llamacpp,
        id: "llamacpp",
        help: "llama.cpp's llama-server (LLAMA_SERVER_URL)",
        info: ProviderInfo {
            key_var: None,
            optional_key_var: Some(llmux::llamacpp::API_KEY_VAR),
            host_var: Some(llmux::llamacpp::URL_VAR),
            base_url_var: None,
            default_model: "default",
            default_embed_model: Some("default"),
            default_base_url: llmux::llamacpp::DEFAULT_BASE_URL,
        },
        endpoint_var: None,
        chat: |u, k, t| {
            Ok(Arc::new(LlamaCpp::new(configured::<LlamaCppConfig>(
                u, k, t,
            ))?))
        },
        embed: Some(|u, k, t| LlamaCpp::new(configured::<LlamaCppConfig>(u, k, t)).map(both)),
    },
    ProviderRow {
        name: ProviderName::Azure,
        id: "azure",
        help: "Azure OpenAI (AZURE_OPENAI_API_KEY; the endpoint from --base-url or AZURE_OPENAI_ENDPOINT; --model is the deployment)",
        info: ProviderInfo {
            key_var: Some(llmux::openai::AZURE_API_KEY_ENV),
            optional_key_var: None,
            host_var: None,
            base_url_var: Some(llmux::openai::AZURE_ENDPOINT_ENV),
            // The deployment's name is the caller's: this is only what `--model` defaults to.
            default_model: "gpt-4o-mini",
            default_base_url: "",
            default_embed_model: None,
        },
        endpoint_var: Some(llmux::openai::AZURE_ENDPOINT_ENV),
        chat: |u, k, t| Ok(Arc::new(OpenAi::new(configured::<AzureConfig>(u, k, t))?)),
        embed: Some(|u, k, t| OpenAi::new(configured::<AzureConfig>(u, k, t)).map(both)),
    },
    ProviderRow {
        name: ProviderName::Gemini,
        id: "gemini",
        help: "Google Gemini API (GEMINI_API_KEY; --base-url is the host, the client adds /v1beta/models/{model}:…)",
        info: ProviderInfo {
            key_var: Some(llmux::gemini::API_KEY_ENV),
            optional_key_var: None,
            host_var: None,
            base_url_var: None,
            default_model: "gemini-2.5-flash",
            default_embed_model: Some("gemini-embedding-001"),
            default_base_url: llmux::gemini::DEFAULT_BASE_URL,
        },
        endpoint_var: None,
        chat: |u, k, t| Ok(Arc::new(Gemini::new(configured::<GeminiConfig>(u, k, t))?)),
        embed: Some(|u, k, t| Gemini::new(configured::<GeminiConfig>(u, k, t)).map(both)),
    },
];

/// The row of `provider`.
pub fn row(provider: ProviderName) -> &'static ProviderRow {
    // Every `ProviderName` has its row: the table is in `ProviderName::ALL`'s order (a test checks).
    &PROVIDERS[provider as usize]
}

/// The facts about `provider`.
pub fn info(provider: ProviderName) -> ProviderInfo {
    row(provider).info
}

impl ProviderRow {
    /// Its chat client for an entry's base URL and key.
    pub fn build(
        &self,
        base_url: Option<String>,
        key: Option<ApiKey>,
        timeouts: Timeouts,
    ) -> Result<Arc<dyn Provider>, Error> {
        self.needs_endpoint(base_url.as_deref())?;
        (self.chat)(base_url, key, timeouts)
    }

    /// Its embeddings client, `None` when it does not embed through llmux.
    pub fn build_embedder(
        &self,
        base_url: Option<String>,
        key: Option<ApiKey>,
        timeouts: Timeouts,
    ) -> Option<Result<Both, Error>> {
        let embed = self.embed?;
        Some(
            self.needs_endpoint(base_url.as_deref())
                .and_then(|()| embed(base_url, key, timeouts)),
        )
    }

    /// The one error of a provider built without the endpoint it needs.
    fn needs_endpoint(&self, base_url: Option<&str>) -> Result<(), Error> {
        match (self.endpoint_var, base_url) {
            (Some(var), None) => Err(Error::new(
                ErrorKind::Validation,
                format!("no endpoint: pass --base-url https://NAME.openai.azure.com or set {var}"),
            )
            .with_provider(self.id)),
            _ => Ok(()),
        }
    }
}

/// A provider config with the entry's base URL, key and the CLI's limits: one path for every provider,
/// since each config embeds the same `HttpConfig`.
fn configured<C: HasHttpConfig + Default>(
    base_url: Option<String>,
    key: Option<ApiKey>,
    timeouts: Timeouts,
) -> C {
    let mut config = C::default();
    let http = config.http_mut();
    http.timeouts = timeouts;
    if let Some(key) = key {
        http.api_key = Some(key);
    }
    if let Some(url) = base_url {
        http.base_url = url.trim_end_matches('/').to_owned();
    }
    config
}

/// A client that is both.
pub fn both<T: Provider + Embedder + 'static>(client: T) -> Both {
    let client = Arc::new(client);
    (client.clone(), client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_in_the_order_of_every_provider_name() {
        for (i, p) in ProviderName::ALL.into_iter().enumerate() {
            assert_eq!(PROVIDERS[i].name, p);
            assert_eq!(row(p).name, p);
            assert_eq!(ProviderName::from_name(row(p).id), Some(p));
        }
    }
}
