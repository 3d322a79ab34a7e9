//! The embeddings wire format of OpenAI and compatible servers (`POST {base}/embeddings`), as pure code:
//! [`embeddings_body`] encodes one batch, [`decode_embeddings`] decodes an answer, float or base64.
//!
//! Decoding goes straight from the body's bytes to `Vec<f32>`s: a float array is read element by element
//! into its vector (no intermediate `Value`), and a base64 string is decoded to its little-endian bytes
//! and reinterpreted, four at a time, as the `f32`s it encodes: never printed and parsed as text.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use llm_core::{EmbedRequest, EmbedResponse, Error};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::EmbedEncoding;
use crate::error::{error_in_json, invalid};
use crate::response::{ResponseMeta, WireUsage};

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    input: &'a [String],
    encoding_format: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
}

/// The JSON body asking for the embeddings of `inputs` (one batch of `request`) in `encoding`.
///
/// # Errors
/// `invalid_response` never; `validation` when the body cannot be serialized (it always can).
pub fn embeddings_body(
    request: &EmbedRequest,
    inputs: &[String],
    encoding: EmbedEncoding,
) -> Result<Vec<u8>, Error> {
    let body = Body {
        model: &request.model,
        input: inputs,
        encoding_format: encoding.as_str(),
        dimensions: request.dimensions,
    };
    serde_json::to_vec(&body).map_err(|e| {
        Error::new(
            llm_core::ErrorKind::Validation,
            "embeddings request is not serializable",
        )
        .with_source(e)
    })
}

#[derive(Deserialize)]
struct WireList<'a> {
    #[serde(default)]
    data: Option<Vec<WireItem>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    usage: Option<WireUsage>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(borrow, default)]
    object: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct WireItem {
    #[serde(default)]
    index: Option<usize>,
    embedding: Vector,
}

/// One vector as either encoding carries it, decoded as it is read.
struct Vector(Vec<f32>);

impl<'de> Deserialize<'de> for Vector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(VectorVisitor)
    }
}

struct VectorVisitor;

impl<'de> Visitor<'de> for VectorVisitor {
    type Value = Vector;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of numbers or a base64 string")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vector, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(x) = seq.next_element::<f32>()? {
            out.push(x);
        }
        Ok(Vector(out))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Vector, E> {
        decode_base64(text).map(Vector).map_err(E::custom)
    }
}

/// Standard base64, with or without its `=` padding (servers differ; the bytes are the same).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The little-endian `f32`s a base64 string encodes (padded or not).
///
/// # Errors
/// A message when the text is not base64 or not a whole number of `f32`s.
pub fn decode_base64(text: &str) -> Result<Vec<f32>, String> {
    let bytes = BASE64
        .decode(text)
        .map_err(|e| format!("embedding is not base64: {e}"))?;
    if bytes.len() % 4 != 0 {
        return Err(format!(
            "embedding of {} bytes is not a whole number of f32s",
            bytes.len()
        ));
    }
    Ok(bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect())
}

