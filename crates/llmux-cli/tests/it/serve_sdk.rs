//! `llmux serve` (the real binary) over llm-katan, driven by the official `openai` and `anthropic` Python
//! SDKs: whole and streamed answers that fall back from a failing entry, tool calls across dialects, and
//! the SDKs' own exception classes when every entry fails.

use crate::support::gateway::{Gateway, entry, python};
use llmux_e2e::Katan;

const KEY: &str = "gw-test-key";

fn katan_failing() -> Katan {
    Katan::builder().arg("--error-rate").arg("1.0").start()
}

/// A gateway whose first entry always fails (500) and whose second is a healthy katan, in the given
/// providers (`openai` or `claude`).
fn fallback_gateway(failing: &Katan, healthy: &Katan, first: &str, second: &str) -> Gateway {
    let url = |provider: &str, k: &Katan| match provider {
        "openai" => format!("{}/v1", k.base_url()),
        _ => k.base_url(),
    };
    let chain = entry(first, Katan::MODEL, &url(first, failing))
        + &entry(second, Katan::MODEL, &url(second, healthy));
    Gateway::start(
        &chain,
        &[],
        &[("LLMUX_GATEWAY_KEYS", &format!("other,{KEY}"))],
    )
}

const OPENAI_ANSWERS: &str = r#"
import json, os, openai
c = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
raw = c.chat.completions.with_raw_response.create(model="any-name-at-all", messages=[{"role": "user", "content": "hello gateway"}])
whole = raw.parse()
text, finish, usage, chunks = "", None, None, 0
for ch in c.chat.completions.create(model="gpt-whatever", messages=[{"role": "user", "content": "hello stream"}],
                                    stream=True, stream_options={"include_usage": True}):
    chunks += 1
    if ch.usage:
        usage = ch.usage.total_tokens
    for choice in ch.choices:
        text += choice.delta.content or ""
        finish = choice.finish_reason or finish
models = [m.id for m in c.models.list()]
print(json.dumps({"whole": whole.choices[0].message.content, "whole_finish": whole.choices[0].finish_reason,
                  "whole_usage": whole.usage.total_tokens, "provider": raw.headers.get("x-llmux-provider"),
                  "text": text, "finish": finish, "usage": usage, "chunks": chunks, "models": models}))
"#;

#[test]
fn the_openai_sdk_gets_whole_and_streamed_answers_after_a_fallback() {
    let failing = katan_failing();
    let healthy = Katan::start();
    let gateway = fallback_gateway(&failing, &healthy, "openai", "claude");
    let run = python(OPENAI_ANSWERS, gateway.base_url(), KEY);
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert!(
        out["whole"]
            .as_str()
            .unwrap_or_default()
            .contains("hello gateway"),
        "{out}"
    );
    assert_eq!(out["whole_finish"], "stop", "{out}");
    assert!(out["whole_usage"].as_u64() > Some(0), "{out}");
    assert_eq!(
        out["provider"], "claude",
        "the answer came from the second entry: {out}"
    );
    assert!(
        out["text"]
            .as_str()
            .unwrap_or_default()
            .contains("hello stream"),
        "{out}"
    );
    assert_eq!(out["finish"], "stop", "{out}");
    assert!(
        out["usage"].as_u64() > Some(0),
        "include_usage sends a usage chunk: {out}"
    );
    assert!(out["chunks"].as_u64() > Some(3), "{out}");
    assert!(
        out["models"]
            .as_array()
            .is_some_and(|m| m.iter().any(|n| n == Katan::MODEL)),
        "{out}"
    );
}

const ANTHROPIC_ANSWERS: &str = r#"
import json, os, anthropic
c = anthropic.Anthropic(base_url=os.environ["BASE"], api_key=os.environ["KEY"], max_retries=0)
whole = c.messages.create(model="claude-anything", max_tokens=64, messages=[{"role": "user", "content": "hello gateway"}])
events = []
with c.messages.stream(model="claude-anything", max_tokens=64, system="be brief",
                       messages=[{"role": "user", "content": "hello stream"}]) as s:
    for e in s:
        events.append(e.type)
    final = s.get_final_message()
