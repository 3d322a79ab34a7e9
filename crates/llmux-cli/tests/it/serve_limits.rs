//! `llmux serve` (the real binary) under load and faults, driven by the official Python SDKs: a hundred
//! concurrent streams, a fallback to the real local model, a stream cut after its first token, the body
//! and stream limits, graceful shutdown on SIGTERM, and the loopback-only rule without a gateway key.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::support::gateway::{Gateway, entry, python, python_command};
use crate::support::llmux;
use llmux_e2e::net::RawServer;
use llmux_e2e::{Katan, LlamaServer};

const CONCURRENT: &str = r#"
import asyncio, json, os, urllib.request, openai
N = 100
async def one(c, i):
    text, finish = "", None
    stream = await c.chat.completions.create(model="m", messages=[{"role": "user", "content": f"stream number {i}"}], stream=True)
    async for ch in stream:
        for choice in ch.choices:
            text += choice.delta.content or ""
            finish = choice.finish_reason or finish
    return finish == "stop" and f"stream number {i}" in text
async def main():
    c = openai.AsyncOpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0, timeout=120)
    results = await asyncio.gather(*(one(c, i) for i in range(N)), return_exceptions=True)
    return [r is True for r in results], [repr(r) for r in results if r is not True][:3]
ok, errors = asyncio.run(main())
metrics = urllib.request.urlopen(os.environ["BASE"] + "/metrics").read().decode()
print(json.dumps({"ok": sum(ok), "errors": errors, "metrics": metrics}))
"#;

#[test]
fn a_hundred_concurrent_streams_all_complete() {
    let katan = Katan::builder().args(["--max-concurrent", "200"]).start();
    let chain = entry("openai", Katan::MODEL, &format!("{}/v1", katan.base_url()));
    let gateway = Gateway::start(&chain, &[], &[]);
    let run = python(CONCURRENT, gateway.base_url(), "any");
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert_eq!(out["ok"], 100, "{}", out["errors"]);
    let metrics = out["metrics"].as_str().unwrap_or_default();
    assert!(
        metrics.contains(r#"llmux_requests_total{api="openai",stream="true",status="200"} 100"#),
        "{metrics}"
    );
    assert!(metrics.contains("llmux_open_streams 0"), "{metrics}");
    assert!(
        metrics.contains(r#"llmux_attempts_total{provider="openai",outcome="ok"} 100"#),
        "{metrics}"
    );
    assert!(
        metrics.contains("llmux_time_to_first_token_seconds_count 100"),
        "{metrics}"
    );
}

const LOCAL: &str = r#"
import json, os, openai, anthropic
base, key = os.environ["BASE"], os.environ["KEY"]
o = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=120)
raw = o.chat.completions.with_raw_response.create(model="gpt-4o", max_tokens=12, messages=[{"role": "user", "content": "Say hello."}])
whole = raw.parse()
text, finish = "", None
for ch in o.chat.completions.create(model="gpt-4o", max_tokens=12, stream=True, messages=[{"role": "user", "content": "Count to five."}]):
    for choice in ch.choices:
        text += choice.delta.content or ""
        finish = choice.finish_reason or finish
a = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0, timeout=120)
with a.messages.stream(model="claude-x", max_tokens=12, messages=[{"role": "user", "content": "Name a colour."}]) as s:
    for _ in s:
        pass
    final = s.get_final_message()
print(json.dumps({"provider": raw.headers.get("x-llmux-provider"), "whole": whole.choices[0].message.content,
                  "whole_finish": whole.choices[0].finish_reason, "text": text, "finish": finish,
                  "a_text": "".join(b.text for b in final.content if b.type == "text"), "a_stop": final.stop_reason}))
"#;

#[test]
fn whole_and_streamed_answers_fall_back_to_the_local_model() {
    let failing = Katan::builder().arg("--error-rate").arg("1.0").start();
    let llama = LlamaServer::start();
    let chain = entry(
        "openai",
        Katan::MODEL,
        &format!("{}/v1", failing.base_url()),
    ) + &entry("llamacpp", "smollm2", &llama.base_url());
    let gateway = Gateway::start(&chain, &[], &[]);
    let run = python(LOCAL, gateway.base_url(), "any");
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert_eq!(out["provider"], "llamacpp", "{out}");
    for (text, finish, ok) in [
        ("whole", "whole_finish", ["stop", "length"]),
        ("text", "finish", ["stop", "length"]),
        ("a_text", "a_stop", ["end_turn", "max_tokens"]),
    ] {
        assert!(
            !out[text].as_str().unwrap_or_default().trim().is_empty(),
            "{text}: {out}"
        );
        assert!(ok.iter().any(|f| out[finish] == *f), "{finish}: {out}");
    }
}

