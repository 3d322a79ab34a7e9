//! The real binary against an OpenAI-shaped wiremock server: JSON lines, exit codes, retries, parameters,
//! stdin, chain files and the attempt lines of a fallback.

use crate::support::{
    Scratch, llmux_async, openai_error, openai_stream, openai_whole, pairs, strings,
};
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer};

const KEY: &str = "sk-test-0123456789";

async fn chat(server: &MockServer, extra: &[&str], stdin: Option<&str>) -> crate::support::Run {
    let base = format!("{}/v1", server.uri());
    let mut args = strings(&[
        "chat",
        "--provider",
        "openai",
        "--base-url",
        &base,
        "--model",
        "gpt-test",
    ]);
    args.extend(strings(extra));
    llmux_async(
        args,
        pairs(&[("OPENAI_API_KEY", KEY)]),
        stdin.map(str::to_owned),
    )
    .await
}

fn sent_bodies(requests: &[wiremock::Request]) -> Vec<Value> {
    requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("request body is JSON"))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn streams_json_lines_in_order() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(openai_stream(&["Hel", "lo"]))
        .expect(1)
        .mount(&server)
        .await;
    // Priced by a --prices file: 5 tokens in at $1 and 2 out at $2 per million.
    let dir = Scratch::new("openai-prices");
    let prices = dir.file(
        "prices.toml",
        "[[price]]\nprovider = \"openai\"\nmodel = \"gpt-test\"\ninput = 1\noutput = 2\n",
    );
    let prices = prices.to_str().expect("utf-8 path");
    let run = chat(&server, &["--json", "--prices", prices, "hi"], None).await;
    assert_eq!(run.code, 0, "{run:?}");
    // A streamed attempt's line comes when its stream ends, with its cost.
    assert_eq!(
        run.json_lines(),
        [
            json!({"type":"start","provider":"openai","model":"gpt-test","request_id":"req-123"}),
            json!({"type":"delta","text":"Hel"}),
            json!({"type":"delta","text":"lo"}),
            json!({"type":"attempt","entry":0,"provider":"openai","model":"gpt-test","retry":0,"outcome":"ok",
                   "cost_usd":0.000009}),
            json!({"type":"usage","input_tokens":5,"output_tokens":2,"total_tokens":7,"cache_read_input_tokens":null,
                   "cache_write_input_tokens":null,"reasoning_tokens":null,"cost_usd":0.000009,"cost_estimated":false}),
            json!({"type":"finish","reason":"stop"}),
        ]
    );
    assert!(
        run.stderr.is_empty(),
        "a known price is not remarked on: {run:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn text_mode_prints_only_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_stream(&["Hel", "lo"]))
        .mount(&server)
        .await;
    let run = chat(&server, &["hi"], None).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "Hello\n");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_stream_prints_one_delta_with_the_whole_text() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_whole("All at once."))
        .expect(1)
        .mount(&server)
        .await;
    let run = chat(&server, &["--json", "--no-stream", "hi"], None).await;
    assert_eq!(run.code, 0, "{run:?}");
    let lines = run.json_lines();
    assert_eq!(lines[0]["type"], "attempt");
    assert_eq!(
        lines[1..],
        [
            json!({"type":"start","provider":"openai","model":"gpt-test","request_id":"req-456"}),
            json!({"type":"delta","text":"All at once."}),
            json!({"type":"usage","input_tokens":5,"output_tokens":3,"total_tokens":8,"cache_read_input_tokens":null,
                   "cache_write_input_tokens":null,"reasoning_tokens":null,"cost_usd":null,"cost_estimated":false}),
            json!({"type":"finish","reason":"stop"}),
        ]
    );
    assert!(
        run.stderr
            .contains("no price is known for openai model `gpt-test`"),
        "an unknown price is said on stderr: {run:?}"
    );
    let sent = sent_bodies(&server.received_requests().await.unwrap_or_default());
    assert_eq!(sent[0]["stream"], json!(false), "{}", sent[0]);
}

