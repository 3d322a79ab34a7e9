//! Every token priced once: each attempt's cost, the call's cost as the sum of its attempts, through
//! retries, fallbacks, hedges and cut streams, and dollar budgets that hold under concurrency. On the fake
//! clock, with scripted providers priced by their entries.

use std::sync::{Arc, Mutex};

use crate::support::*;
use futures::future::join_all;
use llm_chain::{Chain, Entry, FakeClock, Policy, RetryPolicy, SkipReason, Skipped};
use llm_core::{
    Attempt, ChatResponse, Cost, ErrorKind, FinishReason, Price, Provider, StreamEvent, Usage, Usd,
};

/// $2 per million input tokens, $10 per million output tokens.
fn price() -> Price {
    Price::per_million(2.0, 10.0).unwrap()
}

fn usd(dollars: f64) -> Usd {
    Usd::from_dollars(dollars).unwrap()
}

/// What `input` and `output` tokens cost at [`price`], exactly.
fn exact(input: u64, output: u64) -> Cost {
    Cost::exact(usd(input as f64 * 2.0 / 1e6 + output as f64 * 10.0 / 1e6))
}

fn priced(p: &Arc<ScriptedProvider>, model: &str) -> Entry {
    Entry::new(Arc::clone(p) as Arc<dyn Provider>, model).price(price())
}

fn chain_of(clock: &FakeClock, entries: Vec<Entry>, policy: Policy) -> Chain {
    let mut b = Chain::builder()
        .clock(Arc::new(clock.clone()))
        .policy(policy);
    for e in entries {
        b = b.entry(e);
    }
    b.build().unwrap()
}

fn with_usage(text: &str, input: u64, output: u64) -> Step {
    let mut r = ChatResponse::new("a", "m", text);
    r.usage = Some(Usage::new(input, output));
    Reply::response(r)
}

/// The prompt of [`request`] ("hello"): 4 tokens of framing and 2 of text.
const PROMPT_ESTIMATE: u64 = 6;

/// The usage events a stream gave, in order.
fn usages(events: &[Result<StreamEvent, llm_core::Error>]) -> Vec<Usage> {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(StreamEvent::Usage(u)) => Some(*u),
            _ => None,
        })
        .collect()
}

fn costs(attempts: &[Attempt]) -> Vec<Option<Cost>> {
    attempts.iter().map(|a| a.cost).collect()
}

#[test]
fn a_whole_answer_costs_its_reported_usage() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![with_usage("hi", 1_000, 500)]);
    let chain = chain_of(&clock, vec![priced(&a, "m")], exact_policy());
    let answer = chat(&clock, &chain).0.unwrap();
    assert_eq!(answer.cost(), Some(exact(1_000, 500)));
    assert_eq!(costs(&answer.attempts), [Some(exact(1_000, 500))]);
}

#[test]
fn a_retry_after_a_500_costs_only_the_answer() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![fail(ErrorKind::Server), with_usage("hi", 100, 10)],
    );
    let policy = exact_policy().retry(RetryPolicy::default().jitter(0.0).max_attempts(2));
    let chain = chain_of(&clock, vec![priced(&a, "m")], policy);
    let answer = chat(&clock, &chain).0.unwrap();
    assert_eq!(outline(&answer.attempts), [(0, "server"), (0, "ok")]);
    assert_eq!(
        costs(&answer.attempts),
        [Some(Cost::ZERO), Some(exact(100, 10))]
    );
    assert_eq!(answer.cost(), Some(exact(100, 10)));
}

#[test]
fn a_stream_with_usage_in_its_last_chunk_costs_that_usage() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![Reply::stream([
            Item::start(),
            Item::text("hel"),
            Item::text("lo"),
            Item::finish(FinishReason::Stop),
            Item::usage(Usage::new(1_000, 500)),
        ])],
    );
    let chain = chain_of(&clock, vec![priced(&a, "m")], exact_policy());
    let events = stream(&clock, &chain).0.unwrap();
    assert_eq!(text_of(&events), "hello");
    let u = usages(&events);
    assert_eq!(u.len(), 1);
    assert_eq!(u[0].cost, Some(exact(1_000, 500)));
}

