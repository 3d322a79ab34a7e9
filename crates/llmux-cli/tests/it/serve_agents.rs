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
