//! The Anthropic Claude provider for llmux: the Messages API (`POST {base}/v1/messages`), streamed and not,
//! behind the [`llm_core::Provider`] trait.
//!
//! - [`ClaudeConfig`]: base URL (default `https://api.anthropic.com`), key (or `ANTHROPIC_API_KEY` through
//!   [`ClaudeConfig::from_env`]), `anthropic-version` (always sent, default `2023-06-01`), `anthropic-beta`
//!   flags, extra headers, per-phase [`Timeouts`](llm_core::Timeouts), an optional caller-supplied client.
//! - [`Claude`]: the provider, llm-http's one driver over this crate's [`ClaudeCodec`]; cheap to clone
//!   (clones share one connection pool).
//! - [`MessagesDecoder`] / [`decode_chunks`]: the pure decoding of the Messages SSE stream.
//!
//! The modules hold the pure parts: [`request`] (request → headers and JSON), [`response`] (bytes → response),
//! [`stream`] (SSE events → stream events), [`error`] (Anthropic's errors → classified errors, the
//! [`ERRORS`] table). This crate performs no IO: [`llm_http::HttpProvider`] sends, times and reads.
//!
//! ```no_run
//! # async fn run() -> Result<(), llm_core::Error> {
//! use futures_util::StreamExt;
//! use llm_claude::{Claude, ClaudeConfig};
//! use llm_core::{ChatRequest, Provider, StreamEvent};
//!
//! let claude = Claude::new(ClaudeConfig::from_env()?)?;
//! let request = ChatRequest::new("claude-sonnet-4-5")
//!     .system("Be brief.")
//!     .user("Hello")
//!     .max_tokens(256);
//! let answer = claude.chat(&request).await?;
//! println!("{}", answer.text);
//!
//! let mut stream = claude.stream(&request).await?;
//! while let Some(event) = stream.next().await {
//!     if let StreamEvent::TextDelta(text) = event? {
//!         print!("{text}");
//!     }
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod codec;
pub mod config;
pub mod error;
mod prices;
pub mod request;
pub mod response;
pub mod stream;

pub use codec::{Claude, ClaudeCodec, PARAMS};

/// The name of the Messages API wire format in a [`Relay`](llm_core::Relay): a gateway relaying an
/// Anthropic client's beta fields and `anthropic-beta` flags names it, and this crate sends them.
pub const WIRE: &str = "anthropic.messages";
pub use config::ClaudeConfig;
pub use error::ERRORS;
pub use prices::prices;
pub use request::RESERVED_FIELDS as WRITTEN_FIELDS;
pub use stream::{MessagesDecoder, ToolInput, decode_chunks};