#[test]
fn a_stream_reporting_usage_twice_says_the_running_then_the_final_cost() {
    let clock = FakeClock::new();
    // As Claude does: the prompt's count in `message_start`, the output's in `message_delta`.
    let a = scripted(
        "a",
        &clock,
        vec![Reply::stream([
            Item::start(),
            Item::usage(Usage::new(2_000, 1)),
            Item::text("hello"),
            Item::usage(Usage::new(2_000, 300)),
            Item::finish(FinishReason::Stop),
        ])],
    );
    let chain = chain_of(&clock, vec![priced(&a, "m")], exact_policy());
    let events = stream(&clock, &chain).0.unwrap();
    let costs: Vec<_> = usages(&events).iter().map(|u| u.cost).collect();
    assert_eq!(costs, [Some(exact(2_000, 1)), Some(exact(2_000, 300))]);
}

#[test]
fn a_fallback_after_a_failure_before_the_first_token_costs_the_answer_only() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![Reply::stream([
            Item::start(),
            Item::error(ErrorKind::Overloaded),
        ])],
    );
    let b = scripted(
        "b",
        &clock,
        vec![Reply::stream([
            Item::start(),
            Item::text("from b"),
            Item::usage(Usage::new(50, 5)),
        ])],
    );
    let chain = chain_of(
        &clock,
        vec![priced(&a, "m0"), priced(&b, "m1")],
        exact_policy().retry(RetryPolicy::none()),
    );
    let events = stream(&clock, &chain).0.unwrap();
    assert_eq!(text_of(&events), "from b");
    let start = starts(&events)[0].clone();
    assert_eq!(outline(&start.attempts), [(0, "overloaded"), (1, "ok")]);
    assert_eq!(start.attempts[0].cost, Some(Cost::ZERO));
    assert_eq!(usages(&events)[0].cost, Some(exact(50, 5)));
}

#[test]
fn a_stream_cut_after_its_first_token_costs_an_estimate_never_zero() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![Reply::stream([
            Item::start(),
            Item::text("abcd".repeat(25)), // 100 bytes: 25 tokens
            Item::error(ErrorKind::Server),
        ])],
    );
    let chain = chain_of(&clock, vec![priced(&a, "m")], exact_policy());
    let events = stream(&clock, &chain).0.unwrap();
    let error = events
        .iter()
        .find_map(|e| e.as_ref().err())
        .expect("the stream ends with its error");
    let attempts = error.attempts();
    assert_eq!(outline(attempts), [(0, "server")]);
    let estimated = Cost::estimate(exact(PROMPT_ESTIMATE, 25).usd);
    assert_eq!(attempts[0].cost, Some(estimated));
    assert_eq!(Attempt::total_cost(attempts), Some(estimated));
}

#[test]
fn a_stream_that_never_reports_usage_ends_with_its_estimate() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![Reply::stream([
            Item::start(),
            Item::text("abcdefgh"), // 2 tokens
            Item::finish(FinishReason::Stop),
        ])],
    );
    let chain = chain_of(&clock, vec![priced(&a, "m")], exact_policy());
    let events = stream(&clock, &chain).0.unwrap();
    let u = usages(&events);
    assert_eq!(u.len(), 1, "one usage event, last, carrying the estimate");
    assert!(matches!(events.last(), Some(Ok(StreamEvent::Usage(_)))));
    assert_eq!(u[0].input_tokens, None, "no count is invented");
    assert_eq!(
        u[0].cost,
        Some(Cost::estimate(exact(PROMPT_ESTIMATE, 2).usd))
    );
}

#[test]
fn a_hedged_call_prices_the_winner_and_what_the_loser_consumed() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![stream_of(
            secs(0),
            vec![(secs(0), start("a")), (secs(0), Item::hang())],
        )],
    );
    let b = scripted(
        "b",
        &clock,
        vec![stream_of(
            secs(1),
            vec![
                (secs(0), start("b")),
                (secs(0), text("hedge")),
                (secs(0), Item::usage(Usage::new(100, 20))),
            ],
        )],
    );
    let chain = chain_of(
        &clock,
        vec![priced(&a, "m0"), priced(&b, "m1")],
        exact_policy().hedge_after(secs(2)),
    );
    let events = stream(&clock, &chain).0.unwrap();
    assert_eq!(text_of(&events), "hedge");
    let start = starts(&events)[0].clone();
    assert_eq!(outline(&start.attempts), [(1, "ok"), (0, "cancelled")]);
    let loser = Cost::estimate(exact(PROMPT_ESTIMATE, 0).usd);
    assert_eq!(start.attempts[1].cost, Some(loser), "its prompt was read");
    assert_eq!(
        usages(&events)[0].cost,
        Some(exact(100, 20) + loser),
        "the call's cost is both sides'"
    );
}

