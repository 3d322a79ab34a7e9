//! Running the real `llmux` binary with a clean environment, and OpenAI-shaped wiremock answers.

// Each test file uses a different subset of these helpers.
#![allow(dead_code)]

pub(crate) mod gateway;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use wiremock::ResponseTemplate;

/// What one run of the binary produced.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Every stdout line parsed as JSON (panics, showing the output, when one is not).
    pub(crate) fn json_lines(&self) -> Vec<Value> {
        self.stdout
            .lines()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("not a JSON line ({e}): {l}\nstderr: {}", self.stderr)
                })
            })
            .collect()
    }

    /// The JSON lines of one `type`.
    pub(crate) fn of_type(&self, kind: &str) -> Vec<Value> {
        self.json_lines()
            .into_iter()
            .filter(|v| v["type"] == kind)
            .collect()
    }
}

/// A scratch directory removed on drop, used as HOME so no real cache or config is found.
#[derive(Debug)]
pub(crate) struct Scratch(PathBuf);

impl Scratch {
    pub(crate) fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "llmux-cli-{name}-{}-{}",
            std::process::id(),
            fastrand_suffix()
        ));
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }

    /// Writes `text` to `name` inside the directory and returns its path.
    pub(crate) fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).expect("write scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn fastrand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// Runs `llmux args…` with only `env` set (plus HOME pointing at an empty scratch directory unless given),
/// feeding `stdin`.
pub(crate) fn llmux(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Run {
    let home = Scratch::new("home");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_llmux"));
    cmd.args(args)
        .env_clear()
        .env("HOME", home.path())
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("start llmux");
    let mut input = child.stdin.take().expect("stdin is piped");
    if let Some(text) = stdin {
        input.write_all(text.as_bytes()).expect("write stdin");
    }
    drop(input);
    let out = child.wait_with_output().expect("wait for llmux");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// [`llmux`] on a blocking thread, for async tests whose mock servers run on the test's runtime.
pub(crate) async fn llmux_async(
    args: Vec<String>,
    env: Vec<(String, String)>,
    stdin: Option<String>,
) -> Run {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        llmux(&args, &env, stdin.as_deref())
    })
    .await
    .expect("the llmux runner thread")
}

/// Owned argument and environment lists from literals.
pub(crate) fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

pub(crate) fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// An OpenAI streaming answer: `pieces` as deltas, finish `stop`, then a usage chunk and `[DONE]`.
pub(crate) fn openai_stream(pieces: &[&str]) -> ResponseTemplate {
    let chunk = |delta: Value, finish: Value| {
        json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-test",
               "choices":[{"index":0,"delta":delta,"finish_reason":finish}]})
    };
    let mut body = String::new();
    let mut push = |v: Value| body.push_str(&format!("data: {v}\n\n"));
    push(chunk(json!({"role":"assistant","content":""}), Value::Null));
    for p in pieces {
        push(chunk(json!({"content": p}), Value::Null));
    }
    push(chunk(json!({}), json!("stop")));
    push(
        json!({"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-test",
                "choices":[],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}),
    );
    body.push_str("data: [DONE]\n\n");
    ResponseTemplate::new(200)
        .insert_header("x-request-id", "req-123")
        .set_body_raw(body, "text/event-stream")
}

/// An OpenAI whole answer.
pub(crate) fn openai_whole(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("x-request-id", "req-456")
        .set_body_json(json!({
            "id":"chatcmpl-2","object":"chat.completion","created":1,"model":"gpt-test",
            "choices":[{"index":0,"message":{"role":"assistant","content":text},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}
        }))
}

/// An OpenAI error answer.
pub(crate) fn openai_error(status: u16, kind: &str, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status).set_body_json(json!({
        "error": {"message": format!("simulated {code}"), "type": kind, "param": null, "code": code}
    }))
}