const CUT: &str = r#"
import json, os, http.client, urllib.parse, openai, anthropic
base, key = os.environ["BASE"], os.environ["KEY"]
out = {}
o = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
text = ""
try:
    for ch in o.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True):
        for choice in ch.choices:
            text += choice.delta.content or ""
    out["openai"] = "clean end"
except openai.APIError as e:
    out["openai"] = type(e).__name__
out["openai_text"] = text
a = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
text = ""
try:
    with a.messages.stream(model="m", max_tokens=16, messages=[{"role": "user", "content": "x"}]) as s:
        for t in s.text_stream:
            text += t
    out["anthropic"] = "clean end"
except anthropic.APIError as e:
    out["anthropic"] = type(e).__name__
out["anthropic_text"] = text
text, types = "", []
for ev in o.responses.create(model="m", input="x", stream=True):
    types.append(ev.type)
    if ev.type == "response.output_text.delta":
        text += ev.delta
    if ev.type == "response.failed":
        out["responses_error"] = ev.response.error.code
out["responses_types"] = types
out["responses_text"] = text
def raw(path, body):
    u = urllib.parse.urlparse(base)
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    c.request("POST", path, body=json.dumps(body), headers={"content-type": "application/json"})
    r = c.getresponse()
    return [r.status, r.read().decode()]
out["openai_raw"] = raw("/v1/chat/completions", {"model": "m", "stream": True, "messages": [{"role": "user", "content": "x"}]})
out["anthropic_raw"] = raw("/v1/messages", {"model": "m", "max_tokens": 8, "stream": True, "messages": [{"role": "user", "content": "x"}]})
print(json.dumps(out))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_after_its_first_token_ends_with_the_dialect_error_event_in_every_api() {
    // Every answer: one token, then the connection closes without ending the body.
    let upstream = RawServer::start(|mut conn| async move {
        let _ = conn.start_chunked(200, "text/event-stream").await;
        let _ = conn
            .chunk(
                b"data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\
                  \"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"partial\"},\"finish_reason\":null}]}\n\n",
            )
            .await;
    })
    .await;
    let chain = entry("openai", "m", &format!("{}/v1", upstream.base_url()));
    let out = tokio::task::spawn_blocking(move || {
        let gateway = Gateway::start(&chain, &[], &[]);
        let run = python(CUT, gateway.base_url(), "any");
        assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
        run.json()
    })
    .await
    .expect("the test thread");
    assert_eq!(out["openai"], "APIError", "never a clean end: {out}");
    assert_eq!(out["openai_text"], "partial", "{out}");
    assert_eq!(
        out["anthropic"], "APIStatusError",
        "never a clean end: {out}"
    );
    assert_eq!(out["anthropic_text"], "partial", "{out}");
    let openai = out["openai_raw"][1].as_str().unwrap_or_default();
    assert_eq!(out["openai_raw"][0], 200, "{out}");
    let last = openai
        .lines()
        .rfind(|l| l.starts_with("data: "))
        .unwrap_or_default();
    assert!(last.starts_with("data: {\"error\":"), "{openai}");
    assert!(!openai.contains("[DONE]"), "{openai}");
    let anthropic = out["anthropic_raw"][1].as_str().unwrap_or_default();
    assert!(anthropic.contains("event: error\n"), "{anthropic}");
    assert!(!anthropic.contains("message_stop"), "{anthropic}");
    // The Responses API, through the SDK's own event types: the text, then response.failed, never
    // response.completed.
    assert_eq!(out["responses_text"], "partial", "{out}");
    let types: Vec<&str> = out["responses_types"]
        .as_array()
        .map(|t| t.iter().filter_map(serde_json::Value::as_str).collect())
        .unwrap_or_default();
    assert_eq!(types.first(), Some(&"response.created"), "{out}");
    assert_eq!(types.last(), Some(&"response.failed"), "{out}");
    assert!(!types.contains(&"response.completed"), "{out}");
    assert_eq!(out["responses_error"], "server_error", "{out}");
}

const LIMITS: &str = r#"
import json, os, openai, anthropic
base, key = os.environ["BASE"], os.environ["KEY"]
out = {}
o = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
a = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
try:
    o.chat.completions.create(model="m", messages=[{"role": "user", "content": "x" * 5000}])