#[test]
fn an_unknown_price_makes_the_cost_unknown_but_a_failure_that_consumed_nothing_costs_zero() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Overloaded)]);
    let b = scripted("b", &clock, vec![with_usage("hi", 10, 10)]);
    let chain = chain_of(
        &clock,
        vec![
            Entry::new(Arc::clone(&a) as Arc<dyn Provider>, "m0"),
            Entry::new(Arc::clone(&b) as Arc<dyn Provider>, "m1"),
        ],
        exact_policy().retry(RetryPolicy::none()),
    );
    let answer = chat(&clock, &chain).0.unwrap();
    assert_eq!(costs(&answer.attempts), [Some(Cost::ZERO), None]);
    assert_eq!(answer.cost(), None, "unknown, never 0");
}

#[test]
fn a_dollar_budget_needs_a_price() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![]);
    let err = Chain::builder()
        .clock(Arc::new(clock.clone()))
        .entry(Entry::new(Arc::clone(&a) as Arc<dyn Provider>, "m").usd_per_day(usd(5.0)))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert!(err.violations()[0].param.contains("usd_per_"), "{err}");
}

#[test]
fn concurrent_calls_never_overspend_a_dollar_budget() {
    let clock = FakeClock::new();
    // Each answer costs 1,000 in + 1,000 out = $0.012; each reserves its worst case, the prompt's estimate
    // and max_tokens 2,000 = $0.020012. A $0.20 minute fits 9 reservations at once.
    let answers = (0..40).map(|_| with_usage("hi", 1_000, 1_000).after(secs(1)));
    let a = scripted("a", &clock, answers.collect());
    let b = scripted("b", &clock, vec![ok("b"); 40]);
    let skips: Arc<Mutex<Vec<Skipped>>> = Arc::default();
    let seen = Arc::clone(&skips);
    let chain = Chain::builder()
        .clock(Arc::new(clock.clone()))
        .policy(exact_policy().retry(RetryPolicy::none()))
        .on_skip(Arc::new(move |s: &Skipped| {
            seen.lock().unwrap().push(s.clone())
        }))
        .entry(priced(&a, "m0").usd_per_minute(usd(0.2)))
        .entry(Entry::new(Arc::clone(&b) as Arc<dyn Provider>, "m1"))
        .build()
        .unwrap();
    let req = request().max_tokens(2_000);
    let calls = (0..40).map(|_| chain.chat(&req));
    let answers = run(&clock, join_all(calls));
    let from_a = answers
        .iter()
        .filter(|r| r.as_ref().unwrap().provider == "a")
        .count();
    assert_eq!(a.calls(), from_a);
    assert_eq!(from_a, 9, "only the reservations that fit were sent");
    let spent = exact(1_000, 1_000).usd.picos() * from_a as u64;
    assert!(spent <= usd(0.2).picos(), "spent {spent} picodollars");
    assert!(
        skips
            .lock()
            .unwrap()
            .iter()
            .all(|s| s.entry == 0 && s.reason == SkipReason::CostBudget)
    );
    assert_eq!(skips.lock().unwrap().len(), 31);
    // Settled at their real cost, the nine leave room for more within the same minute: 9 × 0.012 spent,
    // 0.092 left, four reservations of 0.020012.
    let more = run(&clock, join_all((0..6).map(|_| chain.chat(&req))));
    let again = more
        .iter()
        .filter(|r| r.as_ref().unwrap().provider == "a")
        .count();
    assert_eq!(again, 4);
}

/// The chain's default policy without jitter.
fn exact_policy() -> Policy {
    crate::support::exact()
}

fn starts(events: &[Result<StreamEvent, llm_core::Error>]) -> Vec<llm_core::StreamStart> {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(StreamEvent::Start(s)) => Some(s.clone()),
            _ => None,
        })
        .collect()
}
