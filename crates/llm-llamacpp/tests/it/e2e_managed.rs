//! End-to-end: managed mode with the real `llama-server` and SmolLM2-135M-Instruct: start, chat, stop on
//! drop (reaped), restart after the child is killed, configuration errors, and the child dying with a
//! SIGKILLed owner process (parent-death signal).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use llm_core::{ChatRequest, ErrorKind, FinishReason, Provider};
use llm_llamacpp::{ManagedConfig, ManagedServer, ServerStatus};
use llmux_e2e::LlamaServer;

/// Set in the environment of the helper process that owns a managed server in `child_dies_with_its_owner`.
const OWNER_VAR: &str = "LLMUX_TEST_MANAGED_OWNER";

fn config() -> ManagedConfig {
    ManagedConfig::new(LlamaServer::binary_path(), LlamaServer::model_path())
        .ctx_size(1024)
        .slots(1)
        .restart_backoff(Duration::from_millis(50), Duration::from_millis(500))
}

fn request() -> ChatRequest {
    ChatRequest::new("smollm2").user("Say hello.").max_tokens(4)
}

/// Whether `pid` is a live process (a zombie counts as gone: it no longer runs).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the parenthesised command name.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
        Err(_) => false,
    }
}

/// Polls until `pid` is gone, up to `limit`.
fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        // Polling the process table, bounded by `limit`.
        std::thread::sleep(Duration::from_millis(20));
    }
    !alive(pid)
}

fn kill_9(pid: u32) {
    let status = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

#[tokio::test]
async fn start_chat_and_stop_on_drop() {
    let server = ManagedServer::start(config()).await.unwrap();
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    let pid = server.pid().expect("a running child");
    assert!(alive(pid));
    let answer = server.chat(&request()).await.unwrap();
    assert!(!answer.text.is_empty());
    assert_eq!(answer.finish_reason, Some(FinishReason::Length));
    server.health().await.unwrap();
    let props = server.client().props().await.unwrap();
    assert_eq!(props.total_slots, Some(1));
    drop(server);
    // Drop kills and reaps before it returns: no process, not even a zombie, is left.
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "pid {pid} still present"
    );
}

#[tokio::test]
async fn a_killed_child_is_restarted_and_serves_again() {
    let server = ManagedServer::start(config()).await.unwrap();
    let first = server.pid().expect("a running child");
    kill_9(first);
    // The next request waits for the restarted child to be ready.
    let deadline = Instant::now() + Duration::from_secs(60);
    let answer = loop {
        match server.chat(&request()).await {
            Ok(answer) => break answer,
            // The request may race the kill (sent before the supervisor noticed): retryable, so try again.
            Err(e) if e.is_retryable() && Instant::now() < deadline => continue,
            Err(e) => panic!("{e}; output:\n{}", server.output_tail(20)),
        }
    };
    assert!(!answer.text.is_empty());
    assert_eq!(server.restarts(), 1);
    let second = server.pid().expect("a running child");
    assert_ne!(first, second);
    assert!(matches!(
        server.status(),
        ServerStatus::Running { generation: 2, .. }
    ));
    assert!(!alive(first));
}

#[tokio::test]
async fn missing_binary_or_model_is_not_found_naming_the_path() {
    let missing_binary = ManagedConfig::new("/nonexistent/llama-server", LlamaServer::model_path());
    let err = ManagedServer::start(missing_binary).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(
        err.to_string().contains("/nonexistent/llama-server"),
        "{err}"
    );

    let missing_model = ManagedConfig::new(LlamaServer::binary_path(), "/nonexistent/model.gguf");
    let err = ManagedServer::start(missing_model).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert!(err.to_string().contains("/nonexistent/model.gguf"), "{err}");
}

#[tokio::test]
async fn a_child_that_cannot_start_is_a_server_error_with_its_output() {
    let not_a_model = std::env::current_exe().unwrap();
    let config = ManagedConfig::new(LlamaServer::binary_path(), not_a_model).max_restarts(0);
    let err = ManagedServer::start(config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err}");
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("output ends"), "{err}");
}

/// One test, two roles: run normally it starts itself again as the owner (with `OWNER_VAR` set), reads the
/// child's pid, SIGKILLs the owner and checks that the child follows; run as the owner it starts a managed
/// server, prints the pid and waits for its stdin to close.
#[tokio::test]
async fn child_dies_with_its_owner() {
    if std::env::var_os(OWNER_VAR).is_some() {
        let server = ManagedServer::start(config()).await.unwrap();
        println!("MANAGED_PID {}", server.pid().unwrap());
        let mut line = String::new();
        // Blocks until the parent test closes stdin (or kills this process, which is the point).
        let _ = std::io::stdin().read_line(&mut line);
        assert!(server.pid().is_some());
        return;
    }
    let mut owner = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "e2e_managed::child_dies_with_its_owner",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(OWNER_VAR, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = owner.stdout.take().unwrap();
    let pid = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        // libtest prints the test's name on the same line first.
        .find_map(|line| {
            let (_, pid) = line.split_once("MANAGED_PID ")?;
            Some(pid.trim().parse::<u32>().unwrap())
        })
        .expect("the owner printed its child's pid");
    assert!(alive(pid));
    owner.kill().unwrap(); // SIGKILL: no destructor runs in the owner
    owner.wait().unwrap();
    assert!(
        gone_within(pid, Duration::from_secs(10)),
        "llama-server {pid} outlived its owner"
    );
}
