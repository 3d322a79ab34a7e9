//! Tracing: one span per chain call and one per attempt, with provider, model, retry, outcome and latency,
//! named as the OpenTelemetry GenAI semantic conventions name them.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::support::*;
use futures::StreamExt;
use llm_chain::FakeClock;
use llm_core::{ChatResponse, ErrorKind, FinishReason, Provider, Usage};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Subscriber, level_filters::LevelFilter};
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn spans_describe_the_call_and_each_attempt() {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        let clock = FakeClock::new();
        let a = scripted("a", &clock, vec![fail_after(ms(250), ErrorKind::Server)]);
        let b = scripted("b", &clock, vec![ok("hi")]);
        let chain = chain_with(
            &clock,
            &[&a, &b],
            exact().retry(llm_chain::RetryPolicy::none()),
        );
        chat(&clock, &chain).0.unwrap();
    });
    let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let closes: Vec<&str> = out.lines().filter(|l| l.contains("close")).collect();
    let attempts: Vec<&&str> = closes
        .iter()
        .filter(|l| l.contains("llm_chain.attempt{"))
        .collect();
    assert_eq!(attempts.len(), 2, "{out}");
    for needle in [
        "entry=0",
        "gen_ai.provider.name=\"a\"",
        "gen_ai.request.model=\"m0\"",
        "retry=0",
        "outcome=\"server\"",
        "latency_ms=250",
    ] {
        assert!(
            attempts[0].contains(needle),
            "{needle} missing in {}",
            attempts[0]
        );
    }
    assert!(
        attempts[1].contains("gen_ai.provider.name=\"b\"")
            && attempts[1].contains("outcome=\"ok\"")
    );
    let request = closes
        .iter()
        .find(|l| l.contains("llm_chain.request{") && !l.contains("llm_chain.attempt{"))
        .expect(&out);
    for needle in ["mode=\"chat\"", "entries=2", "outcome=\"ok\"", "attempts=2"] {
        assert!(request.contains(needle), "{needle} missing in {request}");
    }
}

/// A closed span: its name and every field recorded on it, as text.
#[derive(Debug, Clone)]
struct Closed {
    name: &'static str,
    fields: HashMap<String, String>,
}

impl Closed {
    fn get(&self, field: &str) -> Option<&str> {
        self.fields.get(field).map(String::as_str)
    }

    fn ms(&self, field: &str) -> f64 {
        self.get(field)
            .unwrap_or_else(|| panic!("{field} missing in {self:?}"))
            .parse()
            .unwrap()
    }
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
}

/// Keeps the fields of every span in the extensions and hands each span to `closed` when it closes.
#[derive(Clone, Default)]
struct Capture {
    closed: Arc<Mutex<Vec<Closed>>>,
}

impl<S> Layer<S> for Capture
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let mut fields = HashMap::new();
        attrs.record(&mut Fields(&mut fields));
        span.extensions_mut().insert(Closed {
            name: attrs.metadata().name(),
            fields,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let span = ctx.span(id).unwrap();
        let mut ext = span.extensions_mut();
        let closed = ext.get_mut::<Closed>().unwrap();
        values.record(&mut Fields(&mut closed.fields));
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let span = ctx.span(&id).unwrap();
        let closed = span.extensions_mut().remove::<Closed>().unwrap();
        self.closed.lock().unwrap().push(closed);
    }
}

impl Capture {
    /// Runs `f` with this layer listening at DEBUG.
    fn during<T>(&self, f: impl FnOnce() -> T) -> T {
        let subscriber =
            tracing_subscriber::registry().with(self.clone().with_filter(LevelFilter::DEBUG));
        tracing::subscriber::with_default(subscriber, f)
    }

    fn closed(&self, name: &str) -> Vec<Closed> {
        self.closed
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.name == name)
            .cloned()
            .collect()
    }
}

fn answer(model: &str, usage: Usage, finish: FinishReason) -> Reply {
    let mut response = ChatResponse::new("", model, "hi");
    response.usage = Some(usage);
    response.finish_reason = Some(finish);
    Reply::response(response)
}

#[test]
fn chat_spans_follow_the_genai_conventions() {
    let capture = Capture::default();
    capture.during(|| {
        let clock = FakeClock::new();
        let a = scripted("a", &clock, vec![fail(ErrorKind::RateLimited)]);
        let b = scripted(
            "b",
            &clock,
            vec![answer("served-b", Usage::new(12, 3), FinishReason::Length)],
        );
        let chain = chain_with(
            &clock,
            &[&a, &b],
            exact().retry(llm_chain::RetryPolicy::none()),
        );
        chat(&clock, &chain).0.unwrap();
    });
    let attempts = capture.closed("llm_chain.attempt");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    let (first, second) = (&attempts[0], &attempts[1]);
    for (field, value) in [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "a"),
        ("gen_ai.request.model", "m0"),
        ("error.type", "rate_limited"),
        ("llmux.attempt", "1"),
        ("otel.name", "chat m0"),
    ] {
        assert_eq!(first.get(field), Some(value), "{field} in {first:?}");
    }
    assert_eq!(first.get("gen_ai.response.model"), None);
    assert_eq!(first.get("otel.kind"), Some("client"));
    assert_eq!(first.get("otel.status_code"), Some("ERROR"));
    for (field, value) in [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "b"),
        ("gen_ai.request.model", "m1"),
        ("gen_ai.response.model", "served-b"),
        ("gen_ai.usage.input_tokens", "12"),
        ("gen_ai.usage.output_tokens", "3"),
        ("gen_ai.response.finish_reasons", "length"),
        ("llmux.attempt", "2"),
        ("outcome", "ok"),
    ] {
        assert_eq!(second.get(field), Some(value), "{field} in {second:?}");
    }
    assert_eq!(second.get("error.type"), None, "{second:?}");
    let calls = capture.closed("llm_chain.request");
    assert_eq!(calls.len(), 1, "{calls:?}");
    let call = &calls[0];
    for (field, value) in [
        ("gen_ai.operation.name", "chat"),
        ("gen_ai.provider.name", "b"),
        ("gen_ai.request.model", "m1"),
        ("gen_ai.response.model", "served-b"),
        ("gen_ai.usage.input_tokens", "12"),
        ("gen_ai.usage.output_tokens", "3"),
        ("gen_ai.response.finish_reasons", "length"),
        ("otel.name", "chat"),
        ("attempts", "2"),
    ] {
        assert_eq!(call.get(field), Some(value), "{field} in {call:?}");
    }
    assert_eq!(call.get("error.type"), None, "{call:?}");
}

