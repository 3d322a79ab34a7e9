//! The OpenRouter provider: llm-http's driver over `llm-openai`'s codec, configured by [`OpenRouterConfig`].

use async_trait::async_trait;
use llm_core::{ChatRequest, ChatResponse, ChatStream, Error, Price, Provider};
use llm_http::HttpProvider;
use llm_openai::ChatCompletions;

use crate::config::OpenRouterConfig;

/// OpenRouter. Implements [`Provider`]; cheap to clone (clones share the connection pool).
#[derive(Debug, Clone)]
pub struct OpenRouter {
    client: HttpProvider<ChatCompletions>,
}

impl OpenRouter {
    /// A provider for `config`; a `validation` error for an invalid header.
    pub fn new(config: OpenRouterConfig) -> Result<Self, Error> {
        Ok(OpenRouter {
            client: HttpProvider::new(config)?,
        })
    }

    /// OpenRouter with the key from `OPENROUTER_API_KEY`; an `auth` error naming the variable when it is
    /// missing.
    pub fn from_env() -> Result<Self, Error> {
        OpenRouter::new(OpenRouterConfig::from_env()?)
    }

    /// The driver over the OpenAI wire codec.
    pub fn client(&self) -> &HttpProvider<ChatCompletions> {
        &self.client
    }
}

#[async_trait]
impl Provider for OpenRouter {
    fn name(&self) -> &str {
        self.client.name()
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        self.client.validate(request)
    }

    fn price(&self, model: &str) -> Option<Price> {
        self.client.price(model)
    }

    fn identity(&self) -> Option<String> {
        self.client.identity()
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.client.chat(request).await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.client.stream(request).await
    }

    async fn health(&self) -> Result<(), Error> {
        self.client.health().await
    }
}
