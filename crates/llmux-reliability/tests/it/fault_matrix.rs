//! The fault matrix, end to end against llm-katan: every fault × {OpenAI, Anthropic, Gemini (the Vertex AI
//! form)} × {whole, streamed} × {direct, through a chain of the faulty instance and a healthy one}. Every request runs in its own task
//! under a generous limit; the table counts requests sent, succeeded, failed by kind, hung and panicked.
//! Asserted: every failure has the fault's kind, nothing hangs or panics, and every chain call reaches an
//! answer (from the healthy entry whenever the faulty one always fails).
//!
//! The same run is the secrets test: all tracing output at TRACE (including `log` records of reqwest and
//! hyper) and the `Debug`/`Display` of every client, chain, request, answer and error go into one buffer,
//! which must not contain any API key a client was configured with, even where the server echoes the key
//! back (the `wrong key` fault: llm-katan's 401 message quotes the key it got).
//!
//! Run with `cargo test -p llmux-reliability --test it fault_matrix -- --nocapture` to see the table; it is
//! also written to `$CARGO_TARGET_TMPDIR/fault-matrix.txt`.

#[path = "matrix/mod.rs"]
mod matrix;

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use llm_core::ErrorKind;
use llmux_e2e::Katan;
use llmux_reliability::guard::Table;
use llmux_reliability::wire::Wire;
use matrix::{Capture, Fault, Path as Via, Secrets, WIRES, run_cell, start_all};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_matrix() {
    let capture = Capture::install();
    let started = Instant::now();

    // Instances whose fault state is permanent once triggered are started per cell group; the others once.
    let mut wanted: Vec<(String, Vec<String>)> = vec![("healthy".into(), Fault::healthy_args())];
    for fault in Fault::ALL {
        if fault.fresh_per_group() {
            for wire in WIRES {
                for stream in [false, true] {
                    wanted.push((group_key(fault, wire, stream), fault.katan_args()));
                }
            }
        } else {
            wanted.push((fault.label().into(), fault.katan_args()));
        }
    }
    let katans: HashMap<String, Katan> = start_all(wanted).await;
    let startup = started.elapsed();

    let healthy = &katans["healthy"];
    let mut table = Table::new(format!(
        "fault matrix against llm-katan ({} instances started in {:.1}s)",
        katans.len(),
        startup.as_secs_f64()
    ));
    let mut problems = Vec::new();
    for fault in Fault::ALL {
        for wire in WIRES {
            for stream in [false, true] {
                let faulty = if fault.fresh_per_group() {
                    &katans[&group_key(fault, wire, stream)]
                } else {
                    &katans[fault.label()]
                };
                // Direct first: on a fresh rate-limit or timeout instance it sees the N good requests
                // before the fault; the chain then meets the tripped state.
                for via in [Via::Direct, Via::Chain] {
                    let (row, mut found) =
                        run_cell(fault, wire, stream, via, faulty, healthy, &capture).await;
                    problems.append(&mut found);
                    table.rows.push(row);
                }
            }
        }
    }
    table.title.push_str(&format!(
        ", all cells in {:.1}s",
        started.elapsed().as_secs_f64()
    ));
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-matrix.txt");
    table.publish(&path).expect("the table is written");

    for row in &table.rows {
        assert_eq!(row.hung, 0, "{}: hung requests", row.cell);
        assert_eq!(row.panicked, 0, "{}: panicked requests", row.cell);
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // --error-rate 0.3 over all its direct cells: both outcomes must have happened.
    let some: Vec<_> = table
        .rows
        .iter()
        .filter(|r| r.cell.starts_with(Fault::ErrorSome.label()) && r.cell.ends_with("direct"))
        .collect();
    assert!(
        some.iter().map(|r| r.ok).sum::<u32>() > 0,
        "error-rate 0.3 never succeeded"
    );
    assert!(
        some.iter()
            .map(|r| r.failed_as(ErrorKind::Server))
            .sum::<u32>()
            > 0,
        "error-rate 0.3 never failed"
    );

    // Secrets: nothing captured names a key a client was configured with.
    let text = capture.text();
    let trace_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fault-matrix-trace.log");
    std::fs::write(&trace_path, &text).expect("the capture is written");
    // The capture really holds the run: llmux's own spans and the HTTP stack's records.
    for needle in ["llm_chain", "hyper", "reqwest", "TRACE"] {
        assert!(
            text.contains(needle),
            "no `{needle}` in the capture ({})",
            trace_path.display()
        );
    }
    assert!(
        text.contains("[redacted]"),
        "echoed keys were redacted where they appeared"
    );
    for key in Secrets::CLIENT_KEYS {
        let hits: Vec<&str> = text.lines().filter(|l| l.contains(key)).take(3).collect();
        assert!(
            hits.is_empty(),
            "the key {key} leaked:\n{}",
            hits.join("\n")
        );
    }
    println!(
        "secrets: {} bytes of TRACE output and Debug/Display checked, no configured key found ({})",
        text.len(),
        trace_path.display()
    );
}

fn group_key(fault: Fault, wire: Wire, stream: bool) -> String {
    format!(
        "{} {} {}",
        fault.label(),
        wire.name(),
        if stream { "stream" } else { "chat" }
    )
}
