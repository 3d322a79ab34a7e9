//! `cargo xtask bench [--quick]`: the whole-client benchmarks of issue 9 (see `BENCHMARKS.md`).
//!
//! Builds the separate `bench/` workspace in release (its own `Cargo.lock`, so async-openai and genai never
//! enter the main workspace), starts its `bench-server` on 127.0.0.1 as a separate process, then runs every
//! scenario as one client process per run, alternating the clients (A B A B …) and taking medians. Each
//! process raises its own open-file limit to the hard limit (`setrlimit`), so no shell `ulimit` is needed.
//! Prints the table of medians and of ratios against the anchors (the hand-written client, the floor) and
//! writes it, with every raw result line, under `bench/target/`. A ratio between two clients of one case is
//! the median of the per-run ratios (run i of each client ran back to back, under the same load); the
//! llmux main-thread against spawned-task ratio spans two cases and is a ratio of medians.
//!
//! It fails only when something breaks (a build, a crashed client, a server that does not start), never on
//! a number: a missed goal is printed as `MISSED` and left for a human to read.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use crate::cmd::Outcome;
use crate::cmd::{self, Context as _, Failure, Result, bail};

/// The client binaries, in the order they alternate. `llmux-unpriced` is llmux with prices off: it runs
/// only in the cases that measure what pricing costs.
const CLIENTS: [&str; 6] = [
    "llmux",
    "llmux-unpriced",
    "hand",
    "floor",
    "async-openai",
    "genai",
];

/// The clients of a case unless it says otherwise: every library compared.
const LIBRARIES: [&str; 5] = ["llmux", "hand", "floor", "async-openai", "genai"];

/// The clients of the cases that also measure llmux with prices off.
const WITH_UNPRICED: [&str; 6] = CLIENTS;

/// How much of everything to run.
#[derive(Debug, Clone)]
struct Size {
    quick: bool,
    /// Runs of each client per case (alternating A B A B).
    reps: usize,
    /// Runs per client of the latency case (p99 is a median of these).
    latency_reps: usize,
    stream_tokens: u32,
    short_streams: u32,
    chat_requests: u32,
    burst_tokens: u32,
    paced_tokens: u32,
    many_streams: u32,
    fallback_requests: u32,
    /// Runs only the cases whose id contains this text (`--only`).
    only: Option<String>,
}

impl Size {
    fn new(quick: bool) -> Size {
        if quick {
            Size {
                quick,
                reps: 2,
                latency_reps: 2,
                stream_tokens: 20_000,
                short_streams: 100,
                chat_requests: 300,
                burst_tokens: 100,
                paced_tokens: 10,
                many_streams: 1_000,
                fallback_requests: 100,
                only: None,
            }
        } else {
            Size {
                quick,
                reps: 5,
                latency_reps: 5,
                stream_tokens: 200_000,
                short_streams: 500,
                chat_requests: 2_000,
                burst_tokens: 200,
                paced_tokens: 50,
                many_streams: 10_000,
                fallback_requests: 500,
                only: None,
            }
        }
    }
}

/// One case: a scenario with fixed arguments, run by several clients.
#[derive(Debug)]
struct Case {
    id: String,
    args: Vec<String>,
    clients: Vec<&'static str>,
    reps: usize,
}

