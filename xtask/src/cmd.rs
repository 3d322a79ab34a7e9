//! Running external commands, with failures that say what was run and why it failed.

use std::env;
use std::ffi::OsStr;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Why an xtask command failed: one human-readable message, printed as is.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Result of an xtask step.
pub(crate) type Result<T = (), E = Failure> = std::result::Result<T, E>;

/// Returns early with a formatted [`Failure`].
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::cmd::Failure(format!($($arg)*)))
    };
}
pub(crate) use bail;

/// Adds context to an IO error.
pub(crate) trait Context<T> {
    /// Wraps the error as a [`Failure`] that starts with `what`.
    fn context(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T> Context<T> for io::Result<T> {
    fn context(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Failure(format!("{}: {e}", what())))
    }
}

/// The command line of `cmd`, roughly as a shell would show it.
pub(crate) fn display(cmd: &Command) -> String {
    let quote = |s: &OsStr| {
        let s = s.to_string_lossy();
        if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == '"' || c == '\'') {
            format!("'{}'", s.replace('\'', r"'\''"))
        } else {
            s.into_owned()
        }
    };
    let mut line = quote(cmd.get_program());
    for arg in cmd.get_args() {
        line.push(' ');
        line.push_str(&quote(arg));
    }
    line
}

/// Runs `cmd` with inherited stdio, echoing it first; fails unless it exits 0.
pub(crate) fn run(cmd: &mut Command) -> Result {
    let line = display(cmd);
    eprintln!("$ {line}");
    let status = cmd.status().map_err(|e| spawn_failure(&line, &e))?;
    if !status.success() {
        bail!("`{line}` failed ({status})");
    }
    Ok(())
}

/// Runs `cmd` with stdout and stderr appended to `log`; on failure the message carries the log's tail.
pub(crate) fn run_logged(cmd: &mut Command, log: &Path) -> Result {
    run_logged_with(cmd, log, |_| {})
}

/// Like [`run_logged`], and also hands every stdout line to `on_line` as it arrives (for progress).
pub(crate) fn run_logged_with(
    cmd: &mut Command,
    log: &Path,
    mut on_line: impl FnMut(&str),
) -> Result {
    use std::io::Write as _;

    let line = display(cmd);
    if let Some(dir) = log.parent() {
        fs::create_dir_all(dir).context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = File::options()
        .create(true)
        .append(true)
        .open(log)
        .context(|| format!("cannot open log {}", log.display()))?;
    writeln!(file, "$ {line}").context(|| format!("cannot write log {}", log.display()))?;
    let stderr = file
        .try_clone()
        .context(|| format!("cannot reopen log {}", log.display()))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .map_err(|e| spawn_failure(&line, &e))?;
    if let Some(out) = child.stdout.take() {
        for text in BufReader::new(out).lines().map_while(io::Result::ok) {
            on_line(&text);
            writeln!(file, "{text}").context(|| format!("cannot write log {}", log.display()))?;
        }
    }
    let status = child
        .wait()
        .context(|| format!("cannot wait for `{line}`"))?;
    if !status.success() {
        bail!(
            "`{line}` failed ({status}); last lines of {}:\n{}",
            log.display(),
            tail(log, 40)
        );
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout; fails (with its stderr) unless it exits 0.
pub(crate) fn stdout(cmd: &mut Command) -> Result<String> {
    let line = display(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_failure(&line, &e))?;
    if !out.status.success() {
        bail!(
            "`{line}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Whether `program args…` can be started and exits 0 (output discarded).
pub(crate) fn succeeds(program: impl AsRef<OsStr>, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The last `n` lines of the file at `path` (or a note that it cannot be read).
pub(crate) fn tail(path: &Path, n: usize) -> String {
    match fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read {}: {e})", path.display()),
    }
}

/// A duration as `1m02s` or `4.2s`.
pub(crate) fn human(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{:02}s", secs / 60, secs % 60)
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// A `cargo` command (the one running xtask, when known) run in `root`; plain output when `CI` is set.
pub(crate) fn cargo(root: &Path) -> Command {
    let mut c = Command::new(env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root);
    if env::var_os("CI").is_some() {
        c.env("CARGO_TERM_COLOR", "never");
    }
    c
}

/// Makes sure `cargo <subcommand> --version` reports `version`, else runs
/// `cargo install --locked <krate>@<version>`.
pub(crate) fn ensure_cargo_tool(
    root: &Path,
    krate: &str,
    subcommand: &str,
    version: &str,
) -> Result {
    let installed = stdout(cargo(root).args([subcommand, "--version"]));
    if let Ok(line) = &installed
        && line.split_whitespace().nth(1) == Some(version)
    {
        return Ok(());
    }
    let found = installed.as_deref().map_or("none", str::trim);
    eprintln!("installing {krate} {version} (found: {found})");
    run(cargo(root).args(["install", "--locked", &format!("{krate}@{version}")]))
}

fn spawn_failure(line: &str, e: &io::Error) -> Failure {
    if e.kind() == io::ErrorKind::NotFound {
        Failure(format!("cannot run `{line}`: program not found"))
    } else {
        Failure(format!("cannot run `{line}`: {e}"))
    }
}

/// What a step did.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The step ran and passed.
    Passed,
    /// The step had nothing to check yet, for the given reason.
    Skipped(String),
}
