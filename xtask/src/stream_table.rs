//! `cargo xtask stream-table [DIR]`: the llm-stream throughput table, read from criterion's output.
//!
//! `cargo bench -p llm-stream --bench throughput` leaves one `benchmark.json` and `new/estimates.json` per
//! measurement under `<target>/criterion/`. This prints them as the Markdown tables recorded in
//! `crates/llm-stream/README.md`: throughput (MiB/s, from criterion's median time) per corpus and chunking,
//! the ratios the issue sets targets for, their ranges per chunk size, and the long-line case. Ratios are
//! taken within one group, so they come from one run on the same bytes as long as the group was measured
//! in one run (a filtered re-run replaces only what it measured: read the dates criterion keeps).
//!
//! DIR defaults to `$CARGO_TARGET_DIR/criterion`, else `target/criterion` in the workspace.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use crate::cmd::{Failure, Result, bail};

/// The variants, in column order.
const VARIANTS: [&str; 9] = [
    "floor",
    "framing",
    "framing-owned",
    "floor+decode",
    "framing+decode",
    "eventsource",
    "eventsource+decode",
    "sse-stream",
    "sse-stream+decode",
];

/// Row order: corpora, then chunkings, as the bench runs them.
const CORPORA: [&str; 4] = ["openai_lf", "openai_crlf", "anthropic", "ollama_ndjson"];
const CHUNKS: [&str; 6] = ["1B", "256B", "1KiB", "16KiB", "256KiB", "per_event"];

/// One measurement: criterion's median time and, when a throughput was set, the bytes per iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Measure {
    median_ns: f64,
    bytes: Option<u64>,
    /// When criterion wrote the record (seconds since the Unix epoch), if the file system says.
    written: Option<u64>,
}

impl Measure {
    fn mib_per_s(self) -> Option<f64> {
        let bytes = self.bytes? as f64;
        Some(bytes / (self.median_ns / 1e9) / (1024.0 * 1024.0))
    }
}

/// Group id -> function id (or value for a parameterised benchmark) -> measure.
type Groups = BTreeMap<String, BTreeMap<String, Measure>>;

pub(crate) fn run(root: &Path, args: &[String]) -> Result {
    let dir = match args {
        [] => default_dir(root),
        [dir] => PathBuf::from(dir),
        _ => bail!("usage: cargo xtask stream-table [CRITERION_DIR]"),
    };
    let groups = read_dir(&dir)?;
    if groups.is_empty() {
        bail!(
            "no criterion results under {}: run `cargo bench -p llm-stream --bench throughput` first",
            dir.display()
        );
    }
    print!("{}", render(&groups));
    let memory = dir.join(MEMORY_FILE);
    if memory.exists() {
        print!("{}", render_memory(&read_json(&memory)?)?);
    }
    Ok(())
}

/// Where the bench writes each variant's peak heap growth, in the criterion directory.
const MEMORY_FILE: &str = "llm-stream-memory.json";

/// The memory table: peak heap growth per variant (bytes), next to the corpus's longest event and
/// the chunk size, whose sum is the bound.
fn render_memory(rows: &serde_json::Value) -> Result<String> {
    const COLUMNS: [&str; 5] = [
        "floor",
        "framing",
        "framing-owned",
        "eventsource",
        "sse-stream",
    ];
    let Some(rows) = rows.as_array() else {
        bail!("{MEMORY_FILE}: expected a list of groups");
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n| corpus / chunks | longest event | chunk | longest event + chunk | {} |",
        COLUMNS.join(" | ")
    );
    let _ = writeln!(out, "|---|---|---|---{}|", "|---".repeat(COLUMNS.len()));
    for row in rows {
        let (Some(group), Some(longest), Some(chunk)) = (
            row["group"].as_str(),
            row["longest_event"].as_u64(),
            row["chunk"].as_u64(),
        ) else {
            bail!("{MEMORY_FILE}: a group lacks group, longest_event or chunk");
        };
        let cells: Vec<String> = COLUMNS
            .iter()
            .map(|c| {
                row["peak_heap_growth"][*c]
                    .as_u64()
                    .map_or_else(String::new, |b| b.to_string())
            })
            .collect();
        let _ = writeln!(
            out,
            "| {group} | {longest} | {chunk} | {} | {} |",
            longest + chunk,
            cells.join(" | ")
        );
    }
    Ok(out)
}

fn default_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root.join("target"), PathBuf::from)
        .join("criterion")
}

