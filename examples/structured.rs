//! Structured output: ask for a Rust type, get a Rust value. The schema is derived by `schemars`, sent in
//! each provider's native form (OpenAI `response_format`, Claude `output_config.format`, Ollama `format`,
//! llama.cpp's grammar-constrained decoding), and the answer is parsed into the type: an answer that does
//! not fit is an `invalid_response` error carrying the model's text.
//!
//! Uses OpenAI when `OPENAI_API_KEY` is set, a running llama-server when `LLAMA_SERVER_URL` is set, else the
//! local default (a managed llama-server with SmolLM2, installed by `cargo xtask demo`).
//!
//! `cargo run -p llmux --example structured --features full -- "A city worth visiting"`

mod support;

use llmux::{ChatRequest, ErrorKind};

/// What we want back. Bounds keep a small model's answer short.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct City {
    /// The city's name.
    #[schemars(length(max = 32))]
    name: String,
    /// The country it is in.
    #[schemars(length(max = 32))]
    country: String,
    /// Up to three things to see.
    #[schemars(length(max = 3), inner(length(max = 40)))]
    sights: Vec<String>,
}

#[tokio::main]
async fn main() -> Result<(), llmux::Error> {
    let prompt = support::prompt("A city worth visiting");
    let picked = support::pick().await?;
    let request = ChatRequest::new(picked.model.clone())
        .system("Answer with JSON only.")
        .user(prompt)
        .max_tokens(200);
    match llmux::chat_json::<City, _>(picked.provider.as_ref(), request).await {
        Ok(city) => {
            println!("{} ({})", city.name, city.country);
            for sight in &city.sights {
                println!("  - {sight}");
            }
            Ok(())
        }
        Err(e) if e.kind() == ErrorKind::InvalidResponse => {
            eprintln!("the answer did not fit the type: {e}");
            eprintln!(
                "it said: {}",
                e.detail().and_then(|d| d.message.as_deref()).unwrap_or("")
            );
            Err(e)
        }
        Err(e) => Err(e),
    }
}
