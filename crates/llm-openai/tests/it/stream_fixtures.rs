//! Recorded stream shapes (hand-written from the providers' documented formats, under `tests/fixtures/`)
//! driven through the pure decoder, whole and at every split point.

use llm_core::{Error, ErrorKind, StreamEvent};
use llm_openai::{ResponseMeta, decode_sse, sse_decoding};
use llm_stream::Limits;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn meta() -> ResponseMeta {
    ResponseMeta::new("openai", "requested-model").request_id(Some("req_1".to_owned()))
}

/// Decodes `name` whole, then at every split point with an empty chunk between, and checks all agree; returns
/// the transcript.
fn decode_everywhere(
    name: &str,
    meta: &ResponseMeta,
) -> (Vec<String>, Vec<Result<StreamEvent, Error>>) {
    let bytes = fixture(name);
    let whole = decode_sse(meta.clone(), [bytes.as_slice()]);
    let expected = crate::common::transcript(&whole);
    for split in 0..=bytes.len() {
        let (a, b) = bytes.split_at(split);
        let items = decode_sse(meta.clone(), [a, &[][..], b]);
        assert_eq!(
            crate::common::transcript(&items),
            expected,
            "{name} split at {split}"
        );
    }
    let bytewise = decode_sse(meta.clone(), bytes.chunks(1));
    assert_eq!(
        crate::common::transcript(&bytewise),
        expected,
        "{name} byte by byte"
    );
    (expected, whole)
}

fn check(name: &str, expected: &[&str]) -> Vec<Result<StreamEvent, Error>> {
    let (got, items) = decode_everywhere(name, &meta());
    assert_eq!(got, expected, "{name}");
    items
}

#[test]
fn usage_in_a_separate_empty_choices_chunk_comes_before_finish() {
    let items = check(
        "openai_usage_chunk.sse",
        &[
            "start openai model=gpt-4o-mini-2024-07-18 req=req_1 resp=chatcmpl-1",
            "text Hello",
            "text  wörld \"quoted\"",
            "usage in=9 out=3 total=12 cached=2",
            "finish stop",
        ],
    );
    let Ok(StreamEvent::Usage(u)) = &items[3] else {
        panic!("{:?}", items[3])
    };
    assert_eq!(u.reasoning_tokens, Some(0));
}

#[test]
fn usage_on_the_finish_chunk_with_crlf_lines() {
    check(
        "usage_on_finish_chunk.sse",
        &[
            "start openai model=katan-echo req=req_1 resp=chatcmpl-k",
            "text echo",
            "usage in=4 out=1 total=5 cached=-",
            "finish length",
        ],
    );
}

#[test]
fn usage_with_null_choices() {
    check(
        "usage_choices_null.sse",
        &[
            "start openai model=qwen req=req_1 resp=cmpl-v",
            "text Hi",
            "usage in=5 out=1 total=6 cached=-",
            "finish stop",
        ],
    );
}

#[test]
fn llamacpp_timings_are_ignored_and_reasoning_content_is_reasoning() {
    check(
        "llamacpp_timings.sse",
        &[
            "start openai model=smollm2 req=req_1 resp=chatcmpl-ll",
            "reasoning think",
            "text The",
            "usage in=7 out=2 total=9 cached=-",
            "finish length",
        ],
    );
}

#[test]
fn openrouter_processing_comments_are_ignored() {
    check(
        "openrouter_comments.sse",
        &[
            "start openai model=anthropic/claude-sonnet-4.5 req=req_1 resp=gen-123",
            "text Hi",
            "usage in=10 out=1 total=11 cached=-",
            "finish stop",
        ],
    );
}

#[test]
fn a_midstream_error_is_classified_and_ends_the_stream() {
    let items = check(
        "midstream_error.sse",
        &[
            "start openai model=gpt-4o req=req_1 resp=chatcmpl-2",
            "text Par",
            "error server",
        ],
    );
    let Err(e) = items.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(e.request_id(), Some("req_1"));
    assert_eq!(e.provider(), Some("openai"));
    assert_eq!(
        e.detail().unwrap().error_type.as_deref(),
        Some("server_error")
    );
}

#[test]
fn a_midstream_rate_limit_is_rate_limited() {
    check(
        "midstream_rate_limit.sse",
        &[
            "start openai model=gpt-4o req=req_1 resp=chatcmpl-3",
            "text a",
            "error rate_limited",
        ],
    );
}

#[test]
fn vllm_error_objects_are_classified_by_their_numeric_code_and_message() {
    let items = check("vllm_error.sse", &["error context_length"]);
    let Err(e) = &items[0] else { unreachable!() };
    assert_eq!(e.detail().unwrap().code.as_deref(), Some("400"));
}

