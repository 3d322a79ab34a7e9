//! OpenRouter for llmux: the OpenAI Chat Completions wire format of `llm-openai`, configured through its
//! [`WireConfig`](llm_openai::WireConfig) trait rather than copied.
//!
//! What OpenRouter adds: `OPENROUTER_API_KEY`, the `HTTP-Referer` and `X-Title` attribution headers, typed
//! routing options ([`ProviderPreferences`] as the body's `provider`, and the `models` fallback list), and
//! the request id from `X-Generation-Id` when present, else the body's `id`. OpenRouter reports most errors
//! with HTTP 200 (in the body, as an SSE `data:` error object, or as `finish_reason: "error"`); the shared
//! decoders classify them exactly like status errors (numeric codes as the status they name), and 402 is
//! `quota_exhausted`. `: OPENROUTER PROCESSING` keep-alive comments are ignored.
//!
//! ```no_run
//! # async fn run() -> Result<(), llm_core::Error> {
//! use llm_core::{ChatRequest, Provider};
//! use llm_openrouter::{OpenRouter, OpenRouterConfig, ProviderPreferences};
//!
//! let config = OpenRouterConfig::from_env()?
//!     .title("my app")
//!     .models(["openai/gpt-4o-mini"])
//!     .provider_preferences(ProviderPreferences::default().allow_fallbacks(true));
//! let router = OpenRouter::new(config)?;
//! let answer = router
//!     .chat(&ChatRequest::new("anthropic/claude-sonnet-4.5").user("Hello").max_tokens(64))
//!     .await?;
//! println!("{} (request {:?})", answer.text, answer.request_id);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod client;
mod config;
mod routing;

pub use client::OpenRouter;
pub use config::{API_KEY_ENV, DEFAULT_BASE_URL, OpenRouterConfig, PROVIDER};
pub use routing::{DataCollection, MaxPrice, ProviderPreferences, ProviderSort};
