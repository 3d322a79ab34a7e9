//! The Ollama provider of llmux: native `POST /api/chat`, whole or streamed as NDJSON.
//!
//! - Configuration: [`OllamaConfig`] (base URL, default `http://localhost:11434`; `OLLAMA_HOST` through
//!   [`OllamaConfig::from_env`] in every form Ollama's CLI accepts, see [`parse_host`]; `keep_alive`;
//!   time limits).
//! - Parameters go into `options` (`temperature`, `top_p`, `top_k`, `num_predict` from `max_tokens`,
//!   `repeat_penalty`, `seed`, `stop`), checked against [`PARAMS`] first.
//! - The final line's `done_reason`, `prompt_eval_count` and `eval_count` become the finish reason and usage.
//! - Errors: `{"error":"…"}` bodies are classified by status (404 "model not found" is `not_found`);
//!   mid-stream error lines (HTTP 200) are `server` (see [`error`] for why); a refused connection is
//!   `network` at once; a stream that ends without `done: true` is `network`.
//! - Embeddings: `POST /api/embed` in batches ([`embed_body`], [`decode_embed`], [`EMBED_TABLE`]), with
//!   `truncate: false` so a too-long input is an error, not a vector of a shortened text.
//! - Health: `GET /api/tags`.
//!
//! ```no_run
//! # async fn run() -> Result<(), llm_core::Error> {
//! use futures::StreamExt;
//! use llm_core::{ChatRequest, Provider, StreamEvent};
//! use llm_ollama::{Ollama, OllamaConfig};
//!
//! let ollama = Ollama::new(OllamaConfig::from_env()?)?;
//! let mut stream = ollama.stream(&ChatRequest::new("llama3.2").user("Count to 3")).await?;
//! while let Some(event) = stream.next().await {
//!     if let StreamEvent::TextDelta(text) = event? {
//!         print!("{text}");
//!     }
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod codec;
mod config;
mod embed;
pub mod error;
mod request;
mod response;
mod stream;

pub use codec::{Ollama, OllamaCodec, PARAMS};
pub use config::{
    DEFAULT_BASE_URL, DEFAULT_NAME, DEFAULT_PORT, HOST_VAR, KeepAlive, OllamaConfig, parse_host,
};
pub use embed::{EMBED_TABLE, decode_embed, embed_body};
pub use error::ERRORS;
pub use request::chat_body;
pub use response::decode_chat;
pub use stream::{ChatDecoder, decode_chunks};
