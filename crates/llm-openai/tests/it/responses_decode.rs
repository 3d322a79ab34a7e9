//! Whole (non-streamed) Responses API bodies decoded by the pure decoder: output items, finish reasons,
//! usage, failed and malformed bodies.

use llm_core::{ContentPart, ErrorKind, FinishReason};
use llm_openai::responses::response::ReasoningSignature;
use llm_openai::{ResponseMeta, decode_responses};
use serde_json::json;

fn meta() -> ResponseMeta {
    ResponseMeta::new("openai-responses", "requested").request_id(Some("req_1".to_owned()))
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/responses/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn a_whole_response_gives_text_calls_reasoning_and_usage() {
    let answer = decode_responses(&fixture("whole_reasoning_call.json"), &meta()).unwrap();
    assert_eq!(answer.text, "Let me check.");
    assert_eq!(answer.model, "gpt-5-2025-08-07");
    assert_eq!(answer.provider, "openai-responses");
    assert_eq!(answer.request_id.as_deref(), Some("req_1"));
    assert_eq!(
        answer.response_id.as_deref(),
        Some("resp_68af4030592c81938ec0a5fbab4a3e9f05438e46b5f69a3b")
    );
    assert_eq!(answer.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(
        answer.tool_calls.len(),
        1,
        "the web search item is not a call"
    );
    assert_eq!(answer.tool_calls[0].id, "call_Uk0H7Bw5Lc0Vts8D6gFXd3Ub");
    assert_eq!(answer.tool_calls[0].arguments, json!({"city": "Paris"}));
    assert_eq!(
        answer.reasoning.as_deref(),
        Some("**Finding the weather**\n\nI should call get_weather for Paris.")
    );
    let [ContentPart::Reasoning { text, signature }] = answer.reasoning_parts.as_slice() else {
        panic!("{:?}", answer.reasoning_parts)
    };
    assert_eq!(Some(text), answer.reasoning.as_ref());
    let sig = ReasoningSignature::parse(signature.as_deref().unwrap()).unwrap();
    assert_eq!(
        sig.id,
        "rs_68af4030baa48193b0b43b4c2a176a1a05438e46b5f69a3b"
    );
    assert!(sig.encrypted_content.unwrap().starts_with("gAAAAABor0A0"));
    let usage = answer.usage.unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.output_tokens,
            usage.total_tokens,
            usage.cached_input_tokens,
            usage.reasoning_tokens
        ),
        (Some(75), Some(150), Some(225), Some(64), Some(128))
    );
}

#[test]
fn several_summary_parts_join_with_a_blank_line_and_a_refusal_is_text() {
    let body = json!({
        "id": "resp_1", "object": "response", "status": "completed", "model": "o3",
        "output": [
            {"id": "rs_1", "type": "reasoning", "summary": [
                {"type": "summary_text", "text": "one"}, {"type": "summary_text", "text": "two"}]},
            {"id": "msg_1", "type": "message", "role": "assistant", "content": [
                {"type": "refusal", "refusal": "I can't help with that."}]}
        ]
    });
    let answer = decode_responses(body.to_string().as_bytes(), &meta()).unwrap();
    assert_eq!(answer.reasoning.as_deref(), Some("one\n\ntwo"));
    assert_eq!(answer.text, "I can't help with that.");
    assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
    assert!(answer.usage.is_none());
    // Without encrypted content the signature still keeps the id (for stored responses).
    let ContentPart::Reasoning { signature, .. } = &answer.reasoning_parts[0] else {
        panic!()
    };
    let sig = ReasoningSignature::parse(signature.as_deref().unwrap()).unwrap();
    assert_eq!((sig.id.as_str(), sig.encrypted_content), ("rs_1", None));
}

#[test]
fn incomplete_responses_finish_with_their_reason() {
    for (reason, finish) in [
        ("max_output_tokens", FinishReason::Length),
        ("content_filter", FinishReason::ContentFilter),
        ("something_new", FinishReason::Other("something_new".into())),
    ] {
        let body = json!({
            "id": "resp_i", "status": "incomplete", "model": "gpt-4.1",
            "incomplete_details": {"reason": reason},
            "output": [{"id": "msg", "type": "message", "content": [{"type": "output_text", "text": "Once"}]}],
            "usage": {"input_tokens": 3, "output_tokens": 16, "total_tokens": 19}
        });
        let answer = decode_responses(body.to_string().as_bytes(), &meta()).unwrap();
        assert_eq!(answer.finish_reason, Some(finish));
        assert_eq!(answer.text, "Once");
    }
}

#[test]
fn a_failed_response_is_its_classified_error() {
    for (code, kind) in [
        ("server_error", ErrorKind::Server),
        ("rate_limit_exceeded", ErrorKind::RateLimited),
        ("invalid_prompt", ErrorKind::BadRequest),
        ("vector_store_timeout", ErrorKind::Timeout),
        ("invalid_base64_image", ErrorKind::BadRequest),
    ] {
        let body = json!({
            "id": "resp_f", "status": "failed", "model": "gpt-4.1", "output": [],
            "error": {"code": code, "message": "it failed"}
        });
        let err = decode_responses(body.to_string().as_bytes(), &meta()).unwrap_err();
        assert_eq!(err.kind(), kind, "{code}");
        assert_eq!(err.message(), "it failed");
        assert_eq!(err.request_id(), Some("req_1"));
        assert_eq!(err.detail().unwrap().code.as_deref(), Some(code));
    }
}

#[test]
fn an_error_body_with_status_200_and_malformed_bodies() {
    let body = json!({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error", "code": "invalid_api_key"}});
    let err = decode_responses(body.to_string().as_bytes(), &meta()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    for bad in [
        &b"not json"[..],
        b"[1,2]",
        b"{\"id\":\"resp\",\"status\":\"completed\"}",
    ] {
        let err = decode_responses(bad, &meta()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{bad:?}");
    }
    let bad_args = json!({"status": "completed", "output": [
        {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{nope"}]});
    let err = decode_responses(bad_args.to_string().as_bytes(), &meta()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert!(err.message().contains("`c`"), "{err}");
}
