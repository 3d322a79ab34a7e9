//! Responses API streams (hand-written from OpenAI's documented event shapes, under
//! `tests/fixtures/responses/`) driven through the pure decoder, whole, at every split point and byte by byte.

use llm_core::{Collector, ContentPart, Error, ErrorKind, FinishReason, StreamEvent};
use llm_openai::{ResponseMeta, decode_responses_sse, responses::response::ReasoningSignature};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/responses/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn meta() -> ResponseMeta {
    ResponseMeta::new("openai-responses", "requested-model").request_id(Some("req_1".to_owned()))
}

/// A transcript line, with the reasoning events the shared helper does not spell out.
fn line(item: &Result<StreamEvent, Error>) -> String {
    match item {
        Ok(StreamEvent::ReasoningSignature(s)) => {
            let sig = ReasoningSignature::parse(s).expect("our signature");
            format!(
                "signature {} enc={}",
                sig.id,
                sig.encrypted_content.map_or(0, |e| e.len())
            )
        }
        Ok(StreamEvent::Usage(u)) => format!(
            "{} reasoning={}",
            crate::common::line(item),
            u.reasoning_tokens.map_or("-".to_owned(), |r| r.to_string())
        ),
        Err(e) => format!(
            "error {} {} code={}",
            e.kind(),
            e.message(),
            e.detail().and_then(|d| d.code.as_deref()).unwrap_or("-")
        ),
        other => crate::common::line(other),
    }
}

fn transcript(items: &[Result<StreamEvent, Error>]) -> Vec<String> {
    items.iter().map(line).collect()
}

/// Decodes `name` whole, then split at every point with an empty chunk between, then byte by byte, and
/// checks all agree with `expected`; returns the items.
fn check(name: &str, expected: &[&str]) -> Vec<Result<StreamEvent, Error>> {
    let bytes = fixture(name);
    let whole = decode_responses_sse(meta(), [bytes.as_slice()]);
    assert_eq!(transcript(&whole), expected, "{name}");
    for split in 0..=bytes.len() {
        let (a, b) = bytes.split_at(split);
        let items = decode_responses_sse(meta(), [a, &[][..], b]);
        assert_eq!(transcript(&items), expected, "{name} split at {split}");
    }
    let bytewise = decode_responses_sse(meta(), bytes.chunks(1));
    assert_eq!(transcript(&bytewise), expected, "{name} byte by byte");
    whole
}

#[test]
fn a_text_stream_gives_its_deltas_usage_and_stop() {
    check(
        "text.sse",
        &[
            "start openai-responses model=gpt-4.1-2025-04-14 req=req_1 resp=resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654",
            "text Hi",
            "text  there, wörld \"quoted\"",
            "text !",
            "usage in=37 out=11 total=48 cached=5 reasoning=0",
            "finish stop",
        ],
    );
}

#[test]
fn function_calls_stream_their_arguments_and_finish_with_tool_calls() {
    let items = check(
        "function_call.sse",
        &[
            "start openai-responses model=gpt-4.1-2025-04-14 req=req_1 resp=resp_fc1",
            "call_start 0 call_12345xyz get_weather",
            "call_delta 0 {\"loca",
            "call_delta 0 tion\":\"Paris, ",
            "call_delta 0 France\"}",
            "call 0 call_12345xyz get_weather {\"location\":\"Paris, France\"}",
            "call_start 1 call_67890abc get_time",
            "call_delta 1 {\"tz\":\"Europe/Paris\"}",
            "call 1 call_67890abc get_time {\"tz\":\"Europe/Paris\"}",
            "usage in=81 out=35 total=116 cached=0 reasoning=0",
            "finish tool_calls",
        ],
    );
    let mut collector = Collector::default();
    for item in items {
        collector.push(item.unwrap());
    }
    let answer = collector.finish();
    assert_eq!(answer.tool_calls.len(), 2);
    assert_eq!(answer.tool_calls[1].arguments["tz"], "Europe/Paris");
}

#[test]
fn reasoning_summaries_stream_and_the_done_item_signs_them_with_id_and_encrypted_content() {
    let items = check(
        "reasoning.sse",
        &[
            "start openai-responses model=o4-mini-2025-04-16 req=req_1 resp=resp_r1",
            "reasoning **Checking the weather**\n\nThe user wants ",
            "reasoning Paris.",
            "reasoning \n\nI will call the tool.",
            "signature rs_6820f383d7c08191846711c5df8233bc0ac5ba57aafcbac7 enc=157",
            "call_start 0 call_r1 get_weather",
            "call_delta 0 {\"location\":\"Paris\"}",
            "call 0 call_r1 get_weather {\"location\":\"Paris\"}",
            "usage in=62 out=214 total=276 cached=0 reasoning=192",
            "finish tool_calls",
        ],
    );
    let mut collector = Collector::default();
    for item in items {
        collector.push(item.unwrap());
    }
    let answer = collector.finish();
    let [ContentPart::Reasoning { text, signature }] = answer.reasoning_parts.as_slice() else {
        panic!("{:?}", answer.reasoning_parts)
    };
    assert_eq!(
        text,
        "**Checking the weather**\n\nThe user wants Paris.\n\nI will call the tool."
    );
    let sig = ReasoningSignature::parse(signature.as_deref().unwrap()).unwrap();
    assert!(sig.encrypted_content.unwrap().starts_with("gAAAAABoISQ24"));
}

