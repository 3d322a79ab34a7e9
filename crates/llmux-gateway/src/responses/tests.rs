//! The Responses dialect: reading what Codex and the SDKs send, and the answers and event sequences.

use llmux::{
    ChatResponse, ContentPart, Effort, FinishReason, Reasoning, Role, StreamEvent, StreamStart,
    ToolCall, ToolOutput, Usage,
};
use serde_json::{Value, json};

use super::*;
use crate::error::ApiError;

fn reply() -> Reply {
    Reply {
        id: "resp_x".into(),
        model: "entry-model".into(),
    }
}

/// The shape Codex 0.171 sends with an explicit model (trimmed): developer messages with ids, seven
/// function tools, a namespace, web search, reasoning summaries, encrypted reasoning, a cache key.
fn codex_body() -> Value {
    json!({
        "model": "probe-model", "stream": true, "store": false,
        "input": [
            {"type": "message", "id": "msg_1", "role": "developer",
             "content": [{"type": "input_text", "text": "You are a coding agent"}]},
            {"type": "message", "id": "msg_2", "role": "user",
             "content": [{"type": "input_text", "text": "say hi"}]}
        ],
        "tools": [
            {"type": "function", "name": "exec_command", "description": "run", "strict": false,
             "parameters": {"type": "object", "properties": {"cmd": {"type": "string"}}}},
            {"type": "namespace", "name": "multi_agent_v1", "description": "agents",
             "tools": [{"type": "function", "name": "close_agent", "description": "close",
                        "strict": false, "parameters": {"type": "object"}}]},
            {"type": "custom", "name": "apply_patch", "description": "patch files",
             "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"}},
            {"type": "web_search", "external_web_access": false}
        ],
        "tool_choice": "auto", "parallel_tool_calls": false,
        "reasoning": {"summary": "auto", "effort": "high"},
        "include": ["reasoning.encrypted_content"],
        "prompt_cache_key": "thread-1",
        "client_metadata": {"thread_id": "thread-1"},
        "text": {"verbosity": "low"}
    })
}

#[test]
fn a_codex_request_reads_with_hosted_tools_named_and_namespaces_flattened() {
    let parsed = parse(codex_body().to_string().as_bytes()).unwrap();
    let r = &parsed.request;
    let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
    assert_eq!(roles, [Role::System, Role::User]);
    let names: Vec<&str> = r.tools.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        names,
        ["exec_command", "multi_agent_v1__close_agent", "apply_patch"]
    );
    assert!(
        r.tools[2]
            .description
            .as_deref()
            .unwrap()
            .contains("lark grammar")
    );
    let relay = parsed
        .request
        .relay
        .as_ref()
        .expect("the hosted tool is relayed");
    assert_eq!(relay.wire, RELAY_WIRE);
    assert_eq!(
        relay.tools,
        [json!({"type": "web_search", "external_web_access": false})]
    );
    assert_eq!(r.reasoning, Some(Reasoning::Effort(Effort::High)));
    assert_eq!(r.parallel_tool_calls, Some(false));
    assert!(parsed.stream);
}

#[test]
fn history_items_become_one_assistant_turn_and_tool_results() {
    let body = json!({
        "model": "m", "instructions": "be brief",
        "tools": [{"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "f"}]},
                  {"type": "custom", "name": "apply_patch"}],
        "input": [
            {"role": "user", "content": [
                {"type": "input_text", "text": "hi"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "auto"},
                {"type": "input_file", "filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBE"}
            ]},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "plan"}],
             "encrypted_content": "sig"},
            {"type": "function_call", "id": "fc_1", "call_id": "c1", "namespace": "ns", "name": "f",
             "arguments": "{\"a\":1}"},
            {"type": "custom_tool_call", "call_id": "c2", "name": "apply_patch", "input": "*** Begin"},
            {"type": "function_call_output", "call_id": "c1", "output": "ok"},
            {"type": "custom_tool_call_output", "call_id": "c2",
             "output": [{"type": "input_text", "text": "done"}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "fine"}]}
        ]
    });
    let parsed = parse(body.to_string().as_bytes()).unwrap();
    let m = &parsed.request.messages;
    let roles: Vec<Role> = m.iter().map(|m| m.role).collect();
    assert_eq!(
        roles,
        [
            Role::System,
            Role::User,
            Role::Assistant,
            Role::Tool,
            Role::Tool,
            Role::Assistant
        ]
    );
    assert!(matches!(&m[2].content[0],
        ContentPart::Reasoning { text, signature: Some(s) } if text == "plan" && s == "sig"));
    assert!(matches!(&m[2].content[1],
        ContentPart::ToolCall(c) if c.name == "ns__f" && c.arguments == json!({"a": 1})));
    assert!(matches!(&m[2].content[2],
        ContentPart::ToolCall(c) if c.name == "apply_patch" && c.arguments == json!({"input": "*** Begin"})));
    assert!(matches!(&m[3].content[0],
        ContentPart::ToolResult { name, content: ToolOutput::Text(t), .. } if name == "ns__f" && t == "ok"));
    assert!(matches!(&m[4].content[0],
        ContentPart::ToolResult { content: ToolOutput::Text(t), .. } if t == "done"));
}