/// After the first chunk, an error object is recognised by carrying neither choices nor usage: chunks
/// that carry nothing (Azure's filter results, `{}`, `choices: null`) are passed over, an error object is
/// the error it describes.
#[test]
fn an_error_object_after_content_is_the_error_and_empty_chunks_are_not() {
    let items = check(
        "vllm_error_mid_stream.sse",
        &[
            "start openai model=served-model req=req_1 resp=chatcmpl-v",
            "text Part",
            "error overloaded",
        ],
    );
    let Err(e) = items.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(e.detail().unwrap().code.as_deref(), Some("503"));
    assert_eq!(e.request_id(), Some("req_1"));
}

#[test]
fn openrouter_error_chunk_with_finish_reason_error() {
    let items = check(
        "openrouter_finish_error.sse",
        &[
            "start openai model=openai/gpt-4o req=req_1 resp=gen-456",
            "text Hel",
            "error server",
        ],
    );
    let Err(e) = items.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(e.message(), "Provider disconnected unexpectedly");
}

#[test]
fn openrouter_numeric_code_is_classified_as_that_status() {
    check("openrouter_numeric_code.sse", &["error rate_limited"]);
}

#[test]
fn finish_reason_error_without_an_error_object_is_server() {
    check(
        "finish_reason_error_only.sse",
        &[
            "start openai model=m req=req_1 resp=gen-7",
            "text x",
            "error server",
        ],
    );
}

#[test]
fn sse_error_event_is_classified() {
    check("error_event.sse", &["error overloaded"]);
}

#[test]
fn ending_without_done_or_finish_reason_is_a_network_error() {
    let items = check(
        "ended_without_done.sse",
        &[
            "start openai model=gpt-4o req=req_1 resp=chatcmpl-4",
            "text Half an ans",
            "error network",
        ],
    );
    let Err(e) = items.last().unwrap() else {
        unreachable!()
    };
    assert_eq!(e.kind(), ErrorKind::Network);
    assert!(e.message().contains("[DONE]"), "{e}");
}

#[test]
fn a_truncated_last_event_is_a_network_error() {
    check(
        "truncated_event.sse",
        &[
            "start openai model=gpt-4o req=req_1 resp=chatcmpl-5",
            "text cut",
            "error network",
        ],
    );
}

#[test]
fn a_finish_reason_without_done_is_a_complete_answer() {
    check(
        "finish_without_done.sse",
        &[
            "start openai model=gpt-4o req=req_1 resp=chatcmpl-6",
            "text Done",
            "finish stop",
        ],
    );
}

#[test]
fn an_undecodable_chunk_is_invalid_response() {
    check(
        "undecodable.sse",
        &[
            "start openai model=gpt-4o req=req_1 resp=chatcmpl-7",
            "text ok",
            "error invalid_response",
        ],
    );
}

#[test]
fn the_body_id_stands_in_for_a_missing_request_id_when_configured() {
    let meta = ResponseMeta::new("openrouter", "m").request_id_from_body(true);
    let (got, _) = decode_everywhere("openrouter_comments.sse", &meta);
    assert_eq!(
        got[0],
        "start openrouter model=anthropic/claude-sonnet-4.5 req=gen-123 resp=gen-123"
    );
    let (got, _) = decode_everywhere("openrouter_comments.sse", &ResponseMeta::new("x", "m"));
    assert_eq!(
        got[0],
        "start x model=anthropic/claude-sonnet-4.5 req=- resp=gen-123"
    );
}

#[test]
fn an_oversized_event_is_invalid_response() {
    let mut bytes = b"data: {\"choices\":[{\"delta\":{\"content\":\"".to_vec();
    bytes.extend(std::iter::repeat_n(b'a', 4096));
    bytes.extend_from_slice(b"\"}}]}\n\ndata: [DONE]\n\n");
    let mut decoder = sse_decoding(meta(), Limits::uniform(1024));
    for chunk in bytes.chunks(100) {
        decoder.feed(chunk);
    }
    decoder.end();
    let items: Vec<_> = std::iter::from_fn(|| decoder.next_item()).collect();
    assert_eq!(
        crate::common::transcript(&items),
        ["error invalid_response"]
    );
}

#[test]
fn done_alone_starts_and_ends_without_finish() {
    let items = decode_sse(meta(), [&b"data: [DONE]\n\n"[..]]);
    assert_eq!(
        crate::common::transcript(&items),
        ["start openai model=requested-model req=req_1 resp=-"]
    );
}

#[test]
fn an_empty_body_is_a_network_error() {
    let items = decode_sse(meta(), [&b""[..]]);
    assert_eq!(crate::common::transcript(&items), ["error network"]);
}

