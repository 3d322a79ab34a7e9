//! `--provider openai-responses` through the real binary against a Responses-shaped wiremock server:
//! streamed and whole answers, the key from OPENAI_API_KEY, the help text, and a chain whose Responses
//! entry fails and falls back.

use crate::support::{Scratch, llmux, llmux_async, openai_stream, pairs, strings};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const KEY: &str = "sk-test-responses-0123456789";

/// A Responses API stream: `pieces` as text deltas, then `response.completed` with usage.
fn responses_stream(pieces: &[&str]) -> ResponseTemplate {
    let mut body = String::new();
    let mut push = |v: Value| {
        let kind = v["type"].as_str().unwrap_or_default().to_owned();
        body.push_str(&format!("event: {kind}\ndata: {v}\n\n"));
    };
    let response = |status: &str| json!({"id": "resp_cli", "object": "response", "model": "gpt-test", "status": status, "output": []});
    push(
        json!({"type": "response.created", "sequence_number": 0, "response": response("in_progress")}),
    );
    push(
        json!({"type": "response.output_item.added", "output_index": 0,
        "item": {"id": "msg_1", "type": "message", "role": "assistant", "content": []}}),
    );
    for p in pieces {
        push(
            json!({"type": "response.output_text.delta", "item_id": "msg_1", "output_index": 0,
            "content_index": 0, "delta": p}),
        );
    }
    let mut done = response("completed");
    done["usage"] = json!({"input_tokens": 5, "output_tokens": 2, "total_tokens": 7,
        "input_tokens_details": {"cached_tokens": 1}, "output_tokens_details": {"reasoning_tokens": 0}});
    push(json!({"type": "response.completed", "response": done}));
    ResponseTemplate::new(200)
        .insert_header("x-request-id", "req-resp")
        .set_body_raw(body, "text/event-stream")
}

fn responses_whole(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("x-request-id", "req-whole")
        .set_body_json(json!({
            "id": "resp_w", "object": "response", "model": "gpt-test", "status": "completed",
            "output": [{"id": "msg_1", "type": "message", "role": "assistant",
                        "content": [{"type": "output_text", "text": text, "annotations": []}]}],
            "usage": {"input_tokens": 5, "output_tokens": 3, "total_tokens": 8}
        }))
}

async fn chat(server: &MockServer, extra: &[&str]) -> crate::support::Run {
    let base = format!("{}/v1", server.uri());
    let mut args = strings(&[
        "chat",
        "--provider",
        "openai-responses",
        "--base-url",
        &base,
        "--model",
        "gpt-test",
    ]);
    args.extend(strings(extra));
    llmux_async(args, pairs(&[("OPENAI_API_KEY", KEY)]), None).await
}

