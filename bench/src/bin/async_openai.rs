//! `client-async-openai`: the scenarios through async-openai 0.43 (OpenAI format only), configured with the
//! bench server as its API base. Its streams run in a task of its own and reach the caller through a channel.

use async_openai::Client as OpenAiClient;
use async_openai::config::OpenAIConfig;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestUserMessage,
    ChatCompletionRequestUserMessageContent, CreateChatCompletionRequest,
};
use futures_util::StreamExt;
use llmux_bench::driver::{self, Client};
use llmux_bench::wire::{Format, Spec};

struct AsyncOpenAi {
    client: OpenAiClient<OpenAIConfig>,
}

fn request(model: String) -> CreateChatCompletionRequest {
    let max = Spec::from_model(&model).map_or(16, |s| s.tokens.max(1));
    CreateChatCompletionRequest {
        model,
        messages: vec![ChatCompletionRequestMessage::User(
            ChatCompletionRequestUserMessage {
                content: ChatCompletionRequestUserMessageContent::Text("Say something.".into()),
                name: None,
            },
        )],
        max_completion_tokens: Some(max),
        ..Default::default()
    }
}

impl Client for AsyncOpenAi {
    fn new(base: &str) -> Result<Self, String> {
        let config = OpenAIConfig::new()
            .with_api_base(format!("{base}/v1"))
            .with_api_key("sk-bench");
        Ok(AsyncOpenAi {
            client: OpenAiClient::with_config(config),
        })
    }

    fn supports(&self, format: Format) -> bool {
        format == Format::OpenAi
    }

    async fn stream(&self, _: Format, model: String) -> Result<u64, String> {
        let mut stream = self
            .client
            .chat()
            .create_stream(request(model))
            .await
            .map_err(|e| e.to_string())?;
        let mut tokens = 0;
        while let Some(chunk) = stream.next().await {
            for choice in chunk.map_err(|e| e.to_string())?.choices {
                if choice.delta.content.is_some_and(|t| !t.is_empty()) {
                    tokens += 1;
                }
            }
        }
        Ok(tokens)
    }

    async fn chat(&self, _: Format, model: String) -> Result<u64, String> {
        let answer = self
            .client
            .chat()
            .create(request(model))
            .await
            .map_err(|e| e.to_string())?;
        Ok(answer
            .choices
            .first()
            .and_then(|c| c.message.content.as_ref())
            .map_or(0, |t| t.len() as u64))
    }
}

fn main() {
    driver::main::<AsyncOpenAi>();
}
