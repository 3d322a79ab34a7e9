//! Rate budgets and deployment groups in process (no store), on the fake clock: an entry out of its rpm or
//! tpm budget is skipped without a request (or waited for), a provider's `retry-after` holds the budget,
//! and a group's deployments are ordered by its strategy, each with its own breaker and budget.

use std::sync::{Arc, Mutex};

use crate::support::*;
use futures::future::join;
use llm_chain::{
    BreakerPolicy, Chain, Entry, FakeClock, Policy, RetryPolicy, SkipReason, Skipped, Strategy,
};
use llm_core::{ChatResponse, ErrorKind, Provider, Usage};

fn no_retries() -> Policy {
    exact().retry(RetryPolicy::none())
}

fn entry(p: &Arc<ScriptedProvider>, model: &str) -> Entry {
    Entry::new(Arc::clone(p) as Arc<dyn Provider>, model)
}

type Skips = Arc<Mutex<Vec<Skipped>>>;

fn build(clock: &FakeClock, entries: Vec<Entry>, policy: Policy) -> (Chain, Skips) {
    let skips: Skips = Arc::default();
    let seen = Arc::clone(&skips);
    let mut b = Chain::builder()
        .clock(Arc::new(clock.clone()))
        .policy(policy)
        .on_skip(Arc::new(move |s: &Skipped| {
            seen.lock().unwrap().push(s.clone())
        }));
    for e in entries {
        b = b.entry(e);
    }
    (b.build().unwrap(), skips)
}

fn reasons(skips: &Skips) -> Vec<(usize, Option<usize>, SkipReason)> {
    skips
        .lock()
        .unwrap()
        .iter()
        .map(|s| (s.entry, s.deployment, s.reason))
        .collect()
}

fn with_usage(total: u64) -> Step {
    let mut r = ChatResponse::new("a", "m0", "hi");
    let mut usage = Usage::default();
    usage.total_tokens = Some(total);
    r.usage = Some(usage);
    Reply::response(r)
}

#[test]
fn an_entry_out_of_its_rpm_budget_is_skipped_without_a_request_until_the_minute_slides() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![ok("a"); 10]);
    let b = scripted("b", &clock, vec![ok("b"); 10]);
    let (chain, skips) = build(
        &clock,
        vec![entry(&a, "m0").rpm(3), entry(&b, "m1")],
        no_retries(),
    );
    let answered: Vec<String> = (0..5)
        .map(|_| chat(&clock, &chain).0.unwrap().text)
        .collect();
    assert_eq!(answered, ["a", "a", "a", "b", "b"]);
    assert_eq!(a.calls(), 3, "no request beyond the budget");
    assert_eq!(
        reasons(&skips),
        [(0, None, SkipReason::RateBudget); 2],
        "each pass-over is reported"
    );
    clock.advance(secs(61));
    assert_eq!(chat(&clock, &chain).0.unwrap().text, "a");
}

#[test]
fn a_tpm_budget_counts_the_tokens_answers_report() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![with_usage(60), with_usage(60), ok("a")]);
    let b = scripted("b", &clock, vec![ok("b"); 3]);
    let (chain, skips) = build(
        &clock,
        vec![entry(&a, "m0").tpm(100), entry(&b, "m1")],
        no_retries(),
    );
    for _ in 0..3 {
        chat(&clock, &chain).0.unwrap();
    }
    assert_eq!(a.calls(), 2, "60 + 60 tokens spend a budget of 100");
    assert_eq!(reasons(&skips), [(0, None, SkipReason::RateBudget)]);
}

