//! Pure error classification for the OpenAI wire format: an HTTP status with its headers and body, or an error
//! object that arrives with HTTP 200 (in a whole body, or as a stream chunk), to a classified [`Error`]
//! through [`llm_core::classify`], so the same failure gets the same kind however it was delivered.

use std::borrow::Cow;
use std::time::SystemTime;

use http::HeaderMap;
use llm_core::{Error, ErrorKind, classify};
use serde_json::Value;

/// The error for a non-success HTTP status: `{"error":{message,type,param,code}}` read through
/// [`classify::error_from_response`] (status first, refined by the body: `context_length_exceeded`,
/// `insufficient_quota`, …; retry hints and request id from the headers).
pub fn error_from_status(
    provider: impl Into<Cow<'static, str>>,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
) -> Error {
    classify::error_from_response(provider, status, headers, body, SystemTime::now())
}

/// The error an HTTP-200 JSON value carries, if it is one: `{"error":{…}}` (OpenAI, OpenRouter, llama.cpp;
/// `code` a number or a string) or `{"object":"error",…}` (vLLM-style servers). Classified with
/// [`classify::error_from_stream_detail`]: a numeric code as the status it names, else the code or type name.
pub fn error_in_value(provider: impl Into<Cow<'static, str>>, value: &Value) -> Option<Error> {
    let detail = classify::detail_from_value(value)?;
    Some(classify::error_from_stream_detail(provider, detail))
}

/// As [`error_in_value`] for raw JSON text; `None` when the text is not JSON or holds no error.
pub fn error_in_json(provider: impl Into<Cow<'static, str>>, json: &str) -> Option<Error> {
    let value = serde_json::from_str::<Value>(json).ok()?;
    error_in_value(provider, &value)
}

/// The error for a choice that ended with `finish_reason: "error"` and no error object.
pub fn finish_reason_error(provider: impl Into<Cow<'static, str>>) -> Error {
    Error::new(
        ErrorKind::Server,
        "generation ended with finish reason `error`",
    )
    .with_provider(provider)
}

/// An `invalid_response` error: the server sent something that is not the wire format.
pub fn invalid(
    provider: impl Into<Cow<'static, str>>,
    what: impl Into<Cow<'static, str>>,
) -> Error {
    Error::new(ErrorKind::InvalidResponse, what).with_provider(provider)
}