fn case(id: impl Into<String>, args: &str, clients: &[&'static str], reps: usize) -> Case {
    Case {
        id: id.into(),
        args: args.split_whitespace().map(String::from).collect(),
        clients: clients.to_vec(),
        reps,
    }
}

fn cases(size: &Size) -> Vec<Case> {
    let all = &LIBRARIES[..];
    let no_async_openai = &["llmux", "hand", "floor", "genai"][..];
    let mut cases = Vec::new();
    for format in ["openai", "anthropic", "ollama"] {
        let clients = if format == "openai" {
            &WITH_UNPRICED[..]
        } else {
            no_async_openai
        };
        for mode in ["spawn", "main"] {
            cases.push(case(
                format!("stream {format} {mode}"),
                &format!(
                    "stream --format {format} --mode {mode} --tokens {}",
                    size.stream_tokens
                ),
                clients,
                size.reps,
            ));
        }
    }
    cases.push(case(
        "short",
        &format!(
            "short --format openai --streams {} --tokens 50",
            size.short_streams
        ),
        &WITH_UNPRICED,
        size.reps,
    ));
    cases.push(case(
        "chat",
        &format!(
            "chat --format openai --tokens 16 --requests {}",
            size.chat_requests
        ),
        all,
        size.latency_reps,
    ));
    cases.push(case(
        "burst",
        &format!(
            "concurrent --format openai --streams 1000 --tokens {}",
            size.burst_tokens
        ),
        all,
        size.reps,
    ));
    cases.push(case(
        "paced",
        &format!(
            "concurrent --format openai --streams 1000 --tokens {} --pace 20",
            size.paced_tokens
        ),
        all,
        size.reps,
    ));
    cases.push(case(
        "many",
        &format!(
            "concurrent --format openai --streams {} --tokens 20",
            size.many_streams
        ),
        all,
        if size.quick { 1 } else { 2 },
    ));
    cases.push(case(
        "fallback",
        &format!(
            "fallback --format openai --tokens 16 --requests {}",
            size.fallback_requests
        ),
        &["llmux"],
        if size.quick { 1 } else { 3 },
    ));
    cases
}

/// `cargo xtask bench [--quick]`.
pub(crate) fn run(root: &Path, args: &[String]) -> Result {
    let mut size = Size::new(false);
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => {
                size = Size {
                    only: size.only,
                    ..Size::new(true)
                }
            }
            "--only" => match args.next() {
                Some(s) => size.only = Some(s.clone()),
                None => bail!("--only needs the text of the case ids to run"),
            },
            other => bail!("unknown bench option `{other}` (expected --quick or --only TEXT)"),
        }
    }
    bench(root, size)
}

/// The `ci` step: `bench --quick`, so the benches keep compiling and running. Never fails on a number.
pub(crate) fn ci(root: &Path) -> Result<Outcome> {
    bench(root, Size::new(true))?;
    Ok(Outcome::Passed)
}

/// Where bench/ builds: under the main build cache when `CARGO_TARGET_DIR` is set (CI keeps that cache
/// outside its fresh clone, so the release build of async-openai and genai stays warm), else `bench/target`.
fn target_dir(root: &Path, bench: &Path) -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR").filter(|t| !t.is_empty()) {
        Some(t) => {
            let t = PathBuf::from(t);
            let t = if t.is_absolute() { t } else { root.join(t) };
            t.join("bench")
        }
        None => bench.join("target"),
    }
}

fn bench(root: &Path, size: Size) -> Result {
    let dir = root.join("bench");
    let manifest = dir.join("Cargo.toml");
    // Not `--locked`: bench/ reaches the library crates by path, so a dependency one of them adds must
    // be able to enter bench/Cargo.lock without failing CI; the versions already locked stay as they are.
    let target = target_dir(root, &dir);
    cmd::run(
        cmd::cargo(root)
            .args(["build", "--release", "--manifest-path"])
            .arg(&manifest)
            .arg("--target-dir")
            .arg(&target),
    )?;
    let bin = target.join("release");
    let started = Instant::now();
    let mut server = Server::start(&bin.join("bench-server"))?;
    let load_before = load_average();
    let mut results: BTreeMap<(String, &str), Vec<Fields>> = BTreeMap::new();
    let mut raw = String::new();
    let only = size.only.clone();
    let chosen = cases(&size)
        .into_iter()
        .filter(|c| only.as_ref().is_none_or(|o| c.id.contains(o.as_str())));
    for case in chosen {
        eprintln!(
            "bench: {} ({} runs)",
            case.id,
            case.reps * case.clients.len()
        );
        for _ in 0..case.reps {
            for &client in &case.clients {
                let mut command = Command::new(bin.join(format!("client-{client}")));
                command.args(&case.args).args(["--base", &server.base]);
                let line = run_client(&mut command)?;
                let _ = writeln!(raw, "{} {client}: {line}", case.id);
                let fields = parse(&line);
                if !fields.contains_key("unsupported") {
                    results
                        .entry((case.id.clone(), client))
                        .or_default()
                        .push(fields);
                }
            }
        }
    }
    let load_after = load_average();
    server.stop();
    let title = if size.quick { "quick" } else { "full" };
    let mut report = format!(
        "# cargo xtask bench{}\n\nmachine: {} cores, {}; load average before {load_before}, after {load_after}; took {}\n\n",
        if size.quick { " --quick" } else { "" },
        std::thread::available_parallelism().map_or(0, usize::from),
        cpu_model(),
        cmd::human(started.elapsed()),
    );
    report.push_str(&table(&results));
    println!("\n{report}");
    let out = dir.join("target");
    fs::create_dir_all(&out).context(|| format!("cannot create {}", out.display()))?;
    let path = out.join(format!("bench-{title}.md"));
    fs::write(&path, &report).context(|| format!("cannot write {}", path.display()))?;
    let raw_path = out.join(format!("bench-{title}-raw.txt"));
    fs::write(&raw_path, &raw).context(|| format!("cannot write {}", raw_path.display()))?;
    eprintln!("bench: wrote {} and {}", path.display(), raw_path.display());
    Ok(())
}

