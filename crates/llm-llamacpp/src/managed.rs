//! Managed mode: llmux starts a `llama-server` child on a free loopback port, waits until it is ready,
//! restarts it when it dies, and stops it when the handle is dropped: [`ManagedServer`].
//!
//! - **Supervision**: a dedicated thread owns the child and polls it while it waits for commands (see the
//!   supervisor module); requests check the shared status before they are sent, and wait (up to
//!   [`ManagedConfig::ready_timeout`]) for a restarted child to answer `/health`. Restarts back off
//!   exponentially ([`ManagedConfig::restart_backoff`] doubling up to [`ManagedConfig::max_backoff`]) and stop
//!   after [`ManagedConfig::max_restarts`] in a row (a child that ran for [`ManagedConfig::stable_after`]
//!   resets the count).
//! - **Stopping**: dropping the [`ManagedServer`] kills the child and reaps it before `drop` returns.
//! - **Parent death**: on Linux the child is started through util-linux `setpriv --pdeathsig KILL`, so the
//!   kernel kills it when the supervisor thread (and so the owning process, even on SIGKILL) dies. This
//!   keeps the crate free of `unsafe` (no `prctl` in `pre_exec`). Without `setpriv` on the `PATH` the child
//!   is started directly and a warning is logged: it may then outlive a killed owner.
//! - **Configuration errors**: a missing binary or model is a `not_found` error naming the path, before
//!   anything is spawned.

use std::ffi::OsString;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use async_trait::async_trait;
use llm_core::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, Embedder, Error, ErrorKind,
    Price, Provider,
};
use tokio::time::Instant;

use crate::client::LlamaCpp;
use crate::config::LlamaCppConfig;
use crate::supervisor::{Order, ServerStatus, Shared, Spec, WATCH_INTERVAL, supervise};

/// How to start and supervise a managed `llama-server`.
///
/// ```
/// use std::time::Duration;
/// use llm_llamacpp::ManagedConfig;
///
/// let config = ManagedConfig::new("/opt/llama/llama-server", "/models/SmolLM2-135M-Instruct.Q4_1.gguf")
///     .ctx_size(4096)
///     .slots(2)
///     .arg("--threads")
///     .arg("2")
///     .ready_timeout(Duration::from_secs(120));
/// assert_eq!(config.ctx_size, 4096);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct ManagedConfig {
    /// The `llama-server` executable.
    pub binary: PathBuf,
    /// The GGUF model file (`-m`).
    pub model: PathBuf,
    /// Context size (`-c`), default 2048.
    pub ctx_size: u32,
    /// Parallel slots (`-np`), default 2.
    pub slots: u32,
    /// Serve embeddings (`--embeddings --pooling …`) instead of completions; `None` (the default) serves
    /// completions. A server started so answers `/v1/embeddings` and refuses chat.
    pub embeddings: Option<Pooling>,
    /// Further arguments, appended after llmux's own.
    pub extra_args: Vec<OsString>,
    /// How long a (re)started child may take to answer `/health` with 200; default 60 s.
    pub ready_timeout: Duration,
    /// Restarts in a row before giving up; default 5.
    pub max_restarts: u32,
    /// The wait before the first restart; it doubles for each further one. Default 250 ms.
    pub restart_backoff: Duration,
    /// The longest wait between restarts; default 8 s.
    pub max_backoff: Duration,
    /// A child that ran this long resets the restart count and backoff; default 60 s.
    pub stable_after: Duration,
    /// The `setpriv` used for the parent-death signal; `None` starts the child directly. [`ManagedConfig::new`]
    /// looks for `setpriv` on the `PATH` (Linux only).
    pub setpriv: Option<PathBuf>,
    /// The client settings (name, time limits, load wait); the base URL is replaced by the child's.
    pub client: LlamaCppConfig,
}

impl ManagedConfig {
    /// Settings for `binary` serving `model`, with the defaults listed on each field.
    pub fn new(binary: impl Into<PathBuf>, model: impl Into<PathBuf>) -> Self {
        ManagedConfig {
            binary: binary.into(),
            model: model.into(),
            ctx_size: 2048,
            slots: 2,
            embeddings: None,
            extra_args: Vec::new(),
            ready_timeout: Duration::from_secs(60),
            max_restarts: 5,
            restart_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(8),
            stable_after: Duration::from_secs(60),
            setpriv: find_setpriv(),
            client: LlamaCppConfig::default(),
        }
    }

