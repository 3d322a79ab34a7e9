//! Provider-shaped streams (written by hand from `shared/protocols.md`) through the parsers,
//! snapshotted in the dump examples' JSON shape.

use crate::common::{fixture, ndjson_transcript, sse_transcript};
use llm_stream::Limits;

fn sse(name: &str) -> Vec<serde_json::Value> {
    let bytes = fixture(name);
    // 7 bytes: a chunk size that aligns with nothing in the fixtures.
    sse_transcript(bytes.chunks(7), Limits::default())
}

#[test]
fn openai_with_usage_chunk() {
    insta::assert_json_snapshot!(sse("openai_usage.sse"));
}

#[test]
fn openai_with_crlf_line_endings_is_the_same_stream() {
    assert_eq!(sse("openai_usage_crlf.sse"), sse("openai_usage.sse"));
}

#[test]
fn anthropic_with_ping_and_mid_stream_error() {
    insta::assert_json_snapshot!(sse("anthropic_ping_error.sse"));
}

#[test]
fn openrouter_with_processing_comments() {
    insta::assert_json_snapshot!(sse("openrouter_comments.sse"));
}

#[test]
fn llamacpp_native_completion() {
    insta::assert_json_snapshot!(sse("llamacpp_completion.sse"));
}

#[test]
fn spec_edge_cases() {
    insta::assert_json_snapshot!(sse("spec_edges.sse"));
}

#[test]
fn ollama_with_error_line() {
    let bytes = fixture("ollama_error.ndjson");
    insta::assert_json_snapshot!(ndjson_transcript(bytes.chunks(7), Limits::default()));
}

#[test]
fn ndjson_edge_cases() {
    let bytes = fixture("ndjson_edges.ndjson");
    insta::assert_json_snapshot!(ndjson_transcript(bytes.chunks(7), Limits::default()));
}
