//! Requests as a hand-written reqwest client builds them: one pooled `reqwest::Client`, the JSON body by
//! `serde_json`, the provider's auth header. Shared by `client-hand` and `client-floor`.

use serde_json::json;

use crate::wire::{Format, Spec};

/// A pooled reqwest client configured like llm-http's (no timeouts beyond connect, Nagle off).
pub fn client() -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .tcp_nodelay(true)
        .build()
        .map_err(|e| e.to_string())
}

/// The POST for one answer in `format` from the server at `base`.
pub fn request(
    client: &reqwest::Client,
    base: &str,
    format: Format,
    model: &str,
    stream: bool,
) -> reqwest::RequestBuilder {
    let messages = json!([{"role": "user", "content": "Say something."}]);
    let max_tokens = Spec::from_model(model).map_or(16, |s| s.tokens.max(1));
    match format {
        Format::OpenAi => {
            let mut body = json!({"model": model, "messages": messages, "max_tokens": max_tokens});
            if stream {
                body["stream"] = json!(true);
                body["stream_options"] = json!({"include_usage": true});
            }
            client
                .post(format!("{base}/v1/chat/completions"))
                .bearer_auth("sk-bench")
                .json(&body)
        }
        Format::Anthropic => client
            .post(format!("{base}/v1/messages"))
            .header("x-api-key", "sk-ant-bench")
            .header("anthropic-version", "2023-06-01")
            .json(&json!({"model": model, "messages": messages, "max_tokens": max_tokens, "stream": stream})),
        Format::Ollama => client
            .post(format!("{base}/api/chat"))
            .json(&json!({"model": model, "messages": messages, "stream": stream})),
    }
}

/// Sends `request` and fails on a non-success status.
pub async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("status {}", response.status()));
    }
    Ok(response)
}
