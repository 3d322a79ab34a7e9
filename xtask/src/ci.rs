//! `cargo xtask ci`: the one command CI runs.
//!
//! The steps run in order and the first failure stops the run with a non-zero exit. To add a check, add a
//! [`Step`] to [`steps`]; a step returns [`Outcome::Skipped`] with a reason when what it checks does not
//! exist yet (the facade crate, the fuzz project), so the list can name future checks without failing.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::bench;
use crate::cmd::Outcome;
use crate::cmd::{self, Context as _, Failure, Result, bail};
use crate::fuzz;
use crate::layout::{Artifact, PeerLayout};
use crate::peers;

/// The cargo-deny release installed when `cargo deny` is missing or another version.
const CARGO_DENY_VERSION: &str = "0.20.2";

/// One named CI step.
#[derive(Debug)]
pub(crate) struct Step {
    name: &'static str,
    run: fn(&Context) -> Result<Outcome>,
}

/// What the steps need to know.
#[derive(Debug)]
pub(crate) struct Context {
    root: PathBuf,
}

impl Context {
    /// A `cargo` command run in the workspace root.
    fn cargo(&self) -> Command {
        cmd::cargo(&self.root)
    }

    /// Runs `cargo args…` in the workspace root.
    fn run_cargo(&self, args: &[&str]) -> Result<Outcome> {
        cmd::run(self.cargo().args(args))?;
        Ok(Outcome::Passed)
    }
}

/// Every CI step, in the order they run.
pub(crate) fn steps() -> Vec<Step> {
    vec![
        Step {
            name: "peers",
            run: |_| provision_peers(),
        },
        Step {
            name: "fmt",
            run: |cx| cx.run_cargo(&["fmt", "--all", "--check"]),
        },
        Step {
            name: "msrv",
            run: msrv,
        },
        Step {
            name: "clippy",
            run: |cx| {
                cx.run_cargo(&[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--",
                    "-D",
                    "warnings",
                ])
            },
        },
        Step {
            name: "clippy-all-features",
            run: |cx| {
                cx.run_cargo(&[
                    "clippy",
                    "--workspace",
                    "--all-targets",
                    "--all-features",
                    "--",
                    "-D",
                    "warnings",
                ])
            },
        },
        Step {
            name: "test",
            run: |cx| cx.run_cargo(&["test", "--workspace"]),
        },
        Step {
            name: "doc",
            run: doc,
        },
        Step {
            name: "features",
            run: facade_features,
        },
        Step {
            name: "deny",
            run: deny,
        },
        Step {
            name: "package",
            // Every publishable crate packaged and its package built, in dependency order (cargo resolves
            // the workspace's unpublished crates from the packages it just made).
            run: package,
        },
        Step {
            name: "fuzz",
            run: |cx| fuzz::ci(&cx.root),
        },
        Step {
            name: "bench",
            run: |cx| bench::ci(&cx.root),
        },
    ]
}

/// Runs the named steps (all when `args` is empty) and prints a summary with each step's duration.
pub(crate) fn run(root: &Path, args: &[String]) -> Result {
    let all = steps();
    if args.iter().any(|a| a == "--list") {
        for step in &all {
            println!("{}", step.name);
        }
        return Ok(());
    }
    for arg in args {
        if !all.iter().any(|s| s.name == arg) {
            let names: Vec<&str> = all.iter().map(|s| s.name).collect();
            bail!("unknown ci step `{arg}` (steps: {})", names.join(", "));
        }
    }
    let selected: Vec<&Step> = all
        .iter()
        .filter(|s| args.is_empty() || args.iter().any(|a| a == s.name))
        .collect();
    let cx = Context {
        root: root.to_path_buf(),
    };
    let started = Instant::now();
    let mut summary: Vec<(&str, String, Duration)> = Vec::new();
    let mut failure = None;
    for step in selected {
        eprintln!(
            "\n==> ci: {} ({} so far)",
            step.name,
            cmd::human(started.elapsed())
        );
        let t = Instant::now();
        let outcome = (step.run)(&cx);
        let took = t.elapsed();
        match outcome {
            Ok(Outcome::Passed) => summary.push((step.name, "ok".into(), took)),
            Ok(Outcome::Skipped(why)) => {
                eprintln!("ci: {} skipped: {why}", step.name);
                summary.push((step.name, format!("skipped ({why})"), took));
            }
            Err(e) => {
                summary.push((step.name, "FAILED".into(), took));
                failure = Some(Failure(format!("ci step `{}` failed: {e}", step.name)));
                break;
            }
        }
    }
    eprintln!("\n==> ci summary");
    for (name, status, took) in &summary {
        eprintln!("  {name:<22} {:>8}  {status}", cmd::human(*took));
    }
    eprintln!("  {:<22} {:>8}", "total", cmd::human(started.elapsed()));
    match failure {
        Some(f) => Err(f),
        None => Ok(()),
    }
}