/// Every `benchmark.json` with a `new/estimates.json` beside it, under `dir`.
fn read_dir(dir: &Path) -> Result<Groups> {
    let mut groups = Groups::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let entries = fs::read_dir(&dir)
            .map_err(|e| Failure(format!("cannot read {}: {e}", dir.display())))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.file_name().is_some_and(|n| n == "benchmark.json")
                && path.parent().is_some_and(|p| p.ends_with("new"))
            {
                let estimates = path.with_file_name("estimates.json");
                let (group, function, measure) = read_one(&path, &estimates)?;
                groups.entry(group).or_default().insert(function, measure);
            }
        }
    }
    Ok(groups)
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = fs::read_to_string(path)
        .map_err(|e| Failure(format!("cannot read {}: {e}", path.display())))?;
    serde_json::from_str(&text).map_err(|e| Failure(format!("{}: {e}", path.display())))
}

fn read_one(benchmark: &Path, estimates: &Path) -> Result<(String, String, Measure)> {
    let bench = read_json(benchmark)?;
    let est = read_json(estimates)?;
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let group = text(&bench["group_id"]);
    let function = match (text(&bench["function_id"]), text(&bench["value_str"])) {
        (Some(f), Some(v)) => Some(format!("{f}/{v}")),
        (f, v) => f.or(v),
    };
    let median_ns = est["median"]["point_estimate"].as_f64();
    let (Some(group), Some(function), Some(median_ns)) = (group, function, median_ns) else {
        bail!("{}: not a criterion benchmark record", benchmark.display());
    };
    let bytes = bench["throughput"]["Bytes"].as_u64();
    let written = fs::metadata(estimates)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_secs());
    let measure = Measure {
        median_ns,
        bytes,
        written,
    };
    Ok((group, function, measure))
}

/// The ratios per row: framing time over floor time, framing+decode over floor+decode, and how many
/// times faster framing is than sse-stream and framing+decode than eventsource+decode.
#[derive(Debug, Default, Clone, Copy)]
struct Ratios {
    framing_floor: Option<f64>,
    decode_floor: Option<f64>,
    vs_sse_stream: Option<f64>,
    vs_eventsource: Option<f64>,
}

fn ratios(row: &BTreeMap<String, Measure>) -> Ratios {
    let time = |k: &str| row.get(k).map(|m| m.median_ns);
    let over = |a: Option<f64>, b: Option<f64>| Some(a? / b?);
    Ratios {
        framing_floor: over(time("framing"), time("floor")),
        decode_floor: over(time("framing+decode"), time("floor+decode")),
        vs_sse_stream: over(time("sse-stream"), time("framing")),
        vs_eventsource: over(time("eventsource+decode"), time("framing+decode")),
    }
}

fn rank(group: &str) -> (usize, usize, String) {
    let (corpus, chunks) = group.split_once('/').unwrap_or((group, ""));
    let pos = |list: &[&str], s: &str| list.iter().position(|x| *x == s).unwrap_or(list.len());
    (
        pos(&CORPORA, corpus),
        pos(&CHUNKS, chunks),
        group.to_owned(),
    )
}

fn ratio(r: Option<f64>) -> String {
    r.map_or_else(String::new, |r| format!("{r:.2}x"))
}

