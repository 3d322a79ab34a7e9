//! Azure OpenAI on the Chat Completions codec: exact URLs, headers and query (wiremock), Entra ID tokens,
//! Azure's content-filter refusals, and end to end against llm-katan's Azure OpenAI endpoints.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use llm_core::{ApiKey, ChatRequest, Error, ErrorKind, FinishReason, Provider, StreamEvent};
use llm_openai::{AzureApi, AzureConfig, OpenAi, TokenSource};
use llmux_e2e::Katan;
use serde_json::json;
use wiremock::matchers::{header, header_exists, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn completion(finish: &str) -> serde_json::Value {
    json!({"id": "chatcmpl-az", "object": "chat.completion", "model": "gpt-4o",
           "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hi"}, "finish_reason": finish}],
           "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}})
}

fn request() -> ChatRequest {
    ChatRequest::new("prod gpt-4o").user("Hi").max_tokens(8)
}

#[tokio::test]
async fn deployment_urls_carry_the_api_version_and_the_key_goes_in_api_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/prod%20gpt-4o/chat/completions"))
        .and(query_param("api-version", "2024-10-21"))
        .and(header("api-key", "az-secret"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("stop")))
        .expect(1)
        .mount(&server)
        .await;
    let azure = OpenAi::new(AzureConfig::new(server.uri(), "az-secret")).unwrap();
    assert_eq!(azure.name(), "azure");
    let answer = azure.chat(&request()).await.unwrap();
    assert_eq!(answer.text, "Hi");
    let sent: Vec<Request> = server.received_requests().await.unwrap();
    assert!(
        sent[0].headers.get("authorization").is_none(),
        "no bearer header with a key"
    );
}

#[tokio::test]
async fn the_v1_form_posts_the_deployment_as_the_model() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/v1/chat/completions"))
        .and(header("api-key", "k"))
        .and(wiremock::matchers::body_partial_json(
            json!({"model": "prod gpt-4o"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("stop")))
        .expect(1)
        .mount(&server)
        .await;
    let azure = OpenAi::new(AzureConfig::new(server.uri(), "k").api(AzureApi::V1)).unwrap();
    azure.chat(&request()).await.unwrap();
}

#[derive(Debug, Default)]
struct Tokens(AtomicUsize);

impl TokenSource for Tokens {
    fn token(&self) -> Result<ApiKey, Error> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        Ok(ApiKey::new(format!("entra-{n}")))
    }
}

#[tokio::test]
async fn an_entra_id_token_is_asked_for_every_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("stop")))
        .expect(2)
        .mount(&server)
        .await;
    let tokens = Arc::new(Tokens::default());
    let config = AzureConfig::default()
        .base_url(server.uri())
        .token_source(tokens.clone());
    let azure = OpenAi::new(config).unwrap();
    azure.chat(&request()).await.unwrap();
    azure.chat(&request()).await.unwrap();
    let sent = server.received_requests().await.unwrap();
    let auth: Vec<&str> = sent
        .iter()
        .map(|r| r.headers.get("authorization").unwrap().to_str().unwrap())
        .collect();
    assert_eq!(auth, ["Bearer entra-0", "Bearer entra-1"]);
    assert!(!format!("{azure:?}").contains("entra-"));
}

#[tokio::test]
async fn content_filter_refusals_and_finishes_are_classified() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/filtered/chat/completions"))
        .respond_with(ResponseTemplate::new(400).set_body_json(json!({"error": {
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's content management policy.",
            "type": null, "param": "prompt", "code": "content_filter", "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation"}}})))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/cut/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("content_filter")))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/gone/chat/completions"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({"error": {
            "code": "DeploymentNotFound", "message": "The API deployment for this resource does not exist."}})))
        .mount(&server)
        .await;
    let azure = OpenAi::new(AzureConfig::new(server.uri(), "k")).unwrap();
    let refused = azure
        .chat(&ChatRequest::new("filtered").user("x"))
        .await
        .unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::BadRequest);
    assert_eq!(
        refused.detail().unwrap().code.as_deref(),
        Some("content_filter")
    );
    let cut = azure
        .chat(&ChatRequest::new("cut").user("x"))
        .await
        .unwrap();
    assert_eq!(cut.finish_reason, Some(FinishReason::ContentFilter));
    let gone = azure
        .chat(&ChatRequest::new("gone").user("x"))
        .await
        .unwrap_err();
    assert_eq!(gone.kind(), ErrorKind::NotFound);
    assert!(!format!("{refused} {refused:?} {gone:?}").contains("\"k\""));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn llm_katan_azure_openai_answers_whole_and_streamed_and_refuses_a_wrong_key() {
    let katan = Katan::builder()
        .args([
            "--providers",
            "openai,anthropic,azure_openai",
            "--validate-keys",
            "--api-keys",
            "azure_openai=az-good,openai=oa",
        ])
        .start();
    let azure = OpenAi::new(AzureConfig::new(katan.base_url(), "az-good")).unwrap();
    let request = ChatRequest::new(Katan::MODEL)
        .user("Hello Azure")
        .max_tokens(16);
    let answer = azure
        .chat(&request)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", katan.log_tail(20)));
    assert!(answer.text.contains("Hello Azure"), "{}", answer.text);
    let mut stream = azure.stream(&request).await.unwrap();
    let mut text = String::new();
    let mut finished = false;
    while let Some(event) = stream.next().await {
        match event.unwrap() {
            StreamEvent::TextDelta(t) => text.push_str(&t),
            StreamEvent::Finish(_) => finished = true,
            _ => {}
        }
    }
    assert!(finished && text.contains("Hello Azure"), "{text}");
    let v1 = OpenAi::new(AzureConfig::new(katan.base_url(), "az-good").api(AzureApi::V1)).unwrap();
    assert!(
        v1.chat(&request)
            .await
            .unwrap()
            .text
            .contains("Hello Azure")
    );
    let wrong = OpenAi::new(AzureConfig::new(katan.base_url(), "az-bad")).unwrap();
    let err = wrong.chat(&request).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(!format!("{err} {err:?}").contains("az-bad"));
}

#[tokio::test]
async fn embeddings_go_to_the_deployment_with_the_api_version() {
    use llm_core::{EmbedRequest, Embedder};
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/deployments/emb-small/embeddings"))
        .and(query_param("api-version", "2024-10-21"))
        .and(header("api-key", "k"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "object": "list", "model": "text-embedding-3-small",
            "data": [{"object": "embedding", "index": 0, "embedding": [0.5, -0.25]}],
            "usage": {"prompt_tokens": 2, "total_tokens": 2}})))
        .expect(1)
        .mount(&server)
        .await;
    let azure = OpenAi::new(AzureConfig::new(server.uri(), "k")).unwrap();
    let answer = azure
        .embed(&EmbedRequest::new("emb-small", ["hello"]))
        .await
        .unwrap();
    assert_eq!(answer.vectors, vec![vec![0.5, -0.25]]);
}
