//! The driver's span for each call, named after the OpenTelemetry GenAI conventions, as a subscriber sees
//! it when the span closes: for a whole answer, a stream (with time to first token) and a failure.

use std::io;
use std::sync::{Arc, Mutex};

use futures::StreamExt;
use llm_core::{ChatRequest, Provider};
use llm_openai::{OpenAi, OpenAiConfig};
use serde_json::json;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;
use wiremock::matchers::{body_partial_json, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Everything the subscriber writes, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

/// The closed `gen_ai.client` spans written while `f` runs.
async fn spans_of<F: Future<Output = ()>>(f: F) -> String {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(captured.clone())
        .with_env_filter("llmux::http=info")
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    f.await;
    drop(guard);
    captured.text()
}

async fn server() -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"stream": false, "model": "gpt-4o"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "chatcmpl-1", "model": "gpt-4o-2024-08-06",
            "choices": [{"index": 0, "message": {"content": "Hi"}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 8, "completion_tokens": 2}
        })))
        .mount(&server)
        .await;
    let sse = "data: {\"id\":\"c2\",\"model\":\"gpt-4o-mini-2024\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"}}]}\n\n\
               data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}\n\n\
               data: [DONE]\n\n";
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream"))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"model": "missing"})))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({
            "error": {"message": "no such model", "type": "invalid_request_error", "code": "model_not_found"}
        })))
        .with_priority(1)
        .mount(&server)
        .await;
    server
}

fn openai(server: &MockServer) -> OpenAi {
    OpenAi::new(OpenAiConfig::new("sk-span").base_url(format!("{}/v1", server.uri()))).unwrap()
}

#[tokio::test]
async fn a_whole_answer_records_the_genai_fields() {
    let server = server().await;
    let client = openai(&server);
    let text = spans_of(async {
        client
            .chat(&ChatRequest::new("gpt-4o").user("Hi"))
            .await
            .unwrap();
    })
    .await;
    for field in [
        "gen_ai.operation.name=\"chat\"",
        "gen_ai.provider.name=\"openai\"",
        "gen_ai.request.model=\"gpt-4o\"",
        "gen_ai.response.model=\"gpt-4o-2024-08-06\"",
        "gen_ai.usage.input_tokens=8",
        "gen_ai.usage.output_tokens=2",
        "gen_ai.response.finish_reasons=\"stop\"",
    ] {
        assert!(text.contains(field), "{field} missing in {text}");
    }
    assert!(!text.contains("sk-span"), "{text}");
}

#[tokio::test]
async fn a_stream_records_its_time_to_first_token_usage_and_finish_when_it_ends() {
    let server = server().await;
    let client = openai(&server);
    let text = spans_of(async {
        let stream = client
            .stream(&ChatRequest::new("gpt-4o-mini").user("Hi"))
            .await
            .unwrap();
        let items: Vec<_> = stream.collect().await;
        assert!(items.iter().all(Result::is_ok));
    })
    .await;
    for field in [
        "gen_ai.response.model=\"gpt-4o-mini-2024\"",
        "gen_ai.response.id=\"c2\"",
        "gen_ai.usage.input_tokens=5",
        "gen_ai.usage.output_tokens=1",
        "gen_ai.response.finish_reasons=\"length\"",
        "llmux.ttft_ms=",
    ] {
        assert!(text.contains(field), "{field} missing in {text}");
    }
}

#[tokio::test]
async fn a_failure_records_its_error_type() {
    let server = server().await;
    let client = openai(&server);
    let text = spans_of(async {
        let err = client
            .chat(&ChatRequest::new("missing").user("Hi"))
            .await
            .unwrap_err();
        assert_eq!(err.kind().as_str(), "not_found");
    })
    .await;
    assert!(text.contains("error.type=\"not_found\""), "{text}");
}
