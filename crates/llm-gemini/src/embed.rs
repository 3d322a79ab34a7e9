//! Gemini's embeddings as pure code: one input is `POST …/models/{model}:embedContent`, a batch is
//! `:batchEmbedContents` (up to [`MAX_BATCH`] requests; the driver splits larger calls). The input kind
//! is the `taskType` (`RETRIEVAL_QUERY` / `RETRIEVAL_DOCUMENT`), dimensions are `outputDimensionality`.
//! Vertex AI's embeddings speak another API (`:predict`), so a Vertex configuration does not embed.

use llm_core::{EmbedRequest, EmbedResponse, EmbedTable, Error, ErrorKind, InputKind, MAX_INPUTS};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{self, Status};

/// The most inputs one `batchEmbedContents` request carries (the API's documented limit).
pub const MAX_BATCH: usize = 100;

/// What the Gemini API's embeddings take: batches of [`MAX_BATCH`], dimensions, the input kind.
pub const EMBED_TABLE: EmbedTable = EmbedTable {
    provider: crate::config::DEFAULT_NAME,
    max_batch: MAX_BATCH,
    max_inputs: MAX_INPUTS,
    max_input_bytes: None,
    dimensions: true,
    input_kind: true,
};

/// The method a batch of `inputs` inputs goes to.
pub fn embed_method(inputs: usize) -> &'static str {
    if inputs == 1 {
        "embedContent"
    } else {
        "batchEmbedContents"
    }
}

fn one(model: &str, request: &EmbedRequest, input: &str) -> Map<String, Value> {
    let mut item = Map::new();
    item.insert(
        "model".into(),
        Value::from(format!(
            "models/{}",
            model.strip_prefix("models/").unwrap_or(model)
        )),
    );
    item.insert("content".into(), json!({ "parts": [{ "text": input }] }));
    if let Some(kind) = request.kind {
        let task = match kind {
            InputKind::Query => "RETRIEVAL_QUERY",
            _ => "RETRIEVAL_DOCUMENT",
        };
        item.insert("taskType".into(), Value::from(task));
    }
    if let Some(d) = request.dimensions {
        item.insert("outputDimensionality".into(), Value::from(d));
    }
    item
}

/// The JSON body for `inputs` (one batch of `request`): an `embedContent` body for one input, else a
/// `batchEmbedContents` body.
///
/// # Errors
/// `validation` when the body cannot be serialized (it always can).
pub fn embed_body(
    provider: &str,
    request: &EmbedRequest,
    inputs: &[String],
) -> Result<Vec<u8>, Error> {
    let body = match inputs {
        [input] => Value::Object(one(&request.model, request, input)),
        _ => json!({
            "requests": inputs
                .iter()
                .map(|i| Value::Object(one(&request.model, request, i)))
                .collect::<Vec<_>>()
        }),
    };
    serde_json::to_vec(&body).map_err(|e| {
        Error::new(ErrorKind::Validation, "embed request is not serializable")
            .with_provider(provider.to_owned())
            .with_source(e)
    })
}

#[derive(Deserialize)]
struct Values {
    values: Vec<f32>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(default)]
    embedding: Option<Values>,
    #[serde(default)]
    embeddings: Option<Vec<Values>>,
    #[serde(default)]
    error: Option<Value>,
}

/// Decodes an `embedContent` or `batchEmbedContents` answer to a batch of `inputs` inputs. An error object
/// in a 200 body is the classified error; anything else that is not one vector per input is
/// `invalid_response`.
///
/// # Errors
/// As above.
pub fn decode_embed(
    provider: &str,
    model: &str,
    body: &[u8],
    inputs: usize,
    request_id: Option<String>,
) -> Result<EmbedResponse, Error> {
    let invalid = |what: &str| {
        error::invalid(provider, what.to_owned()).with_request_id_opt(request_id.clone())
    };
    let answer: Answer = match serde_json::from_slice(body) {
        Ok(answer) => answer,
        Err(e) => {
            // An error object stands even when the rest of the body is not an answer (read again only on
            // this path).
            let value = serde_json::from_slice::<Value>(body).ok();
            if let Some(status) = value.as_ref().and_then(Status::from_value) {
                return Err(error::from_status(provider, &status).with_request_id_opt(request_id));
            }
            return Err(invalid("undecodable embeddings answer").with_source(e));
        }
    };
    if let Some(status) = answer.error.as_ref().and_then(Status::from_error) {
        return Err(error::from_status(provider, &status).with_request_id_opt(request_id));
    }
    let vectors: Vec<Vec<f32>> = match (answer.embedding, answer.embeddings) {
        (Some(one), None) => vec![one.values],
        (None, Some(many)) => many.into_iter().map(|v| v.values).collect(),
        _ => {
            return Err(invalid(
                "embeddings answer has no `embedding` or `embeddings`",
            ));
        }
    };
    if vectors.len() != inputs {
        return Err(invalid(&format!(
            "{} embeddings answered {inputs} inputs",
            vectors.len()
        )));
    }
    let mut response = EmbedResponse::new(provider, model, vectors);
    response.request_id = request_id;
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_input_is_embed_content_and_more_a_batch() {
        let request = EmbedRequest::new("gemini-embedding-001", ["a", "b"])
            .dimensions(8)
            .kind(InputKind::Query);
        let one: Value =
            serde_json::from_slice(&embed_body("gemini", &request, &request.inputs[..1]).unwrap())
                .unwrap();
        assert_eq!(
            one,
            json!({"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]},
                   "taskType": "RETRIEVAL_QUERY", "outputDimensionality": 8})
        );
        let batch: Value =
            serde_json::from_slice(&embed_body("gemini", &request, &request.inputs).unwrap())
                .unwrap();
        assert_eq!(batch["requests"].as_array().unwrap().len(), 2);
        assert_eq!(batch["requests"][1]["content"]["parts"][0]["text"], "b");
        assert_eq!(embed_method(1), "embedContent");
        assert_eq!(embed_method(2), "batchEmbedContents");
    }

    #[test]
    fn answers_decode_and_a_wrong_count_is_invalid() {
        let one = decode_embed(
            "gemini",
            "m",
            br#"{"embedding":{"values":[0.5,1]}}"#,
            1,
            None,
        )
        .unwrap();
        assert_eq!(one.vectors, [vec![0.5, 1.0]]);
        let many = decode_embed(
            "gemini",
            "m",
            br#"{"embeddings":[{"values":[1]},{"values":[2]}]}"#,
            2,
            None,
        )
        .unwrap();
        assert_eq!(many.vectors, [vec![1.0], vec![2.0]]);
        for (body, n) in [
            (&br#"{"embeddings":[{"values":[1]}]}"#[..], 2),
            (b"{}", 1),
            (b"[", 1),
        ] {
            let e = decode_embed("gemini", "m", body, n, None).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::InvalidResponse);
        }
        let e = decode_embed(
            "gemini",
            "m",
            br#"{"error":{"code":429,"status":"RESOURCE_EXHAUSTED","message":"quota"}}"#,
            1,
            None,
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::RateLimited);
    }
}