    /// Sets the context size.
    #[must_use]
    pub fn ctx_size(mut self, n: u32) -> Self {
        self.ctx_size = n;
        self
    }

    /// Sets the number of slots.
    #[must_use]
    pub fn slots(mut self, n: u32) -> Self {
        self.slots = n;
        self
    }

    /// Starts the server with embeddings on, pooling token vectors with `pooling` (SmolLM2 and other chat
    /// models give sentence vectors only with [`Pooling::Mean`]), and with one slot.
    ///
    /// One slot, because with several the llama-server this project tests against (the llama.cpp of
    /// `llama-cpp-python` 0.3.36) answers a text pooled in any slot but the first with a vector that is not
    /// that text's: the same text gives another vector in slot 1 than in slot 0 (and than alone). Call
    /// [`ManagedConfig::slots`] afterwards to choose otherwise for a server known to be right.
    #[must_use]
    pub fn embeddings(mut self, pooling: Pooling) -> Self {
        self.embeddings = Some(pooling);
        self.slots = 1;
        self
    }

    /// Appends one argument for `llama-server`.
    #[must_use]
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.extra_args.push(arg.into());
        self
    }

    /// Sets the readiness limit.
    #[must_use]
    pub fn ready_timeout(mut self, limit: Duration) -> Self {
        self.ready_timeout = limit;
        self
    }

    /// Sets how many restarts in a row are allowed.
    #[must_use]
    pub fn max_restarts(mut self, n: u32) -> Self {
        self.max_restarts = n;
        self
    }

    /// Sets the first and the longest wait between restarts.
    #[must_use]
    pub fn restart_backoff(mut self, first: Duration, max: Duration) -> Self {
        self.restart_backoff = first;
        self.max_backoff = max;
        self
    }

    /// Starts the child directly, without a parent-death signal.
    #[must_use]
    pub fn without_parent_death(mut self) -> Self {
        self.setpriv = None;
        self
    }

    /// Sets the client settings.
    #[must_use]
    pub fn client(mut self, client: LlamaCppConfig) -> Self {
        self.client = client;
        self
    }
}

/// How llama-server pools a text's token vectors into one embedding (`--pooling`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Pooling {
    /// The mean of the token vectors.
    Mean,
    /// The vector of the first (CLS) token.
    Cls,
    /// The vector of the last token.
    Last,
}

impl Pooling {
    /// The `--pooling` value.
    pub const fn as_str(self) -> &'static str {
        match self {
            Pooling::Mean => "mean",
            Pooling::Cls => "cls",
            Pooling::Last => "last",
        }
    }
}

/// `setpriv` on the `PATH`, on Linux.
fn find_setpriv() -> Option<PathBuf> {
    if !cfg!(target_os = "linux") {
        return None;
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("setpriv"))
        .find(|candidate| candidate.is_file())
}

fn config_error(name: &str, kind: ErrorKind, message: String) -> Error {
    Error::new(kind, message).with_provider(name.to_owned())
}

/// `path` must be an existing file: a clear `not_found` error naming it otherwise.
fn check_file(name: &str, what: &str, path: &Path) -> Result<(), Error> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => Ok(()),
        Ok(_) => Err(config_error(
            name,
            ErrorKind::NotFound,
            format!("the {what} {} is not a file", path.display()),
        )),
        Err(e) => Err(config_error(
            name,
            ErrorKind::NotFound,
            format!("the {what} {} cannot be used: {e}", path.display()),
        )
        .with_source(e)),
    }
}

fn free_port(name: &str) -> Result<u16, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| {
        config_error(name, ErrorKind::Unknown, "no free loopback port".into()).with_source(e)
    })?;
    listener.local_addr().map(|a| a.port()).map_err(|e| {
        config_error(name, ErrorKind::Unknown, "no free loopback port".into()).with_source(e)
    })
}

