//! A chain falls back from a failing Gemini entry: the Gemini API at a wiremock server that answers 429
//! `RESOURCE_EXHAUSTED` with a `RetryInfo` too long to wait for, then Vertex AI at llm-katan answers.

use std::sync::Arc;
use std::time::Duration;

use llm_chain::{Chain, Entry};
use llm_core::{ApiKey, ChatRequest, Error, ErrorKind, Provider};
use llm_gemini::{Gemini, GeminiConfig, TokenSource};
use llmux_e2e::Katan;
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

#[derive(Debug)]
struct Fixed;

impl TokenSource for Fixed {
    fn token(&self) -> Result<ApiKey, Error> {
        Ok(ApiKey::new("ya29.chain"))
    }
}

#[tokio::test]
async fn a_rate_limited_gemini_entry_falls_back_to_vertex() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({"error": {
            "code": 429, "message": "Resource has been exhausted (e.g. check quota).",
            "status": "RESOURCE_EXHAUSTED",
            "details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "3600s"}]
        }})))
        .mount(&server)
        .await;
    let katan = Katan::builder().args(["--providers", "vertexai"]).start();
    let failing = Gemini::new(GeminiConfig::new("AIza-chain").base_url(server.uri())).unwrap();
    let vertex = Gemini::new(
        GeminiConfig::vertex("p", "us-central1")
            .base_url(katan.base_url())
            .token_source(Arc::new(Fixed)),
    )
    .unwrap();
    let chain = Chain::builder()
        .entry(Entry::new(Arc::new(failing), "gemini-2.5-flash"))
        .entry(Entry::new(Arc::new(vertex), Katan::MODEL))
        .build()
        .unwrap();
    let answer = chain
        .chat(&ChatRequest::for_chain().user("fall back please"))
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", katan.log_tail(20)));
    assert_eq!(answer.provider, "vertex");
    assert!(answer.text.contains("fall back please"), "{}", answer.text);
    let first = &answer.attempts[0];
    assert_eq!(first.provider, "gemini");
    assert_eq!(first.outcome, Some(ErrorKind::RateLimited));
    assert_eq!(first.retry_after, Some(Duration::from_secs(3600)));
    let last = answer.attempts.last().unwrap();
    assert_eq!((last.provider.as_str(), last.outcome), ("vertex", None));
}
