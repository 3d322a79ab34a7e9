//! `llmux serve`'s `POST /v1/responses` (the real binary) driven by the official `openai` Python SDK's
//! `client.responses.create` and `client.responses.stream`: over llm-katan in both upstream wire formats
//! (whole and streamed answers after a fallback, function tools, namespaces and function outputs, what
//! the stateless gateway refuses) and over the real llama-server (a JSON Schema answer from the model).

use crate::support::gateway::{Gateway, entry, python};
use llmux_e2e::{Katan, LlamaServer};

const KEY: &str = "gw-test-key";

const ANSWERS: &str = r#"
import json, os, openai
c = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
out = {}
raw = c.responses.with_raw_response.create(model="any-name", input="hello responses",
    instructions="be brief", tools=[{"type": "web_search"}])
whole = raw.parse()
out["whole"] = whole.output_text
out["status"] = whole.status
out["model"] = whole.model
out["id"] = whole.id
out["usage"] = [whole.usage.input_tokens, whole.usage.output_tokens, whole.usage.total_tokens]
out["provider"] = raw.headers.get("x-llmux-provider")
out["removed"] = raw.headers.get("x-llmux-removed-tools")
types = []
with c.responses.stream(model="any-name", input=[{"role": "user", "content": [{"type": "input_text", "text": "hello stream"}]}]) as s:
    text = ""
    for ev in s:
        types.append(ev.type)
        if ev.type == "response.output_text.delta":
            text += ev.delta
    final = s.get_final_response()
out["text"] = text
out["final_text"] = final.output_text
out["final_status"] = final.status
out["final_usage"] = final.usage.total_tokens
out["types"] = types
for name, kwargs in [("store", {"store": True}), ("previous", {"previous_response_id": "resp_1"})]:
    try:
        c.responses.create(model="m", input="x", **kwargs)
        out[name] = "accepted"
    except openai.BadRequestError as e:
        out[name] = [e.status_code, e.message]
print(json.dumps(out))
"#;