fn provision_peers() -> Result<Outcome> {
    let layout = PeerLayout::from_env().map_err(Failure)?;
    peers::provision(&layout, &Artifact::ALL)?;
    peers::ensure_redis()?;
    Ok(Outcome::Passed)
}

fn doc(cx: &Context) -> Result<Outcome> {
    cmd::run(
        cx.cargo()
            .args(["doc", "--workspace", "--no-deps"])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    Ok(Outcome::Passed)
}

/// `cargo check` of the facade with no features, each feature alone, and all of them.
fn facade_features(cx: &Context) -> Result<Outcome> {
    let manifest = cx.root.join("crates").join("llmux").join("Cargo.toml");
    if !manifest.exists() {
        return Ok(Outcome::Skipped("no crates/llmux yet".into()));
    }
    let features = manifest_features(&manifest)?;
    let check = |extra: &[&str]| {
        let mut args = vec!["check", "-p", "llmux"];
        args.extend_from_slice(extra);
        cx.run_cargo(&args)
    };
    check(&["--no-default-features"])?;
    for feature in &features {
        check(&["--no-default-features", "--features", feature])?;
    }
    check(&["--all-features"])
}

/// The feature names (except `default`) declared in the `[features]` table of `manifest`.
fn manifest_features(manifest: &Path) -> Result<Vec<String>> {
    let text =
        fs::read_to_string(manifest).context(|| format!("cannot read {}", manifest.display()))?;
    let doc: toml::Table = text
        .parse()
        .map_err(|e| Failure(format!("cannot parse {}: {e}", manifest.display())))?;
    let Some(features) = doc.get("features") else {
        return Ok(Vec::new());
    };
    let Some(table) = features.as_table() else {
        bail!("{}: [features] is not a table", manifest.display())
    };
    Ok(table.keys().filter(|k| *k != "default").cloned().collect())
}

/// `cargo deny check licenses bans sources`, installing the pinned cargo-deny first when needed.
/// Advisories are not checked: their database cannot be fetched on the project's machines.
/// The declared MSRV (`workspace.package.rust-version`) against the toolchain that runs every other step:
/// equal, the whole run is the MSRV build; newer, the workspace is checked again with the MSRV toolchain when
/// rustup has it, and the step says it could not check otherwise. Cargo itself refuses a toolchain older
/// than the declared version.
fn msrv(cx: &Context) -> Result<Outcome> {
    let manifest = fs::read_to_string(cx.root.join("Cargo.toml"))
        .context(|| "cannot read the workspace manifest".to_owned())?;
    let manifest: toml::Table =
        toml::from_str(&manifest).map_err(|e| Failure(format!("Cargo.toml: {e}")))?;
    let declared = manifest
        .get("workspace")
        .and_then(|w| w.get("package"))
        .and_then(|p| p.get("rust-version"))
        .and_then(toml::Value::as_str)
        .ok_or_else(|| Failure("Cargo.toml declares no workspace.package.rust-version".into()))?
        .to_owned();
    let rustc = cmd::stdout(Command::new("rustc").arg("--version"))?;
    let installed = rustc_version(&rustc)
        .ok_or_else(|| Failure(format!("cannot read a version from `{}`", rustc.trim())))?;
    let wanted = version_parts(&declared)
        .ok_or_else(|| Failure(format!("rust-version `{declared}` is not a version")))?;
    if installed[..2] == wanted[..2] {
        eprintln!("msrv: the toolchain is the declared MSRV {declared}: every step builds with it");
        return Ok(Outcome::Passed);
    }
    let toolchains =
        cmd::stdout(Command::new("rustup").args(["toolchain", "list"])).unwrap_or_default();
    if toolchains.lines().any(|l| l.starts_with(&declared)) {
        return cx.run_cargo(&[
            &format!("+{declared}"),
            "check",
            "--workspace",
            "--all-targets",
        ]);
    }
    Ok(Outcome::Skipped(format!(
        "the toolchain is {}.{} and no {declared} toolchain is installed: the declared MSRV is not checked",
        installed[0], installed[1]
    )))
}

/// `[major, minor, patch]` of `rustc X.Y.Z (…)`.
fn rustc_version(output: &str) -> Option<[u64; 3]> {
    version_parts(output.split_whitespace().nth(1)?)
}

/// `[major, minor, patch]` of `X.Y` or `X.Y.Z` (a missing patch is 0).
fn version_parts(version: &str) -> Option<[u64; 3]> {
    let mut parts = version.split('.').map(|p| p.parse::<u64>().ok());
    let major = parts.next()??;
    let minor = parts.next()??;
    let patch = parts.next().unwrap_or(Some(0))?;
    Some([major, minor, patch])
}

/// `cargo package` of every publishable crate, each package built. Cargo treats what comes from a registry
/// as immutable, keyed by name and version: the packages it made, its unpacked copies of them in
/// `$CARGO_HOME/registry/src/-<hash>` and the artifacts it built from them would all stand in for the
/// current code at the same version. So packaging builds in its own target dir, and every one of our
/// crates' packages, copies and artifacts there is removed first; third-party artifacts stay warm.
fn package(cx: &Context) -> Result<Outcome> {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| cx.root.join("target"));
    let verify = target.join("package-verify");
    let ours = |name: &str| {
        ["llm-", "llm_", "libllm_", "llmux", "libllmux"]
            .iter()
            .any(|p| name.starts_with(p))
    };
    let mut stale = vec![verify.join("package")];
    for sub in ["debug/.fingerprint", "debug/deps", "debug/build"] {
        if let Ok(entries) = fs::read_dir(verify.join(sub)) {
            stale.extend(
                entries
                    .filter_map(std::result::Result::ok)
                    .filter(|e| ours(&e.file_name().to_string_lossy()))
                    .map(|e| e.path()),
            );
        }
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")));
    if let Some(home) = cargo_home {
        for kind in ["src", "cache"] {
            let Ok(entries) = fs::read_dir(home.join("registry").join(kind)) else {
                continue;
            };
            // A path-based local registry's folder has no host in its name: `-<hash>`.
            stale.extend(
                entries
                    .filter_map(std::result::Result::ok)
                    .filter(|e| e.file_name().to_string_lossy().starts_with('-'))
                    .map(|e| e.path()),
            );
        }
    }
    for path in stale.iter().filter(|p| p.exists()) {
        let removed = if path.is_dir() {
            fs::remove_dir_all(path)
        } else {
            fs::remove_file(path)
        };
        removed.context(|| {
            format!(
                "cannot remove the stale package artifact {}",
                path.display()
            )
        })?;
    }
    let verify = verify.to_string_lossy().into_owned();
    cx.run_cargo(&[
        "package",
        "--workspace",
        "--exclude",
        "xtask",
        "--exclude",
        "llmux-e2e",
        "--exclude",
        "llmux-reliability",
        "--locked",
        "--allow-dirty",
        "--target-dir",
        &verify,
    ])
}

fn deny(cx: &Context) -> Result<Outcome> {
    cmd::ensure_cargo_tool(&cx.root, "cargo-deny", "deny", CARGO_DENY_VERSION)?;
    cx.run_cargo(&["deny", "check", "licenses", "bans", "sources"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_rustc_and_the_manifest() {
        assert_eq!(
            rustc_version("rustc 1.95.0 (59807616e 2026-04-14)\n"),
            Some([1, 95, 0])
        );
        assert_eq!(version_parts("1.95"), Some([1, 95, 0]));
        assert_eq!(version_parts("1.95.2"), Some([1, 95, 2]));
        assert_eq!(version_parts("one"), None);
        assert_eq!(rustc_version(""), None);
    }

    #[test]
    fn step_names_are_unique() {
        let steps = steps();
        for (i, step) in steps.iter().enumerate() {
            assert!(
                steps[i + 1..].iter().all(|s| s.name != step.name),
                "duplicate step {}",
                step.name
            );
        }
        assert_eq!(
            steps.first().map(|s| s.name),
            Some("peers"),
            "peers must be provisioned before the tests"
        );
    }

    #[test]
    fn manifest_features_lists_all_but_default() {
        let dir = std::env::temp_dir().join(format!("xtask-features-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("create temp dir");
        let manifest = dir.join("Cargo.toml");
        fs::write(
            &manifest,
            "[package]\nname = \"x\"\n[features]\ndefault = [\"a\"]\na = []\nfull = [\"a\", \"dep:b\"]\n",
        )
        .expect("write manifest");
        let features = manifest_features(&manifest);
        fs::remove_dir_all(&dir).expect("remove temp dir");
        assert_eq!(features.expect("features parse"), ["a", "full"]);
    }
}
