//! `llmux serve --route NAME=FILE` and `--key-rpm` (the real binary over llm-katan, the official SDKs).

use crate::support::Scratch;
use crate::support::gateway::{Gateway, entry, python};
use llmux_e2e::Katan;

const ROUTES: &str = r#"
import json, os, openai, anthropic
base = os.environ["BASE"]
o1 = openai.OpenAI(base_url=base + "/v1", api_key="k1", max_retries=0)
o2 = openai.OpenAI(base_url=base + "/v1", api_key="k2", max_retries=0)
msgs = [{"role": "user", "content": "hi"}]
def provider(client, model):
    return client.chat.completions.with_raw_response.create(model=model, messages=msgs).headers.get("x-llmux-provider")
out = {"fast": provider(o1, "fast"), "other": provider(o1, "gpt-anything"), "models": [m.id for m in o2.models.list()]}
provider(o1, "fast")
try:
    provider(o1, "fast")
    out["fourth"] = "no error"
except openai.APIStatusError as e:
    out["fourth"] = [type(e).__name__, e.status_code, e.response.headers.get("retry-after") is not None]
try:
    anthropic.Anthropic(base_url=base, api_key="k1", max_retries=0).messages.create(model="fast", max_tokens=8, messages=msgs)
except anthropic.APIStatusError as e:
    out["fourth_anthropic"] = [type(e).__name__, e.status_code]
out["other_key"] = provider(o2, "fast")
print(json.dumps(out))
"#;

#[test]
fn routes_pick_a_chain_by_model_name_and_each_key_has_its_requests_per_minute() {
    let routed = Katan::start();
    let main = Katan::start();
    let dir = Scratch::new("routes");
    let fast = dir.file(
        "fast.toml",
        &entry("openai", Katan::MODEL, &format!("{}/v1", routed.base_url())),
    );
    let route = format!("fast={}", fast.display());
    let gateway = Gateway::start(
        &entry("claude", Katan::MODEL, &main.base_url()),
        &["--route", &route, "--key-rpm", "3"],
        &[("LLMUX_GATEWAY_KEYS", "k1,k2")],
    );
    let run = python(ROUTES, gateway.base_url(), "unused");
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert_eq!(out["fast"], "openai", "the route's chain: {out}");
    assert_eq!(out["other"], "claude", "the main chain: {out}");
    assert!(
        out["models"]
            .as_array()
            .is_some_and(|m| m.iter().any(|n| n == "fast")),
        "{out}"
    );
    assert_eq!(
        out["fourth"],
        serde_json::json!(["RateLimitError", 429, true]),
        "{out}"
    );
    assert_eq!(
        out["fourth_anthropic"],
        serde_json::json!(["RateLimitError", 429]),
        "{out}"
    );
    assert_eq!(
        out["other_key"], "openai",
        "another key has its own minute: {out}"
    );
}

const COST: &str = r#"
import json, os, urllib.request, openai
base = os.environ["BASE"]
client = openai.OpenAI(base_url=base + "/v1", api_key="k1", max_retries=0)
raw = client.chat.completions.with_raw_response.create(model="fast", messages=[{"role": "user", "content": "hi"}])
usage = raw.parse().usage
metrics = urllib.request.urlopen(base + "/metrics").read().decode()
print(json.dumps({"header": raw.headers.get("x-llmux-cost-usd"), "prompt": usage.prompt_tokens,
                  "completion": usage.completion_tokens,
                  "metrics": [l for l in metrics.splitlines() if l.startswith("llmux_cost_usd_total")]}))
"#;

#[test]
fn a_whole_answer_says_its_cost_and_metrics_sum_it_by_route() {
    let routed = Katan::start();
    let main = Katan::start();
    let dir = Scratch::new("route-cost");
    // $1 per million input tokens, $2 per million output tokens for the route's model.
    let fast = dir.file(
        "fast.toml",
        &format!(
            "{}\n[[price]]\nprovider = \"openai\"\nmodel = \"{}\"\ninput = 1\noutput = 2\n",
            entry("openai", Katan::MODEL, &format!("{}/v1", routed.base_url())),
            Katan::MODEL
        ),
    );
    let route = format!("fast={}", fast.display());
    let gateway = Gateway::start(
        &entry("claude", Katan::MODEL, &main.base_url()),
        &["--route", &route],
        &[("LLMUX_GATEWAY_KEYS", "k1")],
    );
    let run = python(COST, gateway.base_url(), "unused");
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    let (prompt, completion) = (
        out["prompt"].as_u64().unwrap(),
        out["completion"].as_u64().unwrap(),
    );
    let expected =
        llmux::Usd::from_dollars(prompt as f64 * 1e-6 + completion as f64 * 2e-6).unwrap();
    assert!(prompt > 0, "{out}");
    assert_eq!(out["header"], expected.to_string(), "{out}");
    assert_eq!(
        out["metrics"],
        serde_json::json!([format!(
            "llmux_cost_usd_total{{route=\"fast\",provider=\"openai\",model=\"{}\"}} {expected}",
            Katan::MODEL
        )]),
        "{out}"
    );
}
