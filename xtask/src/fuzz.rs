//! `cargo xtask fuzz`: build the cargo-fuzz targets in `fuzz/` and replay or extend their corpora.
//!
//! Only the stable toolchain exists on the project's machines, so every target is built with
//! `--sanitizer none` (sanitizers need nightly). The committed seed corpora in `fuzz/corpus/<target>/` are
//! never written to: a timed run fuzzes a copy in `fuzz/target/corpus-work/<target>/`, which git ignores
//! and which keeps growing across runs; a crash lands in cargo-fuzz's usual `fuzz/artifacts/<target>/`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process;

use crate::cmd::Outcome;
use crate::cmd::{self, Context as _, Failure, Result, bail};

/// The cargo-fuzz release installed when `cargo fuzz` is missing or another version.
const CARGO_FUZZ_VERSION: &str = "0.13.2";

/// Command-line options of `cargo xtask fuzz`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Options {
    /// Fuzz each target for this many seconds.
    time: Option<u64>,
    /// Only build the targets.
    build_only: bool,
}

impl Options {
    /// Parses `[--time S] [--build-only]`.
    pub(crate) fn parse(args: &[String]) -> Result<Options> {
        let mut options = Options::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--build-only" => options.build_only = true,
                "--time" => {
                    let value = args
                        .next()
                        .ok_or_else(|| Failure("--time needs a number of seconds".into()))?;
                    match value.parse::<u64>() {
                        Ok(secs) if secs > 0 => options.time = Some(secs),
                        _ => bail!("--time expects a positive number of seconds, got `{value}`"),
                    }
                }
                other => bail!("unknown fuzz option `{other}` (expected --time S or --build-only)"),
            }
        }
        if options.build_only && options.time.is_some() {
            bail!("--build-only and --time exclude each other");
        }
        Ok(options)
    }
}

/// `cargo xtask fuzz`: build only, fuzz for a while, or (without options) build and replay as CI does.
pub(crate) fn run(root: &Path, options: &Options) -> Result {
    let project = Project::find(root)?
        .ok_or_else(|| Failure(format!("no fuzz project at {}", fuzz_dir(root).display())))?;
    project.build()?;
    if options.build_only {
        return Ok(());
    }
    match options.time {
        Some(secs) => project.fuzz_for(secs),
        None => project.replay(),
    }
}

/// The `ci` step: build every target and replay its committed corpus once; skipped while `fuzz/` is absent.
pub(crate) fn ci(root: &Path) -> Result<Outcome> {
    let Some(project) = Project::find(root)? else {
        return Ok(Outcome::Skipped("no fuzz/Cargo.toml yet".into()));
    };
    project.build()?;
    project.replay()?;
    Ok(Outcome::Passed)
}

fn fuzz_dir(root: &Path) -> PathBuf {
    root.join("fuzz")
}

#[derive(Debug)]
struct Project {
    root: PathBuf,
    dir: PathBuf,
    targets: Vec<String>,
}

impl Project {
    /// The fuzz project under `root`, with cargo-fuzz installed, or `None` when there is none.
    fn find(root: &Path) -> Result<Option<Project>> {
        let dir = fuzz_dir(root);
        if !dir.join("Cargo.toml").is_file() {
            return Ok(None);
        }
        cmd::ensure_cargo_tool(root, "cargo-fuzz", "fuzz", CARGO_FUZZ_VERSION)?;
        let mut project = Project {
            root: root.to_path_buf(),
            dir,
            targets: Vec::new(),
        };
        let listed = cmd::stdout(&mut project.cargo_fuzz("list"))?;
        project.targets = listed
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(String::from)
            .collect();
        if project.targets.is_empty() {
            bail!(
                "`cargo fuzz list` names no targets in {}",
                project.dir.display()
            );
        }
        Ok(Some(project))
    }