/// The server process; killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(path: &Path) -> Result<Server> {
        let mut child = Command::new(path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| Failure(format!("cannot start {}: {e}", path.display())))?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let Some(addr) = line.trim().strip_prefix("listening ") else {
            let _ = child.kill();
            bail!("bench-server did not start (said {line:?})");
        };
        Ok(Server {
            base: format!("http://{addr}"),
            child,
        })
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs one client process and returns its `result` line; a non-zero exit is a failure.
fn run_client(command: &mut Command) -> Result<String> {
    let line = cmd::display(command);
    let out = command
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Failure(format!("cannot run `{line}`: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let result = stdout.lines().find_map(|l| l.strip_prefix("result "));
    match result {
        Some(result) if out.status.success() => Ok(result.to_string()),
        _ => bail!(
            "`{line}` failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    }
}

type Fields = BTreeMap<String, String>;

fn parse(line: &str) -> Fields {
    line.split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// The median of `field` over the runs of `client` in case `id`.
fn median(
    results: &BTreeMap<(String, &str), Vec<Fields>>,
    id: &str,
    client: &str,
    field: &str,
) -> Option<f64> {
    let runs = results.get(&(id.to_string(), client))?;
    let mut values: Vec<f64> = runs
        .iter()
        .filter_map(|r| r.get(field)?.parse().ok())
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// The median over runs of `a`'s `field` divided by `b`'s, pairing the runs of one case by their order:
/// run i of `a` and run i of `b` ran back to back, so they share the machine's load of that moment.
fn paired_ratio(
    results: &BTreeMap<(String, &str), Vec<Fields>>,
    id: &str,
    a: &str,
    b: &str,
    field: &str,
) -> Option<f64> {
    let runs = |client: &str| -> Option<Vec<f64>> {
        let runs = results.get(&(id.to_string(), client))?;
        Some(
            runs.iter()
                .map(|r| {
                    r.get(field)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(f64::NAN)
                })
                .collect(),
        )
    };
    let (a, b) = (runs(a)?, runs(b)?);
    let mut ratios: Vec<f64> = a
        .iter()
        .zip(&b)
        .filter(|(a, b)| a.is_finite() && b.is_finite() && **b > 0.0)
        .map(|(a, b)| a / b)
        .collect();
    if ratios.is_empty() {
        return None;
    }
    ratios.sort_by(f64::total_cmp);
    let mid = ratios.len() / 2;
    Some(if ratios.len().is_multiple_of(2) {
        (ratios[mid - 1] + ratios[mid]) / 2.0
    } else {
        ratios[mid]
    })
}

/// One row of the report: a measure of every client, and a goal as a ratio (or absolute bound).
struct Row {
    case: String,
    measure: &'static str,
    values: Vec<Option<f64>>,
    goal: String,
    /// The measured ratio or value the goal is about, and whether it is met.
    verdict: Option<(f64, bool)>,
}

fn table(results: &BTreeMap<(String, &str), Vec<Fields>>) -> String {
    let m = |id: &str, client: &str, field: &str| median(results, id, client, field);
    let pr = |id: &str, a: &str, b: &str, field: &str| paired_ratio(results, id, a, b, field);
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    };
    let mut rows = Vec::new();
    let row = |case: &str,
               measure: &'static str,
               field: &str,
               goal: String,
               verdict: Option<(f64, bool)>| Row {
        case: case.to_string(),
        measure,
        values: CLIENTS.iter().map(|c| m(case, c, field)).collect(),
        goal,
        verdict,
    };
    for format in ["openai", "anthropic", "ollama"] {
        let spawn = format!("stream {format} spawn");
        let main = format!("stream {format} main");
        let r = pr(&spawn, "llmux", "hand", "cpu_ns_per_token");
        rows.push(row(
            &spawn,
            "CPU ns/token",
            "cpu_ns_per_token",
            "llmux ≤ 1.15× hand".into(),
            r.map(|r| (r, r <= 1.15)),
        ));
        let own = ratio(
            m(&main, "llmux", "cpu_ns_per_token"),
            m(&spawn, "llmux", "cpu_ns_per_token"),
        );
        let vs_ao = pr(&main, "llmux", "async-openai", "cpu_ns_per_token");
        let (goal, verdict) = match (format, own, vs_ao) {
            ("openai", Some(own), Some(ao)) => (
                format!(
                    "llmux main ≤ 2× llmux spawn ({own:.2}×) and ≤ async-openai main ({ao:.2}×)"
                ),
                Some((own, own <= 2.0 && ao <= 1.0)),
            ),
            (_, Some(own), _) => (
                format!("llmux main ≤ 2× llmux spawn ({own:.2}×)"),
                Some((own, own <= 2.0)),
            ),
            _ => ("llmux main ≤ 2× llmux spawn".into(), None),
        };
        rows.push(row(
            &main,
            "CPU ns/token",
            "cpu_ns_per_token",
            goal,
            verdict,
        ));
    }
    // What pricing costs: llmux against itself with prices off, in the same runs.
    for id in ["stream openai spawn", "stream openai main"] {
        let r = pr(id, "llmux", "llmux-unpriced", "cpu_ns_per_token");
        rows.push(row(
            id,
            "CPU ns/token, prices on",
            "cpu_ns_per_token",
            "llmux ≤ 1.03× llmux-unpriced".into(),
            r.map(|r| (r, r <= 1.03)),
        ));
    }
    let r = pr("short", "llmux", "llmux-unpriced", "cpu_us_per_stream");
    rows.push(row(
        "short",
        "CPU µs/stream, prices on",
        "cpu_us_per_stream",
        "llmux ≤ 1.03× llmux-unpriced".into(),
        r.map(|r| (r, r <= 1.03)),
    ));
    let conns = m("short", "llmux", "connections");
    rows.push(row(
        "short",
        "connections",
        "connections",
        "llmux ≤ 2".into(),
        conns.map(|c| (c, c <= 2.0)),
    ));
    let r = pr("short", "llmux", "hand", "wall_us_per_stream");
    rows.push(row(
        "short",
        "wall µs/stream",
        "wall_us_per_stream",
        "llmux ≤ 1.2× hand".into(),
        r.map(|r| (r, r <= 1.2)),
    ));
    rows.push(row(
        "short",
        "CPU µs/stream",
        "cpu_us_per_stream",
        "(reported)".into(),
        None,
    ));
    let r = pr("chat", "llmux", "floor", "p50_us");
    rows.push(row(
        "chat",
        "p50 µs",
        "p50_us",
        "llmux ≤ 1.1× floor (bare POST)".into(),
        r.map(|r| (r, r <= 1.1)),
    ));
    rows.push(row(
        "chat",
        "p99 µs (median of runs)",
        "p99_us",
        "(reported)".into(),
        None,
    ));
    let r = pr("chat", "llmux", "hand", "cpu_us_per_request");
    rows.push(row(
        "chat",
        "CPU µs/request",
        "cpu_us_per_request",
        "llmux ≤ 1.15× hand".into(),
        r.map(|r| (r, r <= 1.15)),
    ));
    for (id, cpu_goal) in [("burst", 1.3), ("paced", 1.15), ("many", 1.3)] {
        let streams = m(id, "llmux", "streams");
        let all_done = CLIENTS
            .iter()
            .all(|c| match (m(id, c, "completed"), m(id, c, "streams")) {
                (Some(done), Some(n)) => done == n,
                _ => true,
            });
        rows.push(row(
            id,
            "streams completed",
            "completed",
            format!("all of {} complete", streams.unwrap_or(0.0)),
            Some((if all_done { 1.0 } else { 0.0 }, all_done)),
        ));
        let r = pr(id, "llmux", "hand", "cpu_us_per_stream");
        rows.push(row(
            id,
            "CPU µs/stream",
            "cpu_us_per_stream",
            format!("llmux ≤ {cpu_goal}× hand"),
            r.map(|r| (r, r <= cpu_goal)),
        ));
        let r = pr(id, "llmux", "hand", "kib_per_stream");
        rows.push(row(
            id,
            "KiB/open stream",
            "kib_per_stream",
            "llmux ≤ 1.1× hand".into(),
            r.map(|r| (r, r <= 1.1)),
        ));
    }
    let added = m("fallback", "llmux", "refused_added_us");
    rows.push(row(
        "fallback",
        "refused entry: added µs",
        "refused_added_us",
        "< 2000 µs (default policy)".into(),
        added.map(|a| (a, a < 2000.0)),
    ));
    rows.push(row(
        "fallback",
        "open breaker: added µs",
        "open_added_us",
        "(HTTP noise; see llm-chain bench)".into(),
        None,
    ));
    rows.push(row(
        "fallback",
        "default policy, 1st call ms",
        "default_policy_first_call_ms",
        "(reported)".into(),
        None,
    ));

    let mut out = String::from("| case | measure |");
    for c in CLIENTS {
        let _ = write!(out, " {c} |");
    }
    out.push_str(" goal | ratio/value | met |\n|---|---|");
    out.push_str(&"---:|".repeat(CLIENTS.len()));
    out.push_str("---|---:|---|\n");
    for r in rows {
        let _ = write!(out, "| {} | {} |", r.case, r.measure);
        for v in &r.values {
            match v {
                Some(v) if *v >= 100.0 => {
                    let _ = write!(out, " {v:.0} |");
                }
                Some(v) => {
                    let _ = write!(out, " {v:.2} |");
                }
                None => out.push_str(" – |"),
            }
        }
        match r.verdict {
            Some((v, met)) => {
                let _ = writeln!(
                    out,
                    " {} | {v:.2} | {} |",
                    r.goal,
                    if met { "yes" } else { "MISSED" }
                );
            }
            None => {
                let _ = writeln!(out, " {} | | |", r.goal);
            }
        }
    }
    out
}

fn load_average() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| {
                l.strip_prefix("model name")?
                    .split_once(':')
                    .map(|(_, v)| v.trim().to_string())
            })
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_case_id_is_unique_and_quick_is_smaller() {
        let quick = cases(&Size::new(true));
        let full = cases(&Size::new(false));
        assert_eq!(quick.len(), full.len());
        for (i, c) in quick.iter().enumerate() {
            assert!(
                quick[i + 1..].iter().all(|o| o.id != c.id),
                "duplicate {}",
                c.id
            );
        }
        assert!(quick.iter().all(|c| c.reps >= 1));
        assert!(Size::new(true).stream_tokens < Size::new(false).stream_tokens);
    }

    #[test]
    fn medians_and_ratios_from_result_lines() {
        let mut results: BTreeMap<(String, &str), Vec<Fields>> = BTreeMap::new();
        for (client, values) in [("llmux", ["3", "1", "2"]), ("hand", ["2", "2", "2"])] {
            for v in values {
                results
                    .entry(("stream openai spawn".into(), client))
                    .or_default()
                    .push(parse(&format!("tokens=10 cpu_ns_per_token={v}")));
            }
        }
        assert_eq!(
            median(&results, "stream openai spawn", "llmux", "cpu_ns_per_token"),
            Some(2.0)
        );
        assert_eq!(
            median(&results, "stream openai spawn", "genai", "cpu_ns_per_token"),
            None
        );
        let report = table(&results);
        assert!(
            report.contains("| llmux ≤ 1.15× hand | 1.00 | yes |"),
            "{report}"
        );
    }

    #[test]
    fn parses_result_fields() {
        let f = parse("a=1 b=x_y");
        assert_eq!(f.get("a").map(String::as_str), Some("1"));
        assert_eq!(f.get("b").map(String::as_str), Some("x_y"));
    }
}
