//! Reads an NDJSON stream from stdin and prints what the parser makes of it, one JSON object per
//! line.
//!
//! A stable contract for external conformance suites:
//!
//! ```text
//! ndjson_dump [--chunk-size N] [--max-line-bytes N]
//! ```
//!
//! All of stdin is read, then fed in chunks of `--chunk-size` bytes (default 4096).
//! `--max-line-bytes` sets the line size limit (default 16 MiB), counted without the line ending.
//! Output, compared as parsed JSON:
//!
//! - `{"line":N,"value":VALUE}` per value, VALUE being the line's JSON exactly as received
//!   (numbers and key order round-trip);
//! - `{"line":N,"error":MESSAGE}` per invalid or oversized line; parsing goes on after each.
//!
//! The exit status is 0 whatever the input; only a malformed command line exits with 2.

use std::error::Error as _;
use std::io::{self, Read, Write};

use llm_stream::{Limits, NdjsonParser};
use serde::Serialize;
use serde_json::value::RawValue;

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

/// One output record.
#[derive(Serialize)]
struct Record<'a> {
    line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a RawValue>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!(
                "ndjson_dump: {message}\nusage: ndjson_dump [--chunk-size N] [--max-line-bytes N]"
            );
            std::process::exit(2);
        }
    };
    let mut input = Vec::new();
    if let Err(e) = io::stdin().lock().read_to_end(&mut input) {
        eprintln!("ndjson_dump: reading stdin failed: {e}");
    }
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut parser = NdjsonParser::with_limits(Limits::uniform(args.limit));
    for chunk in input.chunks(args.chunk_size) {
        parser.feed(chunk);
        drain(&mut parser, &mut out);
    }
    parser.finish();
    drain(&mut parser, &mut out);
    // A closed stdout is not an input problem: the status stays 0.
    let _ = out.flush();
}

fn drain(parser: &mut NdjsonParser, out: &mut impl Write) {
    for item in parser.events() {
        let line = match item {
            Ok(line) => line,
            Err(error) => {
                emit(
                    out,
                    &Record {
                        line: error.line(),
                        value: None,
                        error: Some(error.to_string()),
                    },
                );
                continue;
            }
        };
        let record = match line.raw_value() {
            // A CR inside valid JSON can only be insignificant whitespace; a space keeps the
            // value and keeps readers that also split lines at CR from cutting the record.
            Ok(value) if value.get().contains('\r') => {
                let spaced = value.get().replace('\r', " ");
                match RawValue::from_string(spaced) {
                    Ok(value) => {
                        emit(
                            out,
                            &Record {
                                line: line.number(),
                                value: Some(&value),
                                error: None,
                            },
                        );
                        continue;
                    }
                    Err(_) => Record {
                        line: line.number(),
                        value: Some(value),
                        error: None,
                    },
                }
            }
            Ok(value) => Record {
                line: line.number(),
                value: Some(value),
                error: None,
            },
            Err(error) => {
                // The serde message says what is wrong; append it to our own.
                let detail = error.source().map(|s| format!(": {s}")).unwrap_or_default();
                Record {
                    line: error.line(),
                    value: None,
                    error: Some(format!("{error}{detail}")),
                }
            }
        };
        emit(out, &record);
    }
}

fn emit(out: &mut impl Write, record: &Record<'_>) {
    if let Ok(text) = serde_json::to_string(record) {
        // Write errors (a closed pipe) are ignored so the exit status stays 0.
        let _ = writeln!(out, "{}", escape_line_separators(text));
    }
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
