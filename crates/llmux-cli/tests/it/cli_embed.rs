//! `llmux embed`, the real binary: against an OpenAI-shaped wiremock server (the `--json` line contract,
//! texts from stdin, text mode, a chain file falling back within one declared space, errors) and against
//! the real llama-server started by the default chain with embeddings on.

use crate::support::{Scratch, llmux, llmux_async, pairs, strings};
use llmux_e2e::LlamaServer;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "sk-test-0123456789";

/// Gives input `i` the vector `[i, 0.5, -2]`, as float JSON (the request's encoding is checked by the
/// tests that need it).
fn vectors(request: &Request) -> ResponseTemplate {
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    let n = body["input"].as_array().unwrap().len();
    let data: Vec<Value> = (0..n)
        .map(|i| json!({"object":"embedding","index":i,"embedding":[i as f32, 0.5, -2.0]}))
        .collect();
    ResponseTemplate::new(200).set_body_json(json!({
        "object":"list","data":data,"model":body["model"],"usage":{"prompt_tokens":n,"total_tokens":n}
    }))
}

async fn embed(server: &MockServer, extra: &[&str], stdin: Option<&str>) -> crate::support::Run {
    let mut args = strings(&[
        "embed",
        "--provider",
        "llamacpp",
        "--base-url",
        &server.uri(),
    ]);
    args.extend(strings(extra));
    llmux_async(args, pairs(&[]), stdin.map(str::to_owned)).await
}

async fn llama_like() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .respond_with(vectors)
        .mount(&server)
        .await;
    server
}

