//! The real binary against llm-katan (OpenAI and Anthropic wire formats with failure injection).

use crate::support::{Scratch, llmux};
use llmux_e2e::Katan;

#[test]
fn a_failing_entry_falls_back_to_the_next_provider() {
    let failing = Katan::builder().arg("--error-rate").arg("1.0").start();
    let healthy = Katan::start();
    let dir = Scratch::new("katan-chain");
    let file = dir.file(
        "chain.toml",
        &format!(
            "[[entry]]\nprovider = \"openai\"\nmodel = \"{m}\"\nbase_url = \"{}/v1\"\n\n\
             [[entry]]\nprovider = \"claude\"\nmodel = \"{m}\"\nbase_url = \"{}\"\n[entry.params]\nmax_tokens = 32\n",
            failing.base_url(),
            healthy.base_url(),
            m = Katan::MODEL,
        ),
    );
    let env = [
        ("OPENAI_API_KEY", "sk-katan"),
        ("ANTHROPIC_API_KEY", "sk-ant-katan"),
    ];
    let chain = file.to_str().expect("utf-8 path");
    let run = llmux(
        &[
            "chat",
            "--json",
            "--max-retries",
            "0",
            "--chain",
            chain,
            "hello katan",
        ],
        &env,
        None,
    );
    assert_eq!(run.code, 0, "{run:?}\n{}", healthy.log_tail(20));
    let attempts: Vec<(String, String)> = run
        .of_type("attempt")
        .iter()
        .map(|a| {
            (
                a["provider"].as_str().unwrap_or_default().to_owned(),
                a["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            ("openai".to_owned(), "server".to_owned()),
            ("claude".to_owned(), "ok".to_owned())
        ]
    );
    assert_eq!(run.of_type("start")[0]["provider"], "claude");
    let text: String = run
        .of_type("delta")
        .iter()
        .filter_map(|d| d["text"].as_str().map(str::to_owned))
        .collect();
    assert!(!text.is_empty(), "{run:?}");
    assert_eq!(run.of_type("finish").len(), 1, "{run:?}");
    assert!(run.of_type("error").is_empty(), "{run:?}");
}

#[test]
fn a_rejected_key_exits_4_and_rate_limits_exit_5() {
    let katan = Katan::builder()
        .args(["--validate-keys", "--api-keys", "openai=sk-right-key"])
        .start();
    let base = format!("{}/v1", katan.base_url());
    let args = [
        "chat",
        "--json",
        "--provider",
        "openai",
        "--base-url",
        &base,
        "--model",
        Katan::MODEL,
        "hi",
    ];
    let run = llmux(&args, &[("OPENAI_API_KEY", "sk-wrong-key")], None);
    assert_eq!(run.code, 4, "{run:?}");
    let error = &run.of_type("error")[0];
    assert_eq!(error["kind"], "auth");
    assert_eq!(error["status"], 401);
    assert!(!run.stdout.contains("sk-wrong-key"), "{run:?}");

    let limited = Katan::builder().args(["--rate-limit-after", "1"]).start();
    let base = format!("{}/v1", limited.base_url());
    let args = [
        "chat",
        "--json",
        "--no-stream",
        "--max-retries",
        "0",
        "--provider",
        "openai",
        "--base-url",
        &base,
        "--model",
        Katan::MODEL,
        "hi",
    ];
    let env = [("OPENAI_API_KEY", "sk-any")];
    let first = llmux(&args, &env, None);
    assert_eq!(first.code, 0, "{first:?}");
    let second = llmux(&args, &env, None);
    assert_eq!(second.code, 5, "{second:?}");
    assert_eq!(second.of_type("error")[0]["kind"], "rate_limited");
}

const WEATHER_TOOLS: &str = r#"[{"name": "get_weather", "description": "The current weather in a city",
  "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}]"#;

#[test]
fn tools_from_a_file_come_back_as_tool_call_lines_and_a_request_file_continues_the_conversation() {
    let katan = Katan::start();
    let dir = Scratch::new("katan-tools");
    let tools = dir.file("tools.json", WEATHER_TOOLS);
    let tools = tools.to_str().expect("utf-8 path");
    let base = format!("{}/v1", katan.base_url());
    let env = [("OPENAI_API_KEY", "sk-katan")];
    for provider in ["openai", "claude"] {
        let base = if provider == "openai" {
            base.clone()
        } else {
            katan.base_url()
        };
        let env = [
            ("OPENAI_API_KEY", "sk-katan"),
            ("ANTHROPIC_API_KEY", "sk-ant-katan"),
        ];
        let run = llmux(
            &[
                "chat",
                "--json",
                "--provider",
                provider,
                "--model",
                Katan::MODEL,
                "--base-url",
                &base,
                "--tools",
                tools,
                "--tool-choice",
                "required",
                "What is the weather in Paris?",
            ],
            &env,
            None,
        );
        assert_eq!(run.code, 0, "{provider}: {run:?}\n{}", katan.log_tail(20));
        let calls = run.of_type("tool_call");
        assert_eq!(calls.len(), 1, "{provider}: {run:?}");
        assert_eq!(calls[0]["index"], 0);
        assert_eq!(calls[0]["name"], "get_weather");
        assert!(calls[0]["id"].as_str().is_some_and(|id| !id.is_empty()));
        assert!(
            calls[0]["arguments"]["city"].is_string(),
            "{provider}: {:?}",
            calls[0]
        );
        assert_eq!(run.of_type("finish")[0]["reason"], "tool_calls");
    }

    // The documented conversation format, sent as it is (no prompt, stdin not read).
    let request = dir.file(
        "request.json",
        &format!(
            r#"{{"system": "Be brief.", "messages": [
                {{"role": "user", "content": "What is the weather in Paris?"}},
                {{"role": "assistant", "content": "", "tool_calls":
                    [{{"id": "call_A", "name": "get_weather", "arguments": {{"city": "Paris"}}}}]}},
                {{"role": "tool", "tool_call_id": "call_A", "content": "18 C"}}],
               "tools": {WEATHER_TOOLS}, "tool_choice": "auto"}}"#
        ),
    );
    let run = llmux(
        &[
            "chat",
            "--json",
            "--provider",
            "openai",
            "--model",
            Katan::MODEL,
            "--base-url",
            &base,
            "--request",
            request.to_str().expect("utf-8 path"),
        ],
        &env,
        None,
    );
    assert_eq!(run.code, 0, "{run:?}\n{}", katan.log_tail(20));
    assert_eq!(run.of_type("start").len(), 1, "{run:?}");
    assert_eq!(run.of_type("error").len(), 0, "{run:?}");
}

