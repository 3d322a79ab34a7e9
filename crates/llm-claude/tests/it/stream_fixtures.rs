//! Recorded Messages streams (hand-written from Anthropic's documented format) through the pure decoder and
//! the stream adapter, in one chunk and split at every byte position (with an empty chunk in between).

use llm_claude::{MessagesDecoder, ToolInput, decode_chunks};
use llm_core::{Error, ErrorKind, StreamEvent};
use llm_http::{Decoding, Framing};

/// What a consumer saw, compactly: one line per event, the error last.
fn summary(items: &[Result<StreamEvent, Error>]) -> Vec<String> {
    items
        .iter()
        .map(|item| match item {
            Ok(StreamEvent::Start(s)) => format!(
                "start {} {} {} {}",
                s.provider,
                s.model,
                s.response_id.as_deref().unwrap_or("-"),
                s.request_id.as_deref().unwrap_or("-")
            ),
            Ok(StreamEvent::TextDelta(t)) => format!("text {t}"),
            Ok(StreamEvent::ReasoningDelta(t)) => format!("reasoning {t}"),
            Ok(StreamEvent::ReasoningSignature(s)) => format!("signature {s}"),
            Ok(StreamEvent::RedactedReasoning(d)) => format!("redacted {d}"),
            Ok(StreamEvent::Usage(u)) => format!(
                "usage in={:?} cached={:?} out={:?} total={:?}",
                u.input_tokens, u.cached_input_tokens, u.output_tokens, u.total_tokens
            ),
            Ok(StreamEvent::Finish(r)) => format!("finish {r:?}"),
            Ok(StreamEvent::ToolCallStart { index, id, name }) => {
                format!("call_start {index} {id} {name}")
            }
            Ok(StreamEvent::ToolCallDelta { index, arguments }) => {
                format!("call_delta {index} {arguments}")
            }
            Ok(StreamEvent::ToolCall { index, call }) => {
                format!("call {index} {} {} {}", call.id, call.name, call.arguments)
            }
            Ok(other) => format!("other {other:?}"),
            Err(e) => format!(
                "error {} retryable={} delivered={:?} {}",
                e.kind(),
                e.is_retryable(),
                e.delivered_bytes(),
                e.message()
            ),
        })
        .collect()
}

