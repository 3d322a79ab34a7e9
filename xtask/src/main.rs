//! `cargo xtask`: the project's own automation, written in Rust so it runs wherever cargo does.
//!
//! - `cargo xtask bench [--quick]`: the whole-client benchmarks against other crates (see [`mod@bench`]).
//! - `cargo xtask ci [STEP…]`: everything CI checks, in order (see [`ci`]); `.ci/run` runs exactly this.
//! - `cargo xtask peers [llm-katan|model|llama-server…]`: provision the end-to-end test peers (see [`peers`]).
//! - `cargo xtask fuzz [--time S] [--build-only]`: build and run the `fuzz/` targets (see [`fuzz`]).
//! - `cargo xtask demo [PROMPT…]`: provision the local default model on first use and ask it (see [`demo`]).

use std::env;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

mod bench;
mod ci;
mod cmd;
mod demo;
mod fuzz;
// This file is shared with the `llmux-e2e` harness, where its items are public API.
#[allow(unreachable_pub)]
mod layout;
mod peers;
mod stream_table;
#[cfg(test)]
mod tidy;

use cmd::{Failure, Result, bail};
use layout::{Artifact, PeerLayout};

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  bench [--quick]                 whole-client benchmarks vs other crates (writes bench/target/bench-*.md)
  ci [STEP...]                    run every CI step in order (or only the named ones); `ci --list` names them
  peers [ARTIFACT...]             install, build and cache the test peers: llm-katan, model, llama-server;
                                  install Debian's redis-server when missing
  fuzz [--time S] [--build-only]  build the fuzz targets and replay their corpora, or fuzz each for S seconds
  stream-table [DIR]              print llm-stream's throughput tables from criterion's results (after cargo bench)
  demo [PROMPT...]                install the local default (llama-server + SmolLM2) if needed, then `llmux chat`
  help                            show this message

environment:
  LLMUX_CACHE_DIR  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/llmux); peers live in its peers/ folder
";

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            eprintln!("\nerror: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result {
    let (command, rest) = match args.split_first() {
        Some((command, rest)) => (command.as_str(), rest),
        None => ("help", &[][..]),
    };
    match command {
        "bench" => bench::run(&repo_root(), rest),
        "ci" => ci::run(&repo_root(), rest),
        "peers" => {
            let layout = PeerLayout::from_env().map_err(Failure)?;
            let selected = parse_artifacts(rest)?;
            peers::provision(&layout, &selected)?;
            peers::ensure_redis()
        }
        "fuzz" => fuzz::run(&repo_root(), &fuzz::Options::parse(rest)?),
        "demo" => demo::run(&repo_root(), rest),
        "stream-table" => stream_table::run(&repo_root(), rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown command `{other}`\n\n{USAGE}"),
    }
}

fn parse_artifacts(names: &[String]) -> Result<Vec<Artifact>> {
    if names.is_empty() {
        return Ok(Artifact::ALL.to_vec());
    }
    names
        .iter()
        .map(
            |name| match Artifact::ALL.into_iter().find(|a| a.name() == name) {
                Some(artifact) => Ok(artifact),
                None => bail!(
                    "unknown peer artifact `{name}` (expected llm-katan, model or llama-server)"
                ),
            },
        )
        .collect()
}

/// The workspace root: the parent of this package's directory.
///
/// `cargo run` and `cargo test` set `CARGO_MANIFEST_DIR` when they start the program, and that value wins
/// over the one compiled in: a target dir shared between checkouts (CI keeps one outside its fresh
/// clones) can hold a binary compiled in another checkout.
fn repo_root() -> PathBuf {
    let manifest_dir = env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest_dir
        .parent()
        .map_or_else(|| manifest_dir.clone(), Path::to_path_buf)
}
