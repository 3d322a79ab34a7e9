//! The `Provider` trait is object safe and its streams are `Send + 'static`: a chain can hold
//! `Arc<dyn Provider>` and move streams across tasks.

use std::sync::Arc;

use async_trait::async_trait;
use futures::StreamExt;
use llm_core::{
    ApiKey, ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, FinishReason, Provider,
    StreamEvent, StreamStart,
};
use llm_core::{Param, ParamTable, Range};

/// The echo provider's parameter table.
const TABLE: ParamTable = ParamTable {
    provider: "echo",
    rules: &[(Param::Temperature, Range::float(0.0, 2.0))],
    requires_max_tokens: false,
};

#[derive(Debug)]
struct Echo {
    key: ApiKey,
}

#[async_trait]
impl Provider for Echo {
    fn name(&self) -> &str {
        "echo"
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        TABLE.validate(request)
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let text = request
            .messages
            .last()
            .and_then(|m| m.text())
            .unwrap_or_default();
        if text == "leak" {
            // A server that echoes the key back in its error message.
            let echoed = format!("Incorrect API key provided: {}", self.key.expose());
            return Err(Error::new(ErrorKind::Auth, echoed).redact(&self.key));
        }
        Ok(ChatResponse::new("echo", &request.model, text))
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let text = request
            .messages
            .last()
            .and_then(|m| m.text())
            .unwrap_or_default();
        let events = vec![
            Ok(StreamEvent::Start(StreamStart::new("echo", &request.model))),
            Ok(StreamEvent::TextDelta(text.into())),
            Ok(StreamEvent::Finish(FinishReason::Stop)),
        ];
        Ok(Box::pin(futures::stream::iter(events)))
    }

    async fn health(&self) -> Result<(), Error> {
        Ok(())
    }
}

#[tokio::test]
async fn arc_dyn_provider_chats_and_streams_across_tasks() {
    let provider: Arc<dyn Provider> = Arc::new(Echo {
        key: ApiKey::new("sk-live-abcdefgh12345678"),
    });
    let request = ChatRequest::new("m").user("hello");
    provider.validate(&request).unwrap();
    let response = provider.chat(&request).await.unwrap();
    assert_eq!(response.text, "hello");

    let stream = provider.stream(&request).await.unwrap();
    let events: Vec<_> = tokio::spawn(stream.collect::<Vec<_>>()).await.unwrap();
    assert_eq!(events.len(), 3);
    assert!(matches!(&events[1], Ok(StreamEvent::TextDelta(t)) if t == "hello"));
    assert!(events[1].as_ref().unwrap().is_content());
    assert!(!events[0].as_ref().unwrap().is_content());

    // An Arc<P> is itself a Provider.
    let again: Arc<dyn Provider> = Arc::new(provider.clone());
    assert_eq!(again.name(), "echo");
}

#[tokio::test]
async fn key_never_appears_in_formatted_provider_request_or_error() {
    let key = "sk-live-abcdefgh12345678";
    let provider = Echo {
        key: ApiKey::new(key),
    };
    let request = ChatRequest::new("m").user("leak");
    let err = provider.chat(&request).await.unwrap_err();
    let shown = format!("{provider:?} {request:?} {err} {err:?} {}", provider.key);
    assert!(!shown.contains(key), "{shown}");
    assert!(shown.contains("[redacted]"));
    assert_eq!(err.kind(), ErrorKind::Auth);
}
