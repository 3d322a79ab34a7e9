//! `/api/embed` on the wire, against a local wiremock server: the exact body (batch, `truncate: false`),
//! a call beyond the batch limit split and joined in order, errors classified with Ollama's table, and
//! settings Ollama cannot take refused before sending.

use llm_core::{EmbedRequest, Embedder, ErrorKind};
use llm_ollama::{EMBED_TABLE, Ollama, OllamaConfig};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

/// Gives each input `"t{n}"` the vector `[n, 1]`.
fn echo(request: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let embeddings: Vec<[f32; 2]> = body["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| [t.as_str().unwrap()[1..].parse().unwrap(), 1.0])
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({
        "model": body["model"],
        "embeddings": embeddings,
        "total_duration": 14143917,
        "prompt_eval_count": embeddings.len(),
    }))
}

fn client(server: &MockServer) -> Ollama {
    Ollama::new(OllamaConfig::default().base_url(server.uri())).unwrap()
}

#[tokio::test]
async fn a_batch_is_one_request_with_truncation_off() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/embed"))
        .and(body_json(
            json!({"model": "all-minilm", "input": ["t3", "t4"], "truncate": false}),
        ))
        .respond_with(echo)
        .expect(1)
        .mount(&server)
        .await;
    let answer = client(&server)
        .embed(&EmbedRequest::new("all-minilm", ["t3", "t4"]))
        .await
        .unwrap();
    assert_eq!(answer.vectors, [[3.0, 1.0], [4.0, 1.0]]);
    assert_eq!(answer.provider, "ollama");
    assert_eq!(answer.usage.unwrap().input_tokens, Some(2));
}

#[tokio::test]
async fn more_inputs_than_a_batch_are_split_and_joined_in_order() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/embed"))
        .respond_with(echo)
        .expect(2)
        .mount(&server)
        .await;
    let n = EMBED_TABLE.max_batch + 10;
    let inputs: Vec<String> = (0..n).map(|i| format!("t{i}")).collect();
    let answer = client(&server)
        .embed(&EmbedRequest::new("m", inputs))
        .await
        .unwrap();
    let firsts: Vec<f32> = answer.vectors.iter().map(|v| v[0]).collect();
    let expected: Vec<f32> = (0..n).map(|i| i as f32).collect();
    assert_eq!(firsts, expected);
    let sizes: Vec<usize> = server
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| {
            serde_json::from_slice::<Value>(&r.body).unwrap()["input"]
                .as_array()
                .unwrap()
                .len()
        })
        .collect();
    let mut sorted = sizes.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, [10, EMBED_TABLE.max_batch]);
}

#[tokio::test]
async fn a_missing_model_is_not_found_and_unsupported_settings_are_refused() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/embed"))
        .respond_with(ResponseTemplate::new(404).set_body_json(
            json!({"error": "model \"nomic-embed-text\" not found, try pulling it first"}),
        ))
        .expect(1)
        .mount(&server)
        .await;
    let ollama = client(&server);
    let err = ollama
        .embed(&EmbedRequest::new("nomic-embed-text", ["a"]))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound, "{err}");
    assert_eq!(err.status(), Some(404));
    let err = ollama
        .embed(
            &EmbedRequest::new("nomic-embed-text", ["a"])
                .dimensions(8)
                .kind(llm_core::InputKind::Query),
        )
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(params, ["dimensions", "kind"]);
}
