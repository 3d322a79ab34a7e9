//! Fuzzes the OpenAI-format tool-call assembler as the driver runs it: the fuzzer chooses the arguments'
//! JSON text, how it is cut into `tool_calls` deltas, how two calls interleave and how the bytes are
//! chunked. No panic; chunking changes nothing; a call whose pieces join into valid JSON is given with
//! exactly that JSON parsed, and one whose pieces do not is an `invalid_response` error, never a made-up
//! call.
#![no_main]

mod drive;

use libfuzzer_sys::fuzz_target;
use llm_core::{ErrorKind, StreamEvent};
use llm_openai::{ResponseMeta, sse_decoding};
use llm_stream::Limits;
use serde_json::{Value, json};

/// byte 0: how many pieces (mod 16, at least 1); then one byte per piece: bit 7 says which call it belongs
/// to, the rest how long it is (mod the text left); the rest is the arguments' text, for both calls.
fn stream_of(data: &[u8]) -> Option<(Vec<u8>, [String; 2])> {
    let (&count, rest) = data.split_first()?;
    let count = usize::from(count % 16).max(1);
    if rest.len() < count {
        return None;
    }
    let (plan, text) = rest.split_at(count);
    let text = std::str::from_utf8(text).ok()?;
    let mut sse = String::new();
    let chunk = |delta: Value| {
        let c = json!({"choices": [{"index": 0, "delta": delta}]});
        format!("data: {c}\n\n")
    };
    sse.push_str(&chunk(json!({"tool_calls": [
        {"index": 0, "id": "call_0", "type": "function", "function": {"name": "a", "arguments": ""}},
        {"index": 1, "id": "call_1", "type": "function", "function": {"name": "b", "arguments": ""}}
    ]})));
    let mut joined = [String::new(), String::new()];
    let mut rest = text;
    for (i, &step) in plan.iter().enumerate() {
        let which = usize::from(step >> 7);
        let mut len = if i + 1 == plan.len() {
            rest.len()
        } else {
            usize::from(step & 0x7f) % (rest.len() + 1)
        };
        while !rest.is_char_boundary(len) {
            len -= 1;
        }
        let (piece, after) = rest.split_at(len);
        rest = after;
        joined[which].push_str(piece);
        sse.push_str(&chunk(json!({"tool_calls": [
            {"index": which, "function": {"arguments": piece}}
        ]})));
    }
    sse.push_str(&format!(
        "data: {}\n\ndata: [DONE]\n\n",
        json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]})
    ));
    Some((sse.into_bytes(), joined))
}

fn decode(bytes: &[u8], cuts: &[usize]) -> Vec<Result<StreamEvent, (ErrorKind, String)>> {
    let mut chunks = Vec::new();
    let mut at = 0;
    for &cut in cuts {
        let cut = cut.clamp(at, bytes.len());
        chunks.push(&bytes[at..cut]);
        at = cut;
    }
    chunks.push(&bytes[at..]);
    let decoding = sse_decoding(ResponseMeta::new("openai", "m"), Limits::default());
    drive::drive(decoding, chunks)
        .into_iter()
        .map(|i| i.map_err(|e| (e.kind(), e.to_string())))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((bytes, joined)) = stream_of(data) else {
        return;
    };
    let whole = decode(&bytes, &[]);
    let step = (bytes.len() / 7).max(1);
    let cuts: Vec<usize> = (1..7).map(|i| i * step).collect();
    assert_eq!(whole, decode(&bytes, &cuts), "chunking changed the result");
    let expected: Vec<Option<Value>> = joined
        .iter()
        .map(|text| {
            if text.trim().is_empty() {
                Some(json!({}))
            } else {
                serde_json::from_str(text).ok()
            }
        })
        .collect();
    let calls: Vec<(usize, Value)> = whole
        .iter()
        .filter_map(|i| match i {
            Ok(StreamEvent::ToolCall { index, call }) => Some((*index, call.arguments.clone())),
            _ => None,
        })
        .collect();
    match (&expected[0], &expected[1]) {
        (Some(a), Some(b)) => {
            assert_eq!(calls, [(0, a.clone()), (1, b.clone())], "{joined:?}");
            assert!(matches!(whole.last(), Some(Ok(StreamEvent::Finish(_)))));
        }
        _ => {
            // The first call that does not parse ends the stream: never a made-up call after it.
            let last = whole.last().expect("an item");
            assert!(
                matches!(last, Err((ErrorKind::InvalidResponse, _))),
                "{joined:?}: {last:?}"
            );
            assert!(calls.len() < 2);
        }
    }
});
