//! Retries within an entry: backoff and jitter, `retry-after` and its cap, the retry budget, and the
//! overall deadline. All in virtual time.

use std::time::Duration;

use crate::support::*;
use llm_chain::{BreakerPolicy, FakeClock, RetryBudget, RetryPolicy};
use llm_core::ErrorKind;

#[test]
fn retryable_failures_are_retried_with_doubling_backoff() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![fail(ErrorKind::Server), fail(ErrorKind::Network), ok("hi")],
    );
    let chain = chain_with(&clock, &[&a], exact());
    let (answer, elapsed) = chat(&clock, &chain);
    let answer = answer.unwrap();
    assert_eq!(elapsed, ms(500 + 1000));
    let retries: Vec<u32> = answer.attempts.iter().map(|a| a.retry).collect();
    assert_eq!(retries, [0, 1, 2]);
    assert_eq!(
        outline(&answer.attempts),
        [(0, "server"), (0, "network"), (0, "ok")]
    );
}

#[test]
fn backoff_is_capped_at_eight_seconds() {
    let clock = FakeClock::new();
    let mut steps = vec![fail(ErrorKind::Overloaded); 6];
    steps.push(ok("hi"));
    let a = scripted("a", &clock, steps);
    let policy = exact()
        .retry(RetryPolicy::default().max_attempts(7).jitter(0.0))
        .budget(RetryBudget::unlimited())
        .breaker(BreakerPolicy::disabled());
    let chain = chain_with(&clock, &[&a], policy);
    let (answer, elapsed) = chat(&clock, &chain);
    assert!(answer.is_ok());
    // 0.5 + 1 + 2 + 4 + 8 + 8
    assert_eq!(elapsed, ms(23_500));
}

#[test]
fn jitter_takes_off_at_most_a_quarter() {
    for _ in 0..20 {
        let clock = FakeClock::new();
        let a = scripted(
            "a",
            &clock,
            vec![fail(ErrorKind::Server), fail(ErrorKind::Server), ok("hi")],
        );
        let policy = exact().retry(RetryPolicy::default().jitter(0.25));
        let chain = chain_with(&clock, &[&a], policy);
        let (answer, elapsed) = chat(&clock, &chain);
        assert!(answer.is_ok());
        assert!(elapsed <= ms(1500) && elapsed >= ms(1125), "{elapsed:?}");
    }
}

#[test]
fn an_entry_gets_at_most_max_attempts_then_the_chain_moves_on() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Server); 5]);
    let b = scripted("b", &clock, vec![ok("hi")]);
    let policy = exact().retry(RetryPolicy::default().max_attempts(2).jitter(0.0));
    let chain = chain_with(&clock, &[&a, &b], policy);
    let answer = chat(&clock, &chain).0.unwrap();
    assert_eq!(a.calls(), 2);
    assert_eq!(
        outline(&answer.attempts),
        [(0, "server"), (0, "server"), (1, "ok")]
    );
}

#[test]
fn non_retryable_kinds_are_not_retried() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Auth), ok("no")]);
    let b = scripted("b", &clock, vec![ok("hi")]);
    let chain = chain_with(&clock, &[&a, &b], exact());
    let (answer, elapsed) = chat(&clock, &chain);
    assert_eq!(answer.unwrap().provider, "b");
    assert_eq!(a.calls(), 1);
    assert_eq!(elapsed, Duration::ZERO);
}

#[test]
fn should_retry_false_overrides_the_kind() {
    let clock = FakeClock::new();
    let no = Fail::new(ErrorKind::Server).should_retry(false);
    let yes = Fail::new(ErrorKind::Auth).should_retry(true);
    let a = scripted("a", &clock, vec![fail_with(no), ok("no")]);
    let b = scripted("b", &clock, vec![fail_with(yes), ok("hi")]);
    let chain = chain_with(&clock, &[&a, &b], exact());
    let answer = chat(&clock, &chain).0.unwrap();
    assert_eq!(
        outline(&answer.attempts),
        [(0, "server"), (1, "auth"), (1, "ok")]
    );
}

#[test]
fn retry_after_is_honoured() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![retry_after(ErrorKind::RateLimited, secs(7)), ok("hi")],
    );
    let chain = chain_with(&clock, &[&a], exact());
    let (answer, elapsed) = chat(&clock, &chain);
    let answer = answer.unwrap();
    assert_eq!(elapsed, secs(7));
    assert_eq!(answer.attempts[0].retry_after, Some(secs(7)));
}

#[test]
fn retry_after_beyond_the_cap_moves_on_instead_of_sleeping() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![retry_after(ErrorKind::RateLimited, secs(120)), ok("no")],
    );
    let b = scripted("b", &clock, vec![ok("hi")]);
    let chain = chain_with(&clock, &[&a, &b], exact());
    let (answer, elapsed) = chat(&clock, &chain);
    assert_eq!(answer.unwrap().provider, "b");
    assert_eq!(elapsed, Duration::ZERO);
    assert_eq!(a.calls(), 1);
}