/// A `llama-server` child started and supervised by llmux, usable as an llmux [`Provider`] (chat goes to
/// the child through [`LlamaCpp`]). Dropping it kills and reaps the child.
///
/// Hold it in an `Arc` to share it (e.g. as the last entry of a fallback chain); the child lives as long as
/// the last reference.
///
/// ```no_run
/// # async fn run() -> Result<(), llm_core::Error> {
/// use llm_core::{ChatRequest, Provider};
/// use llm_llamacpp::{ManagedConfig, ManagedServer};
///
/// let server = ManagedServer::start(ManagedConfig::new("llama-server", "SmolLM2-135M-Instruct.Q4_1.gguf")).await?;
/// let answer = server.chat(&ChatRequest::new("smollm2").user("Hi").max_tokens(16)).await?;
/// println!("{} (from {})", answer.text, server.base_url());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ManagedServer {
    client: LlamaCpp,
    shared: Arc<Shared>,
    ready_timeout: Duration,
    /// The generation whose `/health` answered 200 last.
    confirmed: Mutex<u64>,
    orders: Sender<Order>,
    thread: Option<JoinHandle<()>>,
}

impl ManagedServer {
    /// Checks the paths, starts the child on a free 127.0.0.1 port with
    /// `-m MODEL --host 127.0.0.1 --port P -c CTX -np SLOTS` and the extra arguments, and waits until it
    /// answers `/health` with 200 (at most [`ManagedConfig::ready_timeout`]).
    ///
    /// Errors: `not_found` naming a missing binary or model; `server` when the child exits during startup
    /// (the message ends with its output); `timeout` when it is not ready in time.
    pub async fn start(config: ManagedConfig) -> Result<ManagedServer, Error> {
        let name = config.client.http.name.clone();
        check_file(&name, "llama-server binary", &config.binary)?;
        check_file(&name, "model", &config.model)?;
        let port = free_port(&name)?;
        let mut args: Vec<OsString> = vec!["-m".into(), config.model.clone().into_os_string()];
        for (flag, value) in [
            ("--host", "127.0.0.1".to_owned()),
            ("--port", port.to_string()),
            ("-c", config.ctx_size.to_string()),
            ("-np", config.slots.to_string()),
        ] {
            args.push(flag.into());
            args.push(value.into());
        }
        if let Some(pooling) = config.embeddings {
            args.extend([
                "--embeddings".into(),
                "--pooling".into(),
                pooling.as_str().into(),
            ]);
        }
        args.extend(config.extra_args.iter().cloned());
        if config.setpriv.is_none() {
            tracing::warn!(
                "setpriv not found: the managed llama-server may outlive this process if it is killed"
            );
        }
        let spec = Spec {
            binary: config.binary.clone(),
            args,
            setpriv: config.setpriv.clone(),
            max_restarts: config.max_restarts,
            backoff: config.restart_backoff,
            max_backoff: config.max_backoff,
            stable_after: config.stable_after,
        };
        let client = LlamaCpp::new(
            config
                .client
                .clone()
                .base_url(format!("http://127.0.0.1:{port}")),
        )?;
        let shared = Shared::new();
        let (orders, inbox) = mpsc::channel();
        let thread = {
            let shared = shared.clone();
            thread::Builder::new()
                .name("llama-server-supervisor".into())
                .spawn(move || supervise(spec, shared, inbox))
                .map_err(|e| {
                    config_error(
                        &name,
                        ErrorKind::Unknown,
                        "cannot start the supervisor thread".into(),
                    )
                    .with_source(e)
                })?
        };
        let server = ManagedServer {
            client,
            shared,
            ready_timeout: config.ready_timeout,
            confirmed: Mutex::new(0),
            orders,
            thread: Some(thread),
        };
        server.wait(true).await?;
        Ok(server)
    }

    /// The client of the child (native `/completion`, `/props`, …). After a restart, call
    /// [`ManagedServer::ensure_ready`] first.
    pub fn client(&self) -> &LlamaCpp {
        &self.client
    }

    /// `http://127.0.0.1:PORT` of the child (the port stays the same across restarts).
    pub fn base_url(&self) -> &str {
        &self.client.config().http.base_url
    }

    /// What the supervisor is doing.
    pub fn status(&self) -> ServerStatus {
        self.shared.status()
    }

    /// The running child's process id.
    pub fn pid(&self) -> Option<u32> {
        match self.shared.status() {
            ServerStatus::Running { pid, .. } => Some(pid),
            _ => None,
        }
    }

    /// How many times the child was restarted since the start.
    pub fn restarts(&self) -> u32 {
        self.shared.restarts()
    }

    /// The last `lines` lines the child wrote (for diagnostics).
    pub fn output_tail(&self, lines: usize) -> String {
        self.shared.output_tail(lines)
    }

