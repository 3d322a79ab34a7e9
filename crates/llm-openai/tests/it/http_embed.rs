//! `/embeddings` on the wire, against a local wiremock server: the exact request bodies (base64 for OpenAI,
//! float for a compatible server, dimensions), both encodings decoded, a call split into batches that are
//! joined in input order whatever order they finish in, and one failed batch failing the call with its
//! kind.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use llm_core::{EmbedRequest, Embedder, ErrorKind};
use llm_openai::{EMBED_TABLE, EmbedEncoding, OpenAi, OpenAiConfig};
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn b64(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    STANDARD.encode(bytes)
}

/// An answer giving input `i` of a request (whose inputs are `"t{n}"`) the vector `[n, n + 0.5]`, in the
/// request's encoding, listed in reverse index order (servers may list them in any order).
fn echo(request: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let base64 = body["encoding_format"] == "base64";
    let mut data: Vec<Value> = body["input"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, text)| {
            let n: f32 = text.as_str().unwrap()[1..].parse().unwrap();
            let vector = [n, n + 0.5];
            let embedding = if base64 {
                json!(b64(&vector))
            } else {
                json!(vector)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    data.reverse();
    ResponseTemplate::new(200).set_body_json(json!({
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": data.len(), "total_tokens": data.len()},
    }))
}

fn inputs(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i}")).collect()
}

#[tokio::test]
async fn openai_asks_for_base64_with_its_key_and_decodes_it() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(header("authorization", "Bearer sk-test"))
        .and(body_json(json!({
            "model": "text-embedding-3-small",
            "input": ["t0", "t1"],
            "encoding_format": "base64",
            "dimensions": 2,
        })))
        .respond_with(echo)
        .expect(1)
        .mount(&server)
        .await;
    let openai =
        OpenAi::new(OpenAiConfig::new("sk-test").base_url(format!("{}/v1", server.uri()))).unwrap();
    let request = EmbedRequest::new("text-embedding-3-small", inputs(2)).dimensions(2);
    let answer = openai.embed(&request).await.unwrap();
    assert_eq!(answer.vectors, [[0.0, 0.5], [1.0, 1.5]]);
    assert_eq!(answer.model, "text-embedding-3-small");
    assert_eq!(answer.provider, "openai");
    assert_eq!(answer.usage.unwrap().input_tokens, Some(2));
}

#[tokio::test]
async fn a_compatible_server_is_asked_for_floats() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_json(json!({
            "model": "bge-small",
            "input": ["t7"],
            "encoding_format": "float",
        })))
        .respond_with(echo)
        .expect(1)
        .mount(&server)
        .await;
    let vllm = OpenAi::new(OpenAiConfig::compatible(
        "vllm",
        format!("{}/v1", server.uri()),
    ))
    .unwrap();
    let answer = vllm
        .embed(&EmbedRequest::new("bge-small", ["t7"]))
        .await
        .unwrap();
    assert_eq!(answer.vectors, [[7.0, 7.5]]);
    let err = vllm
        .embed(&EmbedRequest::new("bge-small", ["t7"]).dimensions(2))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation, "nothing sent: {err}");
    assert_eq!(err.provider(), Some("vllm"));
}

#[tokio::test]
async fn inputs_beyond_the_batch_limit_are_split_and_joined_in_order() {
    for encoding in [EmbedEncoding::Float, EmbedEncoding::Base64] {
        let server = MockServer::start().await;
        // The first batch answers last: the join is by input order, not by arrival.
        Mock::given(method("POST"))
            .and(path("/v1/embeddings"))
            .and(body_json(json!({
                "model": "m",
                "input": ["t0", "t1"],
                "encoding_format": encoding.as_str(),
            })))
            .respond_with(move |r: &Request| echo(r).set_delay(Duration::from_millis(300)))
            .expect(1)
            .mount(&server)
            .await;
        for batch in [["t2", "t3"].as_slice(), &["t4"]] {
            Mock::given(method("POST"))
                .and(path("/v1/embeddings"))
                .and(body_json(json!({
                    "model": "m",
                    "input": batch,
                    "encoding_format": encoding.as_str(),
                })))
                .respond_with(echo)
                .expect(1)
                .mount(&server)
                .await;
        }
        let openai = OpenAi::new(
            OpenAiConfig::new("k")
                .base_url(format!("{}/v1", server.uri()))
                .embed_encoding(encoding)
                .embed_table(llm_core::EmbedTable {
                    max_batch: 2,
                    ..EMBED_TABLE
                }),
        )
        .unwrap();
        let answer = openai
            .embed(&EmbedRequest::new("m", inputs(5)))
            .await
            .unwrap();
        let firsts: Vec<f32> = answer.vectors.iter().map(|v| v[0]).collect();
        assert_eq!(firsts, [0.0, 1.0, 2.0, 3.0, 4.0], "{encoding:?}");
        assert_eq!(
            answer.usage.unwrap().input_tokens,
            Some(5),
            "usage summed over batches"
        );
    }
}

