//! `llmux serve` as a child process on a free loopback port, and Python scripts run with the official SDKs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use super::Scratch;

/// The generous bound for anything to start or finish.
pub(crate) const BOUND: Duration = Duration::from_secs(120);

/// A running `llmux serve`, killed on drop.
#[derive(Debug)]
pub(crate) struct Gateway {
    child: Child,
    base_url: String,
    log: Arc<Mutex<String>>,
    _dir: Scratch,
}

/// One `[[entry]]` of a chain file: provider, base URL, and `max_tokens` when set.
pub(crate) fn entry(provider: &str, model: &str, base_url: &str) -> String {
    format!(
        "[[entry]]\nprovider = \"{provider}\"\nmodel = \"{model}\"\nbase_url = \"{base_url}\"\n[entry.params]\nmax_tokens = 48\n\n"
    )
}

impl Gateway {
    /// Starts `llmux serve --chain <chain> --max-retries 0 --listen 127.0.0.1:0 args…` (`args` may give
    /// another `--listen`) with only `env`
    /// (plus PATH, HOME and dummy upstream keys) and waits for its "listening on" line.
    pub(crate) fn start(chain: &str, args: &[&str], env: &[(&str, &str)]) -> Gateway {
        let dir = Scratch::new("serve");
        let file = dir.file("chain.toml", chain);
        let mut child = Command::new(env!("CARGO_BIN_EXE_llmux"))
            .args(["serve", "--chain"])
            .arg(&file)
            .args(["--max-retries", "0"])
            .args(
                (!args.contains(&"--listen"))
                    .then_some(["--listen", "127.0.0.1:0"])
                    .into_iter()
                    .flatten(),
            )
            .args(args)
            .env_clear()
            .env("HOME", dir.path())
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("OPENAI_API_KEY", "sk-upstream-openai-secret")
            .env("ANTHROPIC_API_KEY", "sk-upstream-anthropic-secret")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start llmux serve");
        let stderr = child.stderr.take().expect("stderr is piped");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        {
            let log = Arc::clone(&log);
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split_once("listening on ").map(|(_, r)| r) {
                        let url = rest
                            .split_whitespace()
                            .next()
                            .unwrap_or_default()
                            .to_owned();
                        let _ = tx.send(url);
                    }
                    let mut log = log.lock().unwrap_or_else(|e| e.into_inner());
                    log.push_str(&line);
                    log.push('\n');
                }
            });
        }
        let base_url = match rx.recv_timeout(BOUND) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let log = log.lock().unwrap_or_else(|e| e.into_inner()).clone();
                panic!("llmux serve did not start:\n{log}");
            }
        };
        Gateway {
            child,
            base_url,
            log,
            _dir: dir,
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Everything it wrote on stderr so far.
    pub(crate) fn log(&self) -> String {
        self.log.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The process id, to signal it.
    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits (up to the bound) for it to exit and returns its exit code.
    pub(crate) fn wait(&mut self) -> Option<i32> {
        let deadline = std::time::Instant::now() + BOUND;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            std::thread::park_timeout(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What a Python script printed: its exit code, stdout, stderr, and its last stdout line as JSON.
#[derive(Debug)]
pub(crate) struct Script {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Script {
    /// The last stdout line as JSON (panics with the output when it is not).
    pub(crate) fn json(&self) -> Value {
        let last = self.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }
}

/// Runs `script` with the peers' Python (which has the openai and anthropic SDKs), `BASE` and `KEY` set.
pub(crate) fn python(script: &str, base: &str, key: &str) -> Script {
    python_with(script, base, key, &[])
}

/// [`python`] with more environment variables.
pub(crate) fn python_with(script: &str, base: &str, key: &str, env: &[(&str, &str)]) -> Script {
    let mut child = python_command(script, base, key)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start python");
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut err = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let _ = err.read_to_string(&mut stderr);
        stderr
    });
    let _ = child
        .stdout
        .take()
        .expect("piped")
        .read_to_string(&mut stdout);
    let status = child.wait().expect("wait for python");
    Script {
        code: status.code().unwrap_or(-1),
        stdout,
        stderr: reader.join().unwrap_or_default(),
    }
}

/// The command running `script` with the peers' Python, `BASE` and `KEY` set, no proxy.
pub(crate) fn python_command(script: &str, base: &str, key: &str) -> Command {
    let mut cmd = Command::new(llmux_e2e::peer_python());
    cmd.arg("-c")
        .arg(script)
        .env("BASE", base)
        .env("KEY", key)
        .env("NO_PROXY", "127.0.0.1")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("ALL_PROXY")
        .env("PYTHONUNBUFFERED", "1");
    cmd
}