#[test]
fn an_incomplete_response_finishes_with_its_reason() {
    check(
        "incomplete.sse",
        &[
            "start openai-responses model=gpt-4.1-2025-04-14 req=req_1 resp=resp_inc",
            "text Once upon a",
            "usage in=12 out=16 total=28 cached=0 reasoning=0",
            "finish length",
        ],
    );
    check(
        "content_filter.sse",
        &[
            "start openai-responses model=gpt-4.1-2025-04-14 req=req_1 resp=resp_cf",
            "usage in=12 out=0 total=12 cached=- reasoning=-",
            "finish content_filter",
        ],
    );
}

#[test]
fn a_call_cut_by_the_token_limit_is_an_invalid_response_naming_it() {
    // Its arguments are not JSON: never a call with made-up arguments, as in the Chat Completions codec.
    let items = check(
        "call_cut_by_length.sse",
        &[
            "start openai-responses model=gpt-4.1-2025-04-14 req=req_1 resp=resp_cut_call",
            "call_start 0 call_L get_weather",
            "call_delta 0 {\"city\": \"Pa",
            "error invalid_response tool call `call_L` (get_weather) has arguments that are not valid json code=-",
        ],
    );
    assert_eq!(
        items.last().unwrap().as_ref().unwrap_err().request_id(),
        Some("req_1")
    );
}

#[test]
fn a_failed_response_is_its_error_classified_like_a_status() {
    let items = check(
        "failed.sse",
        &[
            "start openai-responses model=gpt-4.1-2025-04-14 req=req_1 resp=resp_fail",
            "error server The model failed to generate a response. code=server_error",
        ],
    );
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert!(err.is_retryable());
    assert_eq!(err.request_id(), Some("req_1"));
    check(
        "invalid_prompt.sse",
        &[
            "start openai-responses model=gpt-4.1-2025-04-14 req=req_1 resp=resp_ip",
            "error bad_request Invalid prompt: your prompt was flagged. code=invalid_prompt",
        ],
    );
}

#[test]
fn an_error_event_ends_the_stream_with_its_classified_error() {
    let items = check(
        "error_event.sse",
        &[
            "start openai-responses model=gpt-4.1-2025-04-14 req=req_1 resp=resp_err",
            "text Par",
            "error rate_limited Rate limit reached for gpt-4.1 on tokens per min (TPM). code=rate_limit_exceeded",
        ],
    );
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert_eq!(err.delivered_bytes(), Some(3));
}

#[test]
fn a_stream_cut_before_completed_is_a_network_error() {
    check(
        "cut_short.sse",
        &[
            "start openai-responses model=gpt-4.1-2025-04-14 req=req_1 resp=resp_cut",
            "text Hel",
            "error network stream ended before response.completed code=-",
        ],
    );
}

#[test]
fn undecodable_events_and_arguments_for_unknown_calls_are_invalid_responses() {
    let items = decode_responses_sse(
        meta(),
        [&b"event: response.created\ndata: {not json\n\n"[..]],
    );
    assert_eq!(
        items[0].as_ref().unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
    let stray = b"data: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n\
        data: {\"type\":\"response.function_call_arguments.delta\",\"item_id\":\"fc_x\",\"delta\":\"{\"}\n\n";
    let items = decode_responses_sse(meta(), [&stray[..]]);
    assert_eq!(
        items.last().unwrap().as_ref().unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
    let bad_args = b"data: {\"type\":\"response.output_item.done\",\"item\":{\"type\":\"function_call\",\"id\":\"fc\",\"call_id\":\"c\",\"name\":\"f\",\"arguments\":\"{oops\"}}\n\n";
    let items = decode_responses_sse(meta(), [&bad_args[..]]);
    assert_eq!(
        items.last().unwrap().as_ref().unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
}

#[test]
fn items_that_come_whole_without_deltas_still_give_their_text() {
    let body = b"data: {\"type\":\"response.created\",\"response\":{\"id\":\"r\",\"model\":\"m\"}}\n\n\
        data: {\"type\":\"response.output_item.done\",\"item\":{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[{\"type\":\"summary_text\",\"text\":\"thought\"}]}}\n\n\
        data: {\"type\":\"response.output_item.done\",\"item\":{\"type\":\"message\",\"id\":\"msg_1\",\"content\":[{\"type\":\"output_text\",\"text\":\"whole\"}]}}\n\n\
        data: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\",\"status\":\"completed\"}}\n\n";
    let items = decode_responses_sse(meta(), [&body[..]]);
    assert_eq!(
        transcript(&items),
        [
            "start openai-responses model=m req=req_1 resp=r",
            "reasoning thought",
            "signature rs_1 enc=0",
            "text whole",
            "finish stop",
        ]
    );
    assert_eq!(
        items.last().unwrap().as_ref().unwrap(),
        &StreamEvent::Finish(FinishReason::Stop)
    );
}