fn sent(requests: &[wiremock::Request]) -> Vec<Value> {
    requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("request body is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_a_responses_answer_as_json_lines() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(header("authorization", format!("Bearer {KEY}").as_str()))
        .and(body_partial_json(
            json!({"model": "gpt-test", "stream": true, "store": false}),
        ))
        .respond_with(responses_stream(&["Hel", "lo"]))
        .expect(1)
        .mount(&server)
        .await;
    let run = chat(&server, &["--json", "--param", "max_tokens=32", "hi"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json_lines(),
        [
            json!({"type":"start","provider":"openai-responses","model":"gpt-test","request_id":"req-resp"}),
            json!({"type":"delta","text":"Hel"}),
            json!({"type":"delta","text":"lo"}),
            json!({"type":"attempt","entry":0,"provider":"openai-responses","model":"gpt-test","retry":0,"outcome":"ok",
                   "cost_usd":null}),
            json!({"type":"usage","input_tokens":5,"output_tokens":2,"total_tokens":7,"cache_read_input_tokens":1,
                   "cache_write_input_tokens":null,"reasoning_tokens":0,"cost_usd":null,"cost_estimated":false}),
            json!({"type":"finish","reason":"stop"}),
        ]
    );
    let body = &sent(&server.received_requests().await.unwrap_or_default())[0];
    assert_eq!(body["max_output_tokens"], 32);
    assert_eq!(
        body["input"],
        json!([{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}])
    );
    assert!(!run.stderr.contains(KEY));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_whole_answer_prints_its_text() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(body_partial_json(json!({"stream": false})))
        .respond_with(responses_whole("All at once."))
        .expect(1)
        .mount(&server)
        .await;
    let run = chat(&server, &["--no-stream", "hi"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "All at once.\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_setting_the_api_lacks_is_refused_before_sending() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(responses_whole("never"))
        .expect(0)
        .mount(&server)
        .await;
    let run = chat(&server, &["--json", "--param", "seed=7", "hi"]).await;
    assert_eq!(run.code, 3, "{run:?}");
    let errors = run.of_type("error");
    assert_eq!(errors[0]["kind"], "validation", "{run:?}");
    assert_eq!(
        errors[0]["violations"][0]["param"], "openai-responses[0].seed",
        "{run:?}"
    );
}

#[test]
fn the_key_comes_from_openai_api_key_and_the_provider_is_listed_in_help() {
    let run = llmux(&["chat", "--help"], &[], None);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(run.stdout.contains("openai-responses"), "{}", run.stdout);
    let run = llmux(
        &[
            "chat",
            "--provider",
            "openai-responses",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "hi",
        ],
        &[],
        None,
    );
    assert_ne!(run.code, 0, "{run:?}");
    assert!(run.stderr.contains("OPENAI_API_KEY"), "{run:?}");
}

/// A chain file whose first entry is the Responses API: it fails (503) and the chain falls back to the
/// Chat Completions entry, one attempt line each.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_responses_entry_falls_back_to_the_next() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({
            "error": {"message": "The engine is currently overloaded", "type": "server_error", "code": null}
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(openai_stream(&["fallback"]))
        .expect(1)
        .mount(&server)
        .await;
    let dir = Scratch::new("responses-chain");
    let file = dir.file(
        "chain.toml",
        &format!(
            "[[entry]]\nprovider = \"openai-responses\"\nmodel = \"gpt-first\"\nbase_url = \"{0}/v1\"\n\n\
             [[entry]]\nprovider = \"openai\"\nmodel = \"gpt-second\"\nbase_url = \"{0}/v1\"\n",
            server.uri()
        ),
    );
    let chain = file.to_str().expect("utf-8 path");
    let run = llmux_async(
        strings(&[
            "chat",
            "--json",
            "--max-retries",
            "0",
            "--chain",
            chain,
            "hi",
        ]),
        pairs(&[("OPENAI_API_KEY", KEY)]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let attempts = run.of_type("attempt");
    assert_eq!(attempts.len(), 2, "{run:?}");
    assert_eq!(attempts[0]["provider"], "openai-responses");
    assert_eq!(attempts[0]["model"], "gpt-first");
    assert_ne!(attempts[0]["outcome"], "ok");
    assert_eq!(attempts[1]["provider"], "openai");
    assert_eq!(attempts[1]["outcome"], "ok");
    let text: String = run
        .of_type("delta")
        .iter()
        .map(|d| d["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(text, "fallback");
}

/// A chain entry's `[entry.extra]` carries `previous_response_id` to the Responses API only, and its
/// `[entry.reasoning]` asks for an effort (and so for the reasoning back, encrypted).
#[tokio::test(flavor = "multi_thread")]
async fn entry_extra_and_reasoning_reach_the_responses_body() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(responses_stream(&["continued"]))
        .expect(1)
        .mount(&server)
        .await;
    let dir = Scratch::new("responses-extra");
    let file = dir.file(
        "chain.toml",
        &format!(
            "[[entry]]\nprovider = \"openai-responses\"\nmodel = \"o4-mini\"\nbase_url = \"{}/v1\"\n\
             [entry.extra]\nprevious_response_id = \"resp_earlier\"\n\
             [entry.reasoning]\neffort = \"low\"\n",
            server.uri()
        ),
    );
    let chain = file.to_str().expect("utf-8 path");
    let run = llmux_async(
        strings(&["chat", "--chain", chain, "and then?"]),
        pairs(&[("OPENAI_API_KEY", KEY)]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "continued\n");
    let body = &sent(&server.received_requests().await.unwrap_or_default())[0];
    assert_eq!(body["previous_response_id"], "resp_earlier");
    assert_eq!(
        body["reasoning"],
        json!({"effort": "low", "summary": "auto"})
    );
    assert_eq!(body["include"], json!(["reasoning.encrypted_content"]));
    assert_eq!(body["model"], "o4-mini");
}