    /// `cargo fuzz <subcommand> --fuzz-dir fuzz`, run in the workspace root.
    fn cargo_fuzz(&self, subcommand: &str) -> process::Command {
        let mut c = cmd::cargo(&self.root);
        c.args(["fuzz", subcommand, "--fuzz-dir"]).arg(&self.dir);
        c
    }

    fn build(&self) -> Result {
        eprintln!("fuzz: building {}", self.targets.join(", "));
        cmd::run(self.cargo_fuzz("build").args(["--sanitizer", "none"]))
    }

    /// Runs every committed corpus input through its target once (`-runs=0`: no mutation, nothing written).
    fn replay(&self) -> Result {
        let artifacts = std::env::temp_dir().join(format!("llmux-fuzz-replay-{}", process::id()));
        fs::create_dir_all(&artifacts)
            .context(|| format!("cannot create {}", artifacts.display()))?;
        for target in &self.targets {
            let corpus = self.dir.join("corpus").join(target);
            let inputs = count_files(&corpus);
            if inputs == 0 {
                bail!(
                    "target `{target}` has no seed corpus in {}",
                    corpus.display()
                );
            }
            eprintln!("fuzz: replaying {inputs} corpus inputs through `{target}`");
            cmd::run(
                self.cargo_fuzz("run")
                    .args([target, "--sanitizer", "none"])
                    .arg(&corpus)
                    .arg("--")
                    .arg("-runs=0")
                    .arg(format!("-artifact_prefix={}/", artifacts.display())),
            )
            .map_err(|e| {
                Failure(format!(
                    "{e}; a crashing input was saved under {}",
                    artifacts.display()
                ))
            })?;
        }
        // Nothing in it on success; best effort.
        let _ = fs::remove_dir_all(&artifacts);
        Ok(())
    }

    /// Fuzzes each target for `secs` seconds on a working copy of its corpus.
    fn fuzz_for(&self, secs: u64) -> Result {
        for target in &self.targets {
            let seeds = self.dir.join("corpus").join(target);
            let work = self.dir.join("target").join("corpus-work").join(target);
            fs::create_dir_all(&work).context(|| format!("cannot create {}", work.display()))?;
            copy_new_files(&seeds, &work)?;
            eprintln!("fuzz: `{target}` for {secs}s on {}", work.display());
            cmd::run(
                self.cargo_fuzz("run")
                    .args([target, "--sanitizer", "none"])
                    .arg(&work)
                    .arg("--")
                    .arg(format!("-max_total_time={secs}")),
            )?;
        }
        Ok(())
    }
}

fn count_files(dir: &Path) -> usize {
    fs::read_dir(dir).map_or(0, |entries| {
        entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .count()
    })
}

/// Copies the files of `from` that `to` does not have yet (a missing `from` is an empty corpus).
fn copy_new_files(from: &Path, to: &Path) -> Result {
    let Ok(entries) = fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.context(|| format!("cannot list {}", from.display()))?;
        let dest = to.join(entry.file_name());
        if entry.path().is_file() && !dest.exists() {
            fs::copy(entry.path(), &dest).context(|| {
                format!(
                    "cannot copy {} to {}",
                    entry.path().display(),
                    dest.display()
                )
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_the_options() {
        assert_eq!(Options::parse(&[]).ok(), Some(Options::default()));
        assert_eq!(
            Options::parse(&args(&["--time", "30"])).ok(),
            Some(Options {
                time: Some(30),
                build_only: false
            })
        );
        assert_eq!(
            Options::parse(&args(&["--build-only"])).ok(),
            Some(Options {
                time: None,
                build_only: true
            })
        );
    }

    #[test]
    fn rejects_bad_options() {
        for bad in [
            &["--time"][..],
            &["--time", "0"],
            &["--time", "x"],
            &["--fast"],
            &["--time", "5", "--build-only"],
        ] {
            assert!(
                Options::parse(&args(bad)).is_err(),
                "{bad:?} should be rejected"
            );
        }
    }
}
