//! Usage in every dialect as its API defines it, read by real clients that nobody here wrote: LangChain
//! (`langchain-openai`, `langchain-anthropic`) and the Vercel AI SDK (`@ai-sdk/openai`,
//! `@ai-sdk/anthropic`), whole and streamed, over an upstream that reports a prompt of 36 tokens of which
//! 30 were read from the cache, and 5 output tokens. Anthropic's `input_tokens` leaves the cache out (6)
//! and the clients add it back (36, never 66); OpenAI's `prompt_tokens` and the Responses API's
//! `input_tokens` include it, with the cached count beside.

use std::process::Command;

use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::Scratch;
use crate::support::gateway::{Gateway, entry, python};
use llmux_e2e::NpmClients;

/// The upstream's usage: 36 prompt tokens, 30 of them cached, 5 completion tokens.
fn upstream_usage() -> Value {
    json!({"prompt_tokens": 36, "completion_tokens": 5, "total_tokens": 41,
           "prompt_tokens_details": {"cached_tokens": 30}})
}

async fn cached_upstream() -> MockServer {
    let server = MockServer::start().await;
    let chunk = |delta: Value, finish: Value, usage: Value| {
        let mut c = json!({"id": "chatcmpl-u", "object": "chat.completion.chunk", "created": 1,
                           "model": "m", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        if !usage.is_null() {
            c["usage"] = usage;
        }
        format!("data: {c}\n\n")
    };
    let sse = [
        chunk(
            json!({"role": "assistant", "content": ""}),
            Value::Null,
            Value::Null,
        ),
        chunk(json!({"content": "Hello there"}), Value::Null, Value::Null),
        chunk(json!({}), json!("stop"), upstream_usage()),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat();
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream"))
        .with_priority(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-u", "object": "chat.completion", "created": 1, "model": "m",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there"},
                         "finish_reason": "stop"}],
            "usage": upstream_usage(),
        })))
        .with_priority(2)
        .mount(&server)
        .await;
    server
}

const LANGCHAIN: &str = r#"
import json, os
from langchain_anthropic import ChatAnthropic
from langchain_openai import ChatOpenAI
base, key = os.environ["BASE"], os.environ["KEY"]
out = {}
def usage(m):
    u = m.usage_metadata or {}
    return {"input": u.get("input_tokens"), "output": u.get("output_tokens"), "total": u.get("total_tokens"),
            "cache_read": (u.get("input_token_details") or {}).get("cache_read")}
def streamed(model):
    total = None
    for chunk in model.stream("hi"):
        total = chunk if total is None else total + chunk
    return usage(total)
anthropic = ChatAnthropic(model="m", base_url=base, api_key=key, max_retries=0, max_tokens=16)
out["anthropic"] = usage(anthropic.invoke("hi"))
out["anthropic_stream"] = streamed(anthropic)
chat = ChatOpenAI(model="m", base_url=base + "/v1", api_key=key, max_retries=0, stream_usage=True)
out["openai"] = usage(chat.invoke("hi"))
out["openai_stream"] = streamed(chat)
responses = ChatOpenAI(model="m", base_url=base + "/v1", api_key=key, max_retries=0, use_responses_api=True)
out["responses"] = usage(responses.invoke("hi"))
out["responses_stream"] = streamed(responses)
print(json.dumps(out))
"#;

const AI_SDK: &str = r#"
const { createRequire } = require('module');
const req = createRequire(process.env.NODE_MODULES + '/');
const { generateText, streamText } = req('ai');
const { createOpenAI } = req('@ai-sdk/openai');
const { createAnthropic } = req('@ai-sdk/anthropic');
const base = process.env.BASE, key = process.env.KEY;
const pick = (u) => ({ input: u.inputTokens, output: u.outputTokens, total: u.totalTokens,
                       cache_read: u.cachedInputTokens ?? u.inputTokenDetails?.cacheReadTokens });
async function both(model) {
  const whole = await generateText({ model, prompt: 'hi', maxRetries: 0 });
  const s = streamText({ model, prompt: 'hi', maxRetries: 0 });
  let text = '';
  for await (const t of s.textStream) text += t;
  return { whole: pick(whole.usage), stream: pick(await s.usage), text: whole.text, stream_text: text };
}
(async () => {
  const anthropic = createAnthropic({ baseURL: base + '/v1', apiKey: key });
  const openai = createOpenAI({ baseURL: base + '/v1', apiKey: key });
  const out = {
    anthropic: await both(anthropic('m')),
    openai: await both(openai.chat('m')),
    responses: await both(openai.responses('m')),
  };
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"#;

/// Asserts one client's reading of one dialect: the whole prompt (36), the cached part (30), the output (5).
fn assert_usage(label: &str, u: &Value) {
    assert_eq!(
        u["input"], 36,
        "{label}: the prompt, cache included once: {u}"
    );
    assert_eq!(u["output"], 5, "{label}: {u}");
    assert_eq!(u["cache_read"], 30, "{label}: {u}");
    assert_eq!(u["total"], 41, "{label}: {u}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn langchain_and_the_ai_sdk_read_cached_usage_as_each_api_defines_it() {
    let upstream = cached_upstream().await;
    let chain = entry("openai", "m", &format!("{}/v1", upstream.uri()));
    let (langchain, ai_sdk) = tokio::task::spawn_blocking(move || {
        let gateway = Gateway::start(&chain, &[], &[]);
        let run = python(LANGCHAIN, gateway.base_url(), "any");
        assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
        let langchain = run.json();
        let npm = NpmClients::get();
        let dir = Scratch::new("ai-sdk");
        let script = dir.file("usage.cjs", AI_SDK);
        let out = Command::new("node")
            .arg(&script)
            .env("NODE_MODULES", npm.node_modules())
            .env("BASE", gateway.base_url())
            .env("KEY", "any")
            .output()
            .expect("run node");
        assert!(
            out.status.success(),
            "{}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            gateway.log()
        );
        // The AI SDK prints a banner on stdout before its first warning (on stderr): the answer is the last line.
        let stdout = String::from_utf8_lossy(&out.stdout);
        println!("ai-sdk stderr:\n{}", String::from_utf8_lossy(&out.stderr));
        let last = stdout.lines().last().unwrap_or_default();
        let ai_sdk: Value =
            serde_json::from_str(last).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
        (langchain, ai_sdk)
    })
    .await
    .expect("the test thread");
    for api in ["anthropic", "openai", "responses"] {
        assert_usage(&format!("langchain {api}"), &langchain[api]);
        assert_usage(
            &format!("langchain {api} stream"),
            &langchain[format!("{api}_stream")],
        );
        assert_usage(&format!("ai-sdk {api}"), &ai_sdk[api]["whole"]);
        assert_usage(&format!("ai-sdk {api} stream"), &ai_sdk[api]["stream"]);
        assert_eq!(ai_sdk[api]["text"], "Hello there", "{ai_sdk}");
        assert_eq!(ai_sdk[api]["stream_text"], "Hello there", "{ai_sdk}");
    }
}