except openai.APIStatusError as e:
    out["too_large"] = [type(e).__name__, e.status_code]
first = o.chat.completions.create(model="m", messages=[{"role": "user", "content": "slow one"}], stream=True)
next(iter(first))
try:
    list(o.chat.completions.create(model="m", messages=[{"role": "user", "content": "second"}], stream=True))
except openai.APIStatusError as e:
    out["busy_openai"] = [e.status_code, e.response.headers.get("retry-after")]
try:
    list(a.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "second"}], stream=True))
except anthropic.APIStatusError as e:
    out["busy_anthropic"] = [e.status_code, e.response.headers.get("retry-after")]
out["first_finish"] = [c.finish_reason for ch in first for c in ch.choices if c.finish_reason]
print(json.dumps(out))
"#;

#[test]
fn the_body_and_stream_limits_answer_413_and_503_or_529() {
    let katan = Katan::builder()
        .args(["--itl-ms", "40", "--max-concurrent", "4"])
        .start();
    let chain = entry("openai", Katan::MODEL, &format!("{}/v1", katan.base_url()));
    let gateway = Gateway::start(
        &chain,
        &["--max-body-bytes", "2000", "--max-streams", "1"],
        &[],
    );
    let run = python(LIMITS, gateway.base_url(), "any");
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert_eq!(
        out["too_large"],
        serde_json::json!(["APIStatusError", 413]),
        "{out}"
    );
    assert_eq!(out["busy_openai"], serde_json::json!([503, "1"]), "{out}");
    assert_eq!(
        out["busy_anthropic"],
        serde_json::json!([529, "1"]),
        "{out}"
    );
    assert_eq!(
        out["first_finish"],
        serde_json::json!(["stop"]),
        "the open stream was not disturbed: {out}"
    );
}

const SLOW_STREAM: &str = r#"
import json, os, openai
o = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0, timeout=120)
text, finish = "", None
for ch in o.chat.completions.create(model="m", messages=[{"role": "user", "content": "drain me please"}], stream=True):
    for choice in ch.choices:
        if choice.delta.content:
            print("chunk", flush=True)
        text += choice.delta.content or ""
        finish = choice.finish_reason or finish
print(json.dumps({"text": text, "finish": finish}))
"#;

