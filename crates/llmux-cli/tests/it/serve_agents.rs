//! The coding agents through `llmux serve` (the real binary), as a user runs them, each with its default
//! settings and its whole default request (every tool, the system prompt, thinking, betas): current Claude
//! Code (`ANTHROPIC_BASE_URL`) and current Codex CLI (a `model_providers` entry with
//! `wire_api = "responses"`), installed by `cargo xtask peers` from the npm registry, over llm-katan in
//! both upstream wire formats. Their telemetry, update checks and plugin syncs are off, so nothing outside
//! this machine is asked anything, and each run has a generous bound.
//!
//! llm-katan answers text here (`--no-auto-tool-providers`): with its default it calls the first tool of
//! every request, and an agent would loop on it.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::Scratch;
use crate::support::gateway::{BOUND, Gateway, entry};
use llmux_e2e::{Katan, NpmClients};

const KEY: &str = "gw-agent-key";

/// What an agent run printed.
#[derive(Debug)]
struct AgentRun {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` to its end, killing it after [`BOUND`].
fn bounded(mut cmd: Command) -> AgentRun {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the agent");
    let mut out = child.stdout.take().expect("piped");
    let mut err = child.stderr.take().expect("piped");
    let stdout = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let stderr = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + BOUND;
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        // Polling a child process, bounded by the deadline above.
        std::thread::sleep(Duration::from_millis(50));
    };
    AgentRun {
        code,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// A katan answering text whatever tools a request carries, and a gateway over it in `provider`'s wire
/// format.
fn gateway_over(katan: &Katan, provider: &str) -> Gateway {
    let url = match provider {
        "openai" => format!("{}/v1", katan.base_url()),
        _ => katan.base_url(),
    };
    Gateway::start(
        &entry(provider, Katan::MODEL, &url),
        &[],
        &[("LLMUX_GATEWAY_KEYS", KEY)],
    )
}

fn text_katan() -> Katan {
    Katan::builder()
        .arg("--no-auto-tool-providers")
        .arg("openai,anthropic")
        .start()
}

/// The gateway's request counter for `api` streamed with status 200.
fn served(gateway: &Gateway, api: &str) -> u64 {
    let metrics = llmux_e2e::http::get(gateway.base_url(), "/metrics", Duration::from_secs(10))
        .expect("GET /metrics");
    let needle = format!("llmux_requests_total{{api=\"{api}\",stream=\"true\",status=\"200\"}} ");
    metrics
        .text()
        .lines()
        .find_map(|l| l.strip_prefix(needle.as_str()))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn claude_code_answers_through_the_gateway_from_any_provider() {
    let agents = NpmClients::get();
    let katan = text_katan();
    for provider in ["openai", "claude"] {
        let gateway = gateway_over(&katan, provider);
        let home = Scratch::new("claude-code");
        let work = home.path().join("work");
        std::fs::create_dir_all(&work).expect("work dir");
        let mut cmd = Command::new(agents.claude());
        cmd.args(["-p", "say hi"])
            .current_dir(&work)
            .env_clear()
            .env("HOME", home.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("ANTHROPIC_BASE_URL", gateway.base_url())
            .env("ANTHROPIC_API_KEY", KEY)
            // Nothing but the gateway: no telemetry, error reports, update checks or feature flags.
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("DISABLE_TELEMETRY", "1")
            .env("DISABLE_ERROR_REPORTING", "1")
            .env("DISABLE_AUTOUPDATER", "1");
        let run = bounded(cmd);
        println!(
            "--- claude -p over a {provider} entry: exit {:?}\nstdout:\n{}\nstderr:\n{}",
            run.code, run.stdout, run.stderr
        );
        assert_eq!(
            run.code,
            Some(0),
            "{provider}: {run:?}\ngateway:\n{}",
            gateway.log()
        );
        assert!(
            run.stdout.contains("say hi"),
            "{provider}: katan's echo of the prompt: {run:?}"
        );
        assert!(
            served(&gateway, "anthropic") >= 1,
            "{provider}: the answer came through the gateway's Messages API"
        );
    }
}

#[test]
fn codex_answers_through_the_gateway_from_any_provider() {
    let agents = NpmClients::get();
    let katan = text_katan();
    for provider in ["openai", "claude"] {
        let gateway = gateway_over(&katan, provider);
        let home = Scratch::new("codex");
        let codex_home = home.path().join(".codex");
        let work = home.path().join("work");
        std::fs::create_dir_all(&codex_home).expect("codex home");
        std::fs::create_dir_all(&work).expect("work dir");
        // A model name set explicitly: with none, Codex picks its own catalog's default and a request shape
        // meant for OpenAI's servers only.
        let config = format!(
            "model = \"{model}\"\nmodel_provider = \"llmux\"\ncheck_for_update_on_startup = false\n\n\
             [model_providers.llmux]\nname = \"llmux\"\nbase_url = \"{base}/v1\"\nwire_api = \"responses\"\n\
             env_key = \"LLMUX_KEY\"\n\n[analytics]\nenabled = false\n\n[feedback]\nenabled = false\n\n\
             [otel]\nexporter = \"none\"\n\n[features]\nplugins = false\n",
            model = Katan::MODEL,
            base = gateway.base_url()
        );
        std::fs::write(codex_home.join("config.toml"), config).expect("config.toml");
        let mut cmd = Command::new(agents.codex());
        cmd.args(["exec", "--skip-git-repo-check", "say hi"])
            .current_dir(&work)
            .env_clear()
            .env("HOME", home.path())
            .env("CODEX_HOME", &codex_home)
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("LLMUX_KEY", KEY);
        let run = bounded(cmd);
        println!(
            "--- codex exec over a {provider} entry: exit {:?}\nstdout:\n{}\nstderr:\n{}",
            run.code, run.stdout, run.stderr
        );
        assert_eq!(
            run.code,
            Some(0),
            "{provider}: {run:?}\ngateway:\n{}",
            gateway.log()
        );
        assert!(
            run.stdout.contains("say hi"),
            "{provider}: katan's echo of the prompt: {run:?}"
        );
        assert!(
            served(&gateway, "responses") >= 1,
            "{provider}: the answer came through the gateway's Responses API"
        );
    }
}

/// A Messages request as Claude Code sends it: its beta flags and its `context_management` field.
const BETA_REQUEST: &str = r#"{"model": "claude-x", "max_tokens": 32, "stream": false,
    "messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "agent types"}],
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}"#;

const BETAS: &str = "context-management-2025-06-27,mid-conversation-system-2026-04-07";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beta_flags_and_fields_reach_an_anthropic_upstream_and_are_named_when_another_answers() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let anthropic = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-x",
            "content": [{"type": "text", "text": "hello"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 5, "output_tokens": 1}})))
        .mount(&anthropic)
        .await;
    let katan = text_katan();
    let anthropic_url = anthropic.uri();
    let katan_url = format!("{}/v1", katan.base_url());
    let (to_anthropic, to_openai) = tokio::task::spawn_blocking(move || {
        let send = |chain: &str| {
            let gateway = Gateway::start(chain, &[], &[]);
            let response = llmux_e2e::http::post_json(
                gateway.base_url(),
                "/v1/messages",
                &[
                    ("anthropic-version", "2023-06-01"),
                    ("anthropic-beta", BETAS),
                ],
                BETA_REQUEST,
                BOUND,
            )
            .expect("POST /v1/messages");
            assert_eq!(
                response.status,
                200,
                "{}\n{}",
                response.text(),
                gateway.log()
            );
            response
        };
        (
            send(&entry("claude", "claude-x", &anthropic_url)),
            send(&entry("openai", Katan::MODEL, &katan_url)),
        )
    })
    .await
    .expect("the test thread");
    // The Anthropic upstream got both, and nothing is named as removed.
    let received = anthropic.received_requests().await.unwrap_or_default();
    let upstream = received.first().expect("the upstream was called");
    let body: serde_json::Value = serde_json::from_slice(&upstream.body).expect("JSON body");
    assert_eq!(
        body["context_management"]["edits"][0]["keep"], "all",
        "{body}"
    );
    let flags = upstream
        .headers
        .get("anthropic-beta")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert!(flags.contains("context-management-2025-06-27"), "{flags}");
    assert!(
        flags.contains("mid-conversation-system-2026-04-07"),
        "{flags}"
    );
    assert_eq!(to_anthropic.header("x-llmux-removed-fields"), None);
    // Another provider answered: the field was left out, and the answer says so.
    assert_eq!(
        to_openai.header("x-llmux-removed-fields"),
        Some("context_management")
    );
}

const COUNT: &str = r#"
import json, os, anthropic
a = anthropic.Anthropic(base_url=os.environ["BASE"], api_key=os.environ["KEY"], max_retries=0)
short = a.messages.count_tokens(model="m", messages=[{"role": "user", "content": "hi"}])
long = a.messages.count_tokens(model="m", system="You are an agent.",
    messages=[{"role": "user", "content": "hi " * 400}, {"role": "system", "content": "agent types"}],
    tools=[{"name": "Bash", "description": "run a command", "input_schema": {"type": "object"}}])
print(json.dumps({"short": short.input_tokens, "long": long.input_tokens}))
"#;

#[test]
fn count_tokens_answers_an_estimate_through_the_anthropic_sdk() {
    let katan = text_katan();
    let gateway = gateway_over(&katan, "openai");
    let run = crate::support::gateway::python(COUNT, gateway.base_url(), KEY);
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    let (short, long) = (
        out["short"].as_u64().unwrap_or(0),
        out["long"].as_u64().unwrap_or(0),
    );
    assert!(short > 0, "{out}");
    // 1,200 bytes of text at four bytes a token, a system prompt, a tool: hundreds more.
    assert!(long > short + 300, "{out}");
}
