//! The harness starts llm-katan, and it answers both wire formats the provider crates speak.

use std::time::Duration;

use llmux_e2e::Katan;
use llmux_e2e::http::{self, Response};
use serde_json::Value;

const TIMEOUT: Duration = Duration::from_secs(30);

fn json(response: &Response) -> Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", response.text()))
}

#[test]
fn answers_an_openai_chat_completion() {
    let katan = Katan::start();
    let body = r#"{"model":"katan-echo","messages":[{"role":"user","content":"hello from the openai side"}]}"#;
    let response = http::post_json(
        &katan.base_url(),
        "/v1/chat/completions",
        &[("Authorization", "Bearer test-key")],
        body,
        TIMEOUT,
    )
    .expect("request succeeds");

    assert_eq!(
        response.status,
        200,
        "{}\n{}",
        response.text(),
        katan.log_tail(20)
    );
    let value = json(&response);
    assert_eq!(value["object"], "chat.completion");
    assert_eq!(value["model"], Katan::MODEL);
    let choice = &value["choices"][0];
    assert_eq!(choice["message"]["role"], "assistant");
    let text = choice["message"]["content"]
        .as_str()
        .expect("content is a string");
    assert!(
        text.contains("hello from the openai side"),
        "the echo should repeat the prompt: {text}"
    );
    assert_eq!(choice["finish_reason"], "stop");
    assert!(
        value["usage"]["total_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{value}"
    );
}

#[test]
fn answers_an_anthropic_message() {
    let katan = Katan::start();
    let body = r#"{"model":"katan-echo","max_tokens":32,"messages":[{"role":"user","content":"hello from the anthropic side"}]}"#;
    let response = http::post_json(
        &katan.base_url(),
        "/v1/messages",
        &[
            ("x-api-key", "test-key"),
            ("anthropic-version", "2023-06-01"),
        ],
        body,
        TIMEOUT,
    )
    .expect("request succeeds");

    assert_eq!(
        response.status,
        200,
        "{}\n{}",
        response.text(),
        katan.log_tail(20)
    );
    let value = json(&response);
    assert_eq!(value["type"], "message");
    assert_eq!(value["role"], "assistant");
    let text = value["content"][0]["text"].as_str().expect("text block");
    assert!(
        text.contains("hello from the anthropic side"),
        "the echo should repeat the prompt: {text}"
    );
    assert_eq!(value["stop_reason"], "end_turn");
    assert!(
        value["usage"]["output_tokens"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "{value}"
    );
}

#[test]
fn builder_arguments_reach_the_server() {
    // Two instances at once, one with failure injection: each gets its own port and its own behaviour.
    let healthy = Katan::start();
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    assert_ne!(healthy.port(), failing.port());

    let body = r#"{"model":"katan-echo","messages":[{"role":"user","content":"hi"}]}"#;
    let auth = [("Authorization", "Bearer test-key")];
    let ok = http::post_json(
        &healthy.base_url(),
        "/v1/chat/completions",
        &auth,
        body,
        TIMEOUT,
    )
    .expect("request");
    let failed = http::post_json(
        &failing.base_url(),
        "/v1/chat/completions",
        &auth,
        body,
        TIMEOUT,
    )
    .expect("request");
    assert_eq!(ok.status, 200, "{}", ok.text());
    assert_eq!(
        failed.status,
        500,
        "--error-rate 1.0 must fail every request: {}",
        failed.text()
    );
}

#[test]
fn dropping_the_handle_stops_the_server() {
    let katan = Katan::start();
    let base_url = katan.base_url();
    assert_eq!(
        http::get(&base_url, "/health", TIMEOUT)
            .expect("health")
            .status,
        200
    );
    drop(katan);
    let after = http::get(&base_url, "/health", TIMEOUT);
    assert!(
        after.is_err(),
        "the server still answers after drop: {after:?}"
    );
}
