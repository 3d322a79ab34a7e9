//! End to end, structured output: the real llama-server holding SmolLM2 to a nested JSON Schema (objects,
//! arrays, integers, `additionalProperties: false`) by grammar, answer after answer with different seeds,
//! read back into a typed value; llm-katan's JSON mode; and a chain skipping an entry that cannot honour
//! a schema without sending it anything.

use std::sync::Arc;
use std::time::Duration;

use llm_chain::{Chain, Entry};
use llm_core::{ChatRequest, ErrorKind, Provider, ResponseFormat, Timeouts, parse_json};
use llm_llamacpp::{LlamaCpp, LlamaCppConfig};
use llm_openai::{Features, OpenAi, OpenAiConfig};
use llmux_e2e::{Katan, LlamaServer};
use serde::Deserialize;

/// A shelf of books, bounded so a small model's answer always ends well within the token limit.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Shelf {
    #[schemars(length(min = 1, max = 16))]
    name: String,
    #[schemars(range(min = 0, max = 1000))]
    count: i64,
    #[schemars(length(min = 1, max = 2))]
    books: Vec<Book>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct Book {
    #[schemars(length(min = 1, max = 16))]
    title: String,
    #[schemars(range(min = 1000, max = 2100))]
    year: i64,
    #[schemars(length(max = 2), inner(length(max = 8)))]
    tags: Vec<String>,
}

/// Grammar-constrained sampling of a whole answer is slow on a busy 2-core machine: a generous first-byte
/// limit that only proves nothing hangs.
fn llama(server: &LlamaServer) -> LlamaCpp {
    let config = LlamaCppConfig::default()
        .base_url(server.base_url())
        .timeouts(Timeouts::default().first_byte(Duration::from_secs(300)));
    LlamaCpp::new(config).unwrap()
}

fn shelf_request(seed: i64) -> ChatRequest {
    ChatRequest::new("smollm2")
        .system("You answer with JSON only.")
        .user("Describe a small shelf of books as JSON.")
        .max_tokens(300)
        .temperature(0.9)
        .seed(seed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_real_llama_server_answers_a_nested_schema_with_json_that_validates_for_every_seed() {
    let server = LlamaServer::start();
    let llama = llama(&server);
    let format = ResponseFormat::of::<Shelf>();
    let schema = &format.schema().unwrap().schema;
    // The derived schema is the nested, closed one the issue names.
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(schema["properties"]["books"]["type"], "array");
    assert_eq!(schema["properties"]["count"]["type"], "integer");
    let mut seen = Vec::new();
    for seed in [1, 2, 3] {
        let shelf: Shelf = tokio::time::timeout(
            Duration::from_secs(600),
            llm_core::chat_json(&llama, shelf_request(seed)),
        )
        .await
        .expect("no hang")
        .unwrap_or_else(|e| panic!("seed {seed}: {e} ({:?})", e.detail()));
        assert!((1..=2).contains(&shelf.books.len()), "{shelf:?}");
        assert!((1..=16).contains(&shelf.name.chars().count()), "{shelf:?}");
        assert!((0..=1000).contains(&shelf.count), "{shelf:?}");
        for book in &shelf.books {
            assert!((1000..=2100).contains(&book.year), "{shelf:?}");
            assert!(book.tags.len() <= 2 && !book.title.is_empty(), "{shelf:?}");
            assert!(
                book.tags.iter().all(|t| t.chars().count() <= 8),
                "{shelf:?}"
            );
        }
        seen.push(format!("{shelf:?}"));
    }
    // Different seeds sample different answers; all of them validate.
    seen.dedup();
    assert!(seen.len() > 1, "every seed gave the same answer: {seen:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_katan_json_mode_answers_a_json_object() {
    let katan = Katan::start();
    let openai = OpenAi::new(
        OpenAiConfig::compatible("katan", format!("{}/v1", katan.base_url())).api_key("k"),
    )
    .unwrap();
    let request = ChatRequest::new(Katan::MODEL)
        .user("Give me JSON.")
        .response_format(ResponseFormat::JsonObject);
    let answer = openai.chat(&request).await.unwrap();
    let value: serde_json::Value = parse_json(&answer).unwrap();
    assert!(value.is_object(), "{value}");
    // Without JSON mode katan echoes plain text, which the typed reader refuses with the text kept.
    let plain = openai
        .chat(&ChatRequest::new(Katan::MODEL).user("Give me JSON."))
        .await
        .unwrap();
    let err = parse_json::<serde_json::Value>(&plain).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    assert_eq!(
        err.detail().unwrap().message.as_deref(),
        Some(plain.text.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_with_a_schema_skips_an_entry_that_cannot_honour_it() {
    let katan = Katan::start();
    let server = LlamaServer::start();
    // A compatible server configured as text-only (a model without structured output): it must be
    // skipped in validation, never sent the schema to ignore.
    let text_only = OpenAiConfig::compatible("katan-text-only", format!("{}/v1", katan.base_url()))
        .api_key("k")
        .features(Features::TEXT)
        .timeouts(Timeouts::default().total(Duration::from_secs(30)));
    let chain = Chain::builder()
        .entry(Entry::new(
            Arc::new(OpenAi::new(text_only).unwrap()),
            Katan::MODEL,
        ))
        .entry(Entry::new(Arc::new(llama(&server)), "smollm2"))
        .build()
        .unwrap();
    let request = ChatRequest::for_chain()
        .user("Describe a small shelf of books as JSON.")
        .max_tokens(300)
        .seed(7)
        .response_format(ResponseFormat::of::<Shelf>());
    let answer = chain.chat(&request).await.unwrap();
    let shelf: Shelf = parse_json(&answer).unwrap();
    assert!(!shelf.books.is_empty());
    assert_eq!(answer.attempts.len(), 2, "{:?}", answer.attempts);
    assert_eq!(answer.attempts[0].outcome, Some(ErrorKind::Validation));
    assert_eq!(answer.attempts[0].status, None, "nothing was sent");
    assert_eq!(answer.attempts[1].outcome, None);
    assert_eq!(answer.provider, "llamacpp");
    assert!(
        answer.attempts[0]
            .message
            .as_deref()
            .unwrap_or_default()
            .contains("response_format")
    );
}
