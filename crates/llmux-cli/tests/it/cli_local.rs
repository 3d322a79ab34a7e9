//! The main job: on a machine with no key and no server configured, the default chain ends in the managed
//! llama-server running SmolLM2-135M-Instruct, so `llmux chat` answers offline.

use crate::support::llmux;
use llmux_e2e::LlamaServer;
use serde_json::json;

/// A clean environment (no keys, no servers) pointing at the cached llama-server and model.
fn local_env() -> Vec<(&'static str, String)> {
    vec![
        (
            "LLMUX_LLAMA_SERVER_BIN",
            LlamaServer::binary_path().display().to_string(),
        ),
        (
            "LLMUX_LOCAL_MODEL",
            LlamaServer::model_path().display().to_string(),
        ),
    ]
}

fn run(args: &[&str], extra: &[(&'static str, &str)]) -> crate::support::Run {
    let env = local_env();
    let mut pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    pairs.extend_from_slice(extra);
    llmux(args, &pairs, None)
}

#[test]
fn the_default_chain_answers_offline_through_the_managed_server() {
    let run = run(
        &[
            "chat",
            "--json",
            "--param",
            "max_tokens=8",
            "Why is the sky blue?",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.of_type("attempt"),
        [
            json!({"type":"attempt","entry":0,"provider":"llamacpp","model":"SmolLM2-135M-Instruct","retry":0,"outcome":"ok",
                   "cost_usd":0.0})
        ]
    );
    assert_eq!(run.of_type("start")[0]["provider"], "llamacpp");
    let deltas = run.of_type("delta");
    assert!(!deltas.is_empty(), "{run:?}");
    let usage = &run.of_type("usage")[0];
    assert_eq!(usage["output_tokens"], 8, "{run:?}");
    assert_eq!(
        usage["cost_usd"], 0.0,
        "a local model costs nothing: {run:?}"
    );
    assert!(
        usage["input_tokens"].as_u64().is_some_and(|n| n > 0),
        "{run:?}"
    );
    assert_eq!(
        run.of_type("finish"),
        [json!({"type":"finish","reason":"length"})]
    );
    assert!(run.of_type("error").is_empty());
}

#[test]
fn text_mode_and_no_stream_answer_too() {
    let text = run(&["chat", "--param", "max_tokens=8", "Say hello."], &[]);
    assert_eq!(text.code, 0, "{text:?}");
    assert!(
        text.stdout.ends_with('\n') && text.stdout.trim().len() > 1,
        "{text:?}"
    );

    let whole = run(
        &[
            "chat",
            "--json",
            "--no-stream",
            "--param",
            "max_tokens=8",
            "Say hello.",
        ],
        &[],
    );
    assert_eq!(whole.code, 0, "{whole:?}");
    assert_eq!(whole.of_type("delta").len(), 1, "{whole:?}");
    assert_eq!(whole.of_type("finish")[0]["reason"], "length");
}

/// A configured server that does not answer comes first in the default chain: its `network` failure is an
/// attempt (with `--max-retries 0`, exactly one), then the managed server answers.
#[test]
fn a_configured_server_that_is_down_falls_back_to_the_local_default() {
    let run = run(
        &[
            "chat",
            "--json",
            "--max-retries",
            "0",
            "--param",
            "max_tokens=4",
            "hi",
        ],
        &[("LLAMA_SERVER_URL", "http://127.0.0.1:9")],
    );
    assert_eq!(run.code, 0, "{run:?}");
    let outcomes: Vec<(u64, String)> = run
        .of_type("attempt")
        .iter()
        .map(|a| {
            (
                a["entry"].as_u64().unwrap_or(99),
                a["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(outcomes, [(0, "network".to_owned()), (1, "ok".to_owned())]);
    assert_eq!(run.of_type("finish").len(), 1);
}

#[test]
fn health_starts_the_local_default_and_reports_it_reachable() {
    let run = run(&["health"], &[]);
    assert_eq!(run.code, 0, "{run:?}");
    let row: Vec<&str> = run
        .stdout
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        row[..4],
        ["0", "llamacpp", "SmolLM2-135M-Instruct", "yes"],
        "{run:?}"
    );
}

#[test]
fn tools_reach_a_real_llama_server_and_its_call_is_a_tool_call_line() {
    let server = LlamaServer::builder().tool_calls().start();
    let dir = crate::support::Scratch::new("llama-tools");
    let tools = dir.file(
        "tools.json",
        r#"[{"name": "get_weather", "description": "The weather forecast for a city",
             "parameters": {"type": "object", "required": ["city", "days"],
                            "properties": {"city": {"type": "string"},
                                           "days": {"type": "integer", "minimum": 1, "maximum": 7}}}}]"#,
    );
    let url = server.base_url();
    let run = run(
        &[
            "chat",
            "--json",
            "--provider",
            "llamacpp",
            "--base-url",
            &url,
            "--tools",
            tools.to_str().expect("utf-8 path"),
            "--tool-choice",
            "required",
            "--param",
            "max_tokens=64",
            "--param",
            "temperature=0",
            "What is the weather in Paris for the next 3 days?",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:?}\n{}", server.log_tail(20));
    let calls = run.of_type("tool_call");
    let [call] = calls.as_slice() else {
        panic!("one tool_call line: {run:?}");
    };
    assert_eq!(call["index"], 0);
    assert_eq!(call["name"], "get_weather");
    assert!(
        call["id"].as_str().is_some_and(|id| !id.is_empty()),
        "{call}"
    );
    assert!(call["arguments"]["city"].is_string(), "{call}");
    assert!(call["arguments"]["days"].is_i64(), "{call}");
    assert_eq!(
        run.of_type("finish"),
        [json!({"type":"finish","reason":"tool_calls"})]
    );
}
