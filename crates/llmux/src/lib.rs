//! llmux: one client for many large-language-model providers, and a fallback chain over them.
//!
//! This crate is the facade: it re-exports the core types of [`llm_core`] at its root (requests,
//! responses, stream events, the [`Provider`] trait, embeddings with the [`Embedder`] trait, the one [`Error`]
//! type with its [`ErrorKind`]s) and, behind Cargo features, each provider crate and the chain as a module.
//!
//! ```no_run
//! # #[cfg(all(feature = "chain", feature = "openai", feature = "llamacpp"))]
//! # async fn demo() -> Result<(), llmux::Error> {
//! use std::sync::Arc;
//! use llmux::chain::{Chain, Entry};
//! use llmux::{ChatRequest, Provider};
//!
//! let openai = Arc::new(llmux::openai::OpenAi::from_env()?); // OPENAI_API_KEY
//! let local = Arc::new(llmux::llamacpp::LlamaCpp::from_env()?); // LLAMA_SERVER_URL
//! let chain = Chain::builder()
//!     .entry(Entry::new(openai, "gpt-4o-mini"))
//!     .entry(Entry::new(local, "smollm2"))
//!     .build()?;
//! let answer = chain.chat(&ChatRequest::for_chain().user("Why is the sky blue?")).await?;
//! println!("{} (answered by {})", answer.text, answer.provider);
//! # Ok(()) }
//! ```
//!
//! Embeddings go through the same features: the OpenAI, Ollama and llama.cpp providers implement
//! [`Embedder`] beside [`Provider`], and so does the chain, falling back only within one vector space.
//!
//! ```no_run
//! # #[cfg(all(feature = "chain", feature = "openai", feature = "llamacpp"))]
//! # async fn demo() -> Result<(), llmux::Error> {
//! use std::sync::Arc;
//! use llmux::chain::{Chain, Entry};
//! use llmux::{EmbedRequest, Embedder};
//!
//! let openai = Arc::new(llmux::openai::OpenAi::from_env()?);
//! let chain = Chain::builder()
//!     .entry(Entry::embedding(openai, "text-embedding-3-small").space("te3-small"))
//!     .build()?;
//! let answer = chain.embed(&EmbedRequest::new("text-embedding-3-small", ["a cat", "a dog"])).await?;
//! println!("{} vectors of {:?} dims", answer.vectors.len(), answer.dims());
//! # Ok(()) }
//! ```
//!
//! # Features
//!
//! Nothing is on by default: the core types need no HTTP stack and no runtime, so a crate that only
//! implements [`Provider`] stays light, and an application names exactly the providers it talks to.
//!
//! | Feature      | Enables                                                                  | Crate            |
//! |--------------|--------------------------------------------------------------------------|------------------|
//! | `http`       | [`http`]: the `Codec` trait and the one HTTP driver, for your own provider (every provider implies it) | `llm-http` |
//! | `chain`      | [`chain`]: fallback chain with retries, budget, breakers, health, hedging | `llm-chain`      |
//! | `openai`     | [`openai`]: OpenAI Chat Completions and the shared OpenAI wire format; the Responses API (`openai::OpenAiResponses`) | `llm-openai` |
//! | `claude`     | [`claude`]: Anthropic Messages API                                       | `llm-claude`     |
//! | `openrouter` | [`openrouter`]: OpenRouter, on the OpenAI wire format, with routing      | `llm-openrouter` |
//! | `ollama`     | [`ollama`]: Ollama's native `/api/chat` with NDJSON streaming             | `llm-ollama`     |
//! | `llamacpp`   | [`llamacpp`]: llama.cpp's `llama-server`, incl. a managed child server   | `llm-llamacpp`   |
//! | `gemini`     | [`gemini`]: Google Gemini API and Vertex AI `generateContent`, embeddings | `llm-gemini`     |
//! | `testing`    | [`testing`]: a scripted provider for tests (implies `chain`)             | `llm-chain`      |
//! | `schema`     | `ResponseFormat::of::<T>()` and `chat_json`: structured output typed by `schemars` | `llm-core` |
//! | `redis`      | `chain::redis`: breakers and rate budgets shared across processes through Redis (implies `chain`) | `llm-chain` |
//! | `full`       | every feature above                                                      |                  |
//!
//! The core types (always present) come from `llm-core`.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[doc(inline)]
pub use llm_core::*;

#[cfg(feature = "chain")]
#[cfg_attr(docsrs, doc(cfg(feature = "chain")))]
#[doc(inline)]
pub use llm_chain as chain;

#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
#[doc(inline)]
pub use llm_chain::testing;

#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
#[doc(inline)]
pub use llm_http as http;

#[cfg(feature = "openai")]
#[cfg_attr(docsrs, doc(cfg(feature = "openai")))]
#[doc(inline)]
pub use llm_openai as openai;

#[cfg(feature = "claude")]
#[cfg_attr(docsrs, doc(cfg(feature = "claude")))]
#[doc(inline)]
pub use llm_claude as claude;

#[cfg(feature = "openrouter")]
#[cfg_attr(docsrs, doc(cfg(feature = "openrouter")))]
#[doc(inline)]
pub use llm_openrouter as openrouter;

#[cfg(feature = "ollama")]
#[cfg_attr(docsrs, doc(cfg(feature = "ollama")))]
#[doc(inline)]
pub use llm_ollama as ollama;

#[cfg(feature = "llamacpp")]
#[cfg_attr(docsrs, doc(cfg(feature = "llamacpp")))]
#[doc(inline)]
pub use llm_llamacpp as llamacpp;

#[cfg(feature = "gemini")]
#[cfg_attr(docsrs, doc(cfg(feature = "gemini")))]
#[doc(inline)]
pub use llm_gemini as gemini;