#[test]
fn the_openai_sdk_creates_and_streams_responses_after_a_fallback() {
    let failing = Katan::builder().arg("--error-rate").arg("1.0").start();
    let healthy = Katan::start();
    // Any provider serves the Responses API: here an OpenAI Chat Completions entry fails and a Claude
    // (Messages) entry answers.
    let chain = entry(
        "openai",
        Katan::MODEL,
        &format!("{}/v1", failing.base_url()),
    ) + &entry("claude", Katan::MODEL, &healthy.base_url());
    let gateway = Gateway::start(&chain, &[], &[("LLMUX_GATEWAY_KEYS", KEY)]);
    let run = python(ANSWERS, gateway.base_url(), KEY);
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert!(
        out["whole"]
            .as_str()
            .unwrap_or_default()
            .contains("hello responses"),
        "{out}"
    );
    assert_eq!(out["status"], "completed", "{out}");
    assert_eq!(out["model"], Katan::MODEL, "the entry's model: {out}");
    assert!(
        out["id"].as_str().unwrap_or_default().starts_with("resp_"),
        "{out}"
    );
    assert_eq!(out["provider"], "claude", "{out}");
    assert_eq!(out["removed"], "web_search", "{out}");
    let usage = &out["usage"];
    assert!(
        usage[0].as_u64() > Some(0) && usage[1].as_u64() > Some(0),
        "{out}"
    );
    assert_eq!(
        usage[2].as_u64(),
        Some(usage[0].as_u64().unwrap_or(0) + usage[1].as_u64().unwrap_or(0)),
        "{out}"
    );
    assert!(
        out["text"]
            .as_str()
            .unwrap_or_default()
            .contains("hello stream"),
        "{out}"
    );
    assert_eq!(out["text"], out["final_text"], "{out}");
    assert_eq!(out["final_status"], "completed", "{out}");
    assert!(out["final_usage"].as_u64() > Some(0), "{out}");
    let types: Vec<&str> = out["types"]
        .as_array()
        .map(|t| t.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    for (i, expected) in [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_text.delta",
    ]
    .iter()
    .enumerate()
    {
        assert_eq!(types.get(i), Some(expected), "{out}");
    }
    assert_eq!(types.last(), Some(&"response.completed"), "{out}");
    for refused in ["store", "previous"] {
        assert_eq!(out[refused][0], 400, "{out}");
        assert!(
            out[refused][1]
                .as_str()
                .unwrap_or_default()
                .contains("keeps no responses"),
            "{out}"
        );
    }
}

const TOOLS: &str = r#"
import json, os, openai
c = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
out = {}
weather = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
tools = [{"type": "namespace", "name": "weather", "description": "weather tools",
          "tools": [{"type": "function", "name": "current", "description": "the weather now", "parameters": weather}]}]
first = c.responses.with_raw_response.create(model=os.environ["MODEL"], input="weather in Paris?", tools=tools)
call = [i for i in first.http_response.json()["output"] if i["type"] == "function_call"][0]
out["call"] = {k: call.get(k) for k in ["name", "namespace", "arguments", "call_id", "status"]}
history = [{"role": "user", "content": "weather in Paris?"}, call,
           {"type": "function_call_output", "call_id": call["call_id"], "output": "18 C and sunny"}]
# Without tools the echo backend answers with text, which shows the output arrived.
second = c.responses.create(model=os.environ["MODEL"], input=history)
out["after_output"] = second.output_text
flat = [{"type": "function", "name": "get_weather", "parameters": weather}]
deltas = 0
with c.responses.stream(model=os.environ["MODEL"], input="weather in Paris?", tools=flat) as s:
    for ev in s:
        if ev.type == "response.function_call_arguments.delta":
            deltas += 1
    final = s.get_final_response()
calls = [i for i in final.output if i.type == "function_call"]
out["streamed_call"] = [calls[0].name, json.loads(calls[0].arguments)] if calls else None
out["deltas"] = deltas
print(json.dumps(out))
"#;

#[test]
fn function_tools_namespaces_and_outputs_round_trip() {
    let katan = Katan::start();
    for provider in ["openai", "claude"] {
        let url = match provider {
            "openai" => format!("{}/v1", katan.base_url()),
            _ => katan.base_url(),
        };
        let gateway = Gateway::start(&entry(provider, Katan::MODEL, &url), &[], &[]);
        let run = crate::support::gateway::python_with(
            TOOLS,
            gateway.base_url(),
            "any",
            &[("MODEL", Katan::MODEL)],
        );
        assert_eq!(run.code, 0, "{provider}: {run:?}\n{}", gateway.log());
        let out = run.json();
        let call = &out["call"];
        // The provider saw `weather__current`; the client gets its own namespace and name back.
        assert_eq!(call["name"], "current", "{provider}: {out}");
        assert_eq!(call["namespace"], "weather", "{provider}: {out}");
        assert_eq!(call["status"], "completed", "{provider}: {out}");
        let arguments: serde_json::Value =
            serde_json::from_str(call["arguments"].as_str().unwrap_or_default())
                .unwrap_or_default();
        assert_eq!(arguments["city"], "test_city", "{provider}: {out}");
        assert!(
            out["after_output"].as_str().is_some_and(|t| !t.is_empty()),
            "{provider}: an answer after the function output: {out}"
        );
        assert_eq!(out["streamed_call"][0], "get_weather", "{provider}: {out}");
        assert_eq!(
            out["streamed_call"][1]["city"], "test_city",
            "{provider}: {out}"
        );
        assert!(out["deltas"].as_u64() > Some(0), "{provider}: {out}");
    }
}

const SCHEMA: &str = r#"
import json, os, openai
c = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
# A bounded string: the entry answers within 48 tokens, and a 135M model may ramble inside a string.
schema = {"type": "object", "properties": {"city": {"type": "string", "maxLength": 24}, "sunny": {"type": "boolean"}},
          "required": ["city", "sunny"], "additionalProperties": False}
r = c.responses.create(model="anything", input="Describe the weather in Paris as JSON.", max_output_tokens=64,
    text={"format": {"type": "json_schema", "name": "weather", "schema": schema, "strict": True}})
value = json.loads(r.output_text)
text, final = "", None
# A small model may reach the token limit: the stream then ends with response.incomplete, as OpenAI's does
# (and the SDK's get_final_response, which wants response.completed, would raise).
with c.responses.stream(model="anything", input="Say hello.", max_output_tokens=16) as s:
    for t in s:
        if t.type == "response.output_text.delta":
            text += t.delta
        if t.type in ("response.completed", "response.incomplete"):
            final = t.response
print(json.dumps({"value": value, "model": r.model, "status": r.status, "text": text,
                  "final_status": final.status, "final_model": final.model}))
"#;

#[test]
fn the_real_model_answers_a_json_schema_and_a_stream() {
    let llama = LlamaServer::start();
    let chain = entry("llamacpp", "smollm2", &llama.base_url());
    let gateway = Gateway::start(&chain, &[], &[]);
    let run = python(SCHEMA, gateway.base_url(), "any");
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    let value = &out["value"];
    assert!(value["city"].is_string(), "{out}");
    assert!(value["sunny"].is_boolean(), "{out}");
    // The entry's model name, never the file llama-server loaded.
    assert_eq!(out["model"], "smollm2", "{out}");
    assert_eq!(out["final_model"], "smollm2", "{out}");
    assert!(
        ["completed", "incomplete"].contains(&out["status"].as_str().unwrap_or_default()),
        "{out}"
    );
    assert!(
        !out["text"].as_str().unwrap_or_default().trim().is_empty(),
        "{out}"
    );
}

const HOSTED: &str = r#"
import json, os, openai
c = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
out = {}
try:
    raw = c.responses.with_raw_response.create(model="m", input="news today?", tools=[{"type": "web_search"}])
    out["status"] = raw.http_response.status_code
    out["text"] = raw.parse().output_text
    out["removed"] = raw.headers.get("x-llmux-removed-tools")
except openai.BadRequestError as e:
    out["status"] = e.status_code
    out["message"] = e.message
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosted_tools_reach_a_responses_upstream_and_are_named_or_refused_elsewhere() {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "resp_up", "object": "response", "created_at": 1, "status": "completed",
            "model": "gpt-x", "output": [
                {"type": "web_search_call", "id": "ws_1", "status": "completed"},
                {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed",
                 "content": [{"type": "output_text", "text": "Searched: all quiet.", "annotations": []}]}],
            "usage": {"input_tokens": 9, "output_tokens": 4, "total_tokens": 13}})))
        .mount(&upstream)
        .await;
    let responses_url = format!("{}/v1", upstream.uri());
    let katan = Katan::start();
    let chat_url = format!("{}/v1", katan.base_url());
    let (relayed, removed, refused) = tokio::task::spawn_blocking(move || {
        let run = |chain: &str, args: &[&str]| {
            let gateway = Gateway::start(chain, args, &[]);
            let run = python(HOSTED, gateway.base_url(), "any");
            assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
            run.json()
        };
        (
            run(&entry("openai-responses", "gpt-x", &responses_url), &[]),
            run(&entry("openai", Katan::MODEL, &chat_url), &[]),
            run(
                &entry("openai", Katan::MODEL, &chat_url),
                &["--hosted-tools", "refuse"],
            ),
        )
    })
    .await
    .expect("the test thread");
    // An upstream that runs the tool gets it, and nothing is named as removed.
    let received = upstream.received_requests().await.unwrap_or_default();
    let body: serde_json::Value =
        serde_json::from_slice(&received.first().expect("the upstream was called").body)
            .expect("JSON body");
    assert!(
        body["tools"]
            .as_array()
            .is_some_and(|t| t.iter().any(|t| t["type"] == "web_search")),
        "{body}"
    );
    assert_eq!(relayed["status"], 200, "{relayed}");
    assert_eq!(relayed["text"], "Searched: all quiet.", "{relayed}");
    assert_eq!(relayed["removed"], serde_json::Value::Null, "{relayed}");
    // Another provider answers without it, and the header names it.
    assert_eq!(removed["status"], 200, "{removed}");
    assert_eq!(removed["removed"], "web_search", "{removed}");
    // Or, configured so, the gateway refuses it by name.
    assert_eq!(refused["status"], 400, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or_default()
            .contains("web_search"),
        "{refused}"
    );
}