#[test]
fn a_role_only_chunk_is_not_content() {
    let items = decode_sse(
        meta(),
        [&br#"data: {"id":"c","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":""}}]}

"#[..]],
    );
    assert!(
        items
            .iter()
            .all(|i| !i.as_ref().is_ok_and(StreamEvent::is_content))
    );
    assert_eq!(
        crate::common::transcript(&items)[0],
        "start openai model=m req=req_1 resp=c"
    );
}

#[test]
fn only_choice_zero_is_read() {
    let items = decode_sse(
        meta(),
        [&br#"data: {"choices":[{"index":1,"delta":{"content":"B"}},{"index":0,"delta":{"content":"A"}}]}

data: [DONE]

"#[..]],
    );
    assert_eq!(
        crate::common::transcript(&items),
        [
            "start openai model=requested-model req=req_1 resp=-",
            "text A"
        ]
    );
}

#[test]
fn parallel_tool_calls_with_interleaved_arguments_split_mid_key_and_mid_escape() {
    let items = check(
        "tool_calls_parallel.sse",
        &[
            "start openai model=gpt-4o-2024-08-06 req=req_1 resp=chatcmpl-t",
            "text Let me check. ",
            "call_start 0 call_A get_weather",
            "call_delta 0 {\"ci",
            "call_start 1 call_B get_time",
            "call_delta 1 {\"zo",
            "call_delta 0 ty\": \"Par",
            "call_delta 1 ne\": \"Europe/Paris\"}",
            "call_delta 0 is \\u00",
            "call_delta 0 e9 \\\"centre\\\" é\"}",
            "call 0 call_A get_weather {\"city\":\"Paris é \\\"centre\\\" é\"}",
            "call 1 call_B get_time {\"zone\":\"Europe/Paris\"}",
            "usage in=20 out=12 total=32 cached=-",
            "finish tool_calls",
        ],
    );
    let calls: Vec<_> = items
        .iter()
        .filter_map(|i| match i {
            Ok(StreamEvent::ToolCall { call, .. }) => Some(call.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(calls[0].arguments["city"], "Paris é \"centre\" é");
    assert_eq!(
        calls[1].arguments,
        serde_json::json!({"zone": "Europe/Paris"})
    );
}

/// Keys in any order (a server writing them sorted sends `delta` before `index`) and two choices: only
/// choice 0 is read (a choice without `index` is choice 0, and a second choice 0 in one chunk is not
/// read), its text before its call pieces, and choice 1 finishing does not finish it.
#[test]
fn sorted_keys_and_a_second_choice() {
    check(
        "two_choices_sorted_keys.sse",
        &[
            "start openai model=m-s req=req_1 resp=chatcmpl-s",
            "text Hel",
            "text lo. ",
            "call_start 0 call_s f",
            "call_delta 0 {\"a\":",
            "call_delta 0 1}",
            "reasoning hm",
            "call 0 call_s f {\"a\":1}",
            "usage in=5 out=7 total=12 cached=-",
            "finish tool_calls",
        ],
    );
}

#[test]
fn empty_tool_arguments_mean_an_empty_object() {
    check(
        "tool_call_empty_arguments.sse",
        &[
            "start openai model=gpt-4o-2024-08-06 req=req_1 resp=chatcmpl-t",
            "call_start 0 call_E list_cities",
            "call 0 call_E list_cities {}",
            "finish tool_calls",
        ],
    );
}

#[test]
fn a_call_cut_by_the_token_limit_is_invalid_response_naming_the_call() {
    let items = check(
        "tool_call_cut_by_length.sse",
        &[
            "start openai model=gpt-4o-2024-08-06 req=req_1 resp=chatcmpl-t",
            "call_start 0 call_L get_weather",
            "call_delta 0 {\"city\": \"Pa",
            "error invalid_response",
        ],
    );
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert!(err.to_string().contains("call_L"), "{err}");
    assert!(err.to_string().contains("get_weather"), "{err}");
}

#[test]
fn an_error_in_the_middle_of_a_call_ends_the_stream_with_it() {
    let items = check(
        "tool_call_midstream_error.sse",
        &[
            "start openai model=gpt-4o-2024-08-06 req=req_1 resp=chatcmpl-t",
            "call_start 0 call_X get_weather",
            "call_delta 0 {\"city\"",
            "error server",
        ],
    );
    assert!(items.last().unwrap().as_ref().unwrap_err().is_retryable());
}

#[test]
fn a_whole_answer_lists_its_tool_calls_and_rejects_arguments_that_are_not_json() {
    let body = serde_json::json!({
        "id": "chatcmpl-w", "model": "gpt-4o",
        "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {"role": "assistant", "content": null,
            "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "a", "arguments": "{\"x\":1}"}},
                {"id": "call_2", "type": "function", "function": {"name": "b", "arguments": ""}}
            ]}}]
    });
    let answer = llm_openai::decode_response(body.to_string().as_bytes(), &meta()).unwrap();
    assert_eq!(
        answer.finish_reason,
        Some(llm_core::FinishReason::ToolCalls)
    );
    assert_eq!(answer.tool_calls.len(), 2);
    assert_eq!(answer.tool_calls[0].arguments, serde_json::json!({"x": 1}));
    assert_eq!(answer.tool_calls[1].arguments, serde_json::json!({}));
    let events = answer.into_events();
    assert!(
        matches!(&events[1], StreamEvent::ToolCallStart { index: 0, id, .. } if id == "call_1")
    );

    let broken = body.to_string().replace(r#"{\"x\":1}"#, r#"{\"x\":"#);
    let err = llm_openai::decode_response(broken.as_bytes(), &meta()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.to_string().contains("call_1"), "{err}");
}