#[tokio::test]
async fn one_failed_batch_fails_the_call_with_its_kind() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_json(json!({"model": "m", "input": ["t2"], "encoding_format": "base64"})))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("retry-after", "3")
                .insert_header("x-request-id", "req-429")
                .set_body_json(json!({"error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}})),
        )
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(echo)
        .mount(&server)
        .await;
    let openai = OpenAi::new(
        OpenAiConfig::new("k")
            .base_url(format!("{}/v1", server.uri()))
            .embed_table(llm_core::EmbedTable {
                max_batch: 1,
                ..EMBED_TABLE
            })
            .embed_concurrency(1),
    )
    .unwrap();
    let err = openai
        .embed(&EmbedRequest::new("m", inputs(4)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.status(), Some(429));
    assert_eq!(err.retry_after(), Some(Duration::from_secs(3)));
    assert_eq!(err.request_id(), Some("req-429"));
    // With one batch in flight at a time, the batch after the failed one is never sent.
    let sent = server.received_requests().await.unwrap();
    assert_eq!(sent.len(), 3, "t0, t1, then t2 failed: t3 not sent");
}

#[tokio::test]
async fn a_body_of_the_wrong_shape_is_invalid_response() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "data": [{"index": 0, "embedding": [1.0, 2.0]}, {"index": 1, "embedding": [1.0]}],
        })))
        .mount(&server)
        .await;
    let openai =
        OpenAi::new(OpenAiConfig::new("k").base_url(format!("{}/v1", server.uri()))).unwrap();
    let err = openai
        .embed(&EmbedRequest::new("m", inputs(2)))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidResponse,
        "ragged widths: {err}"
    );
    let err = openai
        .embed(&EmbedRequest::new("m", inputs(3)))
        .await
        .unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::InvalidResponse,
        "a missing vector: {err}"
    );
}

#[tokio::test]
async fn embeddings_in_batches_cost_the_sum_of_their_batches() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(echo)
        .expect(4)
        .mount(&server)
        .await;
    // Three batches of the first call, one of the second. 1.5 dollars per million tokens: each batch's tokens at that price, summed exactly.
    let table = llm_core::PriceTable::from_toml(
        "[[price]]\nprovider = \"openai\"\nmodel = \"m\"\ninput = 1.5\noutput = 0\n",
    )
    .unwrap();
    let table: &'static llm_core::PriceTable = Box::leak(Box::new(table));
    let openai = OpenAi::new(
        OpenAiConfig::new("k")
            .base_url(format!("{}/v1", server.uri()))
            .pricing(llm_core::Pricing::Table(table, "openai"))
            .embed_table(llm_core::EmbedTable {
                max_batch: 2,
                ..EMBED_TABLE
            }),
    )
    .unwrap();
    let answer = openai
        .embed(&EmbedRequest::new("m", inputs(5)))
        .await
        .unwrap();
    let usage = answer.usage.unwrap();
    assert_eq!(usage.input_tokens, Some(5));
    assert_eq!(
        usage.cost,
        Some(llm_core::Cost::exact(
            llm_core::Usd::from_dollars(5.0 * 1.5 / 1e6).unwrap()
        ))
    );
    // A model without a price costs what is unknown, never 0.
    let unpriced = OpenAi::new(
        OpenAiConfig::new("k")
            .base_url(format!("{}/v1", server.uri()))
            .pricing(llm_core::Pricing::Unknown),
    )
    .unwrap();
    let answer = unpriced
        .embed(&EmbedRequest::new("m", inputs(1)))
        .await
        .unwrap();
    assert_eq!(answer.usage.unwrap().cost, None);
}