print(json.dumps({"whole": whole.content[0].text, "whole_stop": whole.stop_reason, "whole_out": whole.usage.output_tokens,
                  "id": whole.id, "events": events, "text": "".join(b.text for b in final.content if b.type == "text"),
                  "stop": final.stop_reason, "out": final.usage.output_tokens}))
"#;

#[test]
fn the_anthropic_sdk_gets_whole_and_streamed_answers_from_an_openai_provider() {
    let failing = katan_failing();
    let healthy = Katan::start();
    // The client speaks Anthropic; the answering entry speaks OpenAI.
    let gateway = fallback_gateway(&failing, &healthy, "claude", "openai");
    let run = python(ANTHROPIC_ANSWERS, gateway.base_url(), KEY);
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert!(
        out["whole"]
            .as_str()
            .unwrap_or_default()
            .contains("hello gateway"),
        "{out}"
    );
    assert_eq!(out["whole_stop"], "end_turn", "{out}");
    assert!(out["whole_out"].as_u64() > Some(0), "{out}");
    assert!(
        out["id"].as_str().unwrap_or_default().starts_with("msg"),
        "{out}"
    );
    let events: Vec<&str> = out["events"]
        .as_array()
        .map(|e| e.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    for expected in [
        "message_start",
        "content_block_start",
        "text",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ] {
        assert!(events.contains(&expected), "{expected} missing: {events:?}");
    }
    assert_eq!(events.first(), Some(&"message_start"), "{events:?}");
    assert_eq!(events.last(), Some(&"message_stop"), "{events:?}");
    assert!(
        out["text"]
            .as_str()
            .unwrap_or_default()
            .contains("hello stream"),
        "{out}"
    );
    assert_eq!(out["stop"], "end_turn", "{out}");
    assert!(out["out"].as_u64() > Some(0), "{out}");
}

const TOOLS: &str = r#"
import json, os, openai, anthropic
base, key = os.environ["BASE"], os.environ["KEY"]
schema = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
user = {"role": "user", "content": "weather in Paris?"}
o = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
tools = [{"type": "function", "function": {"name": "get_weather", "description": "The weather in a city", "parameters": schema}}]
r = o.chat.completions.create(model="any", messages=[user], tools=tools, tool_choice="required")
m = r.choices[0].message
calls, sfinish = {}, None
for ch in o.chat.completions.create(model="any", messages=[user], tools=tools, stream=True):
    for c in ch.choices:
        for tc in c.delta.tool_calls or []:
            d = calls.setdefault(tc.index, {"id": "", "name": "", "args": ""})
            d["id"] += tc.id or ""
            if tc.function:
                d["name"] += tc.function.name or ""
                d["args"] += tc.function.arguments or ""
        sfinish = c.finish_reason or sfinish
# Without tools the echo backend answers with text, which shows the result arrived.
back = o.chat.completions.create(model="any", messages=[
    user, m.model_dump(exclude_none=True), {"role": "tool", "tool_call_id": m.tool_calls[0].id, "content": "18 C"}])
a = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
atools = [{"name": "get_weather", "description": "The weather in a city", "input_schema": schema}]
w = a.messages.create(model="any", max_tokens=64, messages=[user], tools=atools)
with a.messages.stream(model="any", max_tokens=64, messages=[user], tools=atools) as s:
    for _ in s:
        pass
    f = s.get_final_message()
tu = [b for b in w.content if b.type == "tool_use"][0]
w2 = a.messages.create(model="any", max_tokens=64, messages=[
    user, {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in w.content]},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": tu.id, "content": "18 C"}]}])
ftu = [b for b in f.content if b.type == "tool_use"]
print(json.dumps({
    "finish": r.choices[0].finish_reason, "name": m.tool_calls[0].function.name,
    "args": json.loads(m.tool_calls[0].function.arguments),
    "stream_finish": sfinish, "stream_calls": list(calls.values()),
    "back": back.choices[0].message.content,
    "a_stop": w.stop_reason, "a_name": tu.name, "a_input": tu.input,
    "a_stream_stop": f.stop_reason, "a_stream_input": ftu[0].input if ftu else None,
    "a_back": "".join(b.text for b in w2.content if b.type == "text"),
}))
"#;

#[test]
fn tool_calls_and_results_pass_through_both_sdks_and_both_dialects() {
    let failing = katan_failing();
    let healthy = Katan::start();
    for (first, second) in [("openai", "claude"), ("claude", "openai")] {
        let gateway = fallback_gateway(&failing, &healthy, first, second);
        let run = python(TOOLS, gateway.base_url(), KEY);
        assert_eq!(run.code, 0, "{second}: {run:?}\n{}", gateway.log());
        let out = run.json();
        assert_eq!(out["finish"], "tool_calls", "{second}: {out}");
        assert_eq!(out["name"], "get_weather", "{second}: {out}");
        assert!(
            out["args"]["city"].is_string(),
            "schema-derived arguments: {out}"
        );
        assert_eq!(out["stream_finish"], "tool_calls", "{second}: {out}");
        let streamed = &out["stream_calls"][0];
        assert_eq!(streamed["name"], "get_weather", "{second}: {out}");
        assert!(
            !streamed["id"].as_str().unwrap_or_default().is_empty(),
            "{out}"
        );
        let args: serde_json::Value =
            serde_json::from_str(streamed["args"].as_str().unwrap_or_default())
                .unwrap_or_else(|e| panic!("streamed arguments are JSON ({e}): {out}"));
        assert!(args["city"].is_string(), "{out}");
        // The echo counts the messages it got: the question, the calling turn and the result.
        assert!(
            out["back"]
                .as_str()
                .unwrap_or_default()
                .contains("messages=3"),
            "the tool result reached the provider: {out}"
        );
        assert_eq!(out["a_stop"], "tool_use", "{second}: {out}");
        assert_eq!(out["a_name"], "get_weather", "{out}");
        assert!(out["a_input"]["city"].is_string(), "{out}");
        assert_eq!(out["a_stream_stop"], "tool_use", "{second}: {out}");
        assert!(out["a_stream_input"]["city"].is_string(), "{out}");
        assert!(
            out["a_back"]
                .as_str()
                .unwrap_or_default()
                .contains("messages=3"),
            "{out}"
        );
    }
}

const FAILURES: &str = r#"
import json, os, urllib.request, urllib.error, openai, anthropic
base, key = os.environ["BASE"], os.environ["KEY"]
msgs = [{"role": "user", "content": "hello"}]
out = {}
def status(name, call, exc):
    try:
        call()
        out[name] = "no error"
    except exc as e:
        out[name] = [type(e).__name__, e.status_code, e.response.headers.get("retry-after")]
o = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
a = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
status("openai", lambda: o.chat.completions.create(model="m", messages=msgs), openai.APIStatusError)
status("openai_stream", lambda: list(o.chat.completions.create(model="m", messages=msgs, stream=True)), openai.APIStatusError)
status("anthropic", lambda: a.messages.create(model="m", max_tokens=16, messages=msgs), anthropic.APIStatusError)
status("anthropic_stream", lambda: list(a.messages.create(model="m", max_tokens=16, messages=msgs, stream=True)), anthropic.APIStatusError)
bad_o = openai.OpenAI(base_url=base + "/v1", api_key="not-the-key", max_retries=0)
bad_a = anthropic.Anthropic(base_url=base, api_key="not-the-key", max_retries=0)
status("openai_auth", lambda: bad_o.chat.completions.create(model="m", messages=msgs), openai.APIStatusError)
status("anthropic_auth", lambda: bad_a.messages.create(model="m", max_tokens=16, messages=msgs), anthropic.APIStatusError)
status("openai_invalid", lambda: o.chat.completions.create(model="m", messages=[{"role": "wizard", "content": "x"}]), openai.APIStatusError)
def raw(path, body, headers):
    req = urllib.request.Request(base + path, data=body, headers=headers)
    try:
        urllib.request.urlopen(req)
        return "no error"
    except urllib.error.HTTPError as e:
        return [e.code, json.loads(e.read())]
out["malformed_openai"] = raw("/v1/chat/completions", b"{not json", {"authorization": "Bearer " + key})
out["malformed_anthropic"] = raw("/v1/messages", b"[1, 2", {"x-api-key": key})
print(json.dumps(out))
"#;

#[test]
fn when_every_entry_fails_each_sdk_raises_its_own_exception_class() {
    let failing_a = katan_failing();
    let failing_b = katan_failing();
    let chain = entry(
        "openai",
        Katan::MODEL,
        &format!("{}/v1", failing_a.base_url()),
    ) + &entry("claude", Katan::MODEL, &failing_b.base_url());
    let gateway = Gateway::start(&chain, &[], &[("LLMUX_GATEWAY_KEYS", KEY)]);
    let run = python(FAILURES, gateway.base_url(), KEY);
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    let class = |name: &str| (out[name][0].clone(), out[name][1].clone());
    for name in ["openai", "openai_stream", "anthropic", "anthropic_stream"] {
        assert_eq!(
            class(name),
            ("InternalServerError".into(), 502.into()),
            "{name}: {out}"
        );
    }
    assert_eq!(
        class("openai_auth"),
        ("AuthenticationError".into(), 401.into()),
        "{out}"
    );
    assert_eq!(
        class("anthropic_auth"),
        ("AuthenticationError".into(), 401.into()),
        "{out}"
    );
    assert_eq!(
        class("openai_invalid"),
        ("BadRequestError".into(), 400.into()),
        "{out}"
    );
    assert_eq!(out["malformed_openai"][0], 400, "{out}");
    assert_eq!(
        out["malformed_openai"][1]["error"]["type"], "invalid_request_error",
        "{out}"
    );
    assert_eq!(out["malformed_anthropic"][0], 400, "{out}");
    assert_eq!(out["malformed_anthropic"][1]["type"], "error", "{out}");
    let log = gateway.log();
    assert!(
        !log.contains("sk-upstream") && !log.contains(KEY),
        "no key in the log: {log}"
    );
    assert!(
        !run.stdout.contains("sk-upstream"),
        "no upstream key reaches a client: {out}"
    );
}

const RATE_LIMITED: &str = r#"
import json, os, openai, anthropic
base, key = os.environ["BASE"], os.environ["KEY"]
msgs = [{"role": "user", "content": "hello"}]
# katan lets the first request through, then limits every later one.
out = {"first": openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0).chat.completions.create(
    model="m", messages=msgs).choices[0].finish_reason}
try:
    openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0).chat.completions.create(model="m", messages=msgs)
except openai.APIStatusError as e:
    out["openai"] = [type(e).__name__, e.status_code]
try:
    anthropic.Anthropic(base_url=base, api_key=key, max_retries=0).messages.create(model="m", max_tokens=8, messages=msgs)
except anthropic.APIStatusError as e:
    out["anthropic"] = [type(e).__name__, e.status_code]
print(json.dumps(out))
"#;

#[test]
fn an_upstream_rate_limit_is_a_429_the_sdks_know() {
    let limited = Katan::builder().args(["--rate-limit-after", "1"]).start();
    let chain = entry(
        "openai",
        Katan::MODEL,
        &format!("{}/v1", limited.base_url()),
    );
    // No gateway key on loopback: the gateway accepts any client.
    let gateway = Gateway::start(&chain, &[], &[]);
    let run = python(RATE_LIMITED, gateway.base_url(), "anything");
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert_eq!(out["first"], "stop", "{out}");
    assert_eq!(
        out["openai"],
        serde_json::json!(["RateLimitError", 429]),
        "{out}"
    );
    assert_eq!(
        out["anthropic"],
        serde_json::json!(["RateLimitError", 429]),
        "{out}"
    );
}
