//! OpenAI Chat Completions for llmux, and the OpenAI wire format every OpenAI-compatible server shares.
//!
//! [`OpenAi`] talks to OpenAI itself. The same code serves OpenRouter (`llm-openrouter`), llama.cpp's
//! `llama-server` (`llm-llamacpp`) and any other compatible server through the [`WireConfig`] trait, which
//! says what differs: provider name, URLs, authorization and extra headers, the token limit field, the
//! parameter table, body extras, where the request id comes from, time limits and the HTTP client.
//! [`OpenAiClient<C>`] is the generic client; [`OpenAiConfig::compatible`] configures a plain compatible
//! server without writing a trait impl.
//!
//! The pure parts have no IO and are public for reuse and fuzzing: [`Encoder`] (request → JSON body),
//! [`decode_response`] (body → [`ChatResponse`](llm_core::ChatResponse)), [`ChunkDecoder`] and
//! [`SseDecoder`] (stream payloads or bytes → [`StreamEvent`](llm_core::StreamEvent)s), and the error
//! helpers in [`error`].
//!
//! ```no_run
//! # async fn run() -> Result<(), llm_core::Error> {
//! use futures_util::StreamExt;
//! use llm_core::{ChatRequest, Provider, StreamEvent};
//! use llm_openai::OpenAi;
//!
//! let openai = OpenAi::from_env()?; // OPENAI_API_KEY
//! let request = ChatRequest::new("gpt-4o-mini").user("Say hi").max_tokens(16);
//! let mut stream = openai.stream(&request).await?;
//! while let Some(event) = stream.next().await {
//!     if let StreamEvent::TextDelta(text) = event? {
//!         print!("{text}");
//!     }
//! }
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

mod client;
mod config;
pub mod error;
mod request;
mod response;
mod stream;

pub use client::{OpenAi, OpenAiClient};
pub use config::{
    API_KEY_ENV, DEFAULT_BASE_URL, OpenAiConfig, PROVIDER, TokenLimit, WireConfig, env_key,
    insert_header, join_url,
};
pub use request::{Encoder, WRITTEN_FIELDS};
pub use response::{ResponseMeta, decode_response, decode_response_events};
pub use stream::{ChunkDecoder, SseDecoder, decode_sse};
