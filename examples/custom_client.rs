//! Using a caller's own `reqwest::Client`: its user agent, proxy, TLS and connect settings apply, while
//! llmux still enforces the first-byte, idle and total limits.
//!
//! `cargo run -p llmux --example custom_client --features full`

mod support;

use std::time::Duration;

use llmux::openai::{OpenAi, OpenAiConfig};
use llmux::{ChatRequest, Provider, Timeouts};

#[tokio::main]
async fn main() -> Result<(), llmux::Error> {
    let client = reqwest::Client::builder()
        .user_agent("my-app/1.0 (llmux example)")
        .connect_timeout(Duration::from_secs(2))
        .pool_idle_timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| {
            llmux::Error::new(llmux::ErrorKind::Unknown, "cannot build the client").with_source(e)
        })?;
    let timeouts = Timeouts::default().first_byte(Duration::from_secs(20));

    // A configured OpenAI key wins; otherwise the local default's OpenAI-compatible endpoint is used (the
    // handle is kept until the end of main: dropping it stops the server).
    let mut local = None;
    let (config, model) = match std::env::var("OPENAI_API_KEY") {
        Ok(key) if !key.is_empty() => (OpenAiConfig::new(key), "gpt-4o-mini".to_owned()),
        _ => {
            let started = local.insert(support::local().await?);
            let url = format!("{}/v1", started.base_url);
            (
                OpenAiConfig::compatible("llamacpp", url),
                started.model.clone(),
            )
        }
    };
    let provider = OpenAi::new(config.http_client(client).timeouts(timeouts))?;
    let answer = provider
        .chat(
            &ChatRequest::new(model)
                .user("Name a colour.")
                .max_tokens(16),
        )
        .await?;
    println!("{}: {}", answer.provider, answer.text.trim());
    Ok(())
}
