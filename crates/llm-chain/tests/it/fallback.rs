//! Which failures move on to the next entry, which stop the chain, per-entry models and parameters,
//! per-entry validation, attempt reporting and cancellation.

use std::sync::{Arc, Mutex};

use crate::support::*;
use futures::FutureExt;
use llm_chain::{Chain, Entry, FallThrough, RetryPolicy};
use llm_core::{ErrorKind, Params, Provider};

fn no_retry() -> llm_chain::Policy {
    exact().retry(RetryPolicy::none())
}

#[test]
fn each_entry_sends_its_own_model_and_parameter_overrides() {
    let clock = llm_chain::FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Server)]);
    let b = scripted("b", &clock, vec![ok("hi")]);
    let mut overrides = Params::default();
    overrides.temperature = Some(0.1);
    let chain = Chain::builder()
        .clock(Arc::new(clock.clone()))
        .policy(no_retry())
        .entry(Entry::new(a.clone(), "big"))
        .entry(Entry::new(b.clone(), "small").params(overrides))
        .build()
        .unwrap();
    let req = request().temperature(0.9).max_tokens(50);
    let answer = run(&clock, chain.chat(&req)).unwrap();
    assert_eq!(answer.model, "small");
    let sent_a = &a.requests()[0];
    assert_eq!(sent_a.model, "big");
    assert_eq!(sent_a.params.temperature, Some(0.9));
    let sent_b = &b.requests()[0];
    assert_eq!(sent_b.model, "small");
    assert_eq!(
        sent_b.params.temperature,
        Some(0.1),
        "the entry's override wins"
    );
    assert_eq!(
        sent_b.params.max_tokens,
        Some(50),
        "the request's other params stay"
    );
    assert_eq!(sent_b.messages, req.messages);
}

#[test]
fn first_success_wins_and_later_entries_are_not_called() {
    let clock = llm_chain::FakeClock::new();
    let a = scripted("a", &clock, vec![ok("from a")]);
    let b = scripted("b", &clock, vec![ok("from b")]);
    let chain = chain_with(&clock, &[&a, &b], no_retry());
    let (answer, _) = chat(&clock, &chain);
    let answer = answer.unwrap();
    assert_eq!(answer.text, "from a");
    assert_eq!(outline(&answer.attempts), [(0, "ok")]);
    assert_eq!(b.calls(), 0);
}

#[test]
fn default_fall_through_kinds_move_on() {
    for kind in [
        ErrorKind::Auth,
        ErrorKind::Permission,
        ErrorKind::NotFound,
        ErrorKind::QuotaExhausted,
        ErrorKind::RateLimited,
        ErrorKind::Overloaded,
        ErrorKind::Server,
        ErrorKind::Timeout,
        ErrorKind::Network,
        ErrorKind::InvalidResponse,
        ErrorKind::Unknown,
    ] {
        let clock = llm_chain::FakeClock::new();
        let a = scripted("a", &clock, vec![fail(kind)]);
        let b = scripted("b", &clock, vec![ok("hi")]);
        let chain = chain_with(&clock, &[&a, &b], no_retry());
        let answer = chat(&clock, &chain).0.unwrap();
        assert_eq!(answer.provider, "b", "{kind}");
        assert_eq!(outline(&answer.attempts), [(0, kind.as_str()), (1, "ok")]);
    }
}

#[test]
fn bad_request_stops_the_chain_by_default() {
    for kind in [ErrorKind::BadRequest, ErrorKind::PayloadTooLarge] {
        let clock = llm_chain::FakeClock::new();
        let a = scripted("a", &clock, vec![fail(kind)]);
        let b = scripted("b", &clock, vec![ok("hi")]);
        let chain = chain_with(&clock, &[&a, &b], no_retry());
        let err = chat(&clock, &chain).0.unwrap_err();
        assert_eq!(err.kind(), kind);
        assert_eq!(err.provider(), Some("a"));
        assert_eq!(outline(err.attempts()), [(0, kind.as_str())]);
        assert_eq!(b.calls(), 0);
    }
}

