//! Configuration through the real binary: chain files, missing keys, `providers` and `health`, and the
//! errors a fresh machine gets before anything is configured.

use crate::support::{Scratch, llmux, llmux_async, openai_stream, pairs, strings};
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "sk-do-not-print-me-0123456789";

#[test]
fn an_unknown_key_in_the_chain_file_is_a_configuration_error_naming_it() {
    let dir = Scratch::new("unknown-key");
    let file = dir.file(
        "chain.toml",
        "[[entry]]\nprovider = \"openai\"\nmodel = \"gpt-test\"\ntemprature = 0.2\n",
    );
    let run = llmux(
        &["chat", "--chain", file.to_str().expect("utf-8 path"), "hi"],
        &[],
        None,
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("temprature"), "{run:?}");
    assert!(run.stdout.is_empty(), "{run:?}");

    let file = dir.file(
        "params.toml",
        "[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\n[entry.params]\ncolour = 1\n",
    );
    let run = llmux(
        &["chat", "--chain", file.to_str().expect("utf-8 path"), "hi"],
        &[],
        None,
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("entry 0: params.colour"), "{run:?}");

    let file = dir.file(
        "provider.toml",
        "[[entry]]\nprovider = \"palm\"\nmodel = \"m\"\n",
    );
    let run = llmux(
        &["chat", "--chain", file.to_str().expect("utf-8 path"), "hi"],
        &[],
        None,
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("unknown provider `palm`"), "{run:?}");
}

/// An entry whose key variable is unset is an `auth` attempt, and the chain moves on to the next entry,
/// whose file parameters are sent.
#[tokio::test(flavor = "multi_thread")]
async fn a_missing_key_is_an_auth_attempt_and_the_chain_moves_on() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(openai_stream(&["fallback ", "answer"]))
        .expect(2)
        .mount(&server)
        .await;
    let dir = Scratch::new("missing-key");
    let file = dir.file(
        "chain.toml",
        &format!(
            "[[entry]]\nprovider = \"openrouter\"\nmodel = \"first\"\napi_key_env = \"LLMUX_TEST_UNSET_KEY\"\n\n\
             [[entry]]\nprovider = \"openai\"\nmodel = \"second\"\nbase_url = \"{}/v1\"\n\
             [entry.params]\nmax_tokens = 12\nstop = \"END\"\n",
            server.uri()
        ),
    );
    let chain = file.to_str().expect("utf-8 path");
    let env = pairs(&[("OPENAI_API_KEY", SECRET)]);
    let run = llmux_async(
        strings(&["chat", "--json", "--chain", chain, "hi"]),
        env.clone(),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.of_type("attempt"),
        [
            json!({"type":"attempt","entry":0,"provider":"openrouter","model":"first","retry":0,"outcome":"auth",
                   "cost_usd":0.0}),
            json!({"type":"attempt","entry":1,"provider":"openai","model":"second","retry":0,"outcome":"ok",
                   "cost_usd":null}),
        ]
    );
    let text: String = run
        .of_type("delta")
        .iter()
        .map(|d| d["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(text, "fallback answer");
    let sent: serde_json::Value =
        serde_json::from_slice(&server.received_requests().await.unwrap_or_default()[0].body)
            .expect("JSON body");
    assert_eq!(sent["model"], "second");
    assert_eq!(sent["max_completion_tokens"], 12);
    assert_eq!(sent["stop"], json!(["END"]));

    // In text mode, stderr says which provider failed and why; stdout has only the answer.
    let run = llmux_async(strings(&["chat", "--chain", chain, "hi"]), env, None).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.stdout, "fallback answer\n");
    assert!(
        run.stderr.contains("openrouter (first) failed")
            && run.stderr.contains("LLMUX_TEST_UNSET_KEY"),
        "{run:?}"
    );
}

#[test]
fn a_provider_without_its_key_is_a_configuration_error_naming_the_variable() {
    for (provider, var) in [
        ("openai", "OPENAI_API_KEY"),
        ("claude", "ANTHROPIC_API_KEY"),
        ("openrouter", "OPENROUTER_API_KEY"),
    ] {
        let run = llmux(&["chat", "--provider", provider, "--json", "hi"], &[], None);
        assert_eq!(run.code, 2, "{run:?}");
        assert!(run.stderr.contains(var), "{run:?}");
        assert!(run.stdout.is_empty(), "{run:?}");
    }
}

#[test]
fn usage_errors_exit_2() {
    let run = llmux(&["chat", "--base-url", "http://x", "hi"], &[], None);
    assert_eq!(run.code, 2, "{run:?}");
    let run = llmux(
        &["chat", "--provider", "openai", "--chain", "x.toml", "hi"],
        &[],
        None,
    );
    assert_eq!(run.code, 2, "{run:?}");
    let run = llmux(&["chat", "--timeout", "soon", "hi"], &[], None);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("invalid duration"), "{run:?}");
    let run = llmux(
        &[
            "chat",
            "--provider",
            "openai",
            "--param",
            "temperature",
            "hi",
        ],
        &[("OPENAI_API_KEY", SECRET)],
        None,
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("KEY=VALUE"), "{run:?}");
}

