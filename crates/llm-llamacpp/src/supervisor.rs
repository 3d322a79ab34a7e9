//! The supervisor thread of a managed `llama-server`: spawns the child, watches it, restarts it with
//! backoff when it dies, and kills and reaps it when told to stop (or when its handle is gone).
//!
//! Exits are detected by this thread, which polls `Child::try_wait` every [`WATCH_INTERVAL`] while it waits
//! for a command; requests only read the shared status. The thread that spawns the child must live as long
//! as the child: with a parent-death signal (`setpriv --pdeathsig KILL`), Linux signals the child when the
//! *thread* that forked it exits, so the child is spawned here and nowhere else (never from a tokio
//! blocking-pool thread, which may be retired while the child runs).

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

/// How often the supervisor looks at its child while it waits for a command.
pub(crate) const WATCH_INTERVAL: Duration = Duration::from_millis(50);

/// How many lines of the child's output are kept for error messages.
const OUTPUT_LINES: usize = 64;

/// What the supervisor is doing, as requests see it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerStatus {
    /// The child is being spawned.
    Starting,
    /// The child runs (it may still be loading its model); `generation` counts spawns from 1.
    Running {
        /// The child's process id.
        pid: u32,
        /// 1 for the first child, 2 after the first restart, ….
        generation: u64,
    },
    /// The child exited; a new one is spawned after a backoff.
    Restarting {
        /// How the last child ended.
        last_exit: String,
    },
    /// The child could not be spawned, or died too often: no more restarts.
    Failed {
        /// Why.
        reason: String,
    },
    /// Stopped on request.
    Stopped,
}

/// A command for the supervisor.
#[derive(Debug)]
pub(crate) enum Order {
    /// Kill and reap the child, then end.
    Stop,
}

/// What the supervisor and the requests share.
#[derive(Debug)]
pub(crate) struct Shared {
    status: Mutex<ServerStatus>,
    output: Mutex<VecDeque<String>>,
    restarts: AtomicU32,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding these locks cannot leave them inconsistent (plain assignments): keep going.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Shared {
            status: Mutex::new(ServerStatus::Starting),
            output: Mutex::new(VecDeque::with_capacity(OUTPUT_LINES)),
            restarts: AtomicU32::new(0),
        })
    }

    pub(crate) fn status(&self) -> ServerStatus {
        lock(&self.status).clone()
    }

    fn set(&self, status: ServerStatus) {
        *lock(&self.status) = status;
    }

    pub(crate) fn restarts(&self) -> u32 {
        self.restarts.load(Ordering::SeqCst)
    }

    /// The last `lines` lines the child wrote (stdout and stderr interleaved).
    pub(crate) fn output_tail(&self, lines: usize) -> String {
        let out = lock(&self.output);
        let skip = out.len().saturating_sub(lines);
        out.iter()
            .skip(skip)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn push_line(&self, line: String) {
        let mut out = lock(&self.output);
        if out.len() == OUTPUT_LINES {
            out.pop_front();
        }
        out.push_back(line);
    }
}

/// Everything needed to spawn the child again.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub(crate) binary: PathBuf,
    pub(crate) args: Vec<OsString>,
    pub(crate) setpriv: Option<PathBuf>,
    pub(crate) max_restarts: u32,
    pub(crate) backoff: Duration,
    pub(crate) max_backoff: Duration,
    pub(crate) stable_after: Duration,
}

impl Spec {
    fn command(&self) -> Command {
        let mut command = match &self.setpriv {
            Some(setpriv) => {
                let mut c = Command::new(setpriv);
                c.args(["--pdeathsig", "KILL", "--"]).arg(&self.binary);
                c
            }
            None => Command::new(&self.binary),
        };
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    }
}

/// Copies a pipe of the child into the shared output tail until the child closes it.
fn drain(pipe: impl Read + Send + 'static, shared: Arc<Shared>) {
    let spawned = thread::Builder::new()
        .name("llama-server-output".into())
        .spawn(move || {
            for line in BufReader::new(pipe).lines() {
                match line {
                    Ok(line) => shared.push_line(line),
                    Err(_) => break,
                }
            }
        });
    if let Err(e) = spawned {
        tracing::warn!("cannot read llama-server output: {e}");
    }
}

fn spawn(spec: &Spec, shared: &Arc<Shared>) -> std::io::Result<Child> {
    let mut child = spec.command().spawn()?;
    if let Some(out) = child.stdout.take() {
        drain(out, shared.clone());
    }
    if let Some(err) = child.stderr.take() {
        drain(err, shared.clone());
    }
    Ok(child)
}

/// True when the handle asked to stop (or is gone) within `wait`.
fn stop_requested(commands: &Receiver<Order>, wait: Duration) -> bool {
    match commands.recv_timeout(wait) {
        Ok(Order::Stop) | Err(RecvTimeoutError::Disconnected) => true,
        Err(RecvTimeoutError::Timeout) => false,
    }
}

/// The supervisor loop; runs on its own thread until stopped or out of restarts.
pub(crate) fn supervise(spec: Spec, shared: Arc<Shared>, commands: Receiver<Order>) {
    let mut generation = 0u64;
    let mut consecutive = 0u32;
    let mut backoff = spec.backoff;
    loop {
        shared.set(ServerStatus::Starting);
        let mut child = match spawn(&spec, &shared) {
            Ok(child) => child,
            Err(e) => {
                shared.set(ServerStatus::Failed {
                    reason: format!("cannot start {}: {e}", spec.binary.display()),
                });
                return;
            }
        };
        generation += 1;
        let started = Instant::now();
        shared.set(ServerStatus::Running {
            pid: child.id(),
            generation,
        });
        let exit = loop {
            if stop_requested(&commands, WATCH_INTERVAL) {
                // Kill, then reap: no zombie is left behind.
                let _ = child.kill();
                let _ = child.wait();
                shared.set(ServerStatus::Stopped);
                return;
            }
            match child.try_wait() {
                Ok(Some(status)) => break status.to_string(),
                Ok(None) => {}
                Err(e) => break format!("cannot watch the process: {e}"),
            }
        };
        tracing::warn!(%exit, generation, "managed llama-server exited");
        if started.elapsed() >= spec.stable_after {
            consecutive = 0;
            backoff = spec.backoff;
        }
        if consecutive >= spec.max_restarts {
            shared.set(ServerStatus::Failed {
                reason: format!(
                    "llama-server exited ({exit}) after {consecutive} restarts in a row; not restarting again"
                ),
            });
            return;
        }
        consecutive += 1;
        shared.restarts.fetch_add(1, Ordering::SeqCst);
        shared.set(ServerStatus::Restarting { last_exit: exit });
        if stop_requested(&commands, backoff) {
            shared.set(ServerStatus::Stopped);
            return;
        }
        backoff = (backoff * 2).min(spec.max_backoff);
    }
}