/// Decodes an embeddings answer to a batch of `inputs` inputs: the vectors ordered by their `index` (each
/// index in `0..inputs` exactly once; in arrival order when the server sends none). An error object in the
/// body is the classified error it describes; anything else that is not an embeddings list is
/// `invalid_response`.
///
/// # Errors
/// As above.
pub fn decode_embeddings(
    body: &[u8],
    meta: &ResponseMeta,
    inputs: usize,
) -> Result<EmbedResponse, Error> {
    let provider = meta.provider.clone();
    let fail = |what: String| meta.attach(invalid(provider.clone(), what), None);
    let wire: WireList<'_> = serde_json::from_slice(body)
        .map_err(|e| fail(format!("response body is not an embeddings list: {e}")))?;
    if wire.error.is_some() || wire.object.as_deref() == Some("error") {
        let text = String::from_utf8_lossy(body);
        let err = error_in_json(provider.clone(), &text)
            .unwrap_or_else(|| invalid(provider.clone(), "response body is an error object"));
        return Err(meta.attach(err, None));
    }
    let items = wire
        .data
        .ok_or_else(|| fail("response body has no `data`".to_owned()))?;
    if items.len() != inputs {
        return Err(fail(format!(
            "{} embeddings answered {inputs} inputs",
            items.len()
        )));
    }
    let vectors = if items.iter().all(|item| item.index.is_none()) {
        items.into_iter().map(|item| item.embedding.0).collect()
    } else {
        let mut slots: Vec<Option<Vec<f32>>> = vec![None; inputs];
        for item in items {
            let index = item
                .index
                .ok_or_else(|| fail("an embedding has no `index`".to_owned()))?;
            match slots.get_mut(index) {
                Some(slot @ None) => *slot = Some(item.embedding.0),
                Some(Some(_)) => return Err(fail(format!("embedding index {index} twice"))),
                None => {
                    return Err(fail(format!(
                        "embedding index {index} out of range for {inputs} inputs"
                    )));
                }
            }
        }
        // Every slot is filled: `inputs` distinct indices below `inputs`.
        slots.into_iter().flatten().collect()
    };
    let mut response = EmbedResponse::new(
        provider.clone(),
        wire.model.as_deref().unwrap_or_default(),
        vectors,
    );
    response.usage = wire.usage.map(|u| u.to_usage());
    response.request_id = meta.request_id_or(None);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use llm_core::ErrorKind;

    use super::*;

    fn meta() -> ResponseMeta {
        ResponseMeta::new("openai", "m").request_id(Some("req-1".to_owned()))
    }

    fn b64(values: &[f32]) -> String {
        use base64::engine::general_purpose::STANDARD;
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        STANDARD.encode(bytes)
    }

    #[test]
    fn base64_decodes_with_or_without_padding() {
        let padded = b64(&[1.0, 2.0]);
        assert!(padded.ends_with('='), "{padded}");
        let bare = padded.trim_end_matches('=');
        assert_eq!(decode_base64(&padded).unwrap(), [1.0, 2.0]);
        assert_eq!(decode_base64(bare).unwrap(), [1.0, 2.0]);
    }

    #[test]
    fn every_truncation_and_corruption_of_an_answer_is_an_error_never_a_panic() {
        let body = format!(
            r#"{{"data":[{{"index":0,"embedding":[0.25,-1e-3]}},{{"index":1,"embedding":"{}"}}],"model":"m","usage":{{"prompt_tokens":2}}}}"#,
            b64(&[3.0, 4.0])
        );
        let bytes = body.as_bytes();
        assert!(decode_embeddings(bytes, &meta(), 2).is_ok());
        for end in 0..bytes.len() {
            assert!(
                decode_embeddings(&bytes[..end], &meta(), 2).is_err(),
                "cut at {end}"
            );
        }
        for at in 0..bytes.len() {
            for byte in [b'"', b'}', b'9', 0xff, b'-'] {
                let mut corrupt = bytes.to_vec();
                corrupt[at] = byte;
                // Ok or Err, but never a panic; an Ok keeps one vector per input.
                if let Ok(answer) = decode_embeddings(&corrupt, &meta(), 2) {
                    assert_eq!(answer.vectors.len(), 2);
                }
            }
        }
    }

    #[test]
    fn the_body_names_the_encoding_and_dimensions_only_when_asked() {
        let request = EmbedRequest::new("text-embedding-3-small", ["a", "b"]);
        let body = embeddings_body(&request, &request.inputs[1..], EmbedEncoding::Base64).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"model":"text-embedding-3-small","input":["b"],"encoding_format":"base64"}"#
        );
        let body = embeddings_body(
            &request.clone().dimensions(8),
            &request.inputs,
            EmbedEncoding::Float,
        )
        .unwrap();
        assert!(
            String::from_utf8(body)
                .unwrap()
                .ends_with(r#""encoding_format":"float","dimensions":8}"#)
        );
    }

    #[test]
    fn float_and_base64_vectors_decode_in_index_order() {
        let body = format!(
            r#"{{"object":"list","data":[{{"object":"embedding","index":1,"embedding":"{}"}},{{"object":"embedding","index":0,"embedding":[0.5,-1,2e-3]}}],"model":"m-1","usage":{{"prompt_tokens":4,"total_tokens":4}}}}"#,
            b64(&[1.5, f32::MIN_POSITIVE, -0.0])
        );
        let response = decode_embeddings(body.as_bytes(), &meta(), 2).unwrap();
        assert_eq!(response.vectors[0], [0.5, -1.0, 2e-3]);
        assert_eq!(response.vectors[1], [1.5, f32::MIN_POSITIVE, -0.0]);
        assert_eq!(response.model, "m-1");
        assert_eq!(response.usage.unwrap().input_tokens, Some(4));
        assert_eq!(response.request_id.as_deref(), Some("req-1"));
    }

    #[test]
    fn an_escaped_slash_in_base64_still_decodes() {
        let text = b64(&[f32::from_bits(0xFFFF_FFFF >> 2); 3]);
        assert!(text.contains('/'), "{text}");
        let body = format!(
            r#"{{"data":[{{"index":0,"embedding":"{}"}}]}}"#,
            text.replace('/', "\\/")
        );
        let response = decode_embeddings(body.as_bytes(), &meta(), 1).unwrap();
        assert_eq!(response.vectors[0].len(), 3);
    }

    #[test]
    fn bad_answers_are_invalid_response_errors() {
        let cases = [
            (r#"{"data":[]}"#, "0 embeddings answered 1"),
            (r#"{"data":[{"index":3,"embedding":[1]}]}"#, "out of range"),
            (r#"{"data":[{"index":0,"embedding":"!!"}]}"#, "not base64"),
            (
                r#"{"data":[{"index":0,"embedding":"AAA="}]}"#,
                "whole number",
            ),
            (
                r#"{"data":[{"index":0,"embedding":{"x":1}}]}"#,
                "an array of numbers",
            ),
            (r#"{"model":"m"}"#, "no `data`"),
            ("not json", "not an embeddings list"),
        ];
        for (body, says) in cases {
            let err = decode_embeddings(body.as_bytes(), &meta(), 1).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{body}");
            assert!(err.to_string().contains(says), "{body}: {err}");
            assert_eq!(err.request_id(), Some("req-1"));
        }
        let twice = r#"{"data":[{"index":0,"embedding":[1]},{"index":0,"embedding":[1]}]}"#;
        let err = decode_embeddings(twice.as_bytes(), &meta(), 2).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }

    #[test]
    fn an_error_object_with_status_200_is_the_error_it_describes() {
        let body = r#"{"error":{"message":"slow down","type":"rate_limit_error","code":"rate_limit_exceeded"}}"#;
        let err = decode_embeddings(body.as_bytes(), &meta(), 1).unwrap_err();
        assert_ne!(err.kind(), ErrorKind::InvalidResponse, "{err}");
        assert!(err.to_string().contains("slow down"), "{err}");
    }
}
