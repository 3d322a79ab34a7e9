//! Core types of llmux: the request and response model, stream events, the [`Provider`] trait, the one
//! [`Error`] type with its [`ErrorKind`]s and shared [`classify`]ication, parameter validation, and secrets.
//!
//! Every provider crate (`llm-openai`, `llm-claude`, `llm-openrouter`, `llm-ollama`, `llm-llamacpp`) and the
//! fallback chain (`llm-chain`) build on this crate; it performs no IO.
//!
//! ```
//! use llm_core::{ChatRequest, ErrorKind, validate};
//!
//! let request = ChatRequest::new("claude-sonnet-4-5").user("Hello").temperature(1.5);
//! let err = validate::CLAUDE.validate(&request).unwrap_err();
//! assert_eq!(err.kind(), ErrorKind::Validation);
//! assert_eq!(err.violations()[0].param, "temperature");
//! ```
#![forbid(unsafe_code)]

mod attempt;
pub mod classify;
mod error;
mod provider;
mod request;
mod response;
mod secret;
mod timeouts;
pub mod validate;

pub use attempt::Attempt;
pub use error::{Error, ErrorKind, ProviderDetail, UnknownKind};
pub use provider::{ChatStream, Provider};
pub use request::{ChatRequest, ContentPart, Message, Params, Role};
pub use response::{ChatResponse, FinishReason, StreamEvent, StreamStart, Usage};
pub use secret::{ApiKey, REDACTED};
pub use timeouts::Timeouts;
pub use validate::{Param, ParamTable, Range, Violation};

/// A `Result` whose error is llmux's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
