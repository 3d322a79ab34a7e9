//! Tracing: one span per chain call and one per attempt, with provider, model, retry, outcome and latency.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use llm_chain::FakeClock;
use llm_core::ErrorKind;
use support::*;
use tracing_subscriber::fmt::format::FmtSpan;

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
        "provider=\"a\"",
        "model=\"m0\"",
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
    assert!(attempts[1].contains("provider=\"b\"") && attempts[1].contains("outcome=\"ok\""));
    let request = closes
        .iter()
        .find(|l| l.contains("llm_chain.request{") && !l.contains("llm_chain.attempt{"))
        .expect(&out);
    for needle in ["mode=\"chat\"", "entries=2", "outcome=\"ok\"", "attempts=2"] {
        assert!(request.contains(needle), "{needle} missing in {request}");
    }
}
