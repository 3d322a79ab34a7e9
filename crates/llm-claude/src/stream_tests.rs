//! The decoder's state machine, event by event.

use llm_core::{ErrorKind, Usage};

use super::*;

fn run(events: &[(&str, &str)]) -> (Vec<StreamEvent>, Result<(), Error>, MessagesDecoder) {
    let mut d = MessagesDecoder::new("claude", "asked", Some("req_1".into()));
    let mut out = VecDeque::new();
    for (event, data) in events {
        if let Err(e) = d.decode(event, data, &mut out) {
            return (out.into(), Err(e), d);
        }
    }
    let end = d.end();
    (out.into(), end, d)
}

const START: &str = r#"{"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","content":[],"model":"claude-x","stop_reason":null,"usage":{"input_tokens":10,"output_tokens":1,"cache_read_input_tokens":4}}}"#;

#[test]
fn start_takes_model_and_ids() {
    let (out, _, _) = run(&[("message_start", START)]);
    let StreamEvent::Start(s) = &out[0] else {
        panic!("first event is {:?}", out[0]);
    };
    assert_eq!(s.provider, "claude");
    assert_eq!(s.model, "claude-x");
    assert_eq!(s.response_id.as_deref(), Some("msg_1"));
    assert_eq!(s.request_id.as_deref(), Some("req_1"));
}

#[test]
fn usage_is_the_latest_never_a_sum() {
    let (out, end, _) = run(&[
        ("message_start", START),
        (
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":null},"usage":{"output_tokens":5}}"#,
        ),
        (
            "message_delta",
            r#"{"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":8}}"#,
        ),
        ("message_stop", r#"{"type":"message_stop"}"#),
    ]);
    assert!(end.is_ok());
    let usages: Vec<Usage> = out
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Usage(u) => Some(*u),
            _ => None,
        })
        .collect();
    assert_eq!(usages.len(), 2);
    let last = usages[1];
    assert_eq!(last.input_tokens, Some(14));
    assert_eq!(last.cached_input_tokens, Some(4));
    assert_eq!(last.output_tokens, Some(8));
    assert_eq!(out.last(), Some(&StreamEvent::Finish(FinishReason::Stop)));
}

#[test]
fn events_without_a_name_are_dispatched_by_their_type() {
    let (out, end, _) = run(&[
        ("message", START),
        (
            "message",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"hi"}}"#,
        ),
        ("message", r#"{"type":"message_stop"}"#),
    ]);
    assert!(end.is_ok());
    assert_eq!(out[1], StreamEvent::TextDelta("hi".into()));
}

#[test]
fn a_delta_before_message_start_still_starts_the_stream() {
    let (out, _, _) = run(&[(
        "content_block_delta",
        r#"{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}"#,
    )]);
    assert!(matches!(&out[0], StreamEvent::Start(s) if s.model == "asked"));
    assert_eq!(out[1], StreamEvent::TextDelta("x".into()));
}

#[test]
fn message_stop_without_stop_reason_finishes_as_other() {
    let (out, end, _) = run(&[("message_start", START), ("message_stop", "{}")]);
    assert!(end.is_ok());
    assert_eq!(
        out[1],
        StreamEvent::Usage(
            UsageCounts {
                input_tokens: Some(10),
                output_tokens: Some(1),
                cache_read_input_tokens: Some(4),
                cache_creation_input_tokens: None,
                cache_creation: None,
            }
            .to_usage()
        )
    );
    assert_eq!(
        out[2],
        StreamEvent::Finish(FinishReason::Other("unknown".into()))
    );
}

#[test]
fn undecodable_data_is_invalid_response_and_ends_the_decoder() {
    let mut d = MessagesDecoder::new("claude", "m", Some("req_2".into()));
    let mut out = VecDeque::new();
    let err = d
        .decode("content_block_delta", "{not json", &mut out)
        .expect_err("bad json");
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(err.request_id(), Some("req_2"));
    assert!(d.decode("message_stop", "{}", &mut out).is_ok());
    assert!(out.is_empty());
    assert!(d.end().is_ok(), "an ended decoder reports nothing more");
}

#[test]
fn unknown_events_and_deltas_are_ignored() {
    let (out, end, _) = run(&[
        ("message_start", START),
        ("future_event", "{}"),
        (
            "content_block_start",
            r#"{"type":"content_block_start","index":0,"content_block":{"type":"future_block","data":"x"}}"#,
        ),
        (
            "content_block_delta",
            r#"{"type":"content_block_delta","index":0,"delta":{"type":"citations_delta","citation":{}}}"#,
        ),
        ("message_stop", "{}"),
    ]);
    assert!(end.is_ok());
    assert_eq!(out.len(), 3, "{out:?}");
}

#[test]
fn tool_input_grows_until_the_limit() {
    let mut d = MessagesDecoder::new("claude", "m", None);
    let mut out = VecDeque::new();
    let piece = "x".repeat(1 << 20);
    let data = serde_json::json!({"type":"content_block_delta","index":0,"delta":{"type":"input_json_delta","partial_json": piece}}).to_string();
    let mut result = Ok(());
    for _ in 0..=16 {
        result = d.decode("content_block_delta", &data, &mut out);
        if result.is_err() {
            break;
        }
    }
    assert_eq!(
        result.expect_err("limit").kind(),
        ErrorKind::InvalidResponse
    );
    assert_eq!(d.tool_inputs()[0].input_json.len(), 16 << 20);
}

#[test]
fn ending_without_message_stop_is_a_network_error() {
    let (_, end, _) = run(&[("message_start", START)]);
    let err = end.expect_err("truncated");
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.is_retryable());
    assert_eq!(err.message(), "stream ended before message_stop");
    assert_eq!(err.request_id(), Some("req_1"));
}
