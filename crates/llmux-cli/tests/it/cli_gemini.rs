//! The real binary with `--provider gemini` and `provider = "gemini"` chain entries against a
//! Gemini-shaped wiremock server: the host as `--base-url`, the key from `GEMINI_API_KEY` in
//! `x-goog-api-key`, streamed JSON lines, a missing key named, a fallback from a failing Gemini entry.

use crate::support::{Scratch, llmux, llmux_async, openai_stream, pairs, strings};
use serde_json::json;
use wiremock::matchers::{header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "AIza-cli-test-0123";

fn gemini_stream(texts: &[&str]) -> ResponseTemplate {
    let mut body = String::new();
    for (i, text) in texts.iter().enumerate() {
        let mut chunk = json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}],
            "modelVersion": "gemini-2.5-flash", "responseId": "resp-cli"
        });
        if i + 1 == texts.len() {
            chunk["candidates"][0]["finishReason"] = json!("STOP");
            chunk["usageMetadata"] =
                json!({"promptTokenCount": 3, "candidatesTokenCount": 2, "totalTokenCount": 5});
        }
        body.push_str(&format!("data: {chunk}\r\n\r\n"));
    }
    ResponseTemplate::new(200).set_body_raw(body, "text/event-stream")
}

#[tokio::test(flavor = "multi_thread")]
async fn chat_streams_from_the_model_url_with_the_key_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        ))
        .and(query_param("alt", "sse"))
        .and(header("x-goog-api-key", KEY))
        .and(|req: &Request| !req.url.as_str().contains(KEY))
        .respond_with(gemini_stream(&["Bon", "jour"]))
        .expect(1)
        .mount(&server)
        .await;
    let run = llmux_async(
        strings(&[
            "chat",
            "--provider",
            "gemini",
            "--base-url",
            &server.uri(),
            "--json",
            "hi",
        ]),
        pairs(&[("GEMINI_API_KEY", KEY)]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let mut attempts = run.of_type("attempt");
    assert_eq!(attempts.len(), 1, "{run:?}");
    // Priced from the shipped table (whatever its row says today): a number above 0, not null.
    let cost = attempts[0]["cost_usd"].take();
    assert!(cost.as_f64().is_some_and(|c| c > 0.0), "{cost}");
    assert_eq!(
        attempts,
        [
            json!({"type":"attempt","entry":0,"provider":"gemini","model":"gemini-2.5-flash","retry":0,"outcome":"ok",
                "cost_usd":null})
        ]
    );
    let text: String = run
        .of_type("delta")
        .iter()
        .map(|d| d["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(text, "Bonjour");
    assert_eq!(
        run.of_type("finish"),
        [json!({"type":"finish","reason":"stop"})]
    );
    assert!(!run.stdout.contains(KEY) && !run.stderr.contains(KEY));
    let sent: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap_or_default()[0].body)
            .expect("JSON body");
    assert_eq!(
        sent["contents"],
        json!([{"role": "user", "parts": [{"text": "hi"}]}])
    );
}

#[test]
fn a_missing_key_names_the_variable_and_help_lists_gemini() {
    let run = llmux(&["chat", "--provider", "gemini", "hi"], &[], None);
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("GEMINI_API_KEY"), "{run:?}");
    let help = llmux(&["chat", "--help"], &[], None);
    assert_eq!(help.code, 0, "{help:?}");
    assert!(help.stdout.contains("gemini"), "{}", help.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_falls_back_from_an_overloaded_gemini_entry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-2.5-pro:streamGenerateContent"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"error": {
            "code": 503, "message": "The model is overloaded. Please try again later.", "status": "UNAVAILABLE"
        }})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(openai_stream(&["fallback ", "answer"]))
        .expect(1)
        .mount(&server)
        .await;
    let dir = Scratch::new("gemini-chain");
    let file = dir.file(
        "chain.toml",
        &format!(
            "[[entry]]\nprovider = \"gemini\"\nmodel = \"gemini-2.5-pro\"\nbase_url = \"{0}\"\n\n\
             [[entry]]\nprovider = \"openai\"\nmodel = \"second\"\nbase_url = \"{0}/v1\"\n",
            server.uri()
        ),
    );
    let run = llmux_async(
        strings(&[
            "chat",
            "--json",
            "--chain",
            file.to_str().expect("utf-8"),
            "hi",
        ]),
        pairs(&[("GEMINI_API_KEY", KEY), ("OPENAI_API_KEY", "sk-other")]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let attempts = run.of_type("attempt");
    assert_eq!(
        attempts.first().map(|a| a["provider"].clone()),
        Some(json!("gemini"))
    );
    assert!(
        attempts
            .iter()
            .any(|a| a["provider"] == "gemini" && a["outcome"] == "overloaded"),
        "{attempts:?}"
    );
    assert_eq!(
        attempts.last(),
        Some(
            &json!({"type":"attempt","entry":1,"provider":"openai","model":"second","retry":0,"outcome":"ok",
                    "cost_usd":null})
        )
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn embed_asks_batch_embed_contents_for_the_default_model() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/v1beta/models/gemini-embedding-001:batchEmbedContents",
        ))
        .and(header("x-goog-api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "embeddings": [{"values": [0.25, 0.5, 0.75]}, {"values": [1.0, 0.0, -1.0]}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    let run = llmux_async(
        strings(&[
            "embed",
            "--provider",
            "gemini",
            "--base-url",
            &server.uri(),
            "--json",
            "first text",
            "second text",
        ]),
        pairs(&[("GEMINI_API_KEY", KEY)]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let lines = run.of_type("embedding");
    assert_eq!(lines.len(), 2, "{run:?}");
    assert_eq!(lines[0]["dims"], 3);
    assert_eq!(lines[1]["vector"], json!([1.0, 0.0, -1.0]));
    let sent: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap_or_default()[0].body)
            .expect("JSON body");
    assert_eq!(
        sent["requests"][1]["content"]["parts"][0]["text"],
        "second text"
    );
    assert_eq!(sent["requests"][0]["model"], "models/gemini-embedding-001");
}

#[test]
fn with_its_key_set_gemini_joins_the_default_chain() {
    let run = llmux(&["providers"], &[("GEMINI_API_KEY", KEY)], None);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("gemini"), "{}", run.stdout);
    assert!(run.stdout.contains("gemini-2.5-flash"), "{}", run.stdout);
    assert!(
        !run.stdout.contains(KEY) && !run.stderr.contains(KEY),
        "{run:?}"
    );
}
