//! `client-genai`: the scenarios through rust-genai 0.7, given the bench server as an explicit
//! `ServiceTarget` (endpoint, key and adapter), which bypasses its model-name mapping.

use futures_util::StreamExt;
use genai::adapter::AdapterKind;
use genai::chat::{ChatMessage, ChatOptions, ChatRequest, ChatStreamEvent};
use genai::resolver::{AuthData, Endpoint};
use genai::{ModelIden, ServiceTarget};
use llmux_bench::driver::{self, Client};
use llmux_bench::wire::{Format, Spec};

struct Genai {
    base: String,
    client: genai::Client,
}

impl Genai {
    fn target(&self, format: Format, model: String) -> ServiceTarget {
        let (kind, endpoint) = match format {
            Format::OpenAi => (AdapterKind::OpenAI, format!("{}/v1/", self.base)),
            Format::Anthropic => (AdapterKind::Anthropic, format!("{}/v1/", self.base)),
            Format::Ollama => (AdapterKind::Ollama, format!("{}/", self.base)),
        };
        ServiceTarget {
            endpoint: Endpoint::from_owned(endpoint),
            auth: AuthData::from_single("sk-bench"),
            model: ModelIden::new(kind, model),
        }
    }
}

fn options(model: &str) -> ChatOptions {
    ChatOptions::default().with_max_tokens(Spec::from_model(model).map_or(16, |s| s.tokens.max(1)))
}

fn request() -> ChatRequest {
    ChatRequest::new(vec![ChatMessage::user("Say something.")])
}

impl Client for Genai {
    fn new(base: &str) -> Result<Self, String> {
        Ok(Genai {
            base: base.to_string(),
            client: genai::Client::new().map_err(|e| e.to_string())?,
        })
    }

    fn supports(&self, _: Format) -> bool {
        true
    }

    async fn stream(&self, format: Format, model: String) -> Result<u64, String> {
        let options = options(&model);
        let response = self
            .client
            .exec_chat_stream(self.target(format, model), request(), Some(&options))
            .await
            .map_err(|e| e.to_string())?;
        let mut stream = response.stream;
        let mut tokens = 0;
        while let Some(event) = stream.next().await {
            if let ChatStreamEvent::Chunk(chunk) = event.map_err(|e| e.to_string())?
                && !chunk.content.is_empty()
            {
                tokens += 1;
            }
        }
        Ok(tokens)
    }

    async fn chat(&self, format: Format, model: String) -> Result<u64, String> {
        let options = options(&model);
        let answer = self
            .client
            .exec_chat(self.target(format, model), request(), Some(&options))
            .await
            .map_err(|e| e.to_string())?;
        Ok(answer.first_text().map_or(0, |t| t.len() as u64))
    }
}

fn main() {
    driver::main::<Genai>();
}