#[test]
fn streamed_answers_spend_a_tpm_budget_and_their_rate_limit_headers_lower_it() {
    let clock = FakeClock::new();
    let mut spent = ChatResponse::new("a", "m0", "hi");
    let mut left = llm_core::RateLimit::default();
    left.remaining_requests = Some(0);
    spent.rate_limit = Some(left);
    let a = scripted(
        "a",
        &clock,
        vec![
            with_usage(60),
            with_usage(60),
            Reply::response(spent),
            ok("a"),
        ],
    );
    let b = scripted("b", &clock, vec![ok("b"); 4]);
    let (chain, skips) = build(
        &clock,
        vec![entry(&a, "m0").tpm(100).rpm(50), entry(&b, "m1")],
        no_retries(),
    );
    let texts: Vec<String> = (0..3)
        .map(|_| text_of(&stream(&clock, &chain).0.unwrap()))
        .collect();
    assert_eq!(texts, ["hi", "hi", "b"], "the streams' usage spent the tpm");
    assert_eq!(a.calls(), 2);
    clock.advance(secs(61));
    // A stream whose headers say no request is left: the next call passes the entry over.
    assert_eq!(text_of(&stream(&clock, &chain).0.unwrap()), "hi");
    assert_eq!(text_of(&stream(&clock, &chain).0.unwrap()), "b");
    assert_eq!(a.calls(), 3, "{:?}", reasons(&skips));
    assert_eq!(reasons(&skips), [(0, None, SkipReason::RateBudget); 2]);
}

/// A stream's usage may come more than once (Claude's `message_start`, then `message_delta`), each time the
/// running total: the budget is charged the last total, not their sum.
#[test]
fn a_stream_reporting_usage_twice_spends_its_last_total() {
    let clock = FakeClock::new();
    let total = |n: u64| {
        let mut usage = Usage::default();
        usage.total_tokens = Some(n);
        StreamItem::usage(usage)
    };
    let a = scripted(
        "a",
        &clock,
        vec![
            Reply::stream([
                StreamItem::start(),
                total(40),
                StreamItem::text("hi"),
                total(70),
                StreamItem::finish(llm_core::FinishReason::Stop),
            ]),
            ok("a"),
        ],
    );
    let b = scripted("b", &clock, vec![ok("b")]);
    let (chain, skips) = build(
        &clock,
        vec![entry(&a, "m0").tpm(100), entry(&b, "m1")],
        no_retries(),
    );
    assert_eq!(text_of(&stream(&clock, &chain).0.unwrap()), "hi");
    assert_eq!(
        chat(&clock, &chain).0.unwrap().text,
        "a",
        "70 of 100 tokens spent, not 110"
    );
    assert!(reasons(&skips).is_empty());
}

#[test]
fn an_entry_configured_to_wait_for_its_budget_waits_instead_of_skipping() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![ok("a"); 2]);
    let b = scripted("b", &clock, vec![ok("b")]);
    let (chain, skips) = build(
        &clock,
        vec![
            entry(&a, "m0").rpm(1).wait_for_budget(secs(120)),
            entry(&b, "m1"),
        ],
        no_retries(),
    );
    chat(&clock, &chain).0.unwrap();
    let (second, took) = chat(&clock, &chain);
    assert_eq!(second.unwrap().text, "a", "waited for room on entry 0");
    assert!(took >= secs(6), "waited in virtual time ({took:?})");
    assert!(reasons(&skips).is_empty());
}

#[test]
fn a_rate_limited_answer_holds_the_budget_for_its_retry_after() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![retry_after(ErrorKind::RateLimited, secs(20)), ok("a")],
    );
    let b = scripted("b", &clock, vec![ok("b"); 2]);
    let (chain, skips) = build(
        &clock,
        vec![entry(&a, "m0").rpm(100), entry(&b, "m1")],
        no_retries(),
    );
    assert_eq!(chat(&clock, &chain).0.unwrap().text, "b");
    assert_eq!(chat(&clock, &chain).0.unwrap().text, "b", "held");
    assert_eq!(reasons(&skips), [(0, None, SkipReason::RateBudget)]);
    clock.advance(secs(20));
    assert_eq!(chat(&clock, &chain).0.unwrap().text, "a");
}

