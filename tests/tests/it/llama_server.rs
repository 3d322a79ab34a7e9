//! The harness starts llama-server with the cached SmolLM2 model, and it generates real tokens.

use std::time::Duration;

use llmux_e2e::LlamaServer;
use llmux_e2e::http;
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn cached_files_exist() {
    assert!(LlamaServer::binary_path().is_file());
    let model = LlamaServer::model_path();
    assert!(
        model.extension().is_some_and(|e| e == "gguf"),
        "{}",
        model.display()
    );
    assert!(model.metadata().expect("model metadata").len() > 50_000_000);
}

#[test]
fn health_and_a_short_chat_completion() {
    let server = LlamaServer::start();
    let health = http::get(&server.base_url(), "/health", TIMEOUT).expect("health request");
    assert_eq!(health.status, 200, "{}", health.text());

    // A prompt whose answer is far longer than 4 tokens, so the limit is what stops it.
    let body = r#"{"messages":[{"role":"user","content":"Count from one to twenty in words."}],
                   "max_tokens":4,"temperature":0}"#;
    let response = http::post_json(
        &server.base_url(),
        "/v1/chat/completions",
        &[],
        body,
        TIMEOUT,
    )
    .expect("chat request");
    assert_eq!(
        response.status,
        200,
        "{}\n{}",
        response.text(),
        server.log_tail(20)
    );

    let value: Value = serde_json::from_slice(&response.body).expect("JSON body");
    let choice = &value["choices"][0];
    let text = choice["message"]["content"]
        .as_str()
        .expect("content is a string");
    assert!(!text.is_empty(), "{value}");
    assert_eq!(choice["finish_reason"], "length", "{value}");
    assert_eq!(value["usage"]["completion_tokens"], 4, "{value}");
    assert!(
        value["usage"]["prompt_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{value}"
    );
}
