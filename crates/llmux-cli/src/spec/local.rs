//! The managed local llama-server: where the environment (or `cargo xtask peers`) puts its binary and
//! model, and the bounds a small local model answers under.

use std::path::{Path, PathBuf};

use llmux::Params;

use super::{
    Backend, EntrySpec, FleetSpec, Key, LLAMA_SERVER_BIN_VAR, LOCAL_MODEL_FILE, LOCAL_MODEL_NAME,
    LOCAL_MODEL_VAR, Origin, Setting,
};
use crate::env::Env;

/// The managed local llama-server's binary and model, as the environment locates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDefault {
    /// The llama-server binary.
    pub binary: Setting<PathBuf>,
    /// The GGUF model.
    pub model_file: Setting<PathBuf>,
}

impl LocalDefault {
    /// Each missing file, described with the variable that overrides it.
    pub fn missing(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (setting, what) in [(&self.binary, "llama-server"), (&self.model_file, "model")] {
            if !setting.value.is_file() {
                out.push(format!(
                    "no {what} at {} ({})",
                    setting.value.display(),
                    setting.origin
                ));
            }
        }
        out
    }

    /// The chain entry serving it.
    pub fn into_entry(self) -> EntrySpec {
        EntrySpec {
            backend: Backend::Managed {
                binary: self.binary,
                model_file: self.model_file,
            },
            model: Setting::new(LOCAL_MODEL_NAME.to_owned(), Origin::Default),
            base_url: Setting::new(None, Origin::Default),
            key: Key::NotNeeded,
            params: Params::default(),
            defaults: local_defaults(),
            extra: serde_json::Map::new(),
            reasoning: None,
            embed_model: None,
            space: None,
            fleet: FleetSpec::default(),
        }
    }
}

/// What the local default sends when a request sets nothing else: a 135M model rambles and loops without a
/// bound, so answers stop at 256 tokens, sample narrowly and penalise repeats. `--param` (the request's own
/// values) overrides each.
pub fn local_defaults() -> Params {
    let mut p = Params::default();
    p.max_tokens = Some(256);
    p.temperature = Some(0.3);
    p.top_p = Some(0.9);
    p.top_k = Some(40);
    p.repeat_penalty = Some(1.2);
    p
}

/// Where the managed llama-server and its model are: `LLMUX_LLAMA_SERVER_BIN` / `LLMUX_LOCAL_MODEL`, else the
/// peers cache that `cargo xtask peers` fills (`${LLMUX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llmux}/peers`).
pub fn managed_local(env: &Env) -> LocalDefault {
    let peers = peers_dir(env);
    let pick = |var: &str, cached: Option<PathBuf>| match env.get(var) {
        Some(v) => Setting::new(PathBuf::from(v), Origin::Env(var.to_owned())),
        None => Setting::new(
            cached.unwrap_or_else(|| PathBuf::from("<no cache directory: HOME is not set>")),
            Origin::Default,
        ),
    };
    LocalDefault {
        binary: pick(
            LLAMA_SERVER_BIN_VAR,
            peers.as_ref().map(|p| p.join("bin").join("llama-server")),
        ),
        model_file: pick(
            LOCAL_MODEL_VAR,
            peers.map(|p| p.join("models").join(LOCAL_MODEL_FILE)),
        ),
    }
}

/// The peers cache directory, by the same rule as `xtask/src/layout.rs`.
pub fn peers_dir(env: &Env) -> Option<PathBuf> {
    let cache = if let Some(dir) = env.get("LLMUX_CACHE_DIR") {
        PathBuf::from(dir)
    } else if let Some(xdg) = env.get("XDG_CACHE_HOME") {
        Path::new(xdg).join("llmux")
    } else {
        Path::new(env.get("HOME")?).join(".cache").join("llmux")
    };
    Some(cache.join("peers"))
}