    /// Waits (up to the readiness limit) until a running child answers `/health` with 200. Returns at once
    /// when the current child already did. `overloaded` while it is still restarting when the limit passes,
    /// `server` (not retryable) when the supervisor gave up, `unknown` after a stop.
    pub async fn ensure_ready(&self) -> Result<(), Error> {
        self.wait(false).await
    }

    fn name(&self) -> String {
        self.client.config().http.name.to_string()
    }

    fn confirmed(&self) -> u64 {
        *self.confirmed.lock().unwrap_or_else(|p| p.into_inner())
    }

    async fn wait(&self, initial: bool) -> Result<(), Error> {
        let deadline = Instant::now() + self.ready_timeout;
        let mut last: Option<Error> = None;
        loop {
            let generation = match self.shared.status() {
                ServerStatus::Running { generation, .. } => generation,
                ServerStatus::Restarting { last_exit } if initial => {
                    return Err(config_error(
                        &self.name(),
                        ErrorKind::Server,
                        format!(
                            "llama-server exited during startup ({last_exit}); its output ends:\n{}",
                            self.output_tail(20)
                        ),
                    )
                    .with_should_retry(Some(false)));
                }
                ServerStatus::Failed { reason } => {
                    return Err(config_error(
                        &self.name(),
                        ErrorKind::Server,
                        format!("{reason}; its output ends:\n{}", self.output_tail(20)),
                    )
                    .with_should_retry(Some(false)));
                }
                ServerStatus::Stopped => {
                    return Err(config_error(
                        &self.name(),
                        ErrorKind::Unknown,
                        "the managed llama-server was stopped".into(),
                    ));
                }
                ServerStatus::Starting | ServerStatus::Restarting { .. } => 0,
            };
            if generation != 0 {
                if generation == self.confirmed() {
                    return Ok(());
                }
                match self.client.ready().await {
                    Ok(()) => {
                        *self.confirmed.lock().unwrap_or_else(|p| p.into_inner()) = generation;
                        return Ok(());
                    }
                    Err(e) if !e.is_retryable() => return Err(e),
                    Err(e) => last = Some(e),
                }
            }
            if Instant::now() >= deadline {
                let message = format!(
                    "llama-server not ready within {:?}{}",
                    self.ready_timeout,
                    last.as_ref()
                        .map(|e| format!(" (last: {e})"))
                        .unwrap_or_default()
                );
                let kind = if initial {
                    ErrorKind::Timeout
                } else {
                    ErrorKind::Overloaded
                };
                return Err(config_error(&self.name(), kind, message));
            }
            // Polling the shared status and `/health` of a starting child, bounded by the readiness limit.
            tokio::time::sleep(WATCH_INTERVAL).await;
        }
    }
}

impl Drop for ManagedServer {
    fn drop(&mut self) {
        let _ = self.orders.send(Order::Stop);
        if let Some(thread) = self.thread.take() {
            // The supervisor kills and reaps the child, then ends; this takes milliseconds.
            let _ = thread.join();
        }
    }
}

#[async_trait]
impl Provider for ManagedServer {
    fn name(&self) -> &str {
        self.client.name()
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        self.client.validate(request)
    }

    fn price(&self, model: &str) -> Option<Price> {
        self.client.price(model)
    }

    fn identity(&self) -> Option<String> {
        self.client.identity()
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        self.client.validate(request)?;
        self.ensure_ready().await?;
        self.client.chat(request).await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        self.client.validate(request)?;
        self.ensure_ready().await?;
        self.client.stream(request).await
    }

    /// Does not wait: a child that is restarting is `overloaded` now.
    async fn health(&self) -> Result<(), Error> {
        match self.shared.status() {
            ServerStatus::Running { .. } => self.client.ready().await,
            ServerStatus::Starting | ServerStatus::Restarting { .. } => Err(config_error(
                &self.name(),
                ErrorKind::Overloaded,
                "the managed llama-server is restarting".into(),
            )),
            _ => self.ensure_ready().await,
        }
    }
}

#[async_trait]
impl Embedder for ManagedServer {
    fn embedder_name(&self) -> &str {
        self.client.embedder_name()
    }

    fn validate_embed(&self, request: &EmbedRequest) -> Result<(), Error> {
        self.client.validate_embed(request)
    }

    async fn embed(&self, request: &EmbedRequest) -> Result<EmbedResponse, Error> {
        self.client.validate_embed(request)?;
        self.ensure_ready().await?;
        self.client.embed(request).await
    }
}
