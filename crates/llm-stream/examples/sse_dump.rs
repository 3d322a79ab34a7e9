//! Reads an SSE stream from stdin and prints what the parser makes of it, one JSON object per line.
//!
//! A stable contract for external conformance suites:
//!
//! ```text
//! sse_dump [--chunk-size N] [--max-line-bytes N]
//! ```
//!
//! All of stdin is read, then fed in chunks of `--chunk-size` bytes (default 4096).
//! `--max-line-bytes` sets the size limit (default 16 MiB), counted without the line ending; it
//! applies to a line and to one event's data. Output, compared as parsed JSON:
//!
//! - `{"event":TYPE,"data":DATA,"id":LAST_EVENT_ID}` per dispatched event (`""` when no id is set);
//! - `{"error":MESSAGE}` where a size limit was exceeded;
//! - at the end `{"retry":MS}` with the last valid retry value, if any was seen;
//! - then `{"truncated":true}` if the input ended inside an event.
//!
//! The exit status is 0 whatever the input; only a malformed command line exits with 2.

use std::io::{self, Read, Write};

use llm_stream::{Limits, SseParser};
use serde_json::json;

/// The command line.
struct Args {
    chunk_size: usize,
    limit: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        chunk_size: 4096,
        limit: Limits::DEFAULT_MAX,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--chunk-size" => &mut args.chunk_size,
            "--max-line-bytes" => &mut args.limit,
            other => return Err(format!("unknown argument {other:?}")),
        };
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        *slot = value
            .parse()
            .map_err(|_| format!("{flag} needs a whole number, not {value:?}"))?;
    }
    if args.chunk_size == 0 {
        return Err("--chunk-size must be at least 1".to_owned());
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("sse_dump: {message}\nusage: sse_dump [--chunk-size N] [--max-line-bytes N]");
            std::process::exit(2);
        }
    };
    let mut input = Vec::new();
    if let Err(e) = io::stdin().lock().read_to_end(&mut input) {
        eprintln!("sse_dump: reading stdin failed: {e}");
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut parser = SseParser::with_limits(Limits::uniform(args.limit));
    for chunk in input.chunks(args.chunk_size) {
        parser.feed(chunk);
        drain(&mut parser, &mut out);
    }
    let finished = parser.finish();
    drain(&mut parser, &mut out);
    if let Some(retry) = parser.retry() {
        emit(&mut out, &json!({ "retry": retry.as_millis() }));
    }
    if finished.is_err() {
        emit(&mut out, &json!({ "truncated": true }));
    }
    // A closed stdout is not an input problem: the status stays 0.
    let _ = out.flush();
}

fn drain(parser: &mut SseParser, out: &mut impl Write) {
    for item in parser.events() {
        let record = match item {
            Ok(event) => json!({ "event": event.event(), "data": event.data(), "id": event.id() }),
            Err(error) => json!({ "error": error.to_string() }),
        };
        emit(out, &record);
    }
}

fn emit(out: &mut impl Write, record: &serde_json::Value) {
    // Write errors (a closed pipe) are ignored so the exit status stays 0.
    let _ = writeln!(out, "{}", escape_line_separators(record.to_string()));
}

/// Escapes the characters that some line readers treat as line breaks (NEL, LS, PS). They can
/// only occur inside JSON strings here, where the `\uXXXX` escape means the same.
fn escape_line_separators(text: String) -> String {
    if !text.contains(['\u{85}', '\u{2028}', '\u{2029}']) {
        return text;
    }
    text.replace('\u{85}', "\\u0085")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}
