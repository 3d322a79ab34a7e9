//! The client against wiremock servers shaped like Ollama's documented protocol (no Ollama server can be
//! installed where these tests run), raw TCP servers for chunk boundaries, and a counting proxy.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use llm_core::{
    ChatRequest, Error, ErrorKind, FinishReason, Provider, StreamEvent, Timeouts, Usage,
};
use llm_ollama::{Ollama, OllamaConfig};
use llmux_e2e::net::{CountingProxy, RawServer, closed_port};
use serde_json::json;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn client(base: &str) -> Ollama {
    Ollama::new(OllamaConfig::default().base_url(base)).unwrap()
}

fn request() -> ChatRequest {
    ChatRequest::new("llama3.2").user("Why is the sky blue?")
}

fn ndjson(body: Vec<u8>) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(body, "application/x-ndjson")
}

async fn collect(stream: llm_core::ChatStream) -> (Vec<StreamEvent>, Option<Error>) {
    let mut events = Vec::new();
    let mut stream = stream;
    while let Some(item) = stream.next().await {
        match item {
            Ok(e) => events.push(e),
            Err(e) => {
                assert!(stream.next().await.is_none(), "items after an error");
                return (events, Some(e));
            }
        }
    }
    (events, None)
}

fn text(events: &[StreamEvent]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn chat_decodes_answer_finish_and_usage() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(
            json!({"model": "llama3.2", "stream": false}),
        ))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("chat.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let answer = client(&server.uri()).chat(&request()).await.unwrap();
    assert_eq!(answer.text, "Hello! How are you today?");
    assert_eq!(answer.model, "llama3.2");
    assert_eq!(answer.provider, "ollama");
    assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
    // Priced at Ollama's price: a server on this machine costs nothing.
    let mut usage = Usage::new(26, 298);
    usage.cost = Some(llm_core::Cost::ZERO);
    assert_eq!(answer.usage, Some(usage));
}

#[tokio::test]
async fn stream_decodes_ndjson() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/chat"))
        .and(body_partial_json(
            json!({"stream": true, "options": {"num_predict": 8}}),
        ))
        .respond_with(ndjson(fixture("length.ndjson")))
        .expect(1)
        .mount(&server)
        .await;
    let stream = client(&server.uri())
        .stream(&request().max_tokens(8))
        .await
        .unwrap();
    let (events, err) = collect(stream).await;
    assert!(err.is_none(), "{err:?}");
    assert!(
        matches!(&events[0], StreamEvent::Start(s) if s.provider == "ollama" && s.model == "llama3.2")
    );
    assert_eq!(text(&events), "One two");
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish(FinishReason::Length))
    );
}

#[tokio::test]
async fn a_streaming_request_answered_with_json_is_replayed_as_events() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("chat.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let (events, err) = collect(client(&server.uri()).stream(&request()).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(text(&events), "Hello! How are you today?");
    let mut usage = Usage::new(26, 298);
    usage.cost = Some(llm_core::Cost::ZERO);
    assert!(events.contains(&StreamEvent::Usage(usage)));
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish(FinishReason::Stop))
    );
}

/// Every documented error status with Ollama's `{"error":"…"}` body, for `chat` and for `stream`.
#[tokio::test]
async fn error_statuses_are_classified() {
    let rows = [
        (400, "invalid options: foo", ErrorKind::BadRequest),
        (
            400,
            "input length exceeds the context length",
            ErrorKind::ContextLength,
        ),
        (404, "model 'llama9' not found", ErrorKind::NotFound),
        (429, "too many requests", ErrorKind::RateLimited),
        (
            500,
            "llama runner process has terminated: signal: killed",
            ErrorKind::Server,
        ),
        (502, "bad gateway", ErrorKind::Server),
        (
            503,
            "server busy, please try again. maximum pending requests exceeded",
            ErrorKind::Overloaded,
        ),
    ];
    for (status, message, kind) in rows {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/api/chat"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({ "error": message })))
            .expect(2)
            .mount(&server)
            .await;
        let ollama = client(&server.uri());
        let chat = ollama.chat(&request()).await.unwrap_err();
        let stream = ollama
            .stream(&request())
            .await
            .err()
            .expect("an error before the stream");
        for err in [chat, stream] {
            assert_eq!(err.kind(), kind, "{status} {message}: {err}");
            assert_eq!(err.status(), Some(status));
            assert_eq!(err.provider(), Some("ollama"));
            assert_eq!(
                err.detail().and_then(|d| d.message.as_deref()),
                Some(message)
            );
        }
    }
}

