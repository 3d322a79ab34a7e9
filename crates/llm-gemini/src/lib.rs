//! The Google Gemini provider for llmux: `generateContent` and `streamGenerateContent?alt=sse` on the
//! Gemini API (`https://generativelanguage.googleapis.com/v1beta/models/{model}:…`, the key in
//! `x-goog-api-key`) or on Vertex AI (`…/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:…`,
//! bearer tokens from a caller's [`TokenSource`]), and the Gemini API's embeddings, behind
//! [`llm_core::Provider`] and [`llm_core::Embedder`].
//!
//! - [`GeminiConfig`]: the endpoint ([`Endpoint`]), key (or `GEMINI_API_KEY`, then `GOOGLE_API_KEY`,
//!   through [`GeminiConfig::from_env`]), a token source, extra headers, per-phase
//!   [`Timeouts`](llm_core::Timeouts), an optional caller-supplied client.
//! - [`Gemini`]: the provider, llm-http's one driver over this crate's [`GeminiCodec`].
//! - [`GenerateDecoder`] / [`decode_chunks`]: the pure decoding of the SSE stream.
//!
//! The modules hold the pure parts: [`request`] (request → JSON), [`response`] (a response or chunk →
//! events; call ids and thought signatures), [`stream`], [`error`] (`google.rpc.Status` → classified
//! errors, the [`ERRORS`] table, finish reasons), [`embed`]. This crate performs no IO:
//! [`llm_http::HttpProvider`] sends, times and reads.
//!
//! ```no_run
//! # async fn run() -> Result<(), llm_core::Error> {
//! use llm_core::{ChatRequest, Provider};
//! use llm_gemini::{Gemini, GeminiConfig};
//!
//! let gemini = Gemini::new(GeminiConfig::from_env()?)?;
//! let answer = gemini
//!     .chat(&ChatRequest::new("gemini-2.5-flash").system("Be brief.").user("Hello"))
//!     .await?;
//! println!("{}", answer.text);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod codec;
pub mod config;
pub mod embed;
pub mod error;
mod prices;
pub mod request;
pub mod response;
pub mod stream;

pub use codec::{API_KEY_HEADER, Gemini, GeminiCodec};
pub use config::{
    API_KEY_ENV, DEFAULT_BASE_URL, Endpoint, FALLBACK_API_KEY_ENV, GeminiConfig, VERTEX_NAME,
};
pub use embed::EMBED_TABLE;
pub use error::ERRORS;
pub use llm_http::TokenSource;
pub use prices::prices;
pub use request::PARAMS;
pub use stream::{GenerateDecoder, decode_chunks};
