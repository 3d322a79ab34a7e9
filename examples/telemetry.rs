//! The chain's spans, exported with OpenTelemetry to stdout: one span per call and one per attempt, named
//! to the GenAI semantic conventions (`gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.usage.*`,
//! `error.type`, …). It runs offline: the entries are scripted providers on a fake clock, so the first
//! entry's `rate_limited` failure, the fallback and the streamed answer happen without a network or a wait.
//!
//! `cargo run -p llmux --example telemetry --features chain,testing`

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use llmux::chain::{Chain, Entry, FakeClock, Policy, RetryPolicy};
use llmux::testing::{Failure, Reply, ScriptedProvider, StreamItem};
use llmux::{ChatRequest, ChatResponse, ErrorKind, FinishReason, Provider, Usage};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::{Layer, SubscriberExt};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Each span is printed as it ends (the simple processor exports at once; use a batch one in services).
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(opentelemetry_stdout::SpanExporter::default())
        .build();
    let otel = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("llmux-example"))
        .with_filter(LevelFilter::DEBUG); // attempts are DEBUG spans, calls INFO
    let subscriber = tracing_subscriber::registry().with(otel);
    tracing::subscriber::with_default(subscriber, run)?;
    provider.shutdown()?;
    Ok(())
}

fn run() -> Result<(), llmux::Error> {
    let clock = FakeClock::new();
    let mut answer = ChatResponse::new("", "small-model-2025", "The sky scatters blue light most.");
    answer.usage = Some(Usage::new(14, 7));
    answer.finish_reason = Some(FinishReason::Stop);
    let busy = ScriptedProvider::new("openai")
        .clock(Arc::new(clock.clone()))
        .reply(Reply::error(
            Failure::new(ErrorKind::RateLimited).retry_after(Duration::from_secs(90)),
        ))
        .reply(Reply::error(ErrorKind::Overloaded));
    let local = ScriptedProvider::new("llamacpp")
        .clock(Arc::new(clock.clone()))
        .reply(Reply::response(answer).after(Duration::from_millis(420)))
        .reply(Reply::stream([
            StreamItem::start(),
            StreamItem::text("Rayleigh").after(Duration::from_millis(180)),
            StreamItem::text(" scattering.").after(Duration::from_millis(40)),
            StreamItem::usage(Usage::new(14, 4)),
            StreamItem::finish(FinishReason::Stop),
        ]));
    let chain = Chain::builder()
        .entry(Entry::new(Arc::new(busy), "gpt-4o-mini"))
        .entry(Entry::new(Arc::new(local), "smollm2"))
        .policy(Policy::default().retry(RetryPolicy::none()))
        .clock(Arc::new(clock.clone()))
        .build()?;
    let request = ChatRequest::for_chain().user("Why is the sky blue?");

    // A whole answer: the first entry's retry-after (90 s) is beyond the cap, so the chain falls through.
    let answer = run_on(&clock, chain.chat(&request))?;
    eprintln!(
        "chat: {:?} from {} after {} attempts",
        answer.text,
        answer.provider,
        answer.attempts.len()
    );

    // A stream: the first entry is overloaded (no retries in this policy), the second streams. Its spans end with the stream, carrying its usage, finish reason and time to first token.
    let text = run_on(&clock, async {
        let mut stream = chain.stream(&request).await?;
        let mut text = String::new();
        while let Some(event) = stream.next().await {
            if let llmux::StreamEvent::TextDelta(t) = event? {
                text.push_str(&t);
            }
        }
        Ok::<_, llmux::Error>(text)
    })?;
    eprintln!("stream: {text:?}");
    Ok(())
}

/// Runs `future` on the fake clock, which skips straight to each pending sleep.
fn run_on<T>(clock: &FakeClock, future: impl Future<Output = T>) -> T {
    clock
        .block_on(future)
        .expect("scripted providers always answer")
}