#[test]
fn azure_takes_the_endpoint_and_the_deployment_and_needs_an_endpoint() {
    let katan = Katan::builder()
        .args(["--providers", "openai,anthropic,azure_openai"])
        .start();
    let env = [("AZURE_OPENAI_API_KEY", "az-katan")];
    let endpoint = katan.base_url();
    let run = llmux(
        &[
            "chat",
            "--json",
            "--provider",
            "azure",
            "--base-url",
            &endpoint,
            "--model",
            Katan::MODEL,
            "hello azure",
        ],
        &env,
        None,
    );
    assert_eq!(run.code, 0, "{run:?}\n{}", katan.log_tail(20));
    assert_eq!(run.of_type("start")[0]["provider"], "azure");
    let text: String = run
        .of_type("delta")
        .iter()
        .map(|d| d["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(text.contains("hello azure"), "{text}");
    let endpoint_env = [
        ("AZURE_OPENAI_API_KEY", "az-katan"),
        ("AZURE_OPENAI_ENDPOINT", endpoint.as_str()),
    ];
    let from_env = llmux(
        &["chat", "--provider", "azure", "--model", Katan::MODEL, "hi"],
        &endpoint_env,
        None,
    );
    assert_eq!(from_env.code, 0, "{from_env:?}");
    let none = llmux(&["chat", "--provider", "azure", "hi"], &env, None);
    assert_eq!(none.code, 2, "{none:?}");
    assert!(none.stderr.contains("AZURE_OPENAI_ENDPOINT"), "{none:?}");
}
