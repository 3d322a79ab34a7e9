//! End-to-end test harness for llmux: the real peer servers, started on free loopback ports.
//!
//! `cargo xtask peers` installs and caches the peers (see `shared/peers.md`); this crate finds them in the
//! same cache (`$LLMUX_CACHE_DIR/peers`, else `${XDG_CACHE_HOME:-$HOME/.cache}/llmux/peers`), starts one
//! instance per call, waits until its `GET /health` answers 200, and kills and reaps it on drop. A missing
//! peer is a panic that says to run `cargo xtask peers`: an end-to-end test fails, it never skips.
//!
//! The peer harness is synchronous (`std::process`, `std::net`), so both `#[test]` and `#[tokio::test]`
//! functions can start peers. [`net`] holds the async (tokio) raw test servers the provider crates share:
//! a raw HTTP/1.1 server whose handler writes any bytes, and a connection-counting TCP proxy.
//!
//! ```no_run
//! use llmux_e2e::{Katan, LlamaServer};
//!
//! let katan = Katan::builder().arg("--error-rate").arg("1.0").start();
//! let url = format!("{}/v1/chat/completions", katan.base_url());
//! let llama = LlamaServer::start();
//! assert!(llama.base_url().starts_with("http://127.0.0.1:"));
//! # let _ = url;
//! ```

#![forbid(unsafe_code)]

use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub mod http;
#[path = "../../xtask/src/layout.rs"]
pub mod layout;
pub mod net;
mod process;
mod redis;

use layout::Artifact;
use process::Process;
pub use redis::RedisServer;

/// An llm-katan server (echo backend, OpenAI and Anthropic wire formats) on a free loopback port.
///
/// Started as `llm-katan --model katan-echo --backend echo --providers openai,anthropic --host 127.0.0.1
/// --port PORT --disable-dashboard --stats-file <scratch>` followed by the builder's extra arguments
/// (later flags override earlier ones, so `--providers openai` narrows the default).
#[derive(Debug)]
pub struct Katan {
    process: Process,
}

/// Builds a [`Katan`] with extra command-line arguments (failure injection, keys, latency).
#[derive(Debug, Default, Clone)]
#[must_use = "a builder does nothing until `start()`"]
pub struct KatanBuilder {
    args: Vec<OsString>,
    port: Option<u16>,
}

impl Katan {
    /// The model name the server answers to.
    pub const MODEL: &'static str = "katan-echo";

    /// A builder for an instance with extra arguments.
    pub fn builder() -> KatanBuilder {
        KatanBuilder::default()
    }

    /// Starts an instance with the default arguments; panics if it cannot (see [`KatanBuilder::start`]).
    pub fn start() -> Katan {
        Katan::builder().start()
    }

    /// The cached `llm-katan` launcher; panics if the peers are not provisioned.
    pub fn binary_path() -> PathBuf {
        process::provisioned(Artifact::Katan)
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.process.base_url()
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// The last `lines` lines of the server's output, for assertion messages.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }
}

impl KatanBuilder {
    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    pub fn args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Listens on `port` instead of a free one, e.g. to restart an instance where clients already point
    /// (start the new one after the old one was dropped).
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Starts the server and waits until `GET /health` answers 200.
    ///
    /// # Panics
    /// When llm-katan is not provisioned (run `cargo xtask peers`), exits early, or is not ready within 60 s;
    /// the message carries the tail of its output.
    pub fn start(self) -> Katan {
        let program = process::provisioned(Artifact::Katan);
        let envs = [
            ("PYTHONUNBUFFERED", "1"),
            ("HF_HUB_OFFLINE", "1"),
            ("NO_COLOR", "1"),
        ];
        let process = Process::start("llm-katan", &program, &envs, self.port, |port, dir| {
            let mut args: Vec<OsString> = [
                "--model",
                Katan::MODEL,
                "--backend",
                "echo",
                "--providers",
                "openai,anthropic",
                "--host",
                "127.0.0.1",
                "--disable-dashboard",
            ]
            .iter()
            .map(Into::into)
            .collect();
            args.push("--port".into());
            args.push(port.to_string().into());
            // Its request statistics persist across restarts by default; keep each instance's own.
            args.push("--stats-file".into());
            args.push(dir.join("stats.json").into());
            args.extend(self.args.iter().cloned());
            args
        });
        Katan { process }
    }
}

/// The Python interpreter of the peers' venv, where `cargo xtask peers` installs llm-katan and the official
/// `openai` and `anthropic` SDKs (at the versions `layout::PYTHON_SDKS` pins): for tests that run real
/// clients against llmux.
///
/// # Panics
/// When llm-katan (and so the venv) is not provisioned: run `cargo xtask peers`.
pub fn peer_python() -> PathBuf {
    let layout = layout::PeerLayout::from_env().unwrap_or_else(|e| panic!("{e}"));
    process::provisioned(Artifact::Katan);
    layout.venv_python()
}

/// Where `cargo xtask peers` installed the npm clients (`layout::NPM_CLIENTS`): Claude Code, Codex and the
/// Vercel AI SDK, as real clients of `llmux serve`.
#[derive(Debug, Clone)]
pub struct NpmClients {
    layout: layout::PeerLayout,
}

impl NpmClients {
    /// The installed clients.
    ///
    /// # Panics
    /// When they are not provisioned: run `cargo xtask peers`.
    pub fn get() -> NpmClients {
        let layout = layout::PeerLayout::from_env().unwrap_or_else(|e| panic!("{e}"));
        process::provisioned(Artifact::Npm);
        NpmClients { layout }
    }