#[test]
fn stream_spans_stay_open_until_the_end_and_carry_ttft_usage_and_finish() {
    let capture = Capture::default();
    capture.during(|| {
        let clock = FakeClock::new();
        let a = scripted(
            "a",
            &clock,
            vec![
                fail(ErrorKind::Overloaded),
                Reply::stream([
                    StreamItem::start(),
                    StreamItem::text("Hel").after(ms(300)),
                    StreamItem::text("lo").after(ms(100)),
                    StreamItem::usage(Usage::new(7, 2)),
                    StreamItem::finish(FinishReason::Stop),
                ]),
            ],
        );
        let chain = chain_with(&clock, &[&a], exact());
        let s = run(&clock, chain.stream(&request())).unwrap();
        assert_eq!(
            capture.closed("llm_chain.attempt").len(),
            1,
            "the answering attempt's span is open while the stream is read"
        );
        assert!(capture.closed("llm_chain.request").is_empty());
        let events = run(&clock, s.collect::<Vec<_>>());
        assert_eq!(text_of(&events), "Hello");
    });
    let attempts = capture.closed("llm_chain.attempt");
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0].get("error.type"), Some("overloaded"));
    assert_eq!(attempts[0].get("llmux.attempt"), Some("1"));
    let answering = &attempts[1];
    for (field, value) in [
        ("gen_ai.provider.name", "a"),
        ("gen_ai.request.model", "m0"),
        ("gen_ai.response.model", "m0"),
        ("gen_ai.usage.input_tokens", "7"),
        ("gen_ai.usage.output_tokens", "2"),
        ("gen_ai.response.finish_reasons", "stop"),
        ("llmux.attempt", "2"),
        ("retry", "1"),
    ] {
        assert_eq!(
            answering.get(field),
            Some(value),
            "{field} in {answering:?}"
        );
    }
    assert_eq!(answering.ms("llmux.ttft_ms"), 300.0);
    let call = &capture.closed("llm_chain.request")[0];
    assert_eq!(call.get("mode"), Some("stream"));
    assert_eq!(call.get("gen_ai.operation.name"), Some("chat"));
    assert_eq!(call.get("gen_ai.usage.output_tokens"), Some("2"));
    assert_eq!(call.get("gen_ai.response.finish_reasons"), Some("stop"));
    assert_eq!(
        call.ms("llmux.ttft_ms"),
        800.0,
        "the 500 ms backoff, then 300 ms to the first text"
    );
    assert_eq!(call.get("error.type"), None);
}

#[test]
fn failures_set_error_type_on_the_call_and_the_attempt() {
    let capture = Capture::default();
    capture.during(|| {
        let clock = FakeClock::new();
        let a = scripted("a", &clock, vec![fail(ErrorKind::Auth)]);
        let chain = chain_with(&clock, &[&a], exact());
        let err = chat(&clock, &chain).0.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Auth);

        let b = scripted(
            "b",
            &clock,
            vec![stream_of(
                secs(0),
                vec![
                    (secs(0), start("b")),
                    (secs(1), text("partial")),
                    (secs(1), item_fail(ErrorKind::Network)),
                ],
            )],
        );
        let chain = chain_with(&clock, &[&b], exact());
        let events = stream(&clock, &chain).0.unwrap();
        assert!(events.last().unwrap().is_err());
    });
    let calls = capture.closed("llm_chain.request");
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[0].get("error.type"), Some("auth"));
    assert_eq!(calls[0].get("outcome"), Some("auth"));
    assert_eq!(calls[0].get("gen_ai.provider.name"), None);
    assert_eq!(calls[0].get("otel.status_code"), Some("ERROR"));
    assert_eq!(
        calls[1].get("error.type"),
        Some("network"),
        "{:?}",
        calls[1]
    );
    let attempts = capture.closed("llm_chain.attempt");
    assert_eq!(attempts[0].get("error.type"), Some("auth"));
    assert_eq!(attempts[1].get("error.type"), Some("network"));
    assert_eq!(attempts[1].get("gen_ai.response.model"), Some("m0"));
    assert_eq!(attempts[1].ms("llmux.ttft_ms"), 1000.0);
}