#[test]
fn the_retry_budget_bounds_retries_across_calls() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Server); 100]);
    let b = scripted("b", &clock, vec![ok("hi"); 100]);
    let policy = exact()
        .retry(RetryPolicy::default().max_attempts(3).jitter(0.0))
        .budget(
            RetryBudget::default()
                .ratio(0.2)
                .min_retries(2)
                .window(secs(3600)),
        )
        .breaker(BreakerPolicy::disabled());
    let chain = chain_with(&clock, &[&a, &b], policy);
    let calls = 10;
    for _ in 0..calls {
        assert_eq!(chat(&clock, &chain).0.unwrap().provider, "b");
    }
    // each call is one first attempt on `a`; retries are bounded by 2 + 0.2 * calls
    let retries = a.calls() - calls;
    assert!(retries <= 2 + calls / 5, "{retries} retries");
    assert!(retries >= 2, "the minimum is available: {retries}");
}

#[test]
fn a_backoff_that_would_cross_the_deadline_is_not_slept() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![fail_after(ms(400), ErrorKind::Server); 5]);
    let policy = exact()
        .retry(RetryPolicy::default().max_attempts(5).jitter(0.0))
        .deadline(secs(2));
    let chain = chain_with(&clock, &[&a], policy);
    let (result, elapsed) = chat(&clock, &chain);
    let err = result.unwrap_err();
    // 0.4 fail, 0.5 wait, 0.4 fail (1.3 s), then a 1 s wait would reach 2.3 s > 2 s
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(elapsed, ms(1300));
    assert_eq!(outline(err.attempts()), [(0, "server"), (0, "server")]);
    assert!(
        std::error::Error::source(&err).is_some(),
        "the provider error is the source"
    );
}

#[test]
fn a_refused_wait_still_lets_the_next_entry_answer() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![retry_after(ErrorKind::RateLimited, secs(20))],
    );
    let b = scripted("b", &clock, vec![ok("hi")]);
    let chain = chain_with(&clock, &[&a, &b], exact().deadline(secs(10)));
    let (answer, elapsed) = chat(&clock, &chain);
    assert_eq!(answer.unwrap().provider, "b");
    assert_eq!(elapsed, Duration::ZERO);
}

#[test]
fn the_deadline_cuts_an_attempt_in_flight() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![fail_after(secs(1), ErrorKind::Server), Step::hang()],
    );
    let b = scripted("b", &clock, vec![ok("never")]);
    let chain = chain_with(&clock, &[&a, &b], exact().deadline(secs(5)));
    let (result, elapsed) = chat(&clock, &chain);
    let err = result.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(elapsed, secs(5));
    assert_eq!(outline(err.attempts()), [(0, "server"), (0, "timeout")]);
    assert_eq!(err.attempts()[1].latency, ms(5000 - 1000 - 500));
    assert_eq!(a.in_flight(), 0, "the hanging request was dropped");
    assert_eq!(b.calls(), 0);
}

#[test]
fn a_refused_connection_moves_on_at_once_when_a_later_entry_exists() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![refused(), ok("late")]);
    let b = scripted("b", &clock, vec![ok("hi")]);
    let chain = chain_with(&clock, &[&a, &b], exact());
    let (answer, elapsed) = chat(&clock, &chain);
    let answer = answer.unwrap();
    assert_eq!(answer.text, "hi");
    assert_eq!(elapsed, Duration::ZERO, "no backoff was slept");
    assert_eq!(outline(&answer.attempts), [(0, "network"), (1, "ok")]);
    assert_eq!(a.calls(), 1);
}

#[test]
fn a_refused_connection_on_the_last_entry_is_still_retried() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![refused(), ok("hi")]);
    let chain = chain_with(&clock, &[&a], exact());
    let (answer, elapsed) = chat(&clock, &chain);
    assert_eq!(answer.unwrap().text, "hi");
    assert_eq!(elapsed, ms(500));
}

#[test]
fn retrying_refused_connections_before_fallback_is_a_policy_choice() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![refused(), ok("a answered")]);
    let b = scripted("b", &clock, vec![ok("b answered")]);
    let policy = exact().retry(
        RetryPolicy::default()
            .jitter(0.0)
            .retry_connect_before_fallback(true),
    );
    let chain = chain_with(&clock, &[&a, &b], policy);
    let (answer, elapsed) = chat(&clock, &chain);
    assert_eq!(answer.unwrap().text, "a answered");
    assert_eq!(elapsed, ms(500));
    assert_eq!(b.calls(), 0);
}

#[test]
fn other_network_errors_are_retried_before_fallback() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![fail(ErrorKind::Network), ok("a answered")],
    );
    let b = scripted("b", &clock, vec![ok("b answered")]);
    let chain = chain_with(&clock, &[&a, &b], exact());
    let (answer, _) = chat(&clock, &chain);
    assert_eq!(answer.unwrap().text, "a answered");
}