fn decode(chunks: Vec<Vec<u8>>) -> (Vec<Result<StreamEvent, Error>>, Vec<ToolInput>) {
    let decoder = MessagesDecoder::new("claude", "asked-model", Some("req_fixture".into()));
    let (items, decoder) = decode_chunks(decoder, chunks.iter().map(Vec::as_slice));
    (items, decoder.tool_inputs().to_vec())
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes `name` whole and at every split point; every chunking gives the same result, which is returned.
fn check_every_split(name: &str) -> (Vec<String>, Vec<ToolInput>) {
    let bytes = fixture(name);
    let (whole, tools) = decode(vec![bytes.clone()]);
    let whole = summary(&whole);
    for i in 0..=bytes.len() {
        let chunks = vec![bytes[..i].to_vec(), Vec::new(), bytes[i..].to_vec()];
        let (items, split_tools) = decode(chunks);
        assert_eq!(summary(&items), whole, "{name} split at {i}");
        assert_eq!(split_tools, tools, "{name} split at {i}");
    }
    let bytewise: Vec<Vec<u8>> = bytes.iter().map(|b| vec![*b]).collect();
    assert_eq!(summary(&decode(bytewise).0), whole, "{name} byte by byte");
    (whole, tools)
}

#[test]
fn text_stream() {
    let (events, tools) = check_every_split("text.sse");
    assert_eq!(
        events,
        [
            "start claude claude-sonnet-4-5-20250929 msg_01Text req_fixture",
            "text Hello",
            "text , wörld \"quoted\" é!",
            "usage in=Some(25) cached=Some(0) out=Some(15) total=Some(40)",
            "finish Stop",
        ]
    );
    assert!(tools.is_empty());
}

#[test]
fn text_stream_with_crlf_line_endings() {
    let crlf = String::from_utf8(fixture("text.sse"))
        .expect("utf8")
        .replace('\n', "\r\n");
    let (lf, _) = decode(vec![fixture("text.sse")]);
    let (items, _) = decode(vec![crlf.into_bytes()]);
    assert_eq!(summary(&items), summary(&lf));
}

#[test]
fn thinking_stream() {
    let (events, _) = check_every_split("thinking.sse");
    assert_eq!(
        events,
        [
            "start claude claude-sonnet-4-5 msg_01Think req_fixture",
            "reasoning Let me add 2 and 2.",
            "reasoning  It is 4.",
            "signature EqQBCgIYAhIM1gbcDa9GJwZA2b3hGgxBdjrkzLoky3dl1pkiMOYds",
            "text 4",
            "usage in=Some(112) cached=Some(100) out=Some(30) total=Some(142)",
            "finish Length",
        ]
    );
}

#[test]
fn pings_anywhere_are_ignored_and_usage_is_the_latest() {
    let (events, _) = check_every_split("ping.sse");
    assert_eq!(
        events,
        [
            "start claude claude-haiku-4-5 msg_01Ping req_fixture",
            "text Hi",
            "text  there",
            "usage in=Some(5) cached=None out=Some(2) total=Some(7)",
            "usage in=Some(5) cached=None out=Some(3) total=Some(8)",
            "finish Stop",
        ]
    );
}

#[test]
fn mid_stream_overloaded_error_without_message_stop() {
    let (events, _) = check_every_split("overloaded.sse");
    assert_eq!(
        events,
        [
            "start claude claude-sonnet-4-5 msg_01Over req_fixture",
            "text Partial",
            "error overloaded retryable=true delivered=Some(7) Overloaded",
        ]
    );
    let (items, _) = decode(vec![fixture("overloaded.sse")]);
    let err = items.last().and_then(|i| i.as_ref().err()).expect("error");
    assert_eq!(err.request_id(), Some("req_fixture"));
    assert_eq!(err.provider(), Some("claude"));
    assert_eq!(err.status(), None);
    let detail = err.detail().expect("detail");
    assert_eq!(detail.error_type.as_deref(), Some("overloaded_error"));
}

#[test]
fn truncated_stream_is_a_network_error() {
    let (events, _) = check_every_split("truncated.sse");
    assert_eq!(
        events,
        [
            "start claude claude-sonnet-4-5 msg_01Cut req_fixture",
            "text Once upon",
            "error network retryable=true delivered=Some(9) stream ended before message_stop",
        ]
    );
}

#[test]
fn tool_use_streams_as_tool_call_events_and_its_input_is_kept() {
    let (events, tools) = check_every_split("tool_use.sse");
    assert_eq!(
        events,
        [
            "start claude claude-sonnet-4-5 msg_01Tool req_fixture",
            "text Checking the weather.",
            "call_start 0 toolu_01T1x get_weather",
            "call_delta 0 {\"location\": \"San Fra",
            "call_delta 0 ncisco, CA\", \"unit\": \"celsius\"}",
            "call 0 toolu_01T1x get_weather {\"location\":\"San Francisco, CA\",\"unit\":\"celsius\"}",
            "usage in=Some(472) cached=None out=Some(89) total=Some(561)",
            "finish ToolCalls",
        ]
    );
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0].index, 1);
    assert_eq!(tools[0].id, "toolu_01T1x");
    assert_eq!(tools[0].name, "get_weather");
    let input: serde_json::Value = serde_json::from_str(&tools[0].input_json).expect("json");
    assert_eq!(
        input,
        serde_json::json!({"location": "San Francisco, CA", "unit": "celsius"})
    );
}

#[test]
fn every_fixture_cut_short_anywhere_ends_in_an_error_never_a_short_answer() {
    for name in ["text.sse", "thinking.sse", "ping.sse", "tool_use.sse"] {
        let bytes = fixture(name);
        // Everything up to (not including) the message_stop event's blank line.
        let complete_at = bytes.len() - 1;
        for cut in 0..complete_at {
            let (items, _) = decode(vec![bytes[..cut].to_vec()]);
            let last = items.last().expect("at least the error");
            let err = last.as_ref().expect_err("a cut stream ends in an error");
            assert_eq!(err.kind(), ErrorKind::Network, "{name} cut at {cut}");
            assert!(
                !items
                    .iter()
                    .any(|i| matches!(i, Ok(StreamEvent::Finish(_)))),
                "{name} cut at {cut} finished"
            );
        }
    }
}

#[test]
fn a_transport_error_mid_stream_ends_the_stream_with_that_error() {
    let bytes = fixture("text.sse");
    let decoder = MessagesDecoder::new("claude", "m", Some("req_t".into()));
    let mut decoding = Decoding::new("claude", Framing::Sse, decoder);
    decoding.feed(&bytes[..300]);
    decoding.fail(Error::new(ErrorKind::Timeout, "no data for the idle limit"));
    // What the body would still have carried is never read.
    decoding.feed(&bytes[300..]);
    decoding.end();
    let items: Vec<_> = std::iter::from_fn(|| decoding.next_item()).collect();
    let err = items.last().and_then(|i| i.as_ref().err()).expect("error");
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.request_id(), Some("req_t"));
    assert!(decoding.next_item().is_none(), "nothing after the error");
}

