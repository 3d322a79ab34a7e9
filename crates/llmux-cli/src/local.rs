//! The local default: a managed llama-server (llama.cpp's managed mode) started on first use, so a chain
//! whose earlier entries answer never pays for starting it, and stopped when the CLI exits. For `llmux
//! embed` it is started with embeddings on.

use std::path::PathBuf;

use async_trait::async_trait;
use llmux::llamacpp::{LlamaCppConfig, ManagedConfig, ManagedServer, Pooling};
use llmux::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, Embedder, Error, Price,
    Provider, Timeouts,
};
use tokio::sync::OnceCell;

/// A [`ManagedServer`] that is started by the first request (or health check) and then reused.
#[derive(Debug)]
pub struct LazyLocal {
    config: ManagedConfig,
    /// Checks requests before the server exists (same table as the running server's).
    validator: llmux::llamacpp::LlamaCpp,
    server: OnceCell<ManagedServer>,
}

impl LazyLocal {
    /// The local default for `binary` serving `model`, with the CLI's time limits.
    pub fn new(binary: PathBuf, model: PathBuf, timeouts: Timeouts) -> Result<LazyLocal, Error> {
        let client = LlamaCppConfig::default().timeouts(timeouts);
        let validator = llmux::llamacpp::LlamaCpp::new(client.clone())?;
        Ok(LazyLocal {
            config: ManagedConfig::new(binary, model).client(client),
            validator,
            server: OnceCell::new(),
        })
    }

    /// As [`LazyLocal::new`], the server started with embeddings on (`--embeddings --pooling mean`, one
    /// slot: see [`ManagedConfig::embeddings`]); it then serves embeddings, not chat.
    pub fn embeddings(
        binary: PathBuf,
        model: PathBuf,
        timeouts: Timeouts,
    ) -> Result<LazyLocal, Error> {
        let mut local = LazyLocal::new(binary, model, timeouts)?;
        local.config = local.config.embeddings(Pooling::Mean);
        Ok(local)
    }

    async fn server(&self) -> Result<&ManagedServer, Error> {
        self.server
            .get_or_try_init(|| ManagedServer::start(self.config.clone()))
            .await
    }
}

#[async_trait]
impl Provider for LazyLocal {
    fn name(&self) -> &str {
        self.validator.name()
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        self.validator.validate(request)
    }

    /// This process's own server: its state is never shared with another process's.
    fn identity(&self) -> Option<String> {
        Some(format!(
            "managed llama-server of process {}",
            std::process::id()
        ))
    }

    /// The managed llama-server runs on this machine: its tokens cost nothing.
    fn price(&self, _model: &str) -> Option<Price> {
        Some(Price::FREE)
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.server().await?.chat(request).await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.server().await?.stream(request).await
    }

    async fn health(&self) -> Result<(), Error> {
        self.server().await?.health().await
    }
}

#[async_trait]
impl Embedder for LazyLocal {
    fn embedder_name(&self) -> &str {
        self.validator.embedder_name()
    }

    fn validate_embed(&self, request: &EmbedRequest) -> Result<(), Error> {
        self.validator.validate_embed(request)
    }

    async fn embed(&self, request: &EmbedRequest) -> Result<EmbedResponse, Error> {
        self.validator.validate_embed(request)?;
        self.server().await?.embed(request).await
    }
}
