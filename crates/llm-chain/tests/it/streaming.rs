//! Streaming fallback: only before the first content event, one `Start` from the answering entry with
//! every attempt, typed errors after content, the deadline mid-stream, and hedging.

use crate::support::*;
use llm_chain::{FakeClock, RetryPolicy};
use llm_core::{ErrorKind, StreamEvent};

fn starts(events: &[Result<StreamEvent, llm_core::Error>]) -> Vec<&llm_core::StreamStart> {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(StreamEvent::Start(s)) => Some(s),
            _ => None,
        })
        .collect()
}

fn no_retry() -> llm_chain::Policy {
    exact().retry(RetryPolicy::none())
}

#[test]
fn falls_back_when_a_stream_fails_before_its_first_content() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![stream_of(
            secs(0),
            vec![
                (secs(0), start("a")),
                (secs(0), text("")),
                (secs(1), item_fail(ErrorKind::Overloaded)),
            ],
        )],
    );
    let b = scripted("b", &clock, vec![ok("from b")]);
    let chain = chain_with(&clock, &[&a, &b], no_retry());
    let events = stream(&clock, &chain).0.unwrap();
    assert_eq!(text_of(&events), "from b");
    let s = starts(&events);
    assert_eq!(s.len(), 1, "never a Start from a failed attempt");
    assert_eq!(s[0].provider, "b");
    assert_eq!(outline(&s[0].attempts), [(0, "overloaded"), (1, "ok")]);
    assert!(
        matches!(events[0], Ok(StreamEvent::Start(_))),
        "Start comes first"
    );
    assert!(events.iter().all(Result::is_ok));
}

#[test]
fn an_error_opening_the_stream_falls_back_too() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![fail(ErrorKind::Server), fail(ErrorKind::Server)],
    );
    let b = scripted("b", &clock, vec![ok("b")]);
    let chain = chain_with(
        &clock,
        &[&a, &b],
        exact().retry(RetryPolicy::default().max_attempts(2).jitter(0.0)),
    );
    let (events, elapsed) = stream(&clock, &chain);
    let events = events.unwrap();
    assert_eq!(text_of(&events), "b");
    assert_eq!(
        outline(&starts(&events)[0].attempts),
        [(0, "server"), (0, "server"), (1, "ok")]
    );
    assert_eq!(elapsed, ms(500));
}

#[test]
fn after_the_first_content_a_failure_ends_the_stream_with_what_was_delivered() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![stream_of(
            secs(0),
            vec![
                (secs(0), start("a")),
                (secs(1), text("Hello")),
                (secs(1), text(", wor")),
                (secs(1), item_fail(ErrorKind::Network)),
            ],
        )],
    );
    let b = scripted("b", &clock, vec![ok("never")]);
    let chain = chain_with(&clock, &[&a, &b], exact());
    let events = stream(&clock, &chain).0.unwrap();
    assert_eq!(
        text_of(&events),
        "Hello, wor",
        "no text from another attempt"
    );
    assert_eq!(b.calls(), 0, "no fallback after content");
    let err = events.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert_eq!(err.delivered_bytes(), Some(10));
    assert_eq!(
        outline(err.attempts()),
        [(0, "network")],
        "the answering attempt is marked failed"
    );
    assert_eq!(err.attempts()[0].latency, secs(3));
    assert_eq!(events.iter().filter(|e| e.is_err()).count(), 1);
    assert_eq!(
        chain.health_snapshot()[0].last_error,
        Some(ErrorKind::Network)
    );
}

#[test]
fn a_stream_without_content_is_an_answer() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![stream_of(
            secs(0),
            vec![(secs(0), start("a")), (secs(0), finish())],
        )],
    );
    let chain = chain_with(&clock, &[&a], exact());
    let events = stream(&clock, &chain).0.unwrap();
    assert_eq!(events.len(), 2);
    assert!(matches!(&events[1], Ok(StreamEvent::Finish(_))));
    assert_eq!(outline(&starts(&events)[0].attempts), [(0, "ok")]);
}

#[test]
fn a_missing_start_is_supplied_by_the_chain() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![stream_of(
            secs(0),
            vec![(secs(0), text("x")), (secs(0), finish())],
        )],
    );
    let chain = chain_with(&clock, &[&a], exact());
    let events = stream(&clock, &chain).0.unwrap();
    let s = starts(&events);
    assert_eq!((s[0].provider.as_str(), s[0].model.as_str()), ("a", "m0"));
    assert!(matches!(events[0], Ok(StreamEvent::Start(_))));
}

#[test]
fn every_entry_failing_before_content_is_an_error_from_stream() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![fail(ErrorKind::Auth)]);
    let b = scripted("b", &clock, vec![fail(ErrorKind::NotFound)]);
    let chain = chain_with(&clock, &[&a, &b], no_retry());
    let err = stream(&clock, &chain).0.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NotFound);
    assert_eq!(outline(err.attempts()), [(0, "auth"), (1, "not_found")]);
}

#[test]
fn the_deadline_ends_a_stream_that_stalls_after_content() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![stream_of(
            secs(1),
            vec![
                (secs(0), start("a")),
                (secs(1), text("abc")),
                (secs(0), Item::hang()),
            ],
        )],
    );
    let chain = chain_with(&clock, &[&a], exact().deadline(secs(10)));
    let (events, elapsed) = stream(&clock, &chain);
    let events = events.unwrap();
    assert_eq!(elapsed, secs(10));
    let err = events.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert_eq!(err.delivered_bytes(), Some(3));
    assert_eq!(a.in_flight(), 0, "the stream was dropped");
}

