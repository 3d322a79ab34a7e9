//! A fallback chain: the first entry points at a port where nothing listens, so the chain records a
//! `network` attempt and moves on to the working provider (a configured one, or the local default).
//!
//! `cargo run -p llmux --example fallback --features full`

mod support;

use std::sync::Arc;

use llmux::chain::{Chain, Entry, Policy, RetryPolicy};
use llmux::openai::{OpenAi, OpenAiConfig};
use llmux::{ChatRequest, Provider};

#[tokio::main]
async fn main() -> Result<(), llmux::Error> {
    let picked = support::pick().await?;
    // Nothing listens on port 9 (discard) of the loopback interface: the connection is refused at once.
    let unreachable = OpenAi::new(OpenAiConfig::compatible(
        "unreachable",
        "http://127.0.0.1:9/v1",
    ))?;
    let chain = Chain::builder()
        .entry(Entry::new(Arc::new(unreachable), "any-model"))
        .entry(Entry::new(picked.provider.clone(), picked.model.clone()))
        .policy(Policy::default().retry(RetryPolicy::none()))
        .on_attempt(Arc::new(|attempt| eprintln!("attempt: {attempt}")))
        .build()?;
    let request = ChatRequest::for_chain()
        .user(support::prompt("Say hello in five words."))
        .max_tokens(32);
    let answer = chain.chat(&request).await?;
    println!("{}", answer.text.trim());
    println!(
        "-- answered by {} ({}) after {} attempts:",
        answer.provider,
        answer.model,
        answer.attempts.len()
    );
    for attempt in &answer.attempts {
        println!("   {attempt}");
    }
    Ok(())
}
