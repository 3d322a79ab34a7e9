//! The real binary with `--schema`, `--image`, `--file` and `--reasoning`: against the real llama-server
//! (grammar-held JSON), and llm-katan in both wire formats (it echoes the images it was sent).

use crate::support::{Scratch, llmux};
use llmux_e2e::{Katan, LlamaServer};

const SCHEMA: &str = r#"{"type": "object", "additionalProperties": false, "required": ["city", "rank"],
  "properties": {"city": {"type": "string", "maxLength": 12}, "rank": {"type": "integer", "minimum": 1, "maximum": 9},
                 "tags": {"type": "array", "maxItems": 2, "items": {"type": "string", "maxLength": 6}}}}"#;

#[test]
fn a_schema_answer_from_the_real_llama_server_is_printed_as_json_that_matches() {
    let server = LlamaServer::start();
    let dir = Scratch::new("schema-llama");
    let schema = dir.file("city.json", SCHEMA);
    let base = server.base_url();
    let run = llmux(
        &[
            "chat",
            "--provider",
            "llamacpp",
            "--base-url",
            &base,
            "--schema",
            schema.to_str().unwrap(),
            "--param",
            "max_tokens=120",
            "--param",
            "seed=5",
            "--first-byte-timeout",
            "300s",
            "Name a city as JSON.",
        ],
        &[],
        None,
    );
    assert_eq!(run.code, 0, "{run:?}\n{}", server.log_tail(20));
    let answer: serde_json::Value =
        serde_json::from_str(run.stdout.trim()).expect("JSON on stdout");
    let rank = answer["rank"].as_i64().expect("an integer rank");
    assert!((1..=9).contains(&rank), "{answer}");
    assert!(
        answer["city"]
            .as_str()
            .is_some_and(|c| c.chars().count() <= 12),
        "{answer}"
    );
    let keys: Vec<&String> = answer.as_object().unwrap().keys().collect();
    assert!(
        keys.iter()
            .all(|k| ["city", "rank", "tags"].contains(&k.as_str())),
        "{answer}"
    );
}

#[test]
fn an_answer_that_does_not_match_the_schema_exits_1_with_invalid_response() {
    // llm-katan ignores json_schema and echoes text: the CLI must notice, not print it as a success.
    let katan = Katan::start();
    let dir = Scratch::new("schema-katan");
    let schema = dir.file("city.json", SCHEMA);
    let base = format!("{}/v1", katan.base_url());
    let env = [("OPENAI_API_KEY", "sk-katan")];
    for streaming in [true, false] {
        let mut args = vec![
            "chat",
            "--json",
            "--provider",
            "openai",
            "--base-url",
            &base,
            "--model",
            Katan::MODEL,
            "--schema",
            schema.to_str().unwrap(),
            "Name a city.",
        ];
        if !streaming {
            args.insert(1, "--no-stream");
        }
        let run = llmux(&args, &env, None);
        assert_eq!(run.code, 1, "{run:?}");
        let errors = run.of_type("error");
        assert_eq!(errors[0]["kind"], "invalid_response", "{run:?}");
        assert!(
            errors[0]["message"]
                .as_str()
                .unwrap()
                .contains("does not match the schema"),
            "{run:?}"
        );
    }
}

#[test]
fn images_and_a_pdf_reach_both_wire_formats_with_a_reasoning_effort_and_usage_keeps_cache_fields() {
    let katan = Katan::start();
    let dir = Scratch::new("media-katan");
    let image = dir.path().join("dot.png");
    std::fs::write(&image, [0x89, b'P', b'N', b'G', 1, 2, 3]).unwrap();
    let pdf = dir.path().join("paper.pdf");
    std::fs::write(&pdf, b"%PDF-1.7 tiny").unwrap();
    let env = [
        ("OPENAI_API_KEY", "sk-katan"),
        ("ANTHROPIC_API_KEY", "sk-ant-katan"),
    ];
    let openai_base = format!("{}/v1", katan.base_url());
    let claude_base = katan.base_url();
    for (provider, base) in [("openai", &openai_base), ("claude", &claude_base)] {
        let run = llmux(
            &[
                "chat",
                "--json",
                "--provider",
                provider,
                "--base-url",
                base,
                "--model",
                Katan::MODEL,
                "--image",
                image.to_str().unwrap(),
                "--file",
                pdf.to_str().unwrap(),
                "--reasoning",
                "high",
                "--param",
                "max_tokens=64",
                "What is this?",
            ],
            &env,
            None,
        );
        assert_eq!(run.code, 0, "{provider}: {run:?}\n{}", katan.log_tail(20));
        let text: String = run
            .of_type("delta")
            .iter()
            .map(|d| d["text"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert!(text.contains("[image:image/png]"), "{provider}: {text}");
        let usage = &run.of_type("usage")[0];
        for key in [
            "cache_read_input_tokens",
            "cache_write_input_tokens",
            "reasoning_tokens",
        ] {
            assert!(usage.get(key).is_some(), "{provider}: {usage}");
        }
    }
}

#[test]
fn what_a_provider_cannot_take_is_a_validation_error_before_anything_is_sent() {
    let dir = Scratch::new("media-refused");
    let image = dir.path().join("dot.png");
    std::fs::write(&image, [1, 2, 3]).unwrap();
    // A thinking budget on OpenAI, and an image for Ollama given as a URL: refused, exit 3, nothing sent
    // (the base URLs point at a closed port).
    let env = [("OPENAI_API_KEY", "sk-test")];
    let budget = llmux(
        &[
            "chat",
            "--json",
            "--provider",
            "openai",
            "--base-url",
            "http://127.0.0.1:9/v1",
            "--reasoning",
            "4096",
            "hi",
        ],
        &env,
        None,
    );
    assert_eq!(budget.code, 3, "{budget:?}");
    assert_eq!(
        budget.of_type("error")[0]["violations"][0]["param"],
        "openai[0].reasoning"
    );
    let url = llmux(
        &[
            "chat",
            "--json",
            "--provider",
            "ollama",
            "--base-url",
            "http://127.0.0.1:9",
            "--image",
            "https://example.com/cat.png",
            "hi",
        ],
        &[],
        None,
    );
    assert_eq!(url.code, 3, "{url:?}");
    assert!(url.stdout.contains("fetches no URLs"), "{url:?}");
    let closed = [
        "chat",
        "--provider",
        "openai",
        "--base-url",
        "http://127.0.0.1:9/v1",
    ];
    let bad = llmux(
        &[&closed[..], &["--reasoning", "lots", "hi"]].concat(),
        &env,
        None,
    );
    assert_eq!(bad.code, 2, "{bad:?}");
    assert!(bad.stderr.contains("--reasoning"), "{bad:?}");
    let missing = llmux(
        &[&closed[..], &["--image", "nope.png", "hi"]].concat(),
        &env,
        None,
    );
    assert_eq!(missing.code, 2, "{missing:?}");
    assert!(
        missing.stderr.contains("cannot read the image"),
        "{missing:?}"
    );
}
