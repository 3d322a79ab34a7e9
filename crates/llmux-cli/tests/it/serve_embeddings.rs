//! `llmux serve`'s `POST /v1/embeddings` (the real binary) over the real llama-server started with
//! embeddings on, driven by the official `openai` Python SDK (which asks for base64 by default) and asking
//! for floats too; and the 400 of a gateway whose chain does not embed.

use crate::support::gateway::{Gateway, entry, python};
use llmux_e2e::{Katan, LlamaServer};

const KEY: &str = "gw-embed-key";

const EMBED: &str = r#"
import json, os, openai
c = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
b64 = c.embeddings.create(model="any-name", input=["the sea", "a mountain", "the sea"])
flt = c.embeddings.create(model="any-name", input="the sea", encoding_format="float")
print(json.dumps({"n": len(b64.data), "dims": [len(d.embedding) for d in b64.data],
                  "index": [d.index for d in b64.data], "same": b64.data[0].embedding == b64.data[2].embedding,
                  "differ": b64.data[0].embedding != b64.data[1].embedding,
                  "close": max(abs(a - b) for a, b in zip(b64.data[0].embedding, flt.data[0].embedding)),
                  "model": b64.model}))
"#;

#[test]
fn the_openai_sdk_embeds_through_the_gateway_in_base64_and_float() {
    let llama = LlamaServer::builder()
        .args(["--embeddings", "--pooling", "mean", "-np", "1"])
        .start();
    // llama-server embeds with the model it loaded, whatever the embedding model is named.
    let chain = entry("llamacpp", "smollm2", &llama.base_url());
    let gateway = Gateway::start(&chain, &[], &[("LLMUX_GATEWAY_KEYS", KEY)]);
    let run = python(EMBED, gateway.base_url(), KEY);
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert_eq!(out["n"], 3, "{out}");
    assert_eq!(out["dims"], serde_json::json!([576, 576, 576]), "{out}");
    assert_eq!(out["index"], serde_json::json!([0, 1, 2]), "{out}");
    assert_eq!(out["same"], true, "the same text, the same vector: {out}");
    assert_eq!(out["differ"], true, "{out}");
    assert!(
        out["close"].as_f64().is_some_and(|d| d < 1e-6),
        "base64 and float agree: {out}"
    );
    assert_eq!(out["model"], "any-name", "{out}");
}

const REFUSED: &str = r#"
import json, os, openai
c = openai.OpenAI(base_url=os.environ["BASE"] + "/v1", api_key=os.environ["KEY"], max_retries=0)
try:
    c.embeddings.create(model="m", input="x")
    print(json.dumps({"raised": None}))
except openai.BadRequestError as e:
    print(json.dumps({"raised": "BadRequestError", "status": e.status_code, "message": str(e)}))
"#;

#[test]
fn a_gateway_whose_chain_does_not_embed_answers_400_saying_so() {
    let katan = Katan::start();
    let chain = entry("claude", Katan::MODEL, &katan.base_url());
    let gateway = Gateway::start(&chain, &[], &[("LLMUX_GATEWAY_KEYS", KEY)]);
    let run = python(REFUSED, gateway.base_url(), KEY);
    assert_eq!(run.code, 0, "{run:?}\n{}", gateway.log());
    let out = run.json();
    assert_eq!(out["raised"], "BadRequestError", "{out}");
    assert_eq!(out["status"], 400, "{out}");
    assert!(
        out["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no embeddings"),
        "{out}"
    );
}