#[tokio::test]
async fn an_error_body_with_status_200_is_classified() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"error": "unexpected server failure"})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server.uri()).chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.message(), "unexpected server failure");
}

#[tokio::test]
async fn a_mid_stream_error_line_with_status_200_ends_the_stream() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ndjson(fixture("mid_stream_error.ndjson")))
        .expect(1)
        .mount(&server)
        .await;
    let (events, err) = collect(client(&server.uri()).stream(&request()).await.unwrap()).await;
    assert_eq!(text(&events), "Once upon");
    let err = err.expect("an error item");
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(err.is_retryable());
    assert_eq!(err.delivered_bytes(), Some(9));
}

#[tokio::test]
async fn a_stream_without_done_is_network() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ndjson(fixture("no_done.ndjson")))
        .expect(1)
        .mount(&server)
        .await;
    let (events, err) = collect(client(&server.uri()).stream(&request()).await.unwrap()).await;
    assert_eq!(text(&events), "Once upon");
    assert_eq!(err.expect("an error item").kind(), ErrorKind::Network);
}

#[tokio::test]
async fn health_lists_tags() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"models": [
            {"name": "llama3.2:latest", "model": "llama3.2:latest", "size": 2019393189}
        ]})))
        .expect(1)
        .mount(&server)
        .await;
    client(&server.uri()).health().await.unwrap();

    let broken = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/tags"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({"error": "boom"})))
        .expect(1)
        .mount(&broken)
        .await;
    assert_eq!(
        client(&broken.uri()).health().await.unwrap_err().kind(),
        ErrorKind::Server
    );
}

#[tokio::test]
async fn connection_refused_is_network_at_once() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let config = OllamaConfig::default()
        .base_url(base)
        .timeouts(Timeouts::default().connect(Duration::from_secs(30)));
    let ollama = Ollama::new(config).unwrap();
    let began = Instant::now();
    let chat = ollama.chat(&request()).await.unwrap_err();
    let stream = ollama.stream(&request()).await.err().expect("an error");
    let health = ollama.health().await.unwrap_err();
    for err in [chat, stream, health] {
        assert_eq!(err.kind(), ErrorKind::Network, "{err}");
        assert!(err.is_retryable());
    }
    // Far below the 30 s connect limit: a refusal is reported when it happens, not when a timer runs out.
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "{:?}",
        began.elapsed()
    );
}

/// HTTP chunks that split lines mid-JSON and a multi-byte character mid-UTF-8.
#[tokio::test]
async fn chunk_boundaries_inside_lines_and_characters() {
    let body = fixture("chat_stream.ndjson");
    let globe = body.windows(4).position(|w| w == "🌍".as_bytes()).unwrap();
    let cuts = [7, 60, globe + 1, globe + 3, body.len() - 20, body.len() - 1];
    let mut pieces = Vec::new();
    let mut at = 0;
    for cut in cuts {
        pieces.push(body[at..cut].to_vec());
        at = cut;
    }
    pieces.push(body[at..].to_vec());
    let pieces = Arc::new(pieces);
    let server = RawServer::start(move |mut conn| {
        let pieces = Arc::clone(&pieces);
        async move {
            let _ = conn
                .send_chunked(200, "application/x-ndjson", &pieces)
                .await;
        }
    })
    .await;
    let (events, err) = collect(client(&server.base_url()).stream(&request()).await.unwrap()).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(
        text(&events),
        "The sky is blue: ünïcödé 🌍 \"quoted\"\nnext line é"
    );
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish(FinishReason::Stop))
    );
}

#[tokio::test]
async fn twenty_sequential_requests_share_one_connection() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"stream": false})))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("chat.json"), "application/json"),
        )
        .expect(10)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(ndjson(fixture("chat_stream.ndjson")))
        .expect(10)
        .mount(&server)
        .await;
    let proxy = CountingProxy::start(*server.address()).await;
    let ollama = client(&proxy.base_url());
    for i in 0..20 {
        if i % 2 == 0 {
            ollama.chat(&request()).await.unwrap();
        } else {
            let (events, err) = collect(ollama.stream(&request()).await.unwrap()).await;
            assert!(err.is_none() && !events.is_empty(), "{err:?}");
        }
    }
    assert_eq!(proxy.accepted(), 1);
}
