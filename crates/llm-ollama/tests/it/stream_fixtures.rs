//! Recorded NDJSON streams (hand-written from Ollama's documented protocol) driven through the pure decoder,
//! whole, at every split point, and in random chunkings.

use llm_core::{Error, ErrorKind, FinishReason, StreamEvent, StreamStart, Usage};
use llm_http::{Decoding, Framing};
use llm_ollama::{ChatDecoder, decode_chunks};
use proptest::prelude::*;

/// A stream item in comparable form.
#[derive(Debug, Clone, PartialEq)]
enum Out {
    Event(StreamEvent),
    Failed(ErrorKind),
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn start() -> StreamStart {
    StreamStart::new("ollama", "llama3.2")
}

/// The body as the driver reads it: chunks, or a failure of the connection.
fn drive(body: Vec<Result<Vec<u8>, Error>>) -> Vec<Result<StreamEvent, Error>> {
    let mut decoding = Decoding::new("ollama", Framing::Ndjson, ChatDecoder::new(start()));
    let mut items = Vec::new();
    for chunk in body {
        match chunk {
            Ok(bytes) => decoding.feed(&bytes),
            Err(e) => decoding.fail(e),
        }
        items.extend(std::iter::from_fn(|| decoding.next_item()));
    }
    decoding.end();
    items.extend(std::iter::from_fn(|| decoding.next_item()));
    items
}

fn decode(chunks: Vec<Vec<u8>>) -> Vec<Out> {
    let items = decode_chunks(start(), chunks.iter().map(Vec::as_slice));
    items
        .into_iter()
        .map(|item| match item {
            Ok(event) => Out::Event(event),
            Err(e) => Out::Failed(e.kind()),
        })
        .collect()
}

/// The whole fixture in one chunk, then every split point (with an empty chunk between) must agree.
fn decode_every_split(name: &str) -> Vec<Out> {
    let bytes = fixture(name);
    let whole = decode(vec![bytes.clone()]);
    for i in 0..=bytes.len() {
        let split = decode(vec![bytes[..i].to_vec(), Vec::new(), bytes[i..].to_vec()]);
        assert_eq!(split, whole, "{name} split at byte {i}");
    }
    whole
}

fn text_of(outs: &[Out]) -> String {
    outs.iter()
        .filter_map(|o| match o {
            Out::Event(StreamEvent::TextDelta(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn chat_stream_yields_start_text_usage_finish() {
    let outs = decode_every_split("chat_stream.ndjson");
    assert_eq!(outs[0], Out::Event(StreamEvent::Start(start())));
    assert_eq!(
        text_of(&outs),
        "The sky is blue: ünïcödé 🌍 \"quoted\"\nnext line é"
    );
    let tail = &outs[outs.len() - 2..];
    assert_eq!(
        tail,
        [
            Out::Event(StreamEvent::Usage(Usage::new(26, 282))),
            Out::Event(StreamEvent::Finish(FinishReason::Stop)),
        ]
    );
    // Start, four text pieces (the final line's content is empty and yields none), usage, finish.
    assert_eq!(outs.len(), 7);
}

#[test]
fn done_reason_length_is_finish_length() {
    let outs = decode_every_split("length.ndjson");
    assert_eq!(text_of(&outs), "One two");
    assert_eq!(
        outs.last(),
        Some(&Out::Event(StreamEvent::Finish(FinishReason::Length)))
    );
    assert!(outs.contains(&Out::Event(StreamEvent::Usage(Usage::new(12, 2)))));
}

#[test]
fn thinking_is_reasoning_and_a_missing_prompt_count_stays_unknown() {
    let outs = decode_every_split("thinking.ndjson");
    let reasoning: String = outs
        .iter()
        .filter_map(|o| match o {
            Out::Event(StreamEvent::ReasoningDelta(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(reasoning, "The user wants a greeting.");
    assert_eq!(text_of(&outs), "Hello!");
    let usage = outs.iter().find_map(|o| match o {
        Out::Event(StreamEvent::Usage(u)) => Some(*u),
        _ => None,
    });
    let usage = usage.expect("usage event");
    assert_eq!(usage.input_tokens, None);
    assert_eq!(usage.output_tokens, Some(9));
}

#[test]
fn mid_stream_error_line_ends_the_stream_as_server() {
    let outs = decode_every_split("mid_stream_error.ndjson");
    assert_eq!(text_of(&outs), "Once upon");
    assert_eq!(outs.last(), Some(&Out::Failed(ErrorKind::Server)));
    assert!(
        !outs
            .iter()
            .any(|o| matches!(o, Out::Event(StreamEvent::Finish(_))))
    );
}

#[test]
fn mid_stream_error_keeps_message_and_delivered_bytes() {
    let items = drive(vec![Ok(fixture("mid_stream_error.ndjson"))]);
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.provider(), Some("ollama"));
    assert_eq!(err.delivered_bytes(), Some("Once upon".len() as u64));
    let message = err.detail().and_then(|d| d.message.as_deref());
    assert_eq!(
        message,
        Some("an error was encountered while running the model: unexpected EOF")
    );
}

#[test]
fn stream_without_done_is_network() {
    let outs = decode_every_split("no_done.ndjson");
    assert_eq!(text_of(&outs), "Once upon");
    assert_eq!(outs.last(), Some(&Out::Failed(ErrorKind::Network)));
}

#[test]
fn stream_cut_inside_a_line_is_network() {
    let outs = decode_every_split("cut_line.ndjson");
    assert_eq!(text_of(&outs), "Once");
    assert_eq!(outs.last(), Some(&Out::Failed(ErrorKind::Network)));
}

#[test]
fn a_cut_line_followed_by_more_is_invalid_response() {
    let outs = decode(vec![
        b"{\"message\":{\"content\":\"a\"},\"done\":false}\n{\"message\":\n".to_vec(),
        b"{\"done\":true}\n".to_vec(),
    ]);
    assert_eq!(outs.last(), Some(&Out::Failed(ErrorKind::InvalidResponse)));
}

#[test]
fn garbage_and_invalid_utf8_are_invalid_response() {
    let garbage = decode(vec![b"<html>502 bad gateway</html>\n".to_vec()]);
    assert_eq!(
        garbage.last(),
        Some(&Out::Failed(ErrorKind::InvalidResponse))
    );
    let utf8 = decode(vec![b"{\"message\":{\"content\":\"\xff\"}}\n".to_vec()]);
    assert_eq!(utf8.last(), Some(&Out::Failed(ErrorKind::InvalidResponse)));
}

#[test]
fn a_transport_error_mid_stream_is_passed_through_and_ends_the_stream() {
    let chunks = vec![
        Ok(b"{\"message\":{\"content\":\"a\"},\"done\":false}\n".to_vec()),
        Err(Error::new(ErrorKind::Timeout, "no data for the idle limit")),
        Ok(b"{\"done\":true}\n".to_vec()),
    ];
    let items = drive(chunks);
    assert_eq!(items.len(), 3, "{items:?}");
    let err = items[2].as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.delivered_bytes(), Some(1));
}

#[test]
fn lines_after_done_and_errors_after_done_are_ignored() {
    let chunks = vec![
        Ok(b"{\"message\":{\"content\":\"a\"},\"done\":true,\"done_reason\":\"stop\"}\n{\"error\":\"late\"}\n".to_vec()),
        Err(Error::new(ErrorKind::Network, "reset after the answer")),
    ];
    let items = drive(chunks);
    assert!(items.iter().all(Result::is_ok), "{items:?}");
    assert_eq!(
        items.last().unwrap().as_ref().unwrap(),
        &StreamEvent::Finish(FinishReason::Stop)
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_chunkings_agree(cuts in proptest::collection::vec(0usize..2000, 0..12)) {
        for name in ["chat_stream.ndjson", "thinking.ndjson", "mid_stream_error.ndjson", "cut_line.ndjson"] {
            let bytes = fixture(name);
            let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
            cuts.sort_unstable();
            let mut chunks = Vec::new();
            let mut at = 0;
            for cut in cuts {
                chunks.push(bytes[at..cut].to_vec());
                at = cut;
            }
            chunks.push(bytes[at..].to_vec());
            prop_assert_eq!(decode(chunks), decode(vec![bytes]));
        }
    }
}

#[test]
fn whole_tool_calls_get_stable_ids_and_the_answer_finishes_with_tool_calls() {
    let outs = decode_every_split("tool_calls.ndjson");
    let calls: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            Out::Event(StreamEvent::ToolCall { index, call }) => Some((*index, call.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(calls.len(), 2, "{outs:?}");
    assert_eq!(calls[0].0, 0);
    assert_eq!(calls[0].1.name, "get_weather");
    assert_eq!(calls[0].1.arguments, serde_json::json!({"city": "Paris"}));
    assert_eq!(calls[1].1.name, "get_time");
    assert!(calls[0].1.id.starts_with("call_0_") && calls[1].1.id.starts_with("call_1_"));
    assert_ne!(calls[0].1.id, calls[1].1.id);
    // Stable: the same answer gives the same ids.
    let again = decode_every_split("tool_calls.ndjson");
    assert_eq!(outs, again);
    let starts = outs
        .iter()
        .filter(|o| matches!(o, Out::Event(StreamEvent::ToolCallStart { .. })))
        .count();
    assert_eq!(starts, 2);
    assert_eq!(
        outs.last(),
        Some(&Out::Event(StreamEvent::Finish(FinishReason::ToolCalls)))
    );
}

#[test]
fn a_call_id_the_server_sends_is_kept_and_only_a_missing_one_is_made() {
    let outs = decode_every_split("tool_calls_with_ids.ndjson");
    let ids: Vec<String> = outs
        .iter()
        .filter_map(|o| match o {
            Out::Event(StreamEvent::ToolCall { call, .. }) => Some(call.id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(ids.len(), 2, "{outs:?}");
    assert_eq!(ids[0], "call_k3x9", "newer Ollama's own id");
    assert!(
        ids[1].starts_with("call_1_"),
        "made only when absent: {ids:?}"
    );
    let whole = llm_ollama::decode_chat(
        "ollama".into(),
        "qwen3",
        br#"{"model":"qwen3","message":{"role":"assistant","content":"","tool_calls":[{"id":"call_z","function":{"name":"f","arguments":{}}}]},"done":true,"done_reason":"stop"}"#,
        None,
    )
    .unwrap();
    assert_eq!(whole.tool_calls[0].id, "call_z");
}
