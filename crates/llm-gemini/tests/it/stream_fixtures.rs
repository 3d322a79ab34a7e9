//! Recorded Gemini streams (hand-written from the documented `streamGenerateContent?alt=sse` format)
//! through the pure decoder, in one chunk, split at every byte position (with an empty chunk in between)
//! and byte by byte; and the same answers collected, compared with what the next turn sends back.

use llm_core::{ChatRequest, Collector, Error, ErrorKind, FinishReason, StreamEvent};
use llm_gemini::{GenerateDecoder, decode_chunks};

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
            Ok(StreamEvent::Usage(u)) => format!(
                "usage in={:?} cached={:?} out={:?} reasoning={:?} total={:?}",
                u.input_tokens,
                u.cached_input_tokens,
                u.output_tokens,
                u.reasoning_tokens,
                u.total_tokens
            ),
            Ok(StreamEvent::Finish(r)) => format!("finish {r:?}"),
            Ok(StreamEvent::ToolCallStart { index, id, name }) => {
                format!("call_start {index} {id} {name}")
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

fn decode(chunks: &[Vec<u8>]) -> Vec<Result<StreamEvent, Error>> {
    let decoder = GenerateDecoder::new("gemini", "asked-model", Some("req_fixture".into()));
    decode_chunks(decoder, chunks.iter().map(Vec::as_slice)).0
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes `name` whole and at every split point; every chunking gives the same result, which is returned.
fn check_every_split(name: &str) -> Vec<String> {
    let bytes = fixture(name);
    let whole = summary(&decode(std::slice::from_ref(&bytes)));
    for i in 0..=bytes.len() {
        let chunks = [bytes[..i].to_vec(), Vec::new(), bytes[i..].to_vec()];
        assert_eq!(summary(&decode(&chunks)), whole, "{name} split at {i}");
    }
    let bytewise: Vec<Vec<u8>> = bytes.iter().map(|b| vec![*b]).collect();
    assert_eq!(summary(&decode(&bytewise)), whole, "{name} byte by byte");
    whole
}

fn collect(name: &str) -> llm_core::ChatResponse {
    let mut collector = Collector::default();
    for event in decode(&[fixture(name)]) {
        collector.push(event.expect("a complete answer"));
    }
    collector.finish()
}

#[test]
fn text_stream() {
    assert_eq!(
        check_every_split("text.sse"),
        [
            "start gemini gemini-2.5-flash resp-text-1 req_fixture",
            "text Hello",
            "text , wörld \"quoted\"",
            "text  é!",
            "usage in=Some(8) cached=None out=Some(6) reasoning=None total=Some(14)",
            "finish Stop",
        ]
    );
}

#[test]
fn function_call_stream() {
    let events = check_every_split("function_call.sse");
    let id = llm_gemini::response::call_id(
        0,
        "get_weather",
        &serde_json::json!({"city": "Paris", "unit": "celsius"}),
    );
    assert_eq!(
        events,
        [
            "start gemini gemini-2.5-flash resp-call-1 req_fixture".to_owned(),
            format!("call_start 0 {id} get_weather"),
            format!(r#"call 0 {id} get_weather {{"city":"Paris","unit":"celsius"}}"#),
            "usage in=Some(52) cached=None out=Some(9) reasoning=None total=Some(61)".to_owned(),
            "finish ToolCalls".to_owned(),
        ]
    );
}

#[test]
fn thinking_stream_keeps_the_signature_of_the_text_part() {
    assert_eq!(
        check_every_split("thinking.sse"),
        [
            "start gemini gemini-2.5-flash resp-think-1 req_fixture",
            "reasoning **Adding numbers**\n\nThe user wants 2 + 2.",
            "reasoning  That is 4.",
            "text 4",
            "signature text#CiQBVKhc7oLxSnTh0GRqQm1dHHzZ6u3b2Tn0fMk=",
            "usage in=Some(120) cached=Some(96) out=Some(46) reasoning=Some(45) total=Some(166)",
            "finish Stop",
        ]
    );
}

#[test]
fn signed_parallel_calls_round_trip_to_the_next_turn() {
    let events = check_every_split("thinking_function_calls.sse");
    assert_eq!(events.len(), 9, "{events:#?}");
    assert!(
        events[4].starts_with("signature call=gcall_0_"),
        "{events:#?}"
    );
    assert_eq!(events.last().map(String::as_str), Some("finish ToolCalls"));

    let answer = collect("thinking_function_calls.sse");
    assert_eq!(answer.tool_calls.len(), 2);
    let codec = llm_gemini::GeminiCodec::new(llm_gemini::GeminiConfig::new("k")).unwrap();
    let next = ChatRequest::new("gemini-2.5-flash")
        .user("Weather in Paris and Rome?")
        .message(answer.to_message())
        .message(llm_core::Message::tool_result(
            &answer.tool_calls[0].id,
            "",
            llm_core::ToolOutput::Text("18 C".into()),
        ))
        .message(llm_core::Message::tool_result(
            &answer.tool_calls[1].id,
            "",
            llm_core::ToolOutput::Text("21 C".into()),
        ));
    let body: serde_json::Value =
        serde_json::from_slice(&codec.request_body(&next).unwrap()).unwrap();
    assert_eq!(
        body["contents"][1]["parts"],
        serde_json::json!([
            {"text": "I need the weather in two cities.", "thought": true},
            {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
             "thoughtSignature": "EvQDCvEDAXLI2nw3c2lnLWNhbGw="},
            {"functionCall": {"name": "get_weather", "args": {"city": "Rome"}}},
        ])
    );
    assert_eq!(
        body["contents"][2]["parts"][1],
        serde_json::json!({"functionResponse": {"name": "get_weather", "response": {"result": "21 C"}}})
    );
}

#[test]
fn the_thinking_answer_sends_its_text_signature_back() {
    let answer = collect("thinking.sse");
    assert_eq!(answer.text, "4");
    let codec = llm_gemini::GeminiCodec::new(llm_gemini::GeminiConfig::new("k")).unwrap();
    let next = ChatRequest::new("m")
        .user("2 + 2?")
        .message(answer.to_message())
        .user("And 3 + 3?");
    let body: serde_json::Value =
        serde_json::from_slice(&codec.request_body(&next).unwrap()).unwrap();
    assert_eq!(
        body["contents"][1]["parts"],
        serde_json::json!([
            {"text": "**Adding numbers**\n\nThe user wants 2 + 2. That is 4.", "thought": true},
            {"text": "4", "thoughtSignature": "CiQBVKhc7oLxSnTh0GRqQm1dHHzZ6u3b2Tn0fMk="},
        ])
    );
}

#[test]
fn safety_finish_and_blocked_prompt_are_content_filter() {
    assert_eq!(
        check_every_split("safety.sse")[2..],
        [
            "usage in=Some(11) cached=None out=Some(4) reasoning=None total=Some(15)",
            "finish ContentFilter",
        ]
    );
    let blocked = check_every_split("prompt_blocked.sse");
    assert_eq!(
        blocked.last().map(String::as_str),
        Some("finish ContentFilter")
    );
    assert_eq!(
        collect("prompt_blocked.sse").finish_reason,
        Some(FinishReason::ContentFilter)
    );
}

#[test]
fn a_mid_stream_error_is_classified_and_counts_what_was_delivered() {
    assert_eq!(
        check_every_split("error_mid_stream.sse"),
        [
            "start gemini gemini-2.5-flash resp-err-1 req_fixture",
            "text Once upon",
            "error overloaded retryable=true delivered=Some(9) The model is overloaded. Please try again later.",
        ]
    );
    let items = decode(&[fixture("error_mid_stream.sse")]);
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.request_id(), Some("req_fixture"));
    assert_eq!(
        err.detail().and_then(|d| d.error_type.as_deref()),
        Some("UNAVAILABLE")
    );
}

#[test]
fn a_truncated_stream_is_a_network_error() {
    let events = check_every_split("truncated.sse");
    assert_eq!(events[1], "text Partial");
    assert!(events[2].starts_with("error network"), "{events:?}");
    let items = decode(&[fixture("truncated.sse")]);
    assert_eq!(
        items.last().unwrap().as_ref().unwrap_err().kind(),
        ErrorKind::Network
    );
}