#[test]
fn bad_request_falls_through_when_configured() {
    let clock = llm_chain::FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::BadRequest)]);
    let b = scripted("b", &clock, vec![ok("hi")]);
    let policy = no_retry().fall_through(FallThrough::default().with(ErrorKind::BadRequest));
    let chain = chain_with(&clock, &[&a, &b], policy);
    assert_eq!(chat(&clock, &chain).0.unwrap().provider, "b");
}

#[test]
fn context_length_falls_through_only_when_configured() {
    let clock = llm_chain::FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::ContextLength)]);
    let b = scripted("b", &clock, vec![ok("hi")]);
    let chain = chain_with(&clock, &[&a, &b], no_retry());
    assert_eq!(
        chat(&clock, &chain).0.unwrap_err().kind(),
        ErrorKind::ContextLength
    );
    assert_eq!(b.calls(), 0);

    let a = scripted("a", &clock, vec![fail(ErrorKind::ContextLength)]);
    let policy = no_retry().fall_through(FallThrough::default().with(ErrorKind::ContextLength));
    let chain = chain_with(&clock, &[&a, &b], policy);
    assert_eq!(chat(&clock, &chain).0.unwrap().provider, "b");
}

#[test]
fn removing_a_kind_from_the_set_makes_it_stop() {
    let clock = llm_chain::FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Auth)]);
    let b = scripted("b", &clock, vec![ok("hi")]);
    let policy = no_retry().fall_through(FallThrough::default().without(ErrorKind::Auth));
    let chain = chain_with(&clock, &[&a, &b], policy);
    assert_eq!(chat(&clock, &chain).0.unwrap_err().kind(), ErrorKind::Auth);
    assert_eq!(b.calls(), 0);
}

#[test]
fn cancelled_stops_everything_and_is_never_retried() {
    let clock = llm_chain::FakeClock::new();
    let cancelled = Fail::new(ErrorKind::Cancelled).should_retry(true);
    let a = scripted("a", &clock, vec![fail_with(cancelled), ok("no")]);
    let b = scripted("b", &clock, vec![ok("no")]);
    let policy = exact()
        .retry(RetryPolicy::default().max_attempts(5))
        .fall_through(FallThrough::default().with(ErrorKind::Cancelled));
    let chain = chain_with(&clock, &[&a, &b], policy);
    let (result, elapsed) = chat(&clock, &chain);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Cancelled);
    assert_eq!(outline(err.attempts()), [(0, "cancelled")]);
    assert_eq!((a.calls(), b.calls()), (1, 0));
    assert_eq!(elapsed, secs(0));
}

#[test]
fn an_entry_whose_table_rejects_the_request_is_skipped_as_a_validation_attempt() {
    let clock = llm_chain::FakeClock::new();
    let strict = scripted_with_table("claude", &clock, llm_claude::PARAMS, vec![ok("no")]);
    let lax = scripted("lax", &clock, vec![ok("yes")]);
    let chain = chain_with(&clock, &[&strict, &lax], no_retry());
    let answer = run(&clock, chain.chat(&request().temperature(1.5))).unwrap();
    assert_eq!(answer.text, "yes");
    assert_eq!(outline(&answer.attempts), [(0, "validation"), (1, "ok")]);
    assert_eq!(strict.calls(), 0, "nothing was sent to the rejecting entry");
}

