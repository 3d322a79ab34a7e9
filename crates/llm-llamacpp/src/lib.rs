//! The llama.cpp provider of llmux: a `llama-server`, reached over HTTP or started and supervised by llmux.
//!
//! - [`LlamaCpp`]: chat through the server's OpenAI-compatible `/v1/chat/completions` (the wire code is
//!   `llm-openai`'s, configured by [`LlamaCppConfig`] through [`llm_openai::WireConfig`]); raw prompts
//!   through the native `/completion` ([`LlamaCpp::complete`], [`LlamaCpp::complete_stream`]: SSE without
//!   `[DONE]`, ending at the chunk whose `stop` is true; `stop_type` → finish reason, `tokens_evaluated` /
//!   `tokens_predicted` → usage, `timings` kept); readiness through `/health` ("503 Loading model" is
//!   `overloaded`; [`LlamaCpp::wait_ready`]); model info from `/props` ([`Props`]).
//! - [`ManagedServer`]: a `llama-server` child started from a binary and a GGUF model on a free loopback
//!   port, supervised (restarted with backoff when it dies), killed and reaped on drop, and killed by the
//!   kernel if the owning process dies (`setpriv --pdeathsig KILL`); it is a [`Provider`](llm_core::Provider)
//!   too. See [`ManagedConfig`].
//! - Configuration: base URL (default `http://127.0.0.1:8080`, `LLAMA_SERVER_URL`), optional key for a
//!   server started with `--api-key` (`LLAMA_API_KEY`), time limits, how long to wait out a loading model.
//!
//! ```no_run
//! # async fn run() -> Result<(), llm_core::Error> {
//! use futures_util::StreamExt;
//! use llm_llamacpp::{CompletionEvent, CompletionRequest, LlamaCpp};
//!
//! let llama = LlamaCpp::from_env()?;
//! let mut stream = llama.complete_stream(&CompletionRequest::new("1, 2, 3,").max_tokens(8)).await?;
//! while let Some(event) = stream.next().await {
//!     match event? {
//!         CompletionEvent::Text(text) => print!("{text}"),
//!         CompletionEvent::End(end) => println!("\n{} {:?}", end.finish_reason, end.usage),
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod client;
mod config;
pub mod error;
mod managed;
mod request;
mod response;
mod stream;
mod supervisor;

pub use client::{CompletionEvents, LlamaCpp};
pub use config::{
    API_KEY_VAR, DEFAULT_BASE_URL, DEFAULT_NAME, EMBED_TABLE, LlamaCppConfig, PARAMS, URL_VAR,
};
pub use managed::{ManagedConfig, ManagedServer, Pooling};
pub use request::{COMPLETION_FIELDS, CompletionRequest, completion_body};
pub use response::{
    Completion, CompletionEnd, CompletionEvent, Props, Timings, decode_completion, decode_props,
};
pub use stream::{CompletionDecoder, decode_chunks};
pub use supervisor::ServerStatus;
