//! Validation errors: every parameter a provider does not accept is reported at once, before anything is
//! sent, with the allowed range and the given value.
//!
//! `cargo run -p llmux --example validation --features full`

mod support;

use llmux::{ChatRequest, ErrorKind, Params, Provider};

#[tokio::main]
async fn main() -> Result<(), llmux::Error> {
    let picked = support::pick().await?;
    // Parameters as a command line or a config file would give them: names and JSON values.
    let mut params = Params::default();
    let mut problems = Vec::new();
    for (name, value) in [
        ("temperature", serde_json::json!(7.5)),
        ("top_p", serde_json::json!(-1)),
        ("max_tokens", serde_json::json!("lots")),
        ("colour", serde_json::json!("blue")),
    ] {
        if let Err(violation) = params.set(name, &value) {
            problems.push(violation);
        }
    }
    let request = ChatRequest::new(picked.model.clone())
        .user("hello")
        .params(params);
    if let Err(e) = picked.provider.validate(&request) {
        assert_eq!(e.kind(), ErrorKind::Validation);
        problems.extend(e.violations().iter().cloned());
    }
    println!(
        "{} rejects this request before sending it:",
        picked.provider.name()
    );
    for v in &problems {
        println!("  {v}");
    }
    Ok(())
}
