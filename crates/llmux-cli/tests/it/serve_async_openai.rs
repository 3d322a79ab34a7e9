//! `llmux serve` (the real binary) driven from Rust by async-openai, a client no one here wrote: whole and
//! streamed answers after a fallback from a failing entry, a tool call, and the client's own API error
//! when every entry fails.

use crate::support::gateway::{Gateway, entry};
use async_openai::Client;
use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, ChatCompletionTool, ChatCompletionTools,
    CreateChatCompletionRequest, FinishReason, FunctionObject,
};
use futures_util::StreamExt;
use llmux_e2e::Katan;
use serde_json::json;

const KEY: &str = "gw-rust-key";

fn client(gateway: &Gateway) -> Client<OpenAIConfig> {
    let config = OpenAIConfig::new()
        .with_api_base(format!("{}/v1", gateway.base_url()))
        .with_api_key(KEY);
    Client::with_config(config)
}

fn request(text: &str) -> CreateChatCompletionRequest {
    CreateChatCompletionRequest {
        model: "any-model".into(),
        messages: vec![ChatCompletionRequestMessage::User(
            ChatCompletionRequestUserMessage {
                content: ChatCompletionRequestUserMessageContent::Text(text.into()),
                name: None,
            },
        )],
        ..Default::default()
    }
}

/// A gateway whose first entry always fails (500) and whose second is a healthy katan.
fn fallback(failing: &Katan, healthy: &Katan) -> Gateway {
    let chain = entry("claude", Katan::MODEL, &failing.base_url())
        + &entry(
            "openai",
            Katan::MODEL,
            &format!("{}/v1", healthy.base_url()),
        );
    Gateway::start(&chain, &[], &[("LLMUX_GATEWAY_KEYS", KEY)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_openai_gets_whole_and_streamed_answers_after_a_fallback() {
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let healthy = Katan::start();
    let gateway = fallback(&failing, &healthy);
    let c = client(&gateway);

    let whole = c
        .chat()
        .create(request("hello from rust"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", gateway.log()));
    let choice = &whole.choices[0];
    assert!(
        choice
            .message
            .content
            .as_deref()
            .is_some_and(|t| t.contains("hello from rust")),
        "{whole:?}"
    );
    assert_eq!(choice.finish_reason, Some(FinishReason::Stop));
    assert!(whole.usage.as_ref().is_some_and(|u| u.total_tokens > 0));

    let mut stream = c
        .chat()
        .create_stream(request("stream from rust"))
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", gateway.log()));
    let (mut text, mut finish, mut chunks) = (String::new(), None, 0);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap_or_else(|e| panic!("{e}\n{}", gateway.log()));
        chunks += 1;
        for choice in chunk.choices {
            text.push_str(choice.delta.content.as_deref().unwrap_or_default());
            finish = choice.finish_reason.or(finish);
        }
    }
    assert!(text.contains("stream from rust"), "{text}");
    assert_eq!(finish, Some(FinishReason::Stop));
    assert!(chunks > 3, "{chunks}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_openai_reads_a_tool_call_served_by_a_claude_entry() {
    let healthy = Katan::start();
    let chain = entry("claude", Katan::MODEL, &healthy.base_url());
    let gateway = Gateway::start(&chain, &[], &[("LLMUX_GATEWAY_KEYS", KEY)]);
    let mut req = request("what is the weather in Paris?");
    req.tools = Some(vec![ChatCompletionTools::Function(ChatCompletionTool {
        function: FunctionObject {
            name: "get_weather".into(),
            description: Some("The weather in a city".into()),
            parameters: Some(json!({
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            })),
            strict: None,
        },
    })]);
    let answer = client(&gateway)
        .chat()
        .create(req)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", gateway.log()));
    let choice = &answer.choices[0];
    assert_eq!(
        choice.finish_reason,
        Some(FinishReason::ToolCalls),
        "{answer:?}"
    );
    let calls = choice.message.tool_calls.as_ref().expect("tool calls");
    let async_openai::types::chat::ChatCompletionMessageToolCalls::Function(call) = &calls[0]
    else {
        panic!("a function call: {calls:?}");
    };
    assert_eq!(call.function.name, "get_weather");
    let arguments: serde_json::Value =
        serde_json::from_str(&call.function.arguments).expect("arguments are JSON");
    assert_eq!(arguments["city"], "test_city", "{arguments}");
    assert!(!call.id.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_openai_sees_an_api_error_when_every_entry_fails() {
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let chain = entry("claude", Katan::MODEL, &failing.base_url())
        + &entry(
            "openai",
            Katan::MODEL,
            &format!("{}/v1", failing.base_url()),
        );
    let gateway = Gateway::start(&chain, &[], &[("LLMUX_GATEWAY_KEYS", KEY)]);
    let err = client(&gateway)
        .chat()
        .create(request("nobody answers"))
        .await
        .expect_err("every entry fails");
    let OpenAIError::ApiError(api) = &err else {
        panic!("an API error, not {err:?}");
    };
    assert_eq!(api.status_code.as_u16(), 502, "{api:?}");
    // async-openai keeps a 5xx body as its message (it does not trust servers to send JSON on a 5xx);
    // ours is OpenAI's error object.
    let body: serde_json::Value =
        serde_json::from_str(&api.api_error.message).expect("the body is JSON");
    assert_eq!(body["error"]["type"], "server_error", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("server")),
        "{body}"
    );
    assert!(!gateway.log().contains("sk-upstream"), "{}", gateway.log());
}
