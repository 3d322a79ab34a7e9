//! Tests of the output formats.

use std::time::Duration;

use llmux::{Attempt, Error, ErrorKind, FinishReason, StreamStart, Usage, Violation};
use serde_json::json;

use super::*;

fn json_lines(events: &[Event<'_>]) -> Vec<Value> {
    let mut out = Output::new(Mode::Json, Vec::new(), Vec::new(), None);
    for e in events {
        out.event(*e).expect("write to a Vec");
    }
    let (stdout, stderr) = out.into_inner();
    assert!(stderr.is_empty(), "json mode wrote to stderr");
    String::from_utf8(stdout)
        .expect("utf-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is one JSON object"))
        .collect()
}

#[test]
fn every_event_has_its_json_shape_with_nulls_for_absent_values() {
    let mut ok = Attempt::succeeded(1, "llamacpp", "smol", 0, Duration::from_millis(5));
    ok.cost = Some(Cost::ZERO);
    let err = Error::new(ErrorKind::RateLimited, "slow down")
        .with_provider("openai")
        .with_status(429)
        .with_retry_after(Some(Duration::from_millis(1500)))
        .with_request_id("req-1");
    let failed = Attempt::failed(0, "openai", "gpt", 2, Duration::ZERO, &err);
    let mut start = StreamStart::new("llamacpp", "smol");
    start.request_id = Some("r-2".into());
    let mut usage = Usage::default();
    usage.input_tokens = Some(3);
    usage.output_tokens = Some(4);
    usage.cached_input_tokens = Some(2);
    usage.cost = Some(Cost::estimate(llmux::Usd::from_dollars(0.000125).unwrap()));
    let lines = json_lines(&[
        Event::Attempt(&failed),
        Event::Attempt(&ok),
        Event::Start(&start),
        Event::Reasoning("hmm"),
        Event::Delta("Hi"),
        Event::Usage(&usage),
        Event::Finish(&FinishReason::Length),
        Event::Error(&err),
    ]);
    assert_eq!(
        lines,
        [
            json!({"type":"attempt","entry":0,"provider":"openai","model":"gpt","retry":2,"outcome":"rate_limited",
                   "cost_usd":0.0}),
            json!({"type":"attempt","entry":1,"provider":"llamacpp","model":"smol","retry":0,"outcome":"ok",
                   "cost_usd":0.0}),
            json!({"type":"start","provider":"llamacpp","model":"smol","request_id":"r-2"}),
            json!({"type":"reasoning","text":"hmm"}),
            json!({"type":"delta","text":"Hi"}),
            json!({"type":"usage","input_tokens":3,"output_tokens":4,"total_tokens":7,
                   "cache_read_input_tokens":2,"cache_write_input_tokens":null,"reasoning_tokens":null,
                   "cost_usd":0.000125,"cost_estimated":true}),
            json!({"type":"finish","reason":"length"}),
            json!({"type":"error","kind":"rate_limited","retryable":true,"retry_after_ms":1500,
                   "provider":"openai","status":429,"request_id":"req-1","message":"slow down","violations":[]}),
        ]
    );
}

#[test]
fn an_error_without_details_prints_nulls_and_lists_violations() {
    let e = Error::new(ErrorKind::Validation, "2 invalid parameters").with_violations(vec![
        Violation::new("temperature", "a finite number in 0..=2", "9"),
        Violation::new("colour", "a known parameter", "an unknown parameter"),
    ]);
    let lines = json_lines(&[Event::Error(&e)]);
    assert_eq!(
        lines,
        [
            json!({"type":"error","kind":"validation","retryable":false,"retry_after_ms":null,"provider":null,
                "status":null,"request_id":null,"message":"2 invalid parameters","violations":[
                    {"param":"temperature","allowed":"a finite number in 0..=2","given":"9"},
                    {"param":"colour","allowed":"a known parameter","given":"an unknown parameter"}]})
        ]
    );
}

#[test]
fn text_mode_prints_only_the_answer_on_stdout_and_ends_its_line() {
    let mut out = Output::new(Mode::Text, Vec::new(), Vec::new(), None);
    let err = Error::new(ErrorKind::Auth, "bad key").with_provider("openai");
    let failed = Attempt::failed(0, "openai", "gpt", 0, Duration::ZERO, &err);
    let start = StreamStart::new("llamacpp", "smol");
    for e in [
        Event::Attempt(&failed),
        Event::Start(&start),
        Event::Delta("Hello"),
        Event::Delta(", world"),
        Event::Finish(&FinishReason::Stop),
    ] {
        out.event(e).expect("write");
    }
    assert!(out.printed_text());
    let (stdout, stderr) = out.into_inner();
    assert_eq!(String::from_utf8(stdout).expect("utf-8"), "Hello, world\n");
    let stderr = String::from_utf8(stderr).expect("utf-8");
    assert_eq!(
        stderr,
        "llmux: openai (gpt) failed: openai: auth: bad key\n"
    );
}

#[test]
fn a_tool_call_is_one_json_line_in_order_and_a_readable_line_in_text_mode() {
    let call = ToolCall::new("call_A", "get_weather", json!({"city": "Paris"}));
    let lines = json_lines(&[Event::ToolCall(0, &call)]);
    assert_eq!(
        lines,
        [
            json!({"type": "tool_call", "index": 0, "id": "call_A", "name": "get_weather",
                "arguments": {"city": "Paris"}})
        ]
    );
    let mut out = Output::new(Mode::Text, Vec::new(), Vec::new(), None);
    out.event(Event::Delta("Checking.")).unwrap();
    out.event(Event::ToolCall(0, &call)).unwrap();
    let (stdout, _) = out.into_inner();
    assert_eq!(
        String::from_utf8(stdout).unwrap(),
        "Checking.\ntool call call_A get_weather({\"city\":\"Paris\"})\n"
    );
}

#[test]
fn an_unknown_cost_is_null_and_said_once_on_stderr() {
    let mut out = Output::new(Mode::Json, Vec::new(), Vec::new(), None);
    let unpriced = Attempt::succeeded(0, "openai", "mystery", 0, Duration::ZERO);
    for _ in 0..3 {
        out.event(Event::Attempt(&unpriced)).unwrap();
    }
    out.event(Event::Usage(&Usage::new(1, 2))).unwrap();
    let (stdout, stderr) = out.into_inner();
    let lines: Vec<Value> = String::from_utf8(stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0]["cost_usd"], Value::Null);
    assert_eq!(lines[3]["cost_usd"], Value::Null);
    assert_eq!(lines[3]["cost_estimated"], false);
    let stderr = String::from_utf8(stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "said once: {stderr}");
    assert!(stderr.contains("no price is known for openai model `mystery`"));
}
