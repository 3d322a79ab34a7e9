//! `llmux serve` with fleet state: two gateway processes sharing one chain file's `[state] redis` through
//! a real redis-server. Failures one gateway sees open the entry's breaker for the other, which then
//! passes the entry over without a request (its `/metrics` counts the skip, the gateway's form of the
//! CLI's `skip` line); chain-file gateway keys are honoured by both.

use crate::support::gateway::{Gateway, entry, python_with};
use llmux_e2e::{Katan, RedisServer};

const KEY: &str = "gw-file-key";

/// Five answers through gateway `A` (each a failure of the first entry, then the second's answer), then,
/// once gateway `B`'s view shows the first entry's breaker open, one answer through `B`; both metrics.
const TWO_GATEWAYS: &str = r#"
import json, os, time, urllib.request, openai
a = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
b = openai.OpenAI(base_url=os.environ["BASE_B"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
providers = []
for i in range(5):
    raw = a.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": f"a{i}"}])
    providers.append(raw.headers.get("x-llmux-provider"))
def breaker_b():
    health = json.loads(urllib.request.urlopen(os.environ["BASE_B"] + "/health").read())
    return health["entries"][0]["breaker"]
deadline = time.monotonic() + 60
while breaker_b() != "open" and time.monotonic() < deadline:
    time.sleep(0.01)
seen = breaker_b()
raw = b.chat.completions.with_raw_response.create(model="m", messages=[{"role": "user", "content": "from b"}])
answer = raw.parse().choices[0].message.content
metrics = lambda base: urllib.request.urlopen(base + "/metrics").read().decode()
print(json.dumps({"providers": providers, "b_breaker": seen, "b_provider": raw.headers.get("x-llmux-provider"),
                  "b_answer": answer, "metrics_a": metrics(os.environ["BASE"]), "metrics_b": metrics(os.environ["BASE_B"])}))
"#;

#[test]
fn a_breaker_opened_through_one_gateway_is_honoured_by_another() {
    let redis = RedisServer::start();
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let healthy = Katan::start();
    let chain = format!(
        "[state]\nredis = \"{}\"\nkey = \"gw-fleet\"\n\n[gateway]\nkeys = [\"{KEY}\"]\n\n{}{}",
        redis.url(),
        entry("claude", Katan::MODEL, &failing.base_url()),
        entry(
            "openai",
            Katan::MODEL,
            &format!("{}/v1", healthy.base_url())
        ),
    );
    let a = Gateway::start(&chain, &[], &[]);
    let b = Gateway::start(&chain, &[], &[]);
    let run = python_with(TWO_GATEWAYS, a.base_url(), KEY, &[("BASE_B", b.base_url())]);
    assert_eq!(run.code, 0, "{run:?}\n{}\n{}", a.log(), b.log());
    let out = run.json();
    assert_eq!(
        out["providers"],
        serde_json::json!(vec!["openai"; 5]),
        "{out}"
    );
    assert_eq!(out["b_breaker"], "open", "{out}");
    assert_eq!(out["b_provider"], "openai", "{out}");
    assert!(
        out["b_answer"]
            .as_str()
            .is_some_and(|t| t.contains("from b")),
        "{out}"
    );
    let metrics_a = out["metrics_a"].as_str().unwrap_or_default();
    let metrics_b = out["metrics_b"].as_str().unwrap_or_default();
    assert!(
        metrics_a.contains("llmux_attempts_total{provider=\"claude\",outcome=\"server\"} 5"),
        "A tried the failing entry five times:\n{metrics_a}"
    );
    assert!(
        !metrics_b.contains("llmux_attempts_total{provider=\"claude\""),
        "B never sent the failing entry a request:\n{metrics_b}"
    );
    assert!(
        metrics_b.contains("llmux_skips_total{provider=\"claude\",reason=\"breaker_open\"} 1"),
        "B counted its skip:\n{metrics_b}"
    );
    assert!(
        metrics_b
            .contains("llmux_breaker_state{route=\"\",entry=\"0\",provider=\"claude\",model=\""),
        "{metrics_b}"
    );
}

/// Without the file's key the gateway answers 401 in the client's dialect.
const WRONG_KEY: &str = r#"
import json, os, openai
c = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key="not-the-key", max_retries=0)
try:
    c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
    print(json.dumps({"raised": None}))
except openai.AuthenticationError as e:
    print(json.dumps({"raised": type(e).__name__, "status": e.status_code}))
"#;

#[test]
fn gateway_keys_from_the_chain_file_guard_the_api() {
    let healthy = Katan::start();
    let chain = format!(
        "[gateway]\nkeys = [\"{KEY}\"]\n\n{}",
        entry(
            "openai",
            Katan::MODEL,
            &format!("{}/v1", healthy.base_url())
        )
    );
    // A non-loopback address is accepted: the file gives a key.
    let gateway = Gateway::start(&chain, &["--listen", "0.0.0.0:0"], &[]);
    let run = python_with(WRONG_KEY, gateway.base_url(), KEY, &[]);
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert_eq!(out["raised"], "AuthenticationError", "{out}");
    assert_eq!(out["status"], 401, "{out}");
    assert!(
        !gateway.log().contains(KEY),
        "no key in the log:\n{}",
        gateway.log()
    );
}