#[test]
fn sigterm_lets_an_open_stream_finish_before_the_server_exits() {
    let katan = Katan::builder().args(["--itl-ms", "40"]).start();
    let chain = entry("openai", Katan::MODEL, &format!("{}/v1", katan.base_url()));
    let mut gateway = Gateway::start(&chain, &[], &[]);
    let mut client = python_command(SLOW_STREAM, gateway.base_url(), "any")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python");
    let mut lines = BufReader::new(client.stdout.take().expect("piped")).lines();
    let first = lines.next().and_then(Result::ok);
    assert_eq!(first.as_deref(), Some("chunk"), "{}", gateway.log());
    let signalled = Command::new("kill")
        .args(["-TERM", &gateway.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(signalled.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let status = client.wait().expect("wait for python");
    assert!(status.success(), "{rest:?}\n{}", gateway.log());
    let out: serde_json::Value =
        serde_json::from_str(rest.last().map_or("", String::as_str)).expect("a JSON line");
    assert_eq!(
        out["finish"], "stop",
        "the stream was drained, not cut: {out}"
    );
    assert!(
        out["text"]
            .as_str()
            .unwrap_or_default()
            .contains("drain me please"),
        "{out}"
    );
    assert_eq!(gateway.wait(), Some(0), "{}", gateway.log());
    assert!(gateway.log().contains("shutting down"), "{}", gateway.log());
}

#[test]
fn without_a_gateway_key_it_refuses_a_non_loopback_address() {
    let run = llmux(
        &["serve", "--provider", "openai", "--listen", "0.0.0.0:0"],
        &[("OPENAI_API_KEY", "sk-x")],
        None,
    );
    assert_eq!(run.code, 2, "{run:?}");
    assert!(run.stderr.contains("LLMUX_GATEWAY_KEYS"), "{run:?}");
    assert!(!run.stderr.contains("sk-x"), "{run:?}");
}

const STALLED: &str = r#"
import json, os, openai, anthropic
base, key = os.environ["BASE"], os.environ["KEY"]
o = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=60)
raw = o.chat.completions.with_raw_response.create(model="m", stream=True, messages=[{"role": "user", "content": "not stalled"}])
text = "".join(c.delta.content or "" for ch in raw.parse() for c in ch.choices)
a = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0, timeout=60)
with a.messages.stream(model="m", max_tokens=16, messages=[{"role": "user", "content": "not stalled either"}]) as s:
    a_text = "".join(s.text_stream)
print(json.dumps({"provider": raw.headers.get("x-llmux-provider"), "text": text, "a_text": a_text}))
"#;

#[test]
fn a_stream_that_stalls_before_its_first_token_falls_back() {
    // The first entry takes 30 s to its first token; the gateway gives it 500 ms.
    let stalled = Katan::builder().args(["--ttft-ms", "30000"]).start();
    let healthy = Katan::start();
    let chain = entry(
        "openai",
        Katan::MODEL,
        &format!("{}/v1", stalled.base_url()),
    ) + &entry("claude", Katan::MODEL, &healthy.base_url());
    let gateway = Gateway::start(
        &chain,
        &["--first-byte-timeout", "500ms", "--idle-timeout", "500ms"],
        &[],
    );
    let run = python(STALLED, gateway.base_url(), "any");
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert_eq!(out["provider"], "claude", "{out}");
    assert!(
        out["text"]
            .as_str()
            .unwrap_or_default()
            .contains("not stalled"),
        "{out}"
    );
    assert!(
        out["a_text"]
            .as_str()
            .unwrap_or_default()
            .contains("not stalled either"),
        "{out}"
    );
}

/// A slow whole request holds the one slot of `--max-requests 1` (seen in `/metrics`), so a second is
/// refused as busy in both dialects while streams are not held back by it.
const WHOLE_LIMIT: &str = r#"
import json, os, threading, time, urllib.request, openai, anthropic
base, key = os.environ["BASE"], os.environ["KEY"]
o = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
a = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
out = {}
def slow():
    out["slow"] = o.chat.completions.create(model="m", messages=[{"role": "user", "content": "slow one"}]).choices[0].finish_reason
t = threading.Thread(target=slow)
t.start()
deadline = time.monotonic() + 60
while "llmux_open_requests 1" not in urllib.request.urlopen(base + "/metrics").read().decode() and time.monotonic() < deadline:
    time.sleep(0.01)
try:
    o.chat.completions.create(model="m", messages=[{"role": "user", "content": "second"}])
except openai.APIStatusError as e:
    out["busy_openai"] = [e.status_code, e.response.headers.get("retry-after")]
try:
    a.messages.create(model="m", max_tokens=8, messages=[{"role": "user", "content": "second"}])
except anthropic.APIStatusError as e:
    out["busy_anthropic"] = [e.status_code, e.response.headers.get("retry-after")]
out["stream"] = [c.finish_reason for ch in o.chat.completions.create(model="m", messages=[{"role": "user", "content": "s"}], stream=True) for c in ch.choices if c.finish_reason]
t.join()
out["after"] = urllib.request.urlopen(base + "/metrics").read().decode().count("llmux_open_requests 0")
print(json.dumps(out))
"#;

#[test]
fn the_whole_request_limit_answers_busy_without_holding_back_streams() {
    let katan = Katan::builder()
        .args(["--latency-ms", "2500", "--max-concurrent", "4"])
        .start();
    let chain = entry("openai", Katan::MODEL, &format!("{}/v1", katan.base_url()));
    let gateway = Gateway::start(&chain, &["--max-requests", "1"], &[]);
    let run = python(WHOLE_LIMIT, gateway.base_url(), "any");
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert_eq!(out["busy_openai"], serde_json::json!([503, "1"]), "{out}");
    assert_eq!(
        out["busy_anthropic"],
        serde_json::json!([529, "1"]),
        "{out}"
    );
    assert_eq!(out["stream"], serde_json::json!(["stop"]), "{out}");
    assert_eq!(out["slow"], "stop", "{out}");
    assert_eq!(out["after"], 1, "the gauge is back to 0: {out}");
}

/// A provider silent between tokens: the raw body carries keep-alives in both dialects (an SSE comment
/// for OpenAI clients, Anthropic's `ping` event), and both SDKs read the streams through them.
const KEEPALIVE: &str = r#"
import json, os, urllib.request, openai, anthropic
base, key = os.environ["BASE"], os.environ["KEY"]
body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi keep"}]}
def raw(path, payload, headers):
    req = urllib.request.Request(base + path, data=json.dumps(payload).encode(), method="POST",
                                 headers=dict(headers, **{"content-type": "application/json"}))
    return urllib.request.urlopen(req, timeout=60).read().decode()
raw_openai = raw("/v1/chat/completions", body, {"authorization": "Bearer " + key})
raw_anthropic = raw("/v1/messages", dict(body, max_tokens=16), {"x-api-key": key, "anthropic-version": "2023-06-01"})
o = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)
text = "".join(c.delta.content or "" for ch in o.chat.completions.create(model="m", messages=body["messages"], stream=True) for c in ch.choices)
a = anthropic.Anthropic(base_url=base, api_key=key, max_retries=0)
with a.messages.stream(model="m", max_tokens=16, messages=body["messages"]) as s:
    anthropic_text = s.get_final_message().content[0].text