#[test]
fn in_order_deployments_fail_over_within_the_group_each_with_its_own_breaker() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Server); 5]);
    let b = scripted("b", &clock, vec![ok("b"); 5]);
    let c = scripted("c", &clock, vec![ok("c"); 5]);
    let group = entry(&a, "m").deployment(entry(&b, "m"));
    let (chain, skips) = build(
        &clock,
        vec![group, entry(&c, "m1")],
        no_retries().breaker(BreakerPolicy::default().consecutive_failures(1)),
    );
    let first = chat(&clock, &chain).0.unwrap();
    assert_eq!(first.text, "b");
    assert_eq!(outline(&first.attempts), [(0, "server"), (0, "ok")]);
    let second = chat(&clock, &chain).0.unwrap();
    assert_eq!(second.text, "b");
    assert_eq!(a.calls(), 1, "deployment 0's breaker is open");
    assert_eq!(reasons(&skips), [(0, Some(0), SkipReason::BreakerOpen)]);
    let health = chain.health_snapshot();
    assert_eq!(health.len(), 3, "one row per deployment");
    assert_eq!(
        health
            .iter()
            .map(|h| (h.entry, h.deployment))
            .collect::<Vec<_>>(),
        [(0, Some(0)), (0, Some(1)), (1, None)]
    );
}

#[test]
fn lowest_latency_measures_each_deployment_then_prefers_the_fastest() {
    let clock = FakeClock::new();
    let slow = scripted("slow", &clock, vec![ok_after(ms(300), "slow"); 5]);
    let fast = scripted("fast", &clock, vec![ok_after(ms(100), "fast"); 5]);
    let group = entry(&slow, "m")
        .deployment(entry(&fast, "m"))
        .strategy(Strategy::LowestLatency);
    let (chain, _) = build(&clock, vec![group], no_retries());
    let answered: Vec<String> = (0..4)
        .map(|_| chat(&clock, &chain).0.unwrap().text)
        .collect();
    assert_eq!(answered, ["slow", "fast", "fast", "fast"]);
}

#[test]
fn least_in_flight_sends_concurrent_calls_to_different_deployments() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![ok_after(secs(1), "a"); 2]);
    let b = scripted("b", &clock, vec![ok_after(secs(1), "b"); 2]);
    let group = entry(&a, "m")
        .deployment(entry(&b, "m"))
        .strategy(Strategy::LeastInFlight);
    let (chain, _) = build(&clock, vec![group], no_retries());
    let req = request();
    let (x, y) = run(&clock, join(chain.chat(&req), chain.chat(&req)));
    let mut texts = [x.unwrap().text, y.unwrap().text];
    texts.sort();
    assert_eq!(texts, ["a", "b"]);
}

#[test]
fn weighted_picks_deployments_in_proportion_to_their_weights() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![ok("a"); 400]);
    let b = scripted("b", &clock, vec![ok("b"); 400]);
    let group = entry(&a, "m")
        .weight(1)
        .deployment(entry(&b, "m").weight(3))
        .strategy(Strategy::Weighted);
    let (chain, _) = build(&clock, vec![group], no_retries());
    for _ in 0..400 {
        chat(&clock, &chain).0.unwrap();
    }
    // 300 expected; the bound is about seven standard deviations.
    assert!((240..=360).contains(&b.calls()), "b took {}", b.calls());
    assert_eq!(a.calls() + b.calls(), 400);
}

#[test]
fn most_budget_left_prefers_the_deployment_with_room() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![ok("a"); 10]);
    let b = scripted("b", &clock, vec![ok("b"); 10]);
    let group = entry(&a, "m")
        .rpm(4)
        .deployment(entry(&b, "m").rpm(2))
        .strategy(Strategy::MostBudgetLeft);
    let (chain, _) = build(&clock, vec![group], no_retries());
    let answered: Vec<String> = (0..6)
        .map(|_| chat(&clock, &chain).0.unwrap().text)
        .collect();
    // a: 4 left vs 2 → a, a (2 vs 2, in order) → a, then b has more → b, then a(1) vs b(1) → a, then b.
    assert_eq!(answered, ["a", "a", "a", "b", "a", "b"]);
    assert!(chat(&clock, &chain).0.is_err(), "both budgets spent");
}

#[test]
fn strategies_round_trip_their_chain_file_names() {
    for s in [
        Strategy::InOrder,
        Strategy::Weighted,
        Strategy::LeastInFlight,
        Strategy::LowestLatency,
        Strategy::MostBudgetLeft,
    ] {
        assert_eq!(Strategy::from_name(s.as_str()), Some(s));
    }
    assert_eq!(Strategy::from_name("random"), None);
}
