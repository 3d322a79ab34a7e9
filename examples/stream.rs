//! Streaming from one provider: print each piece of text as it arrives, then the usage and finish reason.
//!
//! Uses OpenAI when `OPENAI_API_KEY` is set, a running llama-server when `LLAMA_SERVER_URL` is set, else the
//! local default (a managed llama-server with SmolLM2, installed by `cargo xtask demo`).
//!
//! `cargo run -p llmux --example stream --features full -- "Why is the sky blue?"`

mod support;

use std::io::Write;

use futures_util::StreamExt;
use llmux::{ChatRequest, Provider, StreamEvent};

#[tokio::main]
async fn main() -> Result<(), llmux::Error> {
    let prompt = support::prompt("Why is the sky blue?");
    let picked = support::pick().await?;
    let request = ChatRequest::new(picked.model.clone())
        .user(prompt)
        .max_tokens(128);
    let mut stream = picked.provider.stream(&request).await?;
    let mut out = std::io::stdout().lock();
    while let Some(event) = stream.next().await {
        match event? {
            StreamEvent::Start(start) => {
                eprintln!("[{} {} answering]", start.provider, start.model)
            }
            StreamEvent::TextDelta(text) => {
                // A closed stdout ends the example like any other program.
                let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
            }
            StreamEvent::Usage(usage) => {
                eprintln!("\n[usage: {:?} tokens in total]", usage.total())
            }
            StreamEvent::Finish(reason) => eprintln!("[finished: {reason}]"),
            _ => {}
        }
    }
    Ok(())
}