#[test]
fn with_nothing_configured_the_error_says_how_to_get_the_local_default() {
    let run = llmux(&["chat", "hi"], &[], None);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("cargo xtask demo"), "{run:?}");
    assert!(run.stderr.contains("LLMUX_LLAMA_SERVER_BIN"), "{run:?}");
}

#[test]
fn providers_lists_sources_and_never_a_key() {
    let dir = Scratch::new("providers");
    let file = dir.file(
        "chain.toml",
        "[[entry]]\nprovider = \"openai\"\nmodel = \"m1\"\n\n[[entry]]\nprovider = \"claude\"\nmodel = \"m2\"\n\
         base_url = \"http://127.0.0.1:9/\"\napi_key_env = \"MY_CLAUDE_KEY\"\n",
    );
    let env = [("OPENAI_API_KEY", SECRET), ("OLLAMA_HOST", "127.0.0.1:9")];
    let run = llmux(
        &["providers", "--chain", file.to_str().expect("utf-8 path")],
        &env,
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        !run.stdout.contains(SECRET) && !run.stderr.contains(SECRET),
        "{run:?}"
    );
    assert!(run.stdout.contains("from OPENAI_API_KEY (set)"), "{run:?}");
    assert!(
        run.stdout.contains("from MY_CLAUDE_KEY (NOT SET"),
        "{run:?}"
    );
    assert!(run.stdout.contains("http://127.0.0.1:9/ (file "), "{run:?}");

    let run = llmux(
        &[
            "providers",
            "--provider",
            "openai",
            "--model",
            "gpt-x",
            "--base-url",
            "http://h/v1",
        ],
        &env,
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains(SECRET), "{run:?}");
    assert!(run.stdout.contains("gpt-x (flag --model)"), "{run:?}");
    assert!(
        run.stdout.contains("http://h/v1 (flag --base-url)"),
        "{run:?}"
    );

    // The default chain: the configured providers in order, and what is not configured.
    let run = llmux(&["providers"], &env, None);
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stdout.contains(SECRET), "{run:?}");
    assert!(run.stdout.contains("entry 0: openai"), "{run:?}");
    assert!(run.stdout.contains("entry 1: ollama"), "{run:?}");
    assert!(
        run.stdout.contains("127.0.0.1:9 (env OLLAMA_HOST)"),
        "{run:?}"
    );
    assert!(
        run.stdout
            .contains("not configured: claude (set ANTHROPIC_API_KEY)"),
        "{run:?}"
    );
    assert!(
        run.stdout.contains("not configured: local default"),
        "{run:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn health_prints_a_table_and_exits_by_the_first_failure() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"object":"list","data":[]})))
        .expect(2)
        .mount(&server)
        .await;
    let base = format!("{}/v1", server.uri());
    let env = pairs(&[("OPENAI_API_KEY", SECRET)]);
    let run = llmux_async(
        strings(&["health", "--provider", "openai", "--base-url", &base]),
        env.clone(),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{run:?}");
    assert!(
        lines[0].contains("REACHABLE") && lines[0].contains("LATENCY"),
        "{run:?}"
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(row[..4], ["0", "openai", "gpt-4o-mini", "yes"], "{run:?}");

    let dir = Scratch::new("health");
    let file = dir.file(
        "chain.toml",
        &format!(
            "[[entry]]\nprovider = \"openai\"\nmodel = \"up\"\nbase_url = \"{base}\"\n\n\
             [[entry]]\nprovider = \"openai\"\nmodel = \"down\"\nbase_url = \"http://127.0.0.1:1/v1\"\n"
        ),
    );
    let chain = file.to_str().expect("utf-8 path");
    let run = llmux_async(strings(&["health", "--chain", chain]), env, None).await;
    assert_eq!(run.code, 6, "{run:?}");
    let rows: Vec<Vec<&str>> = run
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(rows[0][3], "yes", "{run:?}");
    assert_eq!(rows[1][..4], ["1", "openai", "down", "no"], "{run:?}");
    assert!(rows[1][5].starts_with("network"), "{run:?}");
    assert!(!run.stdout.contains(SECRET));
}

#[test]
fn prices_lists_the_table_in_force_with_each_rows_source() {
    let dir = Scratch::new("prices");
    let file = dir.file(
        "prices.toml",
        "[[price]]\nprovider = \"openai\"\nmodel = \"mine\"\ninput = 1.5\noutput = 6\n\
         source = \"https://example.test/quote\"\ndate = \"2026-12-01\"\n",
    );
    let chain = dir.file(
        "chain.toml",
        "[[price]]\nprovider = \"openai\"\nmodel = \"mine\"\ninput = 2\noutput = 8\n\n\
         [[entry]]\nprovider = \"openai\"\nmodel = \"mine\"\n",
    );
    let prices = file.to_str().expect("utf-8 path");
    let run = llmux(
        &[
            "prices",
            "--json",
            "--prices",
            prices,
            "mine-2026-11-30",
            "nothing-known",
        ],
        &[],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.json_lines(),
        [
            json!({"provider":"openai","model":"mine","input":1.5,"output":6.0,"cache_read":1.5,
                "cache_write":1.5,"cache_write_1h":1.5,"above":null,
                "source":"https://example.test/quote","date":"2026-12-01"})
        ],
        "the file's row, found by a dated snapshot name"
    );
    assert!(
        run.stderr.contains("no price is known for `nothing-known`"),
        "{run:?}"
    );
    // The chain file's rows win over the prices file's.
    let chain = chain.to_str().expect("utf-8 path");
    let run = llmux(
        &[
            "prices", "--json", "--prices", prices, "--chain", chain, "mine",
        ],
        &[("OPENAI_API_KEY", SECRET)],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.json_lines()[0]["input"], 2.0, "{run:?}");
    // The whole table: every shipped row has a source and a date, and the local servers cost 0.
    let all = llmux(&["prices", "--json"], &[], None);
    let rows = all.json_lines();
    assert!(rows.len() > 20, "{all:?}");
    for row in &rows {
        assert!(row["source"].is_string(), "{row}");
    }
    assert!(
        rows.iter()
            .any(|r| r["provider"] == "llamacpp" && r["input"] == 0.0)
    );
    // A bad file is a configuration error naming the problem.
    let bad = dir.file(
        "bad.toml",
        "[[price]]\nmodel = \"m\"\ninput = 1\noutput = 1\nflavour = 2\n",
    );
    let run = llmux(&["prices", "--prices", bad.to_str().unwrap()], &[], None);
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("flavour"), "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_entry_without_room_in_its_dollar_budget_is_skipped() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(openai_stream(&["from the second"]))
        .expect(1)
        .mount(&server)
        .await;
    let dir = Scratch::new("usd-budget");
    // The first entry's worst case (its max_tokens of 1000 at $10 per million output tokens) is $0.01: more
    // than its minute's $0.001, so it is passed over without a request.
    let file = dir.file(
        "chain.toml",
        &format!(
            "[[price]]\nmodel = \"pricey\"\ninput = 10\noutput = 10\n\n\
             [[entry]]\nprovider = \"openai\"\nmodel = \"pricey\"\nbase_url = \"http://127.0.0.1:9/v1\"\n\
             usd_per_minute = 0.001\n\n\
             [[entry]]\nprovider = \"openai\"\nmodel = \"second\"\nbase_url = \"{}/v1\"\n",
            server.uri()
        ),
    );
    let run = llmux_async(
        strings(&[
            "chat",
            "--json",
            "--chain",
            file.to_str().expect("utf-8 path"),
            "--param",
            "max_tokens=1000",
            "hi",
        ]),
        pairs(&[("OPENAI_API_KEY", SECRET)]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.of_type("skip"),
        [json!({"type":"skip","entry":0,"provider":"openai","reason":"cost_budget"})]
    );
    assert_eq!(run.of_type("attempt")[0]["entry"], 1, "{run:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_chain_table_turns_hedging_on() {
    let slow = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(openai_stream(&["slow"]).set_delay(std::time::Duration::from_secs(10)))
        .mount(&slow)
        .await;
    let quick = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(openai_stream(&["hedged"]))
        .expect(1)
        .mount(&quick)
        .await;
    let dir = Scratch::new("hedge");
    let file = dir.file(
        "chain.toml",
        &format!(
            "[chain]\nhedge_after = \"200ms\"\n\n\
             [[entry]]\nprovider = \"openai\"\nmodel = \"first\"\nbase_url = \"{}/v1\"\n\n\
             [[entry]]\nprovider = \"openai\"\nmodel = \"second\"\nbase_url = \"{}/v1\"\n",
            slow.uri(),
            quick.uri()
        ),
    );
    let run = llmux_async(
        strings(&[
            "chat",
            "--json",
            "--chain",
            file.to_str().expect("utf-8 path"),
            "hi",
        ]),
        pairs(&[("OPENAI_API_KEY", SECRET)]),
        None,
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let outcomes: Vec<(i64, String)> = run
        .of_type("attempt")
        .iter()
        .map(|a| {
            (
                a["entry"].as_i64().unwrap_or(-1),
                a["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        outcomes.contains(&(0, "cancelled".to_owned())) && outcomes.contains(&(1, "ok".to_owned())),
        "the second entry started after 200 ms and won: {outcomes:?}"
    );
    let text: String = run
        .of_type("delta")
        .iter()
        .map(|d| d["text"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(text, "hedged");
}
