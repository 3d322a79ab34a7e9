//! Circuit breaking and health: when an entry's circuit opens, how long it stays open, the single
//! half-open probe, which kinds count, and the health snapshot.

use std::time::Instant;

use crate::support::*;
use futures::future::join;
use llm_chain::{BreakerPolicy, BreakerState, Clock, FakeClock, Policy, RetryPolicy};
use llm_core::{ErrorKind, Provider};

fn policy(breaker: BreakerPolicy) -> Policy {
    exact().retry(RetryPolicy::none()).breaker(breaker)
}

#[test]
fn opens_after_consecutive_failures_and_then_the_entry_is_skipped_without_a_request() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Server); 10]);
    let b = scripted("b", &clock, vec![ok("hi"); 10]);
    let chain = chain_with(
        &clock,
        &[&a, &b],
        policy(BreakerPolicy::default().consecutive_failures(2)),
    );
    chat(&clock, &chain).0.unwrap();
    assert_eq!(chain.health_snapshot()[0].state, BreakerState::Closed);
    chat(&clock, &chain).0.unwrap();
    assert!(matches!(
        chain.health_snapshot()[0].state,
        BreakerState::Open { .. }
    ));
    let answer = chat(&clock, &chain).0.unwrap();
    assert_eq!(a.calls(), 2, "no request to an open entry");
    assert_eq!(
        outline(&answer.attempts),
        [(1, "ok")],
        "a skip is not an attempt"
    );
}

#[test]
fn opens_on_the_failure_ratio_over_the_window() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![
            ok("1"),
            fail(ErrorKind::Timeout),
            ok("2"),
            fail(ErrorKind::Timeout),
            ok("never"),
        ],
    );
    let b = scripted("b", &clock, vec![ok("b"); 10]);
    let breaker = BreakerPolicy::default()
        .consecutive_failures(100)
        .failure_ratio(0.5, 4)
        .window(secs(60));
    let chain = chain_with(&clock, &[&a, &b], policy(breaker));
    for _ in 0..4 {
        chat(&clock, &chain).0.unwrap();
    }
    assert!(matches!(
        chain.health_snapshot()[0].state,
        BreakerState::Open { .. }
    ));
    assert_eq!(chat(&clock, &chain).0.unwrap().provider, "b");
    assert_eq!(a.calls(), 4);
}

#[test]
fn the_ratio_needs_its_minimum_of_requests() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![fail(ErrorKind::Timeout), ok("x"), ok("y")],
    );
    let breaker = BreakerPolicy::default()
        .consecutive_failures(100)
        .failure_ratio(0.5, 4);
    let chain = chain_with(&clock, &[&a], policy(breaker));
    assert!(chat(&clock, &chain).0.is_err());
    assert_eq!(
        chain.health_snapshot()[0].state,
        BreakerState::Closed,
        "1 of 1 failed, but 1 < 4"
    );
}

#[test]
fn when_every_entry_is_skipped_the_error_names_them() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Overloaded); 3]);
    let chain = chain_with(
        &clock,
        &[&a],
        policy(BreakerPolicy::default().consecutive_failures(1)),
    );
    assert_eq!(
        chat(&clock, &chain).0.unwrap_err().kind(),
        ErrorKind::Overloaded
    );
    let err = chat(&clock, &chain).0.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert!(err.attempts().is_empty());
    assert_eq!(err.provider(), Some("chain"));
    assert!(
        err.message()
            .contains("a[0] m0: circuit open for another 30.0s"),
        "{err}"
    );
    assert_eq!(a.calls(), 1);
}

#[test]
fn the_cooldown_is_at_least_the_providers_retry_after() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![retry_after(ErrorKind::RateLimited, secs(90)), ok("back")],
    );
    let b = scripted("b", &clock, vec![ok("b"); 3]);
    let breaker = BreakerPolicy::default()
        .consecutive_failures(1)
        .cooldown(secs(30), secs(600));
    let chain = chain_with(&clock, &[&a, &b], policy(breaker));
    chat(&clock, &chain).0.unwrap();
    clock.advance(secs(31));
    assert_eq!(
        chat(&clock, &chain).0.unwrap().provider,
        "b",
        "still open after the plain cooldown"
    );
    clock.advance(secs(59));
    assert_eq!(
        chain.health_snapshot()[0].state,
        BreakerState::HalfOpen { probing: false }
    );
    assert_eq!(
        chat(&clock, &chain).0.unwrap().provider,
        "a",
        "the probe went through"
    );
    assert_eq!(
        chain.health_snapshot()[0].state,
        BreakerState::Closed,
        "success closes"
    );
}

#[test]
fn a_failed_probe_opens_the_circuit_again() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![fail(ErrorKind::Server), fail(ErrorKind::Server)],
    );
    let b = scripted("b", &clock, vec![ok("b"); 3]);
    let chain = chain_with(
        &clock,
        &[&a, &b],
        policy(BreakerPolicy::default().consecutive_failures(1)),
    );
    chat(&clock, &chain).0.unwrap();
    clock.advance(secs(30));
    let answer = chat(&clock, &chain).0.unwrap();
    assert_eq!(outline(&answer.attempts), [(0, "server"), (1, "ok")]);
    let now = clock.now();
    assert_eq!(
        chain.health_snapshot()[0].state,
        BreakerState::Open {
            until: now + secs(30)
        }
    );
}