print(json.dumps({"comments": raw_openai.count(": keep-alive\n\n"), "pings": raw_anthropic.count("event: ping\n"),
                  "done": raw_openai.rstrip().endswith("data: [DONE]"), "stop": raw_anthropic.rstrip().endswith('{"type":"message_stop"}'),
                  "text": text, "anthropic_text": anthropic_text}))
"#;

#[test]
fn silent_streams_get_keepalives_that_both_sdks_read_through() {
    let katan = Katan::builder()
        .args(["--itl-ms", "120", "--max-concurrent", "4"])
        .start();
    let chain = entry("openai", Katan::MODEL, &format!("{}/v1", katan.base_url()));
    let gateway = Gateway::start(&chain, &["--keepalive", "30ms"], &[]);
    let run = python(KEEPALIVE, gateway.base_url(), "any");
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert!(out["comments"].as_u64() >= Some(2), "{out}");
    // One after `message_start`, as the API sends, and more while the provider is silent.
    assert!(out["pings"].as_u64() >= Some(3), "{out}");
    assert_eq!(out["done"], true, "{out}");
    assert_eq!(out["stop"], true, "{out}");
    assert!(
        out["text"].as_str().is_some_and(|t| t.contains("hi keep")),
        "{out}"
    );
    assert!(
        out["anthropic_text"]
            .as_str()
            .is_some_and(|t| t.contains("hi keep")),
        "{out}"
    );
}