/// Each failure class ends with its exit code, one attempt line per request and a final error line.
#[tokio::test(flavor = "multi_thread")]
async fn exit_codes_follow_the_error_class() {
    let cases = [
        (401, "invalid_request_error", "invalid_api_key", "auth", 4),
        (
            403,
            "invalid_request_error",
            "unsupported_country",
            "permission",
            4,
        ),
        (
            429,
            "insufficient_quota",
            "insufficient_quota",
            "quota_exhausted",
            5,
        ),
        (429, "requests", "rate_limit_exceeded", "rate_limited", 5),
        (500, "server_error", "internal", "server", 6),
        (
            404,
            "invalid_request_error",
            "model_not_found",
            "not_found",
            1,
        ),
        (400, "invalid_request_error", "bad", "bad_request", 1),
    ];
    for (status, kind, code, expected_kind, exit) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(openai_error(status, kind, code))
            .expect(1)
            .mount(&server)
            .await;
        let run = chat(&server, &["--json", "--max-retries", "0", "hi"], None).await;
        assert_eq!(run.code, exit, "{status} {code}: {run:?}");
        let lines = run.json_lines();
        assert_eq!(lines.len(), 2, "{run:?}");
        assert_eq!(
            lines[0],
            json!({"type":"attempt","entry":0,"provider":"openai","model":"gpt-test","retry":0,"outcome":expected_kind,
                   "cost_usd":0.0})
        );
        let error = &lines[1];
        assert_eq!(error["type"], "error");
        assert_eq!(error["kind"], expected_kind);
        assert_eq!(error["status"], status);
        assert_eq!(error["provider"], "openai");
        assert!(
            error["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{error}"
        );
        assert!(!run.stdout.contains(KEY));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn max_retries_counts_retries_per_entry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_error(500, "server_error", "internal"))
        .expect(2)
        .mount(&server)
        .await;
    let run = chat(&server, &["--json", "--max-retries", "1", "hi"], None).await;
    assert_eq!(run.code, 6, "{run:?}");
    let retries: Vec<Value> = run
        .of_type("attempt")
        .iter()
        .map(|a| a["retry"].clone())
        .collect();
    assert_eq!(retries, [json!(0), json!(1)]);
    assert_eq!(run.of_type("error")[0]["retryable"], json!(true));
}

