//! What the CLI knows of each provider: its key and address variables, default models and base URL.

use crate::args::ProviderName;

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

/// The facts about `provider`.
pub fn info(provider: ProviderName) -> ProviderInfo {
    match provider {
        ProviderName::Openai => ProviderInfo {
            key_var: Some("OPENAI_API_KEY"),
            optional_key_var: None,
            host_var: None,
            base_url_var: Some(llmux::openai::BASE_URL_ENV),
            default_model: "gpt-4o-mini",
            default_embed_model: Some("text-embedding-3-small"),
            default_base_url: llmux::openai::DEFAULT_BASE_URL,
        },
        ProviderName::OpenaiResponses => ProviderInfo {
            key_var: Some("OPENAI_API_KEY"),
            optional_key_var: None,
            host_var: None,
            base_url_var: Some(llmux::openai::BASE_URL_ENV),
            default_model: "gpt-4o-mini",
            default_embed_model: None,
            default_base_url: llmux::openai::DEFAULT_BASE_URL,
        },
        ProviderName::Claude => ProviderInfo {
            key_var: Some("ANTHROPIC_API_KEY"),
            optional_key_var: None,
            host_var: None,
            base_url_var: Some(llmux::claude::config::BASE_URL_ENV),
            default_model: "claude-haiku-4-5",
            default_embed_model: None,
            default_base_url: llmux::claude::config::DEFAULT_BASE_URL,
        },
        ProviderName::Openrouter => ProviderInfo {
            key_var: Some("OPENROUTER_API_KEY"),
            optional_key_var: None,
            host_var: None,
            base_url_var: None,
            default_model: "openrouter/auto",
            default_embed_model: None,
            default_base_url: llmux::openrouter::DEFAULT_BASE_URL,
        },
        ProviderName::Ollama => ProviderInfo {
            key_var: None,
            optional_key_var: None,
            host_var: Some("OLLAMA_HOST"),
            base_url_var: None,
            default_model: "llama3.2",
            default_embed_model: Some("nomic-embed-text"),
            default_base_url: llmux::ollama::DEFAULT_BASE_URL,
        },
        ProviderName::Llamacpp => ProviderInfo {
            key_var: None,
            optional_key_var: Some(llmux::llamacpp::API_KEY_VAR),
            host_var: Some(llmux::llamacpp::URL_VAR),
            base_url_var: None,
            default_model: "default",
            default_embed_model: Some("default"),
            default_base_url: llmux::llamacpp::DEFAULT_BASE_URL,
        },
        ProviderName::Azure => ProviderInfo {
            key_var: Some(llmux::openai::AZURE_API_KEY_ENV),
            optional_key_var: None,
            host_var: None,
            base_url_var: Some(llmux::openai::AZURE_ENDPOINT_ENV),
            // The deployment's name is the caller's: this is only what `--model` defaults to.
            default_model: "gpt-4o-mini",
            default_base_url: "",
            default_embed_model: None,
        },
        ProviderName::Gemini => ProviderInfo {
            key_var: Some(llmux::gemini::API_KEY_ENV),
            optional_key_var: None,
            host_var: None,
            base_url_var: None,
            default_model: "gemini-2.5-flash",
            default_embed_model: Some("gemini-embedding-001"),
            default_base_url: llmux::gemini::DEFAULT_BASE_URL,
        },
    }
}