#[test]
fn half_open_lets_exactly_one_probe_through() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![fail(ErrorKind::Server), ok_after(secs(2), "probe")],
    );
    let b = scripted("b", &clock, vec![ok("b"); 3]);
    let chain = chain_with(
        &clock,
        &[&a, &b],
        policy(BreakerPolicy::default().consecutive_failures(1)),
    );
    chat(&clock, &chain).0.unwrap();
    clock.advance(secs(30));
    let req = request();
    let (first, second) = run(&clock, join(chain.chat(&req), chain.chat(&req)));
    assert_eq!(first.unwrap().text, "probe");
    assert_eq!(
        second.unwrap().provider,
        "b",
        "the concurrent caller skipped the probing entry"
    );
    assert_eq!(a.calls(), 2);
}

#[test]
fn an_open_circuit_stops_retries_within_the_call() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Server); 3]);
    let b = scripted("b", &clock, vec![ok("b")]);
    let p = exact().breaker(BreakerPolicy::default().consecutive_failures(1));
    let chain = chain_with(&clock, &[&a, &b], p);
    let (answer, elapsed) = chat(&clock, &chain);
    assert_eq!(
        outline(&answer.unwrap().attempts),
        [(0, "server"), (1, "ok")]
    );
    assert_eq!(
        elapsed,
        secs(0),
        "no backoff was slept for an entry that opened"
    );
}

#[test]
fn only_provider_health_kinds_count() {
    for kind in [
        ErrorKind::Server,
        ErrorKind::Overloaded,
        ErrorKind::Timeout,
        ErrorKind::Network,
        ErrorKind::Auth,
        ErrorKind::RateLimited,
    ] {
        let clock = FakeClock::new();
        let a = scripted("a", &clock, vec![fail(kind)]);
        let chain = chain_with(
            &clock,
            &[&a],
            policy(BreakerPolicy::default().consecutive_failures(1)),
        );
        let _ = chat(&clock, &chain);
        assert!(
            matches!(chain.health_snapshot()[0].state, BreakerState::Open { .. }),
            "{kind}"
        );
    }
    for kind in [
        ErrorKind::BadRequest,
        ErrorKind::ContextLength,
        ErrorKind::Cancelled,
        ErrorKind::NotFound,
    ] {
        let clock = FakeClock::new();
        let a = scripted("a", &clock, vec![fail(kind); 5]);
        let chain = chain_with(
            &clock,
            &[&a],
            policy(BreakerPolicy::default().consecutive_failures(1)),
        );
        for _ in 0..5 {
            let _ = chat(&clock, &chain);
        }
        let h = &chain.health_snapshot()[0];
        assert_eq!(h.state, BreakerState::Closed, "{kind}");
        assert_eq!(h.consecutive_failures, 0, "{kind}");
        assert_eq!(h.last_error, Some(kind), "still reported as the last error");
        assert_eq!(a.calls(), 5);
    }
}

#[test]
fn validation_rejections_never_trip_the_breaker() {
    let clock = FakeClock::new();
    let a = scripted_with_table("claude", &clock, llm_claude::PARAMS, vec![]);
    let chain = chain_with(
        &clock,
        &[&a],
        policy(BreakerPolicy::default().consecutive_failures(1)),
    );
    for _ in 0..3 {
        let err = run(&clock, chain.chat(&request().temperature(5.0))).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
    }
    let h = &chain.health_snapshot()[0];
    assert_eq!(h.state, BreakerState::Closed);
    assert_eq!(h.last_error, None, "nothing reached the provider");
}

#[test]
fn breakers_can_be_disabled() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Server); 20]);
    let chain = chain_with(&clock, &[&a], policy(BreakerPolicy::disabled()));
    for _ in 0..20 {
        let _ = chat(&clock, &chain);
    }
    assert_eq!(a.calls(), 20);
    assert_eq!(chain.health_snapshot()[0].consecutive_failures, 20);
}

#[test]
fn the_snapshot_reports_times_and_averages() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![
            ok_after(secs(1), "x"),
            ok_after(secs(2), "y"),
            fail_after(ms(500), ErrorKind::Server),
        ],
    );
    let chain = chain_with(&clock, &[&a], policy(BreakerPolicy::default()));
    let t0: Instant = clock.now();
    chat(&clock, &chain).0.unwrap();
    chat(&clock, &chain).0.unwrap();
    let h = &chain.health_snapshot()[0];
    assert_eq!(h.last_success_at, Some(t0 + secs(3)));
    // EWMA with weight 0.3: 1 s, then 0.7 * 1 + 0.3 * 2 = 1.3 s
    assert_eq!(h.latency, Some(ms(1300)));
    assert_eq!(h.ttft, None, "no stream yet");
    let _ = chat(&clock, &chain);
    let h = &chain.health_snapshot()[0];
    assert_eq!(h.last_error, Some(ErrorKind::Server));
    assert_eq!(h.last_error_at, Some(t0 + ms(3500)));
    assert_eq!(h.consecutive_failures, 1);
    assert_eq!(
        (h.provider.as_str(), h.model.as_str(), h.entry),
        ("a", "m0", 0)
    );
}

#[test]
fn streams_report_time_to_first_token_and_whole_latency() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![stream_of(
            secs(1),
            vec![
                (secs(0), start("a")),
                (secs(1), text("hi")),
                (secs(3), text(" there")),
                (secs(0), finish()),
            ],
        )],
    );
    let chain = chain_with(&clock, &[&a], policy(BreakerPolicy::default()));
    let (events, _) = stream(&clock, &chain);
    assert_eq!(text_of(&events.unwrap()), "hi there");
    let h = &chain.health_snapshot()[0];
    assert_eq!(h.ttft, Some(secs(2)));
    assert_eq!(h.latency, Some(secs(5)));
}