#[tokio::test(flavor = "multi_thread")]
async fn json_prints_exactly_one_line_per_input_in_order_then_the_usage() {
    let server = llama_like().await;
    let run = embed(&server, &["--json", "first", "second"], None).await;
    assert_eq!(run.code, 0, "{run:?}");
    let (vectors, usage) = run
        .stdout
        .split_at(run.stdout.find("{\"cache").expect("a usage line"));
    assert_eq!(
        vectors,
        "{\"type\":\"embedding\",\"index\":0,\"dims\":3,\"vector\":[0.0,0.5,-2.0]}\n\
         {\"type\":\"embedding\",\"index\":1,\"dims\":3,\"vector\":[1.0,0.5,-2.0]}\n"
    );
    let usage: Value = serde_json::from_str(usage.trim_end()).expect("one JSON line");
    assert_eq!(
        usage,
        json!({"type":"usage","input_tokens":2,"output_tokens":null,"total_tokens":2,"cache_read_input_tokens":null,
               "cache_write_input_tokens":null,"reasoning_tokens":null,"cost_usd":0.0,"cost_estimated":false}),
        "a local server costs nothing"
    );
    let sent: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(
        sent,
        json!({"model":"default","input":["first","second"],"encoding_format":"float"})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn texts_come_one_per_stdin_line_and_text_mode_shows_dims_and_first_values() {
    let server = llama_like().await;
    let run = embed(&server, &[], Some("one\r\ntwo\nthree\n")).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.stdout,
        "0: 3 dims [0.000000, 0.500000, -2.000000]\n\
         1: 3 dims [1.000000, 0.500000, -2.000000]\n\
         2: 3 dims [2.000000, 0.500000, -2.000000]\n"
    );
    let sent: Value =
        serde_json::from_slice(&server.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(sent["input"], json!(["one", "two", "three"]));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_empty_line_and_an_unsupported_setting_are_validation_errors() {
    let server = llama_like().await;
    let run = embed(&server, &["--json"], Some("one\n\nthree\n")).await;
    assert_eq!(run.code, 3, "{run:?}");
    let error = &run.of_type("error")[0];
    assert_eq!(error["kind"], "validation");
    assert_eq!(error["violations"][0]["param"], "llamacpp[0].inputs[1]");
    let run = embed(&server, &["--json", "--dimensions", "8", "x"], None).await;
    assert_eq!(run.code, 3, "{run:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn openai_is_asked_for_base64_and_claude_cannot_embed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/embeddings"))
        .and(body_json(
            json!({"model":"text-embedding-3-small","input":["x"],"encoding_format":"base64"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            // [1.0, -0.5] as little-endian f32s
            "data":[{"index":0,"embedding":"AACAPwAAAL8="}],"model":"text-embedding-3-small"
        })))
        .expect(1)
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let run = llmux_async(
        strings(&[
            "embed",
            "--provider",
            "openai",
            "--base-url",
            &base,
            "--json",
            "x",
        ]),
        pairs(&[("OPENAI_API_KEY", KEY)]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let lines = run.json_lines();
    assert_eq!(
        lines[0],
        json!({"type":"embedding","index":0,"dims":2,"vector":[1.0,-0.5]})
    );
    // No usage came back: the input's estimate (1 token) at the shipped $0.02 per million.
    assert_eq!(lines[1]["type"], "usage");
    assert_eq!(lines[1]["cost_usd"], json!(0.00000002));
    assert_eq!(lines[1]["cost_estimated"], true);
    assert!(!run.stderr.contains(KEY));
    let run = llmux(
        &["embed", "--provider", "claude", "x"],
        &[("ANTHROPIC_API_KEY", KEY)],
        None,
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("no embeddings"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_file_falls_back_within_its_declared_space_and_refuses_two_spaces() {
    let down = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).set_body_json(json!({"error":{"message":"busy"}})))
        .mount(&down)
        .await;
    let up = llama_like().await;
    let scratch = Scratch::new("embed-chain");
    let chain = scratch.file(
        "chain.toml",
        &format!(
            "[[entry]]\nprovider = \"llamacpp\"\nmodel = \"smol\"\nbase_url = \"{}\"\nspace = \"smol-v1\"\n\n\
             [[entry]]\nprovider = \"llamacpp\"\nmodel = \"chat\"\nembed_model = \"smol-copy\"\nbase_url = \"{}\"\nspace = \"smol-v1\"\n",
            down.uri(),
            up.uri()
        ),
    );
    let run = llmux_async(
        strings(&[
            "embed",
            "--chain",
            chain.to_str().unwrap(),
            "--max-retries",
            "0",
            "--json",
            "x",
        ]),
        pairs(&[]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.of_type("embedding").len(),
        1,
        "no attempt lines: one line per input"
    );
    assert_eq!(run.json_lines().len(), 2, "and the usage");
    let sent: Value =
        serde_json::from_slice(&up.received_requests().await.unwrap()[0].body).unwrap();
    assert_eq!(
        sent["model"], "smol-copy",
        "the entry's embed_model is asked for"
    );

    let text = llmux_async(
        strings(&[
            "embed",
            "--chain",
            chain.to_str().unwrap(),
            "--max-retries",
            "0",
            "x",
        ]),
        pairs(&[]),
        None,
    )
    .await;
    assert_eq!(text.code, 0, "{text:?}");
    assert!(text.stdout.starts_with("0: 3 dims"), "{text:?}");
    assert!(
        text.stderr.contains("llamacpp (smol) failed"),
        "text mode notes the fallback: {text:?}"
    );

    let two = scratch.file(
        "two.toml",
        &format!(
            "[[entry]]\nprovider = \"llamacpp\"\nmodel = \"a\"\nbase_url = \"{}\"\n\n\
             [[entry]]\nprovider = \"llamacpp\"\nmodel = \"b\"\nbase_url = \"{}\"\n",
            down.uri(),
            up.uri()
        ),
    );
    let run = llmux(&["embed", "--chain", two.to_str().unwrap(), "x"], &[], None);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("space"), "{run:?}");
}

#[test]
fn the_default_embeds_offline_with_a_local_llama_server() {
    let binary = LlamaServer::binary_path().display().to_string();
    let model = LlamaServer::model_path().display().to_string();
    let run = llmux(
        &[
            "embed",
            "--json",
            "The cat sat on the mat.",
            "Bonjour",
            "The cat sat on the mat.",
        ],
        &[
            ("LLMUX_LLAMA_SERVER_BIN", &binary),
            ("LLMUX_LOCAL_MODEL", &model),
        ],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    let lines = run.of_type("embedding");
    assert_eq!(lines.len(), 3);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["type"], "embedding");
        assert_eq!(line["index"], i);
        assert_eq!(line["dims"], 576);
        assert_eq!(line["vector"].as_array().unwrap().len(), 576);
    }
    assert_eq!(
        lines[0]["vector"], lines[2]["vector"],
        "the same text twice"
    );
    assert_ne!(lines[0]["vector"], lines[1]["vector"], "different texts");
}
