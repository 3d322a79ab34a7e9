//! OpenAI Chat Completions for llmux, and the OpenAI wire format every OpenAI-compatible server shares.
//!
//! [`OpenAi`] talks to OpenAI itself: llm-http's one HTTP driver over this crate's [`ChatCompletions`]
//! codec. The same codec serves OpenRouter (`llm-openrouter`), llama.cpp's `llama-server`
//! (`llm-llamacpp`) and any other compatible server through the [`WireConfig`] trait, which says what
//! differs: URLs, extra headers, the token limit field, the parameter table, body extras and where the
//! request id comes from. [`OpenAiConfig::compatible`] configures a plain compatible server without writing
//! a trait impl. Azure OpenAI is [`AzureConfig`] on the same codec: `OpenAi::new(AzureConfig::from_env()?)`
//! (deployment URLs with `api-version`, or the v1 form; the `api-key` header or Entra ID tokens).
//!
//! The pure parts have no IO and are public for reuse and fuzzing: [`Encoder`] (request → JSON body),
//! [`decode_response`] (body → [`ChatResponse`](llm_core::ChatResponse)), [`ChunkDecoder`] (SSE events →
//! [`StreamEvent`](llm_core::StreamEvent)s), [`decode_sse`] (recorded bytes → events, as the driver
//! yields them), and the error table [`ERRORS`]. The same codec speaks `/embeddings` ([`embeddings_body`],
//! [`decode_embeddings`], float or base64 by [`EmbedEncoding`]), so [`OpenAi`] is also an
//! [`Embedder`](llm_core::Embedder).
//!
//! The Responses API (`/responses`) is a second codec on the same configurations: [`Responses`], with
//! [`OpenAiResponses`] for OpenAI itself (`OpenAiResponses::from_env()`), stateless by default, reasoning
//! items sent back encrypted; see the [`responses`] module.
//!
//! ```no_run
//! # async fn run() -> Result<(), llm_core::Error> {
//! use futures_util::StreamExt;
//! use llm_core::{ChatRequest, Provider, StreamEvent};
//! use llm_openai::OpenAi;
//!
//! let openai = OpenAi::from_env()?; // OPENAI_API_KEY, optional OPENAI_BASE_URL
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

mod azure;
mod codec;
mod config;
mod embed;
mod error;
mod prices;
mod request;
mod response;
pub mod responses;
mod stream;

pub use azure::{
    AZURE_API_KEY_ENV, AZURE_API_VERSION_ENV, AZURE_ENDPOINT_ENV, AZURE_PROVIDER, AzureApi,
    AzureConfig, DEFAULT_API_VERSION,
};
pub use codec::{ChatCompletions, OpenAi};

/// The reasoning efforts OpenAI's APIs take (`reasoning_effort`, `reasoning.effort`).
pub const EFFORTS: &[llm_core::Effort] = &[
    llm_core::Effort::Minimal,
    llm_core::Effort::Low,
    llm_core::Effort::Medium,
    llm_core::Effort::High,
    llm_core::Effort::XHigh,
];
pub use config::{
    API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, EMBED_TABLE, EmbedEncoding, Features, KeyHeader,
    OpenAiConfig, PARAMS, PROVIDER, TokenLimit, TokenSource, WireConfig, compatible_embed_table,
    compatible_params,
};
pub use embed::{decode_base64, decode_embeddings, embeddings_body};
pub use error::ERRORS;
pub use prices::prices;
pub use request::{Encoder, MAX_FILE_BYTES, MAX_IMAGE_BYTES, WRITTEN_FIELDS as CHAT_FIELDS};
pub use response::{ResponseMeta, decode_response};
pub use responses::request::WRITTEN_FIELDS as RESPONSES_FIELDS;
pub use responses::{
    OpenAiResponses, RESPONSES_PARAMS, RESPONSES_PROVIDER, RESPONSES_WIRE, Responses,
    ResponsesConfig, ResponsesDecoder, ResponsesEncoder, decode_responses, decode_responses_sse,
    responses_decoding,
};
pub use stream::{ChunkDecoder, decode_sse, sse_decoding};