fn render(groups: &Groups) -> String {
    let mut rows: Vec<_> = groups
        .iter()
        .filter(|(g, _)| rank(g).0 < CORPORA.len())
        .collect();
    rows.sort_by_key(|(g, _)| rank(g));
    let mut out = String::new();
    let written: Vec<u64> = groups
        .values()
        .flat_map(BTreeMap::values)
        .filter_map(|m| m.written)
        .collect();
    if let (Some(first), Some(last)) = (written.iter().min(), written.iter().max()) {
        let _ = writeln!(
            out,
            "{} records, written over {} minutes.\n",
            written.len(),
            (last - first).div_ceil(60)
        );
    }
    let _ = writeln!(
        out,
        "| corpus / chunks | {} | framing ÷ floor | framing+dec ÷ floor+dec | framing × sse-stream | framing+dec × eventsource+dec |",
        VARIANTS.join(" | ")
    );
    let _ = writeln!(
        out,
        "|---{}|---|---|---|---|",
        "|---".repeat(VARIANTS.len())
    );
    let mut by_chunks: BTreeMap<usize, Vec<Ratios>> = BTreeMap::new();
    for (group, row) in &rows {
        let cells: Vec<String> = VARIANTS
            .iter()
            .map(|v| {
                row.get(*v)
                    .and_then(|m| m.mib_per_s())
                    .map_or_else(String::new, |t| format!("{t:.0}"))
            })
            .collect();
        let r = ratios(row);
        by_chunks.entry(rank(group).1).or_default().push(r);
        let _ = writeln!(
            out,
            "| {group} | {} | {} | {} | {} | {} |",
            cells.join(" | "),
            ratio(r.framing_floor),
            ratio(r.decode_floor),
            ratio(r.vs_sse_stream),
            ratio(r.vs_eventsource),
        );
    }

    let _ = writeln!(
        out,
        "\n| chunks | framing ÷ floor | framing+dec ÷ floor+dec | framing × sse-stream | framing+dec × eventsource+dec |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|");
    for (chunks, list) in &by_chunks {
        let span = |f: fn(&Ratios) -> Option<f64>| {
            let values: Vec<f64> = list.iter().filter_map(f).collect();
            let min = values.iter().copied().reduce(f64::min);
            let max = values.iter().copied().reduce(f64::max);
            match (min, max) {
                (Some(min), Some(max)) => format!("{min:.2}-{max:.2}x"),
                _ => String::new(),
            }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            CHUNKS.get(*chunks).copied().unwrap_or("?"),
            span(|r| r.framing_floor),
            span(|r| r.decode_floor),
            span(|r| r.vs_sse_stream),
            span(|r| r.vs_eventsource),
        );
    }

    let others: Vec<_> = groups
        .iter()
        .filter(|(g, _)| rank(g).0 == CORPORA.len())
        .collect();
    if !others.is_empty() {
        let _ = writeln!(out, "\n| case | time | throughput |");
        let _ = writeln!(out, "|---|---|---|");
        for (group, row) in others {
            for (function, m) in row {
                let tp = m
                    .mib_per_s()
                    .map_or_else(String::new, |t| format!("{t:.0} MiB/s"));
                let _ = writeln!(
                    out,
                    "| {group}/{function} | {:.2} µs | {tp} |",
                    m.median_ns / 1e3
                );
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_record(dir: &Path, name: &str, group: &str, function: &str, ns: f64, bytes: u64) {
        let new = dir.join(name).join("new");
        fs::create_dir_all(&new).unwrap();
        let bench = serde_json::json!({
            "group_id": group, "function_id": function, "value_str": null,
            "throughput": {"Bytes": bytes}, "full_id": format!("{group}/{function}"),
        });
        let est = serde_json::json!({"median": {"point_estimate": ns}});
        fs::write(new.join("benchmark.json"), bench.to_string()).unwrap();
        fs::write(new.join("estimates.json"), est.to_string()).unwrap();
        // criterion's `base/` copy must not be read twice
        let base = dir.join(name).join("base");
        fs::create_dir_all(&base).unwrap();
        fs::write(base.join("benchmark.json"), "not json").unwrap();
    }

    #[test]
    fn renders_throughput_and_ratios_from_criterion_records() {
        let dir = std::env::temp_dir().join(format!("xtask-stream-table-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let mib = 1024 * 1024;
        // 1 MiB in 1 ms = 1000 MiB/s.
        write_record(&dir, "a/floor", "openai_lf/256B", "floor", 1e6, mib);
        write_record(&dir, "a/framing", "openai_lf/256B", "framing", 1.5e6, mib);
        write_record(&dir, "a/sse", "openai_lf/256B", "sse-stream", 4.5e6, mib);
        write_record(&dir, "b/floor", "openai_lf/1B", "floor", 2e6, mib);
        write_record(&dir, "b/framing", "openai_lf/1B", "framing", 2e6, mib);
        write_record(
            &dir,
            "c/long",
            "long_line_2MiB/1KiB",
            "framing",
            2e5,
            2 * mib,
        );
        let groups = read_dir(&dir).unwrap();
        let table = render(&groups);
        fs::remove_dir_all(&dir).unwrap();
        let lines: Vec<&str> = table.lines().skip(2).collect();
        assert!(table.starts_with("6 records, written over "), "{table}");
        // 1B sorts before 256B; columns follow VARIANTS.
        assert!(
            lines[2].starts_with("| openai_lf/1B | 500 | 500 |"),
            "{table}"
        );
        assert!(
            lines[3].starts_with("| openai_lf/256B | 1000 | 667 |"),
            "{table}"
        );
        assert!(lines[3].ends_with("| 1.50x |  | 3.00x |  |"), "{table}");
        assert!(
            table.contains("| 256B | 1.50-1.50x |  | 3.00-3.00x |  |"),
            "{table}"
        );
        assert!(
            table.contains("| long_line_2MiB/1KiB/framing | 200.00 µs | 10000 MiB/s |"),
            "{table}"
        );
    }

    #[test]
    fn renders_the_memory_table() {
        let rows = serde_json::json!([{
            "group": "openai_lf/256B", "longest_event": 252, "chunk": 256,
            "peak_heap_growth": {"floor": 0, "framing": 1230, "sse-stream": 956},
        }]);
        let table = render_memory(&rows).unwrap();
        assert!(
            table.contains("| openai_lf/256B | 252 | 256 | 508 | 0 | 1230 |  |  | 956 |"),
            "{table}"
        );
        assert!(render_memory(&serde_json::json!({})).is_err());
    }
}