#[test]
fn without_hedging_a_slow_entry_is_simply_awaited() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![ok_after(secs(20), "slow")]);
    let b = scripted("b", &clock, vec![ok("fast")]);
    let chain = chain_with(&clock, &[&a, &b], exact());
    let (events, elapsed) = stream(&clock, &chain);
    assert_eq!(text_of(&events.unwrap()), "slow");
    assert_eq!(elapsed, secs(20));
    assert_eq!(b.calls(), 0);
}

#[test]
fn hedging_starts_the_next_entry_and_keeps_the_first_to_show_content() {
    let clock = FakeClock::new();
    let a = scripted(
        "a",
        &clock,
        vec![stream_of(
            secs(0),
            vec![(secs(0), start("a")), (secs(0), Item::hang())],
        )],
    );
    let b = scripted("b", &clock, vec![ok_after(secs(1), "hedge")]);
    let chain = chain_with(&clock, &[&a, &b], exact().hedge_after(secs(2)));
    let (events, elapsed) = stream(&clock, &chain);
    let events = events.unwrap();
    assert_eq!(text_of(&events), "hedge");
    assert_eq!(elapsed, secs(3));
    let s = starts(&events);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].provider, "b");
    assert_eq!(outline(&s[0].attempts), [(1, "ok"), (0, "cancelled")]);
    assert_eq!(s[0].attempts[1].latency, secs(3));
    assert_eq!(a.in_flight(), 0, "the loser was dropped");
}

#[test]
fn hedging_keeps_the_first_entry_when_it_shows_content_first() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![ok_after(secs(3), "first")]);
    let b = scripted("b", &clock, vec![ok_after(secs(5), "second")]);
    let chain = chain_with(&clock, &[&a, &b], exact().hedge_after(secs(2)));
    let (events, elapsed) = stream(&clock, &chain);
    let events = events.unwrap();
    assert_eq!(text_of(&events), "first");
    assert_eq!(elapsed, secs(3));
    assert_eq!(b.calls(), 1, "the hedge was started");
    assert_eq!(b.in_flight(), 0, "and dropped");
    assert_eq!(
        outline(&starts(&events)[0].attempts),
        [(0, "ok"), (1, "cancelled")]
    );
}

#[test]
fn hedging_is_not_started_when_content_comes_in_time() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![ok_after(secs(1), "quick")]);
    let b = scripted("b", &clock, vec![ok("never")]);
    let chain = chain_with(&clock, &[&a, &b], exact().hedge_after(secs(2)));
    let events = stream(&clock, &chain).0.unwrap();
    assert_eq!(text_of(&events), "quick");
    assert_eq!(b.calls(), 0);
}

#[test]
fn hedging_moves_on_when_the_hedge_fails_while_the_first_is_still_silent() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![Step::hang()]);
    let b = scripted("b", &clock, vec![fail_after(secs(1), ErrorKind::Auth)]);
    let c = scripted("c", &clock, vec![ok_after(secs(1), "third")]);
    let chain = chain_with(&clock, &[&a, &b, &c], no_retry().hedge_after(secs(2)));
    let (events, elapsed) = stream(&clock, &chain);
    let events = events.unwrap();
    assert_eq!(text_of(&events), "third");
    // a silent since 0; b starts at 2, fails at 3; a is past its delay, so c starts at once, answers at 4
    assert_eq!(elapsed, secs(4));
    assert_eq!(
        outline(&starts(&events)[0].attempts),
        [(1, "auth"), (2, "ok"), (0, "cancelled")]
    );
}

#[test]
fn hedging_stops_when_an_entry_fails_with_a_stopping_kind() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![Step::hang()]);
    let b = scripted(
        "b",
        &clock,
        vec![fail_after(secs(1), ErrorKind::BadRequest)],
    );
    let c = scripted("c", &clock, vec![ok("never")]);
    let chain = chain_with(&clock, &[&a, &b, &c], no_retry().hedge_after(secs(2)));
    let err = stream(&clock, &chain).0.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BadRequest);
    assert_eq!(
        outline(err.attempts()),
        [(1, "bad_request"), (0, "cancelled")]
    );
    assert_eq!((a.in_flight(), c.calls()), (0, 0));
}

#[test]
fn chat_calls_are_never_hedged() {
    let clock = FakeClock::new();
    let a = scripted("a", &clock, vec![ok_after(secs(10), "slow")]);
    let b = scripted("b", &clock, vec![ok("never")]);
    let chain = chain_with(&clock, &[&a, &b], exact().hedge_after(secs(2)));
    assert_eq!(chat(&clock, &chain).0.unwrap().text, "slow");
    assert_eq!(b.calls(), 0);
}

#[test]
fn a_tool_call_is_the_first_content_no_fallback_after_it_and_it_is_not_held_back() {
    let clock = FakeClock::new();
    let call_start = StreamEvent::ToolCallStart {
        index: 0,
        id: "call_A".into(),
        name: "get_weather".into(),
    };
    let a = scripted(
        "a",
        &clock,
        vec![stream_of(
            secs(0),
            vec![
                (secs(0), start("a")),
                (secs(1), StreamItem::event(call_start.clone())),
                (secs(1), item_fail(ErrorKind::Network)),
            ],
        )],
    );
    let b = scripted("b", &clock, vec![ok("never")]);
    let chain = chain_with(&clock, &[&a, &b], exact());
    let events = stream(&clock, &chain).0.unwrap();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Ok(ev) if *ev == call_start)),
        "{events:?}"
    );
    assert_eq!(b.calls(), 0, "no fallback after a tool call started");
    assert_eq!(
        events.last().unwrap().as_ref().unwrap_err().kind(),
        ErrorKind::Network
    );
}
