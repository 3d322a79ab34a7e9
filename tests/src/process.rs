//! Starting a peer process on a free loopback port, waiting until its `/health` answers 200, and killing it.

use std::ffi::OsString;
use std::fs::{self, File};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::http;
use crate::layout::{Artifact, PeerLayout};

/// How long a peer may take to answer `GET /health` with 200 (llama-server loads its model first).
pub(crate) const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How often `/health` is polled while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(50);
/// How many free ports are tried when another process takes the chosen one first.
const PORT_ATTEMPTS: usize = 3;
/// Where peers' ports are chosen: below Linux's ephemeral range (32768-60999), so no socket bound to port 0
/// anywhere (a raw test server in this same test binary, a client's outgoing connection) can be handed the
/// port between our check and the peer's own bind; when that happened, the peer's health check could be
/// answered by the stranger and the test then talked to it.
const PEER_PORTS: std::ops::Range<u16> = 20_000..32_000;

/// The cached `artifact`, or a panic telling the developer how to provision it.
pub(crate) fn provisioned(artifact: Artifact) -> PathBuf {
    let layout = PeerLayout::from_env().unwrap_or_else(|e| panic!("{e}"));
    provisioned_in(&layout, artifact)
}

fn provisioned_in(layout: &PeerLayout, artifact: Artifact) -> PathBuf {
    if !layout.is_current(artifact) {
        panic!(
            "the {artifact} test peer is not provisioned in {} (missing, or built from other pinned versions): \
             run `cargo xtask peers` first",
            layout.root().display()
        );
    }
    layout.artifact_path(artifact)
}

/// A running peer: killed and reaped on drop, its scratch folder (log, state) removed.
#[derive(Debug)]
pub(crate) struct Process {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl Process {
    /// Starts `program` with the arguments `args(port, scratch_dir)` and waits for `GET /health` to answer 200.
    /// Panics, with the tail of the peer's output, when it exits or is not ready within [`READY_TIMEOUT`].
    /// `fixed_port` (e.g. to restart a peer where clients expect it) is used instead of a free port.
    pub(crate) fn start(
        name: &'static str,
        program: &Path,
        envs: &[(&str, &str)],
        fixed_port: Option<u16>,
        args: impl Fn(u16, &Path) -> Vec<OsString>,
    ) -> Process {
        for attempt in 1..=PORT_ATTEMPTS {
            let port = fixed_port.unwrap_or_else(free_port);
            let dir = scratch_dir(name);
            let log_path = dir.join("output.log");
            let log = File::create(&log_path)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
            let log_err = log
                .try_clone()
                .unwrap_or_else(|e| panic!("cannot reopen {}: {e}", log_path.display()));
            let child = Command::new(program)
                .args(args(port, &dir))
                .envs(envs.iter().copied())
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err)
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {name} ({}): {e}", program.display()));
            // From here on, a panic drops `process`, which kills the child.
            let mut process = Process { child, port, dir };
            match process.wait_until_healthy() {
                Ready::Yes => return process,
                Ready::Exited(status) => {
                    let tail = process.log_tail(40);
                    let port_taken = tail.contains("address already in use")
                        || tail.contains("Address already in use")
                        || tail.contains("couldn't bind");
                    if port_taken && attempt < PORT_ATTEMPTS {
                        continue;
                    }
                    panic!(
                        "{name} exited ({status}) before answering /health on port {port}; its output ends:\n{tail}"
                    );
                }
                Ready::TimedOut(last) => panic!(
                    "{name} did not answer GET /health with 200 within {READY_TIMEOUT:?} on port {port} \
                     (last attempt: {last}); its output ends:\n{}",
                    process.log_tail(40)
                ),
            }
        }
        unreachable!("the last attempt either returns or panics")
    }

    /// The loopback port the peer listens on.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub(crate) fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The last `lines` lines of everything the peer wrote to stdout and stderr.
    pub(crate) fn log_tail(&self, lines: usize) -> String {
        let path = self.dir.join("output.log");
        match fs::read(&path) {
            Ok(bytes) => {
                let text = String::from_utf8_lossy(&bytes);
                let all: Vec<&str> = text.lines().collect();
                all[all.len().saturating_sub(lines)..].join("\n")
            }
            Err(e) => format!("(cannot read {}: {e})", path.display()),
        }
    }

    fn wait_until_healthy(&mut self) -> Ready {
        let deadline = Instant::now() + READY_TIMEOUT;
        let base_url = self.base_url();
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => return Ready::Exited(status.to_string()),
                Ok(None) => {}
                Err(e) => return Ready::Exited(format!("cannot poll the process: {e}")),
            }
            let last = match http::get(&base_url, "/health", Duration::from_secs(2)) {
                Ok(response) if response.status == 200 => return Ready::Yes,
                Ok(response) => format!("status {}", response.status),
                Err(e) => e.to_string(),
            };
            if Instant::now() >= deadline {
                return Ready::TimedOut(last);
            }
            // Polling a health endpoint at a short interval, bounded by the deadline above.
            thread::sleep(POLL_INTERVAL);
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // The peer may already have exited; either way it must not outlive the test, and must be reaped.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_dir_all(&self.dir);
    }
}

enum Ready {
    Yes,
    Exited(String),
    TimedOut(String),
}

/// A port in [`PEER_PORTS`] that was free a moment ago (the peer binds it itself; see [`PORT_ATTEMPTS`]
/// for a race with other programs). Successive calls in one process never return the same port; the
/// first candidate depends on the process id, so two test binaries running at once start far apart.
pub(crate) fn free_port() -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(u32::MAX);
    let span = u32::from(PEER_PORTS.end - PEER_PORTS.start);
    // The first call picks the start; a race between first calls only makes both start at the same place,
    // and `fetch_add` below still hands each its own candidate.
    let _ = NEXT.compare_exchange(
        u32::MAX,
        (std::process::id().wrapping_mul(7919)) % span,
        Ordering::Relaxed,
        Ordering::Relaxed,
    );
    for _ in 0..span {
        let offset = NEXT.fetch_add(1, Ordering::Relaxed) % span;
        let port = PEER_PORTS.start + u16::try_from(offset).expect("the span fits a port");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port in {PEER_PORTS:?}")
}

/// A fresh folder for one peer instance's log and state.
fn scratch_dir(name: &str) -> PathBuf {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("llmux-e2e-{name}-{}-{n}", std::process::id()));
    // A leftover from a crashed run with the same pid would only hold an old log.
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "run `cargo xtask peers` first")]
    fn a_missing_peer_fails_the_test_with_instructions() {
        let empty =
            std::env::temp_dir().join(format!("llmux-e2e-empty-cache-{}", std::process::id()));
        provisioned_in(&PeerLayout::new(empty), Artifact::LlamaServer);
    }

    #[test]
    fn free_ports_are_loopback_ports_nobody_holds() {
        let port = free_port();
        assert!(
            PEER_PORTS.contains(&port),
            "{port} is outside {PEER_PORTS:?}"
        );
        assert_ne!(free_port(), port, "a second call hands out another port");
        TcpListener::bind(("127.0.0.1", port)).expect("the port is free again");
    }
}
