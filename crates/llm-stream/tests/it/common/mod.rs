//! Helpers shared by the integration tests: transcripts in the dump examples' JSON shape, chunkings,
//! and naive reference implementations of the two formats to compare the parsers against.

// Each test binary uses a different subset of these helpers.
#![allow(dead_code)]

pub(crate) mod reference;

use llm_stream::{
    Limits, NdjsonError, NdjsonLineRef, NdjsonParser, SseError, SseEventRef, SseParser,
};
use serde_json::{Value, json};

/// Runs `chunks` through an [`SseParser`] and records what `sse_dump` would print.
pub(crate) fn sse_transcript<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    limits: Limits,
) -> Vec<Value> {
    let mut parser = SseParser::with_limits(limits);
    let mut out = Vec::new();
    for chunk in chunks {
        parser.feed(chunk);
        drain_sse(&mut parser, &mut out);
    }
    let finished = parser.finish();
    drain_sse(&mut parser, &mut out);
    if let Some(retry) = parser.retry() {
        out.push(json!({ "retry": retry.as_millis() as u64 }));
    }
    if finished.is_err() {
        out.push(json!({ "truncated": true }));
    }
    out
}

fn drain_sse(parser: &mut SseParser, out: &mut Vec<Value>) {
    for item in parser.events() {
        out.push(match item {
            Ok(e) => json!({ "event": e.event(), "data": e.data(), "id": e.id() }),
            Err(e) => json!({ "error": e.to_string() }),
        });
    }
}

/// Runs `chunks` through an [`NdjsonParser`] and records what `ndjson_dump` would print.
pub(crate) fn ndjson_transcript<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    limits: Limits,
) -> Vec<Value> {
    let mut parser = NdjsonParser::with_limits(limits);
    let mut out = Vec::new();
    for chunk in chunks {
        parser.feed(chunk);
        drain_ndjson(&mut parser, &mut out);
    }
    parser.finish();
    drain_ndjson(&mut parser, &mut out);
    out
}

fn drain_ndjson(parser: &mut NdjsonParser, out: &mut Vec<Value>) {
    for item in parser.events() {
        let record = item.and_then(|line| {
            let value: Value = line.decode()?;
            Ok(json!({ "line": line.number(), "value": value }))
        });
        out.push(match record {
            Ok(v) => v,
            Err(e) => json!({ "line": e.line(), "error": e.to_string() }),
        });
    }
}

/// Like [`sse_transcript`], through the borrowed path: [`SseParser::feed_ref`] and
/// `next_event_ref`.
pub(crate) fn sse_transcript_ref<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    limits: Limits,
) -> Vec<Value> {
    let mut parser = SseParser::with_limits(limits);
    let mut out = Vec::new();
    for chunk in chunks {
        let mut feed = parser.feed_ref(chunk);
        while let Some(item) = feed.next_event_ref() {
            out.push(sse_record(item));
        }
    }
    let finished = parser.finish();
    while let Some(item) = parser.next_event_ref() {
        out.push(sse_record(item));
    }
    if let Some(retry) = parser.retry() {
        out.push(json!({ "retry": retry.as_millis() as u64 }));
    }
    if finished.is_err() {
        out.push(json!({ "truncated": true }));
    }
    out
}

fn sse_record(item: Result<SseEventRef<'_>, SseError>) -> Value {
    match item {
        Ok(e) => json!({ "event": e.event(), "data": e.data(), "id": e.id() }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

/// Like [`ndjson_transcript`], through the borrowed path: [`NdjsonParser::feed_ref`] and
/// `next_line_ref`.
pub(crate) fn ndjson_transcript_ref<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    limits: Limits,
) -> Vec<Value> {
    let mut parser = NdjsonParser::with_limits(limits);
    let mut out = Vec::new();
    for chunk in chunks {
        let mut feed = parser.feed_ref(chunk);
        while let Some(item) = feed.next_line_ref() {
            out.push(ndjson_record(item));
        }
    }
    parser.finish();
    while let Some(item) = parser.next_line_ref() {
        out.push(ndjson_record(item));
    }
    out
}

fn ndjson_record(item: Result<NdjsonLineRef<'_>, NdjsonError>) -> Value {
    let record = item.and_then(|line| {
        let value: Value = line.decode()?;
        Ok(json!({ "line": line.number(), "value": value }))
    });
    match record {
        Ok(v) => v,
        Err(e) => json!({ "line": e.line(), "error": e.to_string() }),
    }
}

/// Every way to cut `bytes` in two, with an empty chunk between the halves.
pub(crate) fn every_split(bytes: &[u8]) -> impl Iterator<Item = [&[u8]; 3]> {
    (0..=bytes.len()).map(move |i| [&bytes[..i], &b""[..], &bytes[i..]])
}

/// Cuts `bytes` at the given offsets (taken modulo the length, in any order, repeats allowed).
pub(crate) fn cut_at(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.push(0);
    points.push(bytes.len());
    points.sort_unstable();
    points
        .windows(2)
        .map(|w| bytes[w[0]..w[1]].to_vec())
        .collect()
}

/// Reads a fixture file from `tests/fixtures`.
pub(crate) fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
}

/// The SSE fixtures.
pub(crate) const SSE_FIXTURES: &[&str] = &[
    "openai_usage.sse",
    "openai_usage_crlf.sse",
    "anthropic_ping_error.sse",
    "openrouter_comments.sse",
    "llamacpp_completion.sse",
    "spec_edges.sse",
];

/// The NDJSON fixtures.
pub(crate) const NDJSON_FIXTURES: &[&str] = &["ollama_error.ndjson", "ndjson_edges.ndjson"];
