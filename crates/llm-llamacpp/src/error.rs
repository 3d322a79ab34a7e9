//! Pure: llama-server's errors to classified [`Error`]s, through [`llm_core::classify`] with the error table
//! of OpenAI-compatible servers ([`llm_openai::ERRORS`], which names `exceed_context_size_error`).
//!
//! | what arrives | kind |
//! | --- | --- |
//! | `{"error":{"code","message","type"}}` with a status | the shared status table (400 `bad_request`, `exceed_context_size_error` → `context_length`, 401 `auth`, 404 `not_found`, 500 `server`, 503 `overloaded`, …) |
//! | `GET /health` 503 `{"error":{"message":"Loading model","type":"unavailable_error"}}` | `overloaded` (retryable; the client can wait it out, see [`LlamaCpp::wait_ready`](crate::LlamaCpp::wait_ready)) |
//! | `data: {"error":{…}}` inside a stream after HTTP 200 | by its numeric `code` as a status, else its `type`, else `server` |
//! | an SSE `error:` field (older builds) | ignored by a conformant SSE parser: the stream ends without its `stop: true` chunk → `network` |

use std::borrow::Cow;

use llm_core::{Error, ProviderDetail, classify};
use serde_json::Value;

/// The classified error for the value of an `error` field that arrived with HTTP 200 (a stream chunk or a
/// whole body): llama-server's `{"code","message","type"}` object, or a plain string.
pub fn error_from_field(provider: impl Into<Cow<'static, str>>, error: &Value) -> Error {
    let detail = match error {
        Value::String(message) => ProviderDetail::message(message.clone()),
        Value::Object(_) => {
            classify::detail_from_value(&serde_json::json!({ "error": error })).unwrap_or_default()
        }
        other => ProviderDetail::message(other.to_string()),
    };
    classify::error_from_stream_detail(provider, detail, &llm_openai::ERRORS)
}
