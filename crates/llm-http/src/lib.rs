//! The HTTP transport every llmux provider crate shares: one pooled `reqwest::Client` per provider, per-phase
//! time limits (connect, first byte, idle, total), bounded body reads, and every failure turned into a
//! classified [`llm_core::Error`] with the provider's API key scrubbed out.
//!
//! Provider crates keep their wire format pure (`request.rs`, `response.rs`, `stream.rs`, `error.rs`) and do
//! their IO through [`Transport`] in `client.rs`, so a timeout or a refused connection is the same error
//! whichever provider hit it.
//!
//! ```no_run
//! # async fn run() -> Result<(), llm_core::Error> {
//! use llm_core::Timeouts;
//! use llm_http::Transport;
//!
//! let transport = Transport::new("openai", Timeouts::default(), None)?;
//! let response = transport
//!     .send(transport.post("http://127.0.0.1:8080/v1/chat/completions").body("{}"))
//!     .await?;
//! let body = response.bytes(1 << 20).await?;
//! # let _ = body; Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod body;
mod transport;

pub use body::Body;
pub use transport::{DEFAULT_MAX_BODY, Response, Transport};
