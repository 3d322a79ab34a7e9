//! The pure parts of the native API: `/completion` bodies (snapshots), recorded `/completion` streams
//! (hand-written from llama-server's protocol) at every split point and in random chunkings, `/props`.

use llm_core::{ErrorKind, FinishReason, Usage};
use llm_llamacpp::{
    CompletionEvent, CompletionRequest, completion_body, decode_chunks, decode_completion,
    decode_props,
};
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Debug, Clone, PartialEq)]
enum Out {
    Event(CompletionEvent),
    Failed(ErrorKind),
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn decode(chunks: Vec<Vec<u8>>) -> Vec<Out> {
    decode_chunks("llamacpp", chunks.iter().map(Vec::as_slice))
        .into_iter()
        .map(|item| match item {
            Ok(e) => Out::Event(e),
            Err(e) => Out::Failed(e.kind()),
        })
        .collect()
}

fn decode_every_split(name: &str) -> Vec<Out> {
    let bytes = fixture(name);
    let whole = decode(vec![bytes.clone()]);
    for i in 0..=bytes.len() {
        let split = decode(vec![bytes[..i].to_vec(), Vec::new(), bytes[i..].to_vec()]);
        assert_eq!(split, whole, "{name} split at byte {i}");
    }
    whole
}

fn text(outs: &[Out]) -> String {
    outs.iter()
        .filter_map(|o| match o {
            Out::Event(CompletionEvent::Text(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[test]
fn stream_ends_at_the_stop_chunk_with_usage_and_timings() {
    let outs = decode_every_split("completion_stream.sse");
    assert_eq!(text(&outs), " Paris, ünïcödé 🌍 \"quoted\"\n");
    let Some(Out::Event(CompletionEvent::End(end))) = outs.last() else {
        panic!("no end: {outs:?}");
    };
    assert_eq!(end.finish_reason, FinishReason::Length);
    assert_eq!(end.stop_type, "limit");
    assert_eq!(end.stopping_word, None);
    assert_eq!(end.usage, Usage::new(6, 3));
    let timings = end.timings.as_ref().expect("timings");
    assert_eq!(timings.predicted_n, Some(3));
    assert_eq!(timings.prompt_ms, Some(12.5));
    assert_eq!(
        end.model.as_deref(),
        Some("SmolLM2-135M-Instruct.Q4_1.gguf")
    );
    assert!(!end.truncated);
}

#[test]
fn older_builds_stopped_flags_give_the_stop_type() {
    let outs = decode_every_split("completion_old_flags.sse");
    let Some(Out::Event(CompletionEvent::End(end))) = outs.last() else {
        panic!("no end: {outs:?}");
    };
    assert_eq!(end.stop_type, "word");
    assert_eq!(end.finish_reason, FinishReason::Stop);
    assert_eq!(end.stopping_word.as_deref(), Some("\n\n"));
}

#[test]
fn data_error_mid_stream_is_classified() {
    let outs = decode_every_split("completion_error.sse");
    assert_eq!(text(&outs), " Once");
    assert_eq!(outs.last(), Some(&Out::Failed(ErrorKind::Server)));
}

#[test]
fn old_error_field_is_dropped_and_the_stream_ends_as_network() {
    let outs = decode_every_split("completion_old_error.sse");
    assert_eq!(text(&outs), " Once");
    assert_eq!(outs.last(), Some(&Out::Failed(ErrorKind::Network)));
}

#[test]
fn stream_without_stop_is_network() {
    let outs = decode_every_split("completion_no_stop.sse");
    assert_eq!(text(&outs), " Once upon");
    assert_eq!(outs.last(), Some(&Out::Failed(ErrorKind::Network)));
}

#[test]
fn truncated_event_and_bad_json() {
    let cut = decode(vec![
        b"data: {\"content\":\"a\",\"stop\":false}\n\ndata: {\"content\"".to_vec(),
    ]);
    assert_eq!(cut.last(), Some(&Out::Failed(ErrorKind::Network)));
    let bad = decode(vec![b"data: <html>\n\n".to_vec()]);
    assert_eq!(bad, [Out::Failed(ErrorKind::InvalidResponse)]);
}

#[test]
fn context_size_error_code_is_context_length() {
    let body = b"data: {\"error\":{\"code\":400,\"message\":\"the request exceeds the available context size\",\"type\":\"exceed_context_size_error\"}}\n\n";
    assert_eq!(
        decode(vec![body.to_vec()]),
        [Out::Failed(ErrorKind::ContextLength)]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn random_chunkings_agree(cuts in proptest::collection::vec(0usize..2000, 0..12)) {
        for name in ["completion_stream.sse", "completion_error.sse", "completion_old_error.sse"] {
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

fn body(request: &CompletionRequest, stream: bool) -> Value {
    serde_json::from_slice(&completion_body("llamacpp", request, stream).unwrap()).unwrap()
}

#[test]
fn completion_body_snapshots() {
    insta::assert_json_snapshot!(
        "minimal",
        body(&CompletionRequest::new("Once upon a time"), false)
    );
    let mut params = llm_core::Params::default();
    params.temperature = Some(0.2);
    params.top_p = Some(0.9);
    params.top_k = Some(20);
    params.max_tokens = Some(32);
    params.repeat_penalty = Some(1.1);
    params.seed = Some(7);
    params.stop = vec!["\n".into()];
    params.frequency_penalty = Some(0.5);
    params.presence_penalty = Some(-0.5);
    let full = CompletionRequest::new("Q: 2+2?\nA:")
        .params(params)
        .extra("cache_prompt", json!(true))
        .extra("min_p", json!(0.05));
    insta::assert_json_snapshot!("all_params", body(&full, true));
}

#[test]
fn completion_body_rejects_bad_params_and_colliding_extras() {
    let request = CompletionRequest::new("x")
        .temperature(9.0)
        .extra("n_predict", json!(5))
        .extra("stream", json!(false));
    let err = completion_body("llamacpp", &request, true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(params, ["temperature", "extra.stream", "extra.n_predict"]);
}

#[test]
fn whole_completion_and_error_body() {
    let whole = br#"{"content":" Paris.","stop":true,"stop_type":"eos","tokens_predicted":2,"tokens_evaluated":6,"timings":{"predicted_n":2}}"#;
    let completion = decode_completion("llamacpp", whole, Some("req-1".into())).unwrap();
    assert_eq!(completion.text, " Paris.");
    assert_eq!(completion.end.finish_reason, FinishReason::Stop);
    assert_eq!(completion.end.usage, Usage::new(6, 2));
    assert_eq!(completion.request_id.as_deref(), Some("req-1"));
    let error = br#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#;
    let err = decode_completion("llamacpp", error, None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    let garbage = decode_completion("llamacpp", b"nope", None).unwrap_err();
    assert_eq!(garbage.kind(), ErrorKind::InvalidResponse);
}

#[test]
fn props_fields() {
    let props = decode_props("llamacpp", &fixture("props.json")).unwrap();
    assert_eq!(props.total_slots, Some(2));
    assert_eq!(
        props.model_path.as_deref(),
        Some("/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    );
    assert_eq!(props.context_size(), Some(1024));
    assert!(
        props
            .chat_template
            .as_deref()
            .is_some_and(|t| t.contains("im_start"))
    );
    assert_eq!(props.build_info.as_deref(), Some("b1-0c1e570"));
    assert_eq!(
        props.default_generation_settings["params"]["top_k"],
        json!(40)
    );
    assert_eq!(
        decode_props("llamacpp", b"42").unwrap_err().kind(),
        ErrorKind::InvalidResponse
    );
}