#[tokio::test(flavor = "multi_thread")]
async fn params_are_json_when_they_parse_else_strings() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_stream(&["ok"]))
        .expect(2)
        .mount(&server)
        .await;
    let first = chat(
        &server,
        &[
            "--param",
            "stop=END",
            "--param",
            "temperature=0.25",
            "--param",
            "max_tokens=12",
            "hi",
        ],
        None,
    )
    .await;
    assert_eq!(first.code, 0, "{first:?}");
    let second = chat(
        &server,
        &[
            "--param",
            r#"stop=["a","b"]"#,
            "--system",
            "Be brief.",
            "hi",
        ],
        None,
    )
    .await;
    assert_eq!(second.code, 0, "{second:?}");
    let sent = sent_bodies(&server.received_requests().await.unwrap_or_default());
    assert_eq!(sent[0]["stop"], json!(["END"]));
    assert_eq!(sent[0]["temperature"], json!(0.25));
    assert_eq!(sent[0]["max_completion_tokens"], json!(12));
    assert_eq!(sent[1]["stop"], json!(["a", "b"]));
    assert_eq!(
        sent[1]["messages"][0],
        json!({"role":"system","content":"Be brief."})
    );
    assert_eq!(sent[1]["model"], json!("gpt-test"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_violation_is_listed_at_once_and_nothing_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_stream(&["never"]))
        .expect(0)
        .mount(&server)
        .await;
    let run = chat(
        &server,
        &[
            "--json",
            "--param",
            "temperature=9",
            "--param",
            "colour=red",
            "--param",
            "max_tokens=many",
            "hi",
        ],
        None,
    )
    .await;
    assert_eq!(run.code, 3, "{run:?}");
    let errors = run.of_type("error");
    assert_eq!(errors.len(), 1, "{run:?}");
    assert_eq!(errors[0]["kind"], "validation");
    let mut params: Vec<String> = errors[0]["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| v["param"].as_str().unwrap_or_default().to_owned())
        .collect();
    params.sort();
    assert_eq!(params, ["colour", "max_tokens", "openai[0].temperature"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_range_violation_alone_is_reported_by_the_chain() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_stream(&["never"]))
        .expect(0)
        .mount(&server)
        .await;
    let run = chat(&server, &["--json", "--param", "top_p=2", "hi"], None).await;
    assert_eq!(run.code, 3, "{run:?}");
    assert_eq!(run.of_type("attempt")[0]["outcome"], "validation");
    let error = &run.of_type("error")[0];
    assert_eq!(error["violations"][0]["param"], "openai[0].top_p");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_prompt_comes_from_stdin_when_absent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_stream(&["ok"]))
        .expect(1)
        .mount(&server)
        .await;
    let run = chat(&server, &[], Some("a prompt\nfrom stdin\n")).await;
    assert_eq!(run.code, 0, "{run:?}");
    let sent = sent_bodies(&server.received_requests().await.unwrap_or_default());
    assert_eq!(
        sent[0]["messages"],
        json!([{"role":"user","content":"a prompt\nfrom stdin"}])
    );
    let empty = chat(&server, &[], Some("\n")).await;
    assert_eq!(empty.code, 2, "{empty:?}");
    assert!(empty.stderr.contains("no prompt"), "{empty:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn timeouts_end_a_slow_answer_with_exit_6() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(openai_stream(&["late"]).set_delay(std::time::Duration::from_secs(5)))
        .mount(&server)
        .await;
    for flag in ["--timeout", "--first-byte-timeout"] {
        let started = std::time::Instant::now();
        let run = chat(
            &server,
            &["--json", "--max-retries", "0", flag, "300ms", "hi"],
            None,
        )
        .await;
        assert_eq!(run.code, 6, "{flag}: {run:?}");
        assert_eq!(
            run.of_type("error")[0]["kind"],
            "timeout",
            "{flag}: {run:?}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(4),
            "{flag} took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn ollama_and_llamacpp_take_their_base_url_from_the_flag() {
    let server = MockServer::start().await;
    let ndjson = concat!(
        r#"{"model":"m","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":"Hi"},"done":false}"#,
        "\n",
        r#"{"model":"m","created_at":"2026-01-01T00:00:00Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":1}"#,
        "\n"
    );
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_raw(ndjson, "application/x-ndjson"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(openai_stream(&["from llama.cpp"]))
        .expect(1)
        .mount(&server)
        .await;
    let uri = server.uri();
    let ollama = llmux_async(
        strings(&[
            "chat",
            "--json",
            "--provider",
            "ollama",
            "--base-url",
            &uri,
            "--model",
            "m",
            "hi",
        ]),
        Vec::new(),
        None,
    )
    .await;
    assert_eq!(ollama.code, 0, "{ollama:?}");
    assert_eq!(
        ollama.of_type("delta"),
        [json!({"type":"delta","text":"Hi"})]
    );
    assert_eq!(
        ollama.of_type("usage"),
        [
            json!({"type":"usage","input_tokens":3,"output_tokens":1,"total_tokens":4,"cache_read_input_tokens":null,
                   "cache_write_input_tokens":null,"reasoning_tokens":null,"cost_usd":0.0,"cost_estimated":false})
        ]
    );
    let llamacpp = llmux_async(
        strings(&["chat", "--json", "--provider", "llamacpp", "hi"]),
        pairs(&[("LLAMA_SERVER_URL", &uri)]),
        None,
    )
    .await;
    assert_eq!(llamacpp.code, 0, "{llamacpp:?}");
    assert_eq!(llamacpp.of_type("start")[0]["provider"], "llamacpp");
    assert_eq!(llamacpp.of_type("delta")[0]["text"], "from llama.cpp");
}
