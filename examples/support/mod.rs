//! Shared by the examples: which provider to talk to, so each example runs on any machine.
//!
//! OpenAI when `OPENAI_API_KEY` is set, a running llama-server when `LLAMA_SERVER_URL` is set, else the local
//! default: a managed llama-server serving SmolLM2-135M-Instruct from `LLMUX_LLAMA_SERVER_BIN` and
//! `LLMUX_LOCAL_MODEL`, or from the cache `cargo xtask demo` (or `cargo xtask peers`) fills.

// Each example uses a different part of this module.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::Arc;

use llmux::llamacpp::{LlamaCpp, ManagedConfig, ManagedServer};
use llmux::openai::OpenAi;
use llmux::{Error, ErrorKind, Provider};

/// A provider and the model to ask it for.
pub(crate) struct Picked {
    pub(crate) provider: Arc<dyn Provider>,
    pub(crate) model: String,
}

/// The provider the examples use (see the module docs).
pub(crate) async fn pick() -> Result<Picked, Error> {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    if set("OPENAI_API_KEY") {
        return Ok(Picked {
            provider: Arc::new(OpenAi::from_env()?),
            model: "gpt-4o-mini".to_owned(),
        });
    }
    if set("LLAMA_SERVER_URL") {
        return Ok(Picked {
            provider: Arc::new(LlamaCpp::from_env()?),
            model: "default".to_owned(),
        });
    }
    let local = local().await?;
    Ok(Picked {
        model: local.model.clone(),
        provider: Arc::new(local.server),
    })
}

/// The local default, running (it stops when dropped).
pub(crate) struct Local {
    pub(crate) server: ManagedServer,
    pub(crate) base_url: String,
    pub(crate) model: String,
}

/// Starts the local default: a managed llama-server with SmolLM2-135M-Instruct.
pub(crate) async fn local() -> Result<Local, Error> {
    let (binary, model) = local_paths()?;
    eprintln!("[starting the local default: {}]", binary.display());
    let server = ManagedServer::start(ManagedConfig::new(binary, model)).await?;
    Ok(Local {
        base_url: server.base_url().to_owned(),
        server,
        model: "SmolLM2-135M-Instruct".to_owned(),
    })
}

/// The llama-server binary and the model: the override variables, else the peers cache.
fn local_paths() -> Result<(PathBuf, PathBuf), Error> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let cache = var("LLMUX_CACHE_DIR")
        .or_else(|| var("XDG_CACHE_HOME").map(|x| x.join("llmux")))
        .or_else(|| var("HOME").map(|h| h.join(".cache").join("llmux")))
        .map(|c| c.join("peers"));
    let binary = var("LLMUX_LLAMA_SERVER_BIN")
        .or_else(|| cache.as_ref().map(|c| c.join("bin/llama-server")));
    let model = var("LLMUX_LOCAL_MODEL").or_else(|| {
        cache
            .as_ref()
            .map(|c| c.join("models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    });
    match (binary, model) {
        (Some(b), Some(m)) => Ok((b, m)),
        _ => Err(Error::new(
            ErrorKind::NotFound,
            "no provider configured and no local default: set OPENAI_API_KEY or LLAMA_SERVER_URL, or run `cargo xtask demo`",
        )),
    }
}

/// The command-line arguments joined as a prompt, or `default`.
pub(crate) fn prompt(default: &str) -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        default.to_owned()
    } else {
        args.join(" ")
    }
}
