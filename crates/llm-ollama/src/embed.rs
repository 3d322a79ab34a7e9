//! Ollama's `POST /api/embed` as pure code: [`embed_body`] encodes one batch, [`decode_embed`] decodes an
//! answer. Ollama truncates a too-long input by default; llmux sends `"truncate": false` so such an input is
//! the server's error, never a vector of a silently shortened text.

use std::borrow::Cow;

use llm_core::{EmbedRequest, EmbedResponse, EmbedTable, Error, ErrorKind, MAX_INPUTS, Usage};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::{KeepAlive, OllamaConfig};
use crate::error::error_from_field;

/// What `/api/embed` takes: a batch of inputs (256 per request here; Ollama documents no limit), no
/// `dimensions`, no input kind.
pub const EMBED_TABLE: EmbedTable = EmbedTable {
    provider: crate::config::DEFAULT_NAME,
    max_batch: 256,
    max_inputs: MAX_INPUTS,
    max_input_bytes: None,
    dimensions: false,
    input_kind: false,
};

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    input: &'a [String],
    truncate: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep_alive: Option<&'a KeepAlive>,
}

/// The JSON body asking for the embeddings of `inputs` (one batch of `request`).
///
/// # Errors
/// `validation` when the body cannot be serialized (it always can).
pub fn embed_body(
    config: &OllamaConfig,
    request: &EmbedRequest,
    inputs: &[String],
) -> Result<Vec<u8>, Error> {
    let body = Body {
        model: &request.model,
        input: inputs,
        truncate: false,
        keep_alive: config.keep_alive.as_ref(),
    };
    serde_json::to_vec(&body).map_err(|e| {
        Error::new(ErrorKind::Validation, "embed request is not serializable")
            .with_provider(config.http.name.clone())
            .with_source(e)
    })
}

#[derive(Deserialize)]
struct WireEmbed<'a> {
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(default)]
    embeddings: Option<Vec<Vec<f32>>>,
    #[serde(default)]
    prompt_eval_count: Option<u64>,
    #[serde(default)]
    error: Option<Value>,
}

/// Decodes an `/api/embed` answer to a batch of `inputs` inputs. An `error` field (HTTP 200) is the
/// classified error; anything that is not one vector per input is `invalid_response`.
///
/// # Errors
/// As above.
pub fn decode_embed(
    provider: Cow<'static, str>,
    body: &[u8],
    inputs: usize,
    request_id: Option<String>,
) -> Result<EmbedResponse, Error> {
    let invalid = |what: String| {
        Error::new(ErrorKind::InvalidResponse, what)
            .with_provider(provider.clone())
            .with_request_id_opt(request_id.clone())
    };
    let wire: WireEmbed<'_> = serde_json::from_slice(body).map_err(|e| {
        invalid(format!("the embed response is not ollama's json: {e}")).with_source(e)
    })?;
    if let Some(error) = &wire.error {
        return Err(error_from_field(provider.clone(), error).with_request_id_opt(request_id));
    }
    let vectors = wire
        .embeddings
        .ok_or_else(|| invalid("the embed response has no `embeddings`".into()))?;
    if vectors.len() != inputs {
        return Err(invalid(format!(
            "{} embeddings answered {inputs} inputs",
            vectors.len()
        )));
    }
    let mut response = EmbedResponse::new(
        provider.clone(),
        wire.model.as_deref().unwrap_or_default(),
        vectors,
    );
    response.usage = wire.prompt_eval_count.map(|n| {
        let mut usage = Usage::default();
        usage.input_tokens = Some(n);
        usage.total_tokens = Some(n);
        usage
    });
    response.request_id = request_id;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_body_never_lets_ollama_truncate() {
        let config = OllamaConfig::default().keep_alive(KeepAlive::Forever);
        let request = EmbedRequest::new("all-minilm", ["a", "b", "c"]);
        let body = embed_body(&config, &request, &request.inputs[..2]).unwrap();
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"model":"all-minilm","input":["a","b"],"truncate":false,"keep_alive":-1}"#
        );
    }

    #[test]
    fn an_answer_decodes_with_its_token_count() {
        let body = br#"{"model":"all-minilm","embeddings":[[0.1,0.2],[0.3,0.4]],"total_duration":14143917,"load_duration":1019500,"prompt_eval_count":8}"#;
        let response = decode_embed("ollama".into(), body, 2, Some("r".into())).unwrap();
        assert_eq!(response.vectors, [[0.1, 0.2], [0.3, 0.4]]);
        assert_eq!(response.model, "all-minilm");
        assert_eq!(response.usage.unwrap().input_tokens, Some(8));
        assert_eq!(response.request_id.as_deref(), Some("r"));
    }

    #[test]
    fn errors_and_wrong_shapes_are_reported() {
        let err = decode_embed(
            "ollama".into(),
            br#"{"error":"model \"x\" not found, try pulling it first"}"#,
            1,
            None,
        )
        .unwrap_err();
        // Classified like any error Ollama reports after HTTP 200 (see `error`), never `invalid_response`.
        assert_ne!(err.kind(), ErrorKind::InvalidResponse, "{err}");
        assert!(err.to_string().contains("not found"), "{err}");
        for (body, says) in [
            (&br#"{"embeddings":[[1.0]]}"#[..], "1 embeddings answered 2"),
            (br#"{"model":"m"}"#, "no `embeddings`"),
            (br#"[1,2]"#, "not ollama's json"),
        ] {
            let err = decode_embed("ollama".into(), body, 2, None).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidResponse);
            assert!(err.to_string().contains(says), "{err}");
        }
    }
}