#[test]
fn an_oversized_event_is_invalid_response() {
    let huge = format!(
        "event: content_block_delta\ndata: {}\n\n",
        "x".repeat(llm_stream::Limits::DEFAULT_MAX + 1)
    );
    let (items, _) = decode(vec![huge.into_bytes()]);
    let err = items.last().and_then(|i| i.as_ref().err()).expect("error");
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(items.len(), 1);
}

#[test]
fn thinking_then_parallel_tool_use_blocks_stream_in_order() {
    let (events, tools) = check_every_split("tool_use_parallel_thinking.sse");
    assert_eq!(
        events,
        [
            "start claude claude-sonnet-4-5 msg_par req_fixture",
            "reasoning Two cities: call twice.",
            "signature EqQBCgIYAhIM",
            "call_start 0 toolu_A get_weather",
            "call_delta 0 {\"ci",
            "call_delta 0 ty\": \"Par\\u00e9is\"}",
            "call 0 toolu_A get_weather {\"city\":\"Paréis\"}",
            "call_start 1 toolu_B get_weather",
            "call 1 toolu_B get_weather {}",
            "usage in=Some(50) cached=None out=Some(40) total=Some(90)",
            "finish ToolCalls",
        ]
    );
    assert_eq!(tools.len(), 2);
}

#[test]
fn an_error_event_in_the_middle_of_a_call_ends_the_stream_with_it() {
    let (events, _) = check_every_split("tool_use_error_mid_call.sse");
    assert_eq!(events[1], "call_start 0 toolu_E get_weather");
    assert_eq!(events[2], "call_delta 0 {\"city\"");
    assert!(
        events[3].starts_with("error overloaded retryable=true"),
        "{events:?}"
    );
    assert_eq!(events.len(), 4);
}

#[test]
fn a_call_cut_by_max_tokens_is_invalid_response_naming_the_call() {
    let (events, _) = check_every_split("tool_use_cut_by_max_tokens.sse");
    assert_eq!(events[1], "call_start 0 toolu_M get_weather");
    let last = events.last().unwrap();
    assert!(last.starts_with("error invalid_response"), "{events:?}");
    assert!(last.contains("toolu_M"), "{last}");
}

#[test]
fn signed_and_redacted_thinking_stream_and_go_back_unchanged_in_the_next_request() {
    use llm_core::{Collector, Message, ToolOutput};
    let (events, _) = check_every_split("thinking_redacted_tool_use.sse");
    assert_eq!(
        events,
        [
            "start claude claude-sonnet-4-5 msg_rt req_fixture",
            "reasoning The user wants the weather.",
            "signature ErUBCkYIBhgCIkA+/9zQ==",
            "redacted EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP",
            "call_start 0 toolu_T get_weather",
            "call_delta 0 {\"city\": \"Oslo\"}",
            "call 0 toolu_T get_weather {\"city\":\"Oslo\"}",
            "usage in=Some(1520) cached=Some(0) out=Some(60) total=Some(1580)",
            "finish ToolCalls",
        ]
    );
    // The caller collects the stream and sends the turn back with the tool's answer.
    let (items, _) = decode(vec![fixture("thinking_redacted_tool_use.sse")]);
    let mut collector = Collector::default();
    for item in items {
        collector.push(item.expect("a good stream"));
    }
    let answer = collector.finish();
    assert_eq!(answer.usage.unwrap().cache_write_input_tokens, Some(1500));
    let next = llm_core::ChatRequest::new("claude-sonnet-4-5")
        .user("Weather in Oslo?")
        .message(answer.to_message())
        .message(Message::tool_result(
            "toolu_T",
            "get_weather",
            ToolOutput::Text("-3 C".into()),
        ))
        .reasoning(llm_core::Reasoning::Budget(2048))
        .max_tokens(4096);
    let body: serde_json::Value = serde_json::from_slice(
        &llm_claude::request::body("claude", &next, 1024, false).expect("valid"),
    )
    .unwrap();
    assert_eq!(
        body["messages"][1]["content"],
        serde_json::json!([
            {"type": "thinking", "thinking": "The user wants the weather.", "signature": "ErUBCkYIBhgCIkA+/9zQ=="},
            {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP"},
            {"type": "tool_use", "id": "toolu_T", "name": "get_weather", "input": {"city": "Oslo"}}
        ])
    );
    assert_eq!(
        body["thinking"],
        serde_json::json!({"type": "enabled", "budget_tokens": 2048})
    );
    insta::assert_json_snapshot!(body);
}