#[test]
fn validation_fails_the_chain_only_when_every_entry_rejects_and_lists_each_entry() {
    let clock = llm_chain::FakeClock::new();
    let a = scripted_with_table("claude", &clock, llm_claude::PARAMS, vec![]);
    let b = scripted_with_table("ollama", &clock, llm_ollama::PARAMS, vec![]);
    let chain = chain_with(&clock, &[&a, &b], no_retry());
    let req = request().temperature(1.5).frequency_penalty(1.0);
    let err = run(&clock, chain.chat(&req)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(
        outline(err.attempts()),
        [(0, "validation"), (1, "validation")]
    );
    let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert!(params.contains(&"claude[0].temperature"), "{params:?}");
    assert!(
        params.contains(&"claude[0].frequency_penalty"),
        "{params:?}"
    );
    assert!(
        params.contains(&"ollama[1].frequency_penalty"),
        "{params:?}"
    );
    assert!(
        params
            .iter()
            .all(|p| p.starts_with("claude[0].") || p.starts_with("ollama[1]."))
    );
    // Provider::validate on the chain says the same without sending anything.
    let direct = chain.validate(&chain.entries().next().unwrap().request_for(&req));
    assert_eq!(direct.unwrap_err().violations(), err.violations());
    assert_eq!(a.calls() + b.calls(), 0);
}

#[test]
fn a_real_failure_after_a_rejection_keeps_its_own_kind() {
    let clock = llm_chain::FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Server)]);
    let b = scripted_with_table("claude", &clock, llm_claude::PARAMS, vec![]);
    let chain = chain_with(&clock, &[&a, &b], no_retry());
    let err = run(&clock, chain.chat(&request().temperature(1.5))).unwrap_err();
    assert_eq!(
        err.kind(),
        ErrorKind::Server,
        "not every entry rejected the request"
    );
    assert_eq!(outline(err.attempts()), [(0, "server"), (1, "validation")]);
}

#[test]
fn exhausted_chain_reports_the_last_kind_and_every_attempt_in_order() {
    let clock = llm_chain::FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![fail(ErrorKind::Server), fail(ErrorKind::Overloaded)],
    );
    let b = scripted("b", &clock, vec![fail(ErrorKind::Auth)]);
    let chain = chain_with(
        &clock,
        &[&a, &b],
        exact().retry(RetryPolicy::default().max_attempts(2)),
    );
    let err = chat(&clock, &chain).0.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.provider(), Some("b"));
    let got: Vec<_> = err
        .attempts()
        .iter()
        .map(|a| {
            (
                a.entry,
                a.provider.as_str(),
                a.model.as_str(),
                a.retry,
                a.outcome_str(),
                a.status,
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (0, "a", "m0", 0, "server", Some(500)),
            (0, "a", "m0", 1, "overloaded", Some(503)),
            (1, "b", "m1", 0, "auth", Some(401)),
        ]
    );
}

#[test]
fn the_observer_sees_each_attempt_as_it_ends() {
    let clock = llm_chain::FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::RateLimited), ok("hi")]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let clock2 = clock.clone();
    let chain = builder(&clock, &[&a])
        .policy(exact())
        .on_attempt(Arc::new(move |at: &llm_core::Attempt| {
            sink.lock()
                .unwrap()
                .push((at.outcome_str(), llm_chain::Clock::now(&clock2)));
        }))
        .build()
        .unwrap();
    let t0 = llm_chain::Clock::now(&clock);
    let answer = chat(&clock, &chain).0.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen.iter().map(|(o, _)| *o).collect::<Vec<_>>(),
        ["rate_limited", "ok"]
    );
    assert_eq!(seen[0].1, t0, "reported before the backoff, not at the end");
    assert_eq!(answer.attempts.len(), seen.len());
}

#[test]
fn dropping_the_call_cancels_the_request_in_flight() {
    let clock = llm_chain::FakeClock::new();
    let a = scripted("a", &clock, vec![Step::hang()]);
    let chain = chain_with(&clock, &[&a], no_retry());
    let req = request();
    let mut call = chain.chat(&req);
    assert!((&mut call).now_or_never().is_none());
    assert_eq!(a.in_flight(), 1);
    drop(call);
    assert_eq!(a.in_flight(), 0);
}

#[test]
fn a_chain_is_a_provider_and_nests() {
    let clock = llm_chain::FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Server)]);
    let b = scripted("b", &clock, vec![ok("inner")]);
    let inner: Arc<dyn Provider> = Arc::new(chain_with(&clock, &[&a, &b], no_retry()));
    let outer = Chain::builder()
        .clock(Arc::new(clock.clone()))
        .name("outer")
        .entry(Entry::new(inner, "ignored"))
        .build()
        .unwrap();
    assert_eq!(outer.name(), "outer");
    let answer = chat(&clock, &outer).0.unwrap();
    assert_eq!(answer.text, "inner");
    assert!(run(&clock, outer.health()).is_ok());
}

#[test]
fn a_chain_needs_an_entry() {
    let err = Chain::builder().build().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.violations()[0].param, "entries");
}