#[test]
fn a_keyless_gateway_refuses_browser_pages_rebinding_and_forms() {
    use llmux_e2e::http::{post_json, request};
    let katan = Katan::start();
    let chain = entry("openai", Katan::MODEL, &format!("{}/v1", katan.base_url()));
    let gateway = Gateway::start(&chain, &[], &[("LLMUX_METRICS_KEY", "metrics-key")]);
    let base = gateway.base_url();
    let port = base.rsplit(':').next().unwrap_or_default();
    let body = r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#;
    let bound = std::time::Duration::from_secs(30);
    let ok = post_json(base, "/v1/chat/completions", &[], body, bound).expect("POST");
    assert_eq!(ok.status, 200, "{}", ok.text());
    // A page's fetch (CSRF): it carries Origin.
    let page = post_json(
        base,
        "/v1/chat/completions",
        &[("Origin", "http://evil.example")],
        body,
        bound,
    )
    .expect("POST");
    assert_eq!(page.status, 403, "{}", page.text());
    // DNS rebinding: the page's own host name, resolved to the gateway.
    let raw = Command::new(llmux_e2e::peer_python())
        .arg("-c")
        .arg(format!(
            "import http.client, json\n\
             c = http.client.HTTPConnection('127.0.0.1', {port}, timeout=30)\n\
             c.putrequest('POST', '/v1/messages', skip_host=True)\n\
             c.putheader('Host', 'evil.example:{port}')\n\
             c.putheader('Content-Type', 'application/json')\n\
             b = {body:?}.encode()\n\
             c.putheader('Content-Length', str(len(b)))\n\
             c.endheaders(b)\n\
             r = c.getresponse()\n\
             print(json.dumps([r.status, json.loads(r.read())['error']['type']]))\n"
        ))
        .output()
        .expect("python");
    assert_eq!(
        String::from_utf8_lossy(&raw.stdout).trim(),
        "[403, \"permission_error\"]",
        "{}",
        String::from_utf8_lossy(&raw.stderr)
    );
    // A form or text/plain post needs no preflight: only JSON is taken.
    let plain = Command::new(llmux_e2e::peer_python())
        .arg("-c")
        .arg(format!(
            "import http.client\n\
             c = http.client.HTTPConnection('127.0.0.1', {port}, timeout=30)\n\
             c.request('POST', '/v1/chat/completions', body={body:?}, headers={{'Content-Type': 'text/plain'}})\n\
             print(c.getresponse().status)\n"
        ))
        .output()
        .expect("python");
    assert_eq!(String::from_utf8_lossy(&plain.stdout).trim(), "415");
    // /metrics asks for its key when one is set.
    let metrics = llmux_e2e::http::get(base, "/metrics", bound).expect("GET");
    assert_eq!(metrics.status, 401);
    let metrics = request(
        "GET",
        base,
        "/metrics",
        &[("Authorization", "Bearer metrics-key")],
        None,
        bound,
    )
    .expect("GET");
    assert_eq!(metrics.status, 200);
    assert!(metrics.text().contains("llmux_requests_total"));
    // Embeddings: at most 2,048 inputs, said before anything else is done.
    let many = serde_json::json!({"model": "e", "input": vec![""; 3000]}).to_string();
    let refused = post_json(base, "/v1/embeddings", &[], &many, bound).expect("POST");
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(refused.text().contains("2048"), "{}", refused.text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_message_stays_in_the_gateway_log_under_the_id_the_client_is_told() {
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let upstream = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(serde_json::json!({"error": {
            "message": "Rate limit reached for org-SECRET123 on requests; see https://internal.example/limits (key sk-ab***yz)",
            "type": "requests", "code": "rate_limit_exceeded"}})))
        .mount(&upstream)
        .await;
    let chain = entry("openai", "m", &format!("{}/v1", upstream.uri()));
    let (text, log) = tokio::task::spawn_blocking(move || {
        let gateway = Gateway::start(&chain, &[], &[]);
        let response = llmux_e2e::http::post_json(
            gateway.base_url(),
            "/v1/chat/completions",
            &[],
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}]}"#,
            std::time::Duration::from_secs(30),
        )
        .expect("POST");
        assert_eq!(response.status, 429, "{}", response.text());
        // The log line is written before the answer goes out.
        (response.text(), gateway.log())
    })
    .await
    .expect("the test thread");
    for secret in ["SECRET123", "internal.example", "sk-ab"] {
        assert!(!text.contains(secret), "relayed {secret}: {text}");
    }
    assert!(text.contains("[requests, rate_limit_exceeded]"), "{text}");
    let id = text
        .split("under ")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a correlation id");
    let line = log
        .lines()
        .find(|l| l.contains(id))
        .unwrap_or_else(|| panic!("{id} is not in the log:\n{log}"));
    assert!(
        line.contains("org-SECRET123"),
        "the log keeps the message: {line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_whole_answer_is_not_cut_by_the_first_byte_limit() {
    // An upstream that starts answering at once and takes two seconds to finish (a long generation), and
    // that, asked for a whole answer, says nothing for those two seconds.
    let upstream = RawServer::start(|mut conn| async move {
        let chunk = |text: &str, finish: &str| {
            format!(
                "data: {{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\
                 \"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}},\"finish_reason\":{finish}}}]}}\n\n"
            )
        };
        if String::from_utf8_lossy(&conn.request.body).contains("\"stream\":true") {
            let _ = conn.start_chunked(200, "text/event-stream").await;
            let _ = conn.chunk(chunk("a long ", "null").as_bytes()).await;
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let _ = conn.chunk(chunk("answer", "\"stop\"").as_bytes()).await;
            let _ = conn.chunk(b"data: [DONE]\n\n").await;
            let _ = conn.end_chunked().await;
        } else {
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let body = br#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":"a long answer"},"finish_reason":"stop"}]}"#;
            let _ = conn.respond(200, "application/json", &[], body).await;
        }
    })
    .await;
    let chain = entry("openai", "m", &format!("{}/v1", upstream.base_url()));
    let response = tokio::task::spawn_blocking(move || {
        let gateway = Gateway::start(&chain, &["--first-byte-timeout", "1s"], &[]);
        llmux_e2e::http::post_json(
            gateway.base_url(),
            "/v1/chat/completions",
            &[],
            r#"{"model":"m","messages":[{"role":"user","content":"write at length"}]}"#,
            std::time::Duration::from_secs(30),
        )
        .expect("POST")
    })
    .await
    .expect("the test thread");
    assert_eq!(response.status, 200, "{}", response.text());
    let body: serde_json::Value = serde_json::from_slice(&response.body).expect("JSON");
    assert_eq!(
        body["choices"][0]["message"]["content"], "a long answer",
        "{body}"
    );
    assert_eq!(
        upstream.accepted(),
        1,
        "asked once: never retried after a first-byte timeout"
    );
}
