//! Core types of llmux: the vocabulary every provider and the chain speak. The request and response model,
//! stream events, the [`Provider`] trait, embeddings ([`EmbedRequest`], [`EmbedResponse`], the [`Embedder`]
//! trait and the [`EmbedTable`] its inputs are checked against), the one [`Error`] type with its [`ErrorKind`]s, the
//! [`classify`]ication algorithm (fed by each provider's [`ErrorTable`](classify::ErrorTable)), the
//! validation engine (fed by each provider's [`ParamTable`]), and secrets.
//!
//! Every provider crate and the fallback chain build on this crate; it performs no IO and names no
//! provider: each provider's tables live in its own crate.
//!
//! ```
//! use llm_core::{ChatRequest, ErrorKind, Param, ParamTable, Range};
//!
//! const TABLE: ParamTable = ParamTable {
//!     provider: "example",
//!     rules: &[(Param::Temperature, Range::float(0.0, 1.0)), (Param::MaxTokens, Range::int_min(1))],
//!     requires_max_tokens: false,
//! };
//! let request = ChatRequest::new("some-model").user("Hello").temperature(1.5);
//! let err = TABLE.validate(&request).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Validation);
//! assert_eq!(err.violations()[0].param, "temperature");
//! ```
#![forbid(unsafe_code)]

mod attempt;
pub mod classify;
mod cost;
mod embed;
mod error;
mod fingerprint;
mod format;
mod fragment;
mod media;
mod prices;
mod provider;
mod request;
mod response;
mod secret;
mod timeouts;
mod tool;
pub mod validate;

pub use attempt::Attempt;
pub use cost::{
    BYTES_PER_TOKEN, Cost, Price, Rates, TOKENS_PER_ATTACHMENT, Usd, sum_known, tokens_of_text,
};
pub use embed::{EmbedRequest, EmbedResponse, EmbedTable, Embedder, InputKind, MAX_INPUTS};
pub use error::{Error, ErrorKind, ProviderDetail, UnknownKind};
pub use fingerprint::fingerprint;
#[cfg(feature = "schema")]
pub use format::chat_json;
pub use format::{Effort, JsonSchema, Reasoning, ResponseFormat, parse_json};
pub use fragment::Fragment;
pub use media::{Source, media_type_of};
pub use prices::{PriceEntry, PriceError, PriceRow, PriceTable, Pricing};
pub use provider::{ChatStream, Provider};
pub use request::{ChatRequest, ContentPart, Message, Params, Relay, Role};
pub use response::{
    ChatResponse, Collector, FinishReason, RateLimit, StreamEvent, StreamStart, Usage,
};
pub use secret::{ApiKey, REDACTED};
pub use timeouts::Timeouts;
pub use tool::{CallNames, Tool, ToolCall, ToolChoice, ToolOutput};
pub use validate::{Param, ParamTable, Range, Violation};

/// A `Result` whose error is llmux's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