#[test]
fn what_needs_a_store_and_what_is_unknown_is_refused_by_name() {
    for (body, needle) in [
        (json!({"model": "m", "input": "x", "store": true}), "store"),
        (
            json!({"model": "m", "input": "x", "previous_response_id": "resp_1"}),
            "previous_response_id",
        ),
        (
            json!({"model": "m", "input": "x", "conversation": "c"}),
            "conversation",
        ),
        (
            json!({"model": "m", "input": "x", "background": true}),
            "background",
        ),
        (
            json!({"model": "m", "input": [{"type": "item_reference", "id": "x"}]}),
            "item references",
        ),
        (
            json!({"model": "m", "input": "x", "surprise": 1}),
            "surprise",
        ),
        (
            json!({"model": "m", "input": "x", "include": ["file_search_call.results"]}),
            "file_search_call",
        ),
        (
            json!({"model": "m", "input": "x", "tools": [{"type": "holodeck"}]}),
            "holodeck",
        ),
        (
            json!({"model": "m", "input": "x", "tools": [{"type": "function", "name": "f", "x": 1}]}),
            "tools[0].x",
        ),
        (
            json!({"model": "m", "input": "x", "reasoning": {"effort": "max"}}),
            "max",
        ),
        (
            json!({"model": "m", "input": "x", "truncation": "auto"}),
            "truncation",
        ),
        (
            json!({"model": "m", "input": "x", "tool_choice": {"type": "function", "name": "g"}}),
            "`g`",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{"}]}),
            "not JSON",
        ),
        (
            json!({"model": "m", "input": [{"type": "function_call_output", "call_id": "c",
            "output": [{"type": "input_image", "image_url": "data:image/png;base64,AA=="}]}]}),
            "only text",
        ),
        (json!({"model": "m"}), "input"),
    ] {
        let err = parse(body.to_string().as_bytes()).unwrap_err();
        assert!(err.contains(needle), "{body}: {err}");
    }
    let ok = json!({"model": "m", "input": "x", "store": false, "reasoning": {"effort": "none"}});
    assert_eq!(
        parse(ok.to_string().as_bytes()).unwrap().request.reasoning,
        None
    );
}

#[test]
fn a_whole_answer_is_a_response_with_items_and_usage() {
    let body = json!({"model": "m", "input": "x", "include": ["reasoning.encrypted_content"],
        "tools": [{"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "f"}]},
                  {"type": "custom", "name": "apply_patch"}],
        "instructions": "be brief"});
    let parsed = parse(body.to_string().as_bytes()).unwrap();
    let mut answer = ChatResponse::new("claude", "claude-x-20260101", "");
    answer.reasoning_parts = vec![ContentPart::Reasoning {
        text: "plan".into(),
        signature: Some("sig".into()),
    }];
    answer.tool_calls = vec![
        ToolCall::new("c1", "ns__f", json!({"a": 1})),
        ToolCall::new("c2", "apply_patch", json!({"input": "*** Begin"})),
    ];
    answer.finish_reason = Some(FinishReason::ToolCalls);
    let mut u = Usage::new(36, 5);
    u.cached_input_tokens = Some(30);
    u.reasoning_tokens = Some(2);
    answer.usage = Some(u);
    let r = response(&answer, &reply(), &parsed);
    assert_eq!(r["object"], "response");
    assert_eq!(r["status"], "completed");
    assert_eq!(r["model"], "entry-model");
    assert_eq!(r["instructions"], "be brief");
    let types: Vec<&str> = r["output"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["reasoning", "function_call", "custom_tool_call"]);
    assert_eq!(r["output"][0]["encrypted_content"], "sig");
    assert_eq!(r["output"][0]["summary"][0]["text"], "plan");
    assert_eq!(r["output"][1]["name"], "f");
    assert_eq!(r["output"][1]["namespace"], "ns");
    assert_eq!(r["output"][1]["arguments"], "{\"a\":1}");
    assert_eq!(r["output"][2]["input"], "*** Begin");
    assert_eq!(r["usage"]["input_tokens"], 36);
    assert_eq!(r["usage"]["input_tokens_details"]["cached_tokens"], 30);
    assert_eq!(r["usage"]["output_tokens_details"]["reasoning_tokens"], 2);
    assert_eq!(r["usage"]["total_tokens"], 41);
    // Cut at the token limit: incomplete, and why.
    let mut cut = ChatResponse::new("openai", "m", "partial");
    cut.finish_reason = Some(FinishReason::Length);
    let r = response(&cut, &reply(), &parsed);
    assert_eq!(r["status"], "incomplete");
    assert_eq!(r["incomplete_details"]["reason"], "max_output_tokens");
    assert_eq!(r["output"][0]["content"][0]["text"], "partial");
}

fn names_and_sequence(out: &str) -> (Vec<String>, Vec<Value>) {
    let names = out
        .lines()
        .filter_map(|l| l.strip_prefix("event: "))
        .map(str::to_owned)
        .collect();
    let data: Vec<Value> = out
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    for (i, d) in data.iter().enumerate() {
        assert_eq!(d["sequence_number"], i as u64, "{d}");
    }
    (names, data)
}

#[test]
fn a_stream_is_the_documented_event_sequence() {
    let body = json!({"model": "m", "input": "x", "stream": true,
        "tools": [{"type": "namespace", "name": "ns", "tools": [{"type": "function", "name": "f"}]}]});
    let parsed = parse(body.to_string().as_bytes()).unwrap();
    let mut events = Events::new(reply(), &parsed);
    let mut out = String::new();
    for event in [
        StreamEvent::Start(StreamStart::new("katan", "m")),
        StreamEvent::ReasoningDelta("hm".into()),
        StreamEvent::TextDelta("hi".into()),
        StreamEvent::TextDelta(" there".into()),
        StreamEvent::ToolCallStart {
            index: 0,
            id: "c1".into(),
            name: "ns__f".into(),
        },
        StreamEvent::ToolCallDelta {
            index: 0,
            arguments: "{\"a\":".into(),
        },
        StreamEvent::ToolCallDelta {
            index: 0,
            arguments: "1}".into(),
        },
        StreamEvent::ToolCall {
            index: 0,
            call: ToolCall::new("c1", "ns__f", json!({"a": 1})),
        },
        StreamEvent::Usage(Usage::new(3, 4)),
        StreamEvent::Finish(FinishReason::ToolCalls),
    ] {
        events.event(event, &mut out);
    }
    events.end(&mut out);
    let (names, data) = names_and_sequence(&out);
    assert_eq!(
        names,
        [
            "response.created",
            "response.in_progress",
            "response.output_item.added",
            "response.reasoning_summary_part.added",
            "response.reasoning_summary_text.delta",
            "response.reasoning_summary_text.done",
            "response.reasoning_summary_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.content_part.added",
            "response.output_text.delta",
            "response.output_text.delta",
            "response.output_text.done",
            "response.content_part.done",
            "response.output_item.done",
            "response.output_item.added",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.delta",
            "response.function_call_arguments.done",
            "response.output_item.done",
            "response.completed",
        ]
    );
    let last = data.last().unwrap();
    assert_eq!(last["response"]["status"], "completed");
    assert_eq!(
        last["response"]["output"][1]["content"][0]["text"],
        "hi there"
    );
    assert_eq!(last["response"]["output"][2]["name"], "f");
    assert_eq!(last["response"]["output"][2]["namespace"], "ns");
    assert_eq!(last["response"]["output"][2]["arguments"], "{\"a\":1}");
    assert_eq!(last["response"]["usage"]["output_tokens"], 4);
    assert_eq!(data[10]["delta"], "hi");
    assert_eq!(data[10]["output_index"], 1);
}

#[test]
fn a_stream_failing_after_its_first_token_ends_failed_never_completed() {
    let parsed = parse(br#"{"model":"m","input":"x","stream":true}"#).unwrap();
    let mut events = Events::new(reply(), &parsed);
    let mut out = String::new();
    events.event(StreamEvent::Start(StreamStart::new("katan", "m")), &mut out);
    events.event(StreamEvent::TextDelta("hi".into()), &mut out);
    let error = ApiError::from_error(
        &RESPONSES,
        &llmux::Error::new(llmux::ErrorKind::Network, "connection reset"),
    );
    events.fail(&error, &mut out);
    let (names, data) = names_and_sequence(&out);
    assert_eq!(names.last().unwrap(), "response.failed");
    assert!(!names.iter().any(|n| n == "response.completed"));
    let failed = &data.last().unwrap()["response"];
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error"]["code"], "server_error");
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("connection reset")
    );
}
