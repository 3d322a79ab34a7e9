//! The HTTP side of every llmux provider: the [`Codec`] trait a provider crate implements (its wire format as
//! pure code), the one driver [`HttpProvider`] that implements [`Provider`](llm_core::Provider) for any codec,
//! and the [`Transport`] under it (one pooled `reqwest::Client` per provider, per-phase time limits, bounded
//! body reads, every failure a classified [`llm_core::Error`] with the provider's key scrubbed out).
//!
//! A provider crate writes a codec (encode a request, decode a body, a [`StreamDecoder`] for framed
//! payloads, its error and parameter tables) and a config that embeds [`HttpConfig`]; everything that does
//! IO (sending, timers, the body loop on llm-stream's borrowed path, replaying a whole answer as events,
//! spans) is written here once. A codec that also speaks its provider's embeddings endpoint implements
//! [`EmbedCodec`]; the same driver then implements [`Embedder`](llm_core::Embedder), splitting a call into
//! batches sent with bounded concurrency and joined in order.
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
mod codec;
mod config;
mod decoding;
mod embed;
mod failure;
mod provider;
mod span;
mod text;
mod transport;

pub use body::Body;
pub use codec::{Codec, Delivered, Frame, Framing, Method, StreamDecoder, WireRequest};
pub use config::{
    DEFAULT_EMBED_CONCURRENCY, Env, HasHttpConfig, HttpConfig, TokenSource, insert_bearer,
    insert_header, path_segment, secret_value,
};
pub use decoding::Decoding;
pub use embed::EmbedCodec;
pub use failure::Failures;
pub use provider::{DefaultConfig, EventStream, FromEnv, HttpProvider, IntoCodec};
pub use text::JsonStr;
pub use transport::{Classify, DEFAULT_MAX_BODY, Response, Transport};

#[doc(hidden)]
pub mod __private {
    //! Paths the [`http_config_builders!`](crate::http_config_builders) macro expands to.
    pub use llm_core::{ApiKey, Timeouts};
    pub use reqwest::Client;
}
