//! Handling errors by kind: decide from `ErrorKind` and the predicates (`is_retryable`, `retry_after`,
//! `status`, `request_id`), never from message text.
//!
//! Sends one request that cannot work (a server that is not there) and one that can (a configured provider
//! or the local default), and says what a program would do with each outcome.
//!
//! `cargo run -p llmux --example errors --features full`

mod support;

use llmux::openai::{OpenAi, OpenAiConfig};
use llmux::{ChatRequest, Error, ErrorKind, Provider};

fn advice(error: &Error) -> String {
    let what = match error.kind() {
        ErrorKind::Auth | ErrorKind::Permission => {
            "check the key (or the account's access)".to_owned()
        }
        ErrorKind::RateLimited => match error.retry_after() {
            Some(wait) => format!("wait {wait:?} as the provider asked, then retry"),
            None => "back off and retry".to_owned(),
        },
        ErrorKind::QuotaExhausted => "retrying will not help until billing changes".to_owned(),
        ErrorKind::Validation => {
            format!("fix the request: {} violations", error.violations().len())
        }
        ErrorKind::ContextLength => {
            "shorten the prompt or use a model with a larger window".to_owned()
        }
        kind if error.is_retryable() => {
            format!("{kind} is transient: retry, or fall back to another provider")
        }
        kind => format!("{kind}: report it (request id {:?})", error.request_id()),
    };
    format!("{error}\n  -> {what}")
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let nowhere = OpenAi::new(OpenAiConfig::compatible("nowhere", "http://127.0.0.1:9/v1"))?;
    let request = ChatRequest::new("any-model").user("hello");
    match nowhere.chat(&request).await {
        Ok(answer) => println!("unexpected answer: {}", answer.text),
        Err(e) => println!("{}", advice(&e)),
    }

    let picked = support::pick().await?;
    let request = ChatRequest::new(picked.model.clone())
        .user("Say hi.")
        .max_tokens(16);
    match picked.provider.chat(&request).await {
        Ok(answer) => println!("{} answered: {}", answer.provider, answer.text.trim()),
        Err(e) => println!("{}", advice(&e)),
    }
    Ok(())
}