    /// The `claude` launcher.
    pub fn claude(&self) -> PathBuf {
        self.layout.claude_bin()
    }

    /// The `codex` launcher.
    pub fn codex(&self) -> PathBuf {
        self.layout.codex_bin()
    }

    /// The `node_modules` folder a Node.js script imports the AI SDK from (set it as `NODE_PATH`, or run
    /// the script from a folder inside the npm prefix).
    pub fn node_modules(&self) -> PathBuf {
        self.layout.node_modules()
    }
}

/// A llama.cpp `llama-server` serving SmolLM2-135M-Instruct on a free loopback port.
///
/// Started as `llama-server -m <model> --host 127.0.0.1 --port PORT -c 2048 -np 2` followed by the builder's
/// extra arguments.
#[derive(Debug)]
pub struct LlamaServer {
    process: Process,
}

/// Builds a [`LlamaServer`] with extra command-line arguments.
#[derive(Debug, Default, Clone)]
#[must_use = "a builder does nothing until `start()`"]
pub struct LlamaServerBuilder {
    args: Vec<OsString>,
}

impl LlamaServer {
    /// A builder for an instance with extra arguments.
    pub fn builder() -> LlamaServerBuilder {
        LlamaServerBuilder::default()
    }

    /// Starts an instance with the default arguments; panics if it cannot (see [`LlamaServerBuilder::start`]).
    pub fn start() -> LlamaServer {
        LlamaServer::builder().start()
    }

    /// The cached `llama-server` binary; panics if the peers are not provisioned.
    pub fn binary_path() -> PathBuf {
        process::provisioned(Artifact::LlamaServer)
    }

    /// The cached SmolLM2 GGUF model; panics if the peers are not provisioned.
    pub fn model_path() -> PathBuf {
        process::provisioned(Artifact::Model)
    }

    /// The chat template [`LlamaServerBuilder::tool_calls`] serves the model with.
    pub fn tool_template_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("templates")
            .join("smollm2-tool-calls.jinja")
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.process.base_url()
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// The last `lines` lines of the server's output, for assertion messages.
    pub fn log_tail(&self, lines: usize) -> String {
        self.process.log_tail(lines)
    }
}

impl LlamaServerBuilder {
    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends several arguments.
    pub fn args<I>(mut self, args: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Serves SmolLM2 with `tests/templates/smollm2-tool-calls.jinja`, under which a request with tools is
    /// answered with real `tool_calls` (whole and streamed), and a history with calls and results is taken.
    pub fn tool_calls(self) -> Self {
        self.arg("--chat-template-file")
            .arg(LlamaServer::tool_template_path())
    }

    /// Starts the server and waits until `GET /health` answers 200 (503 while the model loads).
    ///
    /// # Panics
    /// When the server or the model is not provisioned (run `cargo xtask peers`), exits early, or is not
    /// ready within 60 s; the message carries the tail of its output.
    pub fn start(self) -> LlamaServer {
        let program = LlamaServer::binary_path();
        let model = LlamaServer::model_path();
        let process = Process::start("llama-server", &program, &[], None, |port, _dir| {
            let mut args: Vec<OsString> = vec!["-m".into(), model.clone().into()];
            for arg in ["--host", "127.0.0.1", "-c", "2048", "-np", "2", "--port"] {
                args.push(arg.into());
            }
            args.push(port.to_string().into());
            args.extend(self.args.iter().cloned());
            args
        });
        LlamaServer { process }
    }
}
