//! llmux as a bench client: the scenarios through llmux's own providers (llm-openai, llm-claude,
//! llm-ollama) and, for `fallback`, through an llm-chain `Chain`. `client-llmux` prices every answer
//! (OpenAI-format answers at a flat price, as a priced model would be); `client-llmux-unpriced` is the same
//! client with prices off, so one run measures what pricing costs.

use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use llm_chain::{BreakerPolicy, Chain, Entry, Policy, RetryPolicy};
use llm_claude::{Claude, ClaudeConfig};
use llm_core::{ChatRequest, Price, Pricing, Provider, StreamEvent};
use llm_ollama::{Ollama, OllamaConfig};
use llm_openai::{OpenAi, OpenAiConfig};
use crate::driver::{Args, Client, Fields};
use crate::measure;
use crate::wire::{Format, Spec};

/// The client; `PRICED`: whether OpenAI-format answers are priced.
#[derive(Debug)]
pub struct Llmux<const PRICED: bool> {
    base: String,
    openai: OpenAi,
    claude: Claude,
    ollama: Ollama,
}

/// The flat price OpenAI-format answers are charged at when priced: gpt-4o-mini's, per million tokens.
fn pricing(priced: bool) -> Pricing {
    match Price::per_million(0.15, 0.60) {
        Some(price) if priced => Pricing::Flat(price),
        _ => Pricing::Unknown,
    }
}

fn openai_at(base: &str, priced: bool) -> Result<OpenAi, String> {
    OpenAi::new(
        OpenAiConfig::compatible("bench", format!("{base}/v1"))
            .api_key("sk-bench")
            .pricing(pricing(priced)),
    )
    .map_err(|e| e.to_string())
}

fn request(model: String) -> ChatRequest {
    let tokens = Spec::from_model(&model).map_or(16, |s| i64::from(s.tokens));
    ChatRequest::new(model)
        .user("Say something.")
        .max_tokens(tokens.max(1))
}

impl<const PRICED: bool> Llmux<PRICED> {
    fn provider(&self, format: Format) -> &dyn Provider {
        match format {
            Format::OpenAi => &self.openai,
            Format::Anthropic => &self.claude,
            Format::Ollama => &self.ollama,
        }
    }
}

impl<const PRICED: bool> Client for Llmux<PRICED> {
    fn new(base: &str) -> Result<Self, String> {
        Ok(Llmux {
            base: base.to_string(),
            openai: openai_at(base, PRICED)?,
            claude: Claude::new(ClaudeConfig::new("sk-ant-bench").base_url(base))
                .map_err(|e| e.to_string())?,
            ollama: Ollama::new(OllamaConfig::default().base_url(base))
                .map_err(|e| e.to_string())?,
        })
    }

    fn supports(&self, _: Format) -> bool {
        true
    }

    async fn stream(&self, format: Format, model: String) -> Result<u64, String> {
        let mut stream = self
            .provider(format)
            .stream(&request(model))
            .await
            .map_err(|e| e.to_string())?;
        let mut tokens = 0;
        while let Some(event) = stream.next().await {
            if let StreamEvent::TextDelta(text) = event.map_err(|e| e.to_string())? {
                tokens += 1;
                std::hint::black_box(text);
            }
        }
        Ok(tokens)
    }

    async fn chat(&self, format: Format, model: String) -> Result<u64, String> {
        let answer = self
            .provider(format)
            .chat(&request(model))
            .await
            .map_err(|e| e.to_string())?;
        Ok(answer.text.len() as u64)
    }

    async fn fallback(&self, args: &Args) -> Result<Option<Fields>, String> {
        Ok(Some(fallback(self, args).await?))
    }
}

/// A chain whose first entry refuses connections, against the second entry alone; then the same chain with
/// the first entry's breaker open; and the first call of that chain under the default policy (a refused
/// connection falls through at once; before that rule it was retried twice with backoff).
async fn fallback<const PRICED: bool>(llmux: &Llmux<PRICED>, args: &Args) -> Result<Fields, String> {
    let refusing = {
        // A port that was just free: nothing listens there, so connecting is refused at once.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        format!("http://127.0.0.1:{port}")
    };
    let model = args.model();
    let chain = |policy: Policy| -> Result<Chain, String> {
        Chain::builder()
            .entry(Entry::new(Arc::new(openai_at(&refusing, PRICED)?), model.clone()))
            .entry(Entry::new(Arc::new(openai_at(&llmux.base, PRICED)?), model.clone()))
            .policy(policy)
            .build()
            .map_err(|e| e.to_string())
    };
    // The default retry policy: a refused connection moves on to the next entry at once.
    let refused = chain(Policy::default().breaker(BreakerPolicy::disabled()))?;
    let open = chain(
        Policy::default()
            .retry(RetryPolicy::none())
            .breaker(BreakerPolicy::default().consecutive_failures(1)),
    )?;
    let direct = &llmux.openai;
    let req = request(model.clone());
    // Warm every pool (and open the breaker of `open`'s first entry).
    for _ in 0..20 {
        direct.chat(&req).await.map_err(|e| e.to_string())?;
        refused.chat(&req).await.map_err(|e| e.to_string())?;
        open.chat(&req).await.map_err(|e| e.to_string())?;
    }
    let (mut t_direct, mut t_refused, mut t_open) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.requests {
        for (provider, times) in [
            (direct as &dyn Provider, &mut t_direct),
            (&refused, &mut t_refused),
            (&open, &mut t_open),
        ] {
            let t = Instant::now();
            provider.chat(&req).await.map_err(|e| e.to_string())?;
            times.push(t.elapsed().as_secs_f64() * 1e6);
        }
    }
    let default_first = {
        let chain = chain(Policy::default())?;
        let t = Instant::now();
        chain.chat(&req).await.map_err(|e| e.to_string())?;
        t.elapsed().as_secs_f64() * 1e3
    };
    let direct_p50 = measure::quantile(&mut t_direct, 0.5);
    let refused_p50 = measure::quantile(&mut t_refused, 0.5);
    let open_p50 = measure::quantile(&mut t_open, 0.5);
    Ok(vec![
        ("requests", args.requests.to_string()),
        ("direct_p50_us", format!("{direct_p50:.1}")),
        ("refused_p50_us", format!("{refused_p50:.1}")),
        (
            "refused_added_us",
            format!("{:.1}", refused_p50 - direct_p50),
        ),
        ("open_p50_us", format!("{open_p50:.1}")),
        ("open_added_us", format!("{:.1}", open_p50 - direct_p50)),
        (
            "default_policy_first_call_ms",
            format!("{default_first:.1}"),
        ),
    ])
}
