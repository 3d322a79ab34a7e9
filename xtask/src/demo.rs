//! `cargo xtask demo [PROMPT…]`: the first command of the README. Provisions the local default on first use
//! (llama-server and SmolLM2-135M-Instruct only, through the same code and cache as `cargo xtask peers`,
//! with its progress), builds the CLI with cargo's own progress on screen, then runs
//! `llmux chat PROMPT` (whose spinner covers the local server starting until the first token).
//!
//! The CLI finds the cached binary and model by the same rule as [`PeerLayout::from_env`]; they are also
//! passed explicitly (`LLMUX_LLAMA_SERVER_BIN`, `LLMUX_LOCAL_MODEL`) unless the caller set those variables,
//! so both always agree. Keys or servers configured in the environment are used first, as by `llmux chat`.

use std::env;
use std::path::Path;

use crate::cmd::{self, Failure, Result};
use crate::layout::{Artifact, PeerLayout};
use crate::peers;

/// The prompt used when none is given.
const DEFAULT_PROMPT: &str = "Why is the sky blue?";

/// Runs the demo with `args` joined as the prompt.
pub(crate) fn run(root: &Path, args: &[String]) -> Result {
    let prompt = prompt(args);
    let layout = PeerLayout::from_env().map_err(Failure)?;
    let needed = [Artifact::Model, Artifact::LlamaServer];
    if !needed.iter().all(|a| layout.is_current(*a)) {
        eprintln!(
            "demo: first run: provisioning the local default (llama-server and SmolLM2-135M-Instruct); \
             later runs reuse the cache"
        );
    }
    peers::provision(&layout, &needed)?;
    eprintln!(
        "demo: building the llmux CLI (the first build takes a few minutes; later ones are instant)"
    );
    cmd::run(cmd::cargo(root).args(["build", "-p", "llmux-cli"]))?;
    let mut cli = cmd::cargo(root);
    cli.args(["run", "--quiet", "-p", "llmux-cli", "--", "chat"])
        .arg(&prompt);
    if env::var_os("LLMUX_LLAMA_SERVER_BIN").is_none() {
        cli.env("LLMUX_LLAMA_SERVER_BIN", layout.llama_server_bin());
    }
    if env::var_os("LLMUX_LOCAL_MODEL").is_none() {
        cli.env("LLMUX_LOCAL_MODEL", layout.model());
    }
    cmd::run(&mut cli)
}

/// The prompt: the arguments joined by spaces, or [`DEFAULT_PROMPT`].
fn prompt(args: &[String]) -> String {
    let joined = args.join(" ");
    if joined.trim().is_empty() {
        DEFAULT_PROMPT.to_owned()
    } else {
        joined
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_is_the_joined_arguments_or_the_default() {
        assert_eq!(prompt(&[]), DEFAULT_PROMPT);
        assert_eq!(prompt(&["  ".to_owned()]), DEFAULT_PROMPT);
        assert_eq!(prompt(&["Why".to_owned(), "not?".to_owned()]), "Why not?");
    }
}
