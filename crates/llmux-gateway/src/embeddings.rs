//! `POST /v1/embeddings`: OpenAI's embeddings API in front of the chain's embeddings (the entries that
//! embed, falling back only within one vector space, as `llmux embed` does).
//!
//! The request takes `model` (every name is served by the chain, which sends each entry its own embedding
//! model), `input` (a string or a list of strings; token arrays are refused), `encoding_format` (`float`,
//! the default, or `base64`: little-endian `f32`s, as OpenAI sends them and its SDKs ask by default),
//! `dimensions`, and `user` (accepted, not forwarded). Any other field is a 400 naming it.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use llmux::{EmbedRequest, EmbedResponse, Embedder as _};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::handle::{Shared, body_bytes, cost_header};
use crate::openai::CHAT_COMPLETIONS;

/// The most inputs one request may carry (OpenAI's limit).
pub const MAX_INPUTS: usize = 2048;

/// A parsed embeddings request.
#[derive(Debug, PartialEq)]
pub struct EmbedCall {
    /// The request for the chain.
    pub request: EmbedRequest,
    /// Whether vectors go back as base64.
    pub base64: bool,
}

/// Reads an embeddings request body; `Err` is the 400's message.
pub fn parse(body: &[u8]) -> Result<EmbedCall, String> {
    // Fields are checked, and inputs counted, before any value is built: a 32 MiB body of empty inputs
    // is refused after a scan.
    let raw: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_slice(body)
            .map_err(|e| format!("the body is not JSON of an object: {e}"))?;
    if let Some(key) = raw.keys().find(|k| {
        !["model", "input", "encoding_format", "dimensions", "user"].contains(&k.as_str())
    }) {
        return Err(format!("unknown field `{key}`"));
    }
    if let Some(input) = raw.get("input")
        && let Ok(items) = serde_json::from_str::<Vec<serde::de::IgnoredAny>>(input.get())
        && items.len() > MAX_INPUTS
    {
        return Err(format!(
            "`input` has {} items; at most {MAX_INPUTS} (OpenAI's own limit) are taken",
            items.len()
        ));
    }
    let fields: serde_json::Map<String, Value> = raw
        .into_iter()
        .map(|(k, v)| serde_json::from_str(v.get()).map(|v| (k, v)))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the body is not JSON: {e}"))?;
    let model = match fields.get("model") {
        Some(Value::String(m)) if !m.is_empty() => m.clone(),
        _ => return Err("`model` must be a non-empty string".to_owned()),
    };
    let inputs: Vec<String> = match fields.get("input") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) if items.len() > MAX_INPUTS => {
            return Err(format!(
                "`input` has {} items; at most {MAX_INPUTS} (OpenAI's own limit) are taken",
                items.len()
            ));
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| match v {
                Value::String(s) => Ok(s.clone()),
                _ => Err(format!(
                    "input[{i}] must be a string (token arrays are not supported)"
                )),
            })
            .collect::<Result<_, _>>()?,
        _ => return Err("`input` must be a string or a list of strings".to_owned()),
    };
    let base64 = match fields.get("encoding_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(f)) if f == "float" => false,
        Some(Value::String(f)) if f == "base64" => true,
        Some(other) => {
            return Err(format!(
                "`encoding_format` must be float or base64, not {other}"
            ));
        }
    };
    let mut request = EmbedRequest::new(model, inputs);
    match fields.get("dimensions") {
        None | Some(Value::Null) => {}
        Some(v) => match v.as_u64().and_then(|n| u32::try_from(n).ok()) {
            Some(n) if n > 0 => request = request.dimensions(n),
            _ => return Err("`dimensions` must be a positive integer".to_owned()),
        },
    }
    Ok(EmbedCall { request, base64 })
}

/// The answer in OpenAI's shape, `model` as the client named it.
pub fn response(answer: &EmbedResponse, model: &str, base64: bool) -> Value {
    let data: Vec<Value> = answer
        .vectors
        .iter()
        .enumerate()
        .map(|(index, vector)| {
            let embedding = if base64 {
                let bytes: Vec<u8> = vector.iter().flat_map(|f| f.to_le_bytes()).collect();
                Value::String(STANDARD.encode(bytes))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let prompt = answer.usage.and_then(|u| u.input_tokens).unwrap_or(0);
    let total = answer.usage.and_then(|u| u.total()).unwrap_or(prompt);
    json!({"object": "list", "data": data, "model": model,
           "usage": {"prompt_tokens": prompt, "total_tokens": total}})
}

/// The handler.
pub async fn handle(State(gateway): State<Shared>, headers: HeaderMap, body: Body) -> Response {
    let dialect = &CHAT_COMPLETIONS;
    let (bytes, body_permit) = match body_bytes(&gateway, dialect, &headers, body).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    // Counted with the whole chat answers being prepared, under the same limit.
    let Ok(_permit) = std::sync::Arc::clone(&gateway.requests).try_acquire_owned() else {
        return ApiError::busy(dialect, gateway.max_requests, "whole requests").into_response();
    };
    let call = match parse(&bytes) {
        Ok(call) => call,
        Err(message) => return ApiError::invalid(dialect, message).into_response(),
    };
    drop((bytes, body_permit));
    let chain = match &gateway.embeddings {
        Ok(chain) => chain,
        Err(why) => {
            return ApiError::invalid(dialect, format!("this gateway serves no embeddings: {why}"))
                .into_response();
        }
    };
    match chain.embed(&call.request).await {
        Ok(answer) => {
            let mut http = (
                [(header::CONTENT_TYPE, "application/json")],
                response(&answer, &call.request.model, call.base64).to_string(),
            )
                .into_response();
            cost_header(&mut http, answer.usage.and_then(|u| u.cost));
            http
        }
        Err(e) => ApiError::from_error(dialect, &e).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_mistakes_are_named() {
        let call =
            parse(br#"{"model":"m","input":["a","b"],"encoding_format":"base64","dimensions":8}"#)
                .unwrap();
        assert!(call.base64);
        assert_eq!(
            call.request,
            EmbedRequest::new("m", ["a", "b"]).dimensions(8)
        );
        assert_eq!(
            parse(br#"{"model":"m","input":"one"}"#)
                .unwrap()
                .request
                .inputs,
            ["one"]
        );
        for (body, says) in [
            (&br#"{"model":"m","input":[[1,2]]}"#[..], "token arrays"),
            (br#"{"model":"m"}"#, "`input`"),
            (br#"{"input":"x"}"#, "`model`"),
            (
                br#"{"model":"m","input":"x","encoding_format":"hex"}"#,
                "encoding_format",
            ),
            (br#"{"model":"m","input":"x","dimensions":0}"#, "dimensions"),
            (
                br#"{"model":"m","input":"x","extra":1}"#,
                "unknown field `extra`",
            ),
            (b"not json", "not JSON"),
        ] {
            let err = parse(body).unwrap_err();
            assert!(err.contains(says), "{err}");
        }
    }

    #[test]
    fn base64_vectors_are_little_endian_f32s() {
        let answer = EmbedResponse::new("p", "m", vec![vec![1.0, -0.5]]);
        let body = response(&answer, "client-name", true);
        let text = body["data"][0]["embedding"].as_str().unwrap();
        let bytes = STANDARD.decode(text).unwrap();
        let back: Vec<f32> = bytes
            .chunks(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        assert_eq!(back, [1.0, -0.5]);
        assert_eq!(body["model"], "client-name");
        assert_eq!(
            response(&answer, "m", false)["data"][0]["embedding"],
            json!([1.0, -0.5])
        );
    }
}
