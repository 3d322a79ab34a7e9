//! The scripted provider on its own, without a chain: what each reply looks like through `chat` and
//! `stream`, the delays on the fake clock, the errors' details and the record of requests.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use llm_core::{
    ChatRequest, ChatResponse, Error, ErrorKind, FinishReason, Provider, StreamEvent, Usage,
};

use super::{Failure, Reply, ScriptedProvider, StreamItem};
use crate::clock::{Clock, FakeClock};

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn scripted(clock: &FakeClock) -> ScriptedProvider {
    ScriptedProvider::new("p").clock(Arc::new(clock.clone()))
}

fn request(model: &str) -> ChatRequest {
    ChatRequest::new(model).user("hello")
}

/// Every item of a stream call, and the virtual time the call took.
fn streamed(
    clock: &FakeClock,
    p: &ScriptedProvider,
) -> (Result<Vec<Result<StreamEvent, Error>>, Error>, Duration) {
    let t0 = clock.now();
    let out = clock
        .block_on(async {
            let s = p.stream(&request("m")).await?;
            Ok(s.collect::<Vec<_>>().await)
        })
        .expect("not stuck");
    (out, clock.now() - t0)
}

#[test]
fn a_text_reply_is_a_whole_answer_after_its_delay() {
    let clock = FakeClock::new();
    let p = scripted(&clock).reply(Reply::text("hi").after(secs(3)));
    let t0 = clock.now();
    let answer = clock.block_on(p.chat(&request("m1"))).unwrap().unwrap();
    assert_eq!(clock.now() - t0, secs(3));
    assert_eq!(
        (
            answer.text.as_str(),
            answer.model.as_str(),
            answer.provider.as_str()
        ),
        ("hi", "m1", "p")
    );
    assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
}

#[test]
fn a_whole_answer_streams_as_start_text_usage_finish() {
    let clock = FakeClock::new();
    let mut response = ChatResponse::new("", "served-model", "hey");
    response.usage = Some(Usage::new(3, 1));
    response.finish_reason = Some(FinishReason::Length);
    let p = scripted(&clock).reply(Reply::response(response));
    let events: Vec<StreamEvent> = streamed(&clock, &p)
        .0
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(
        matches!(&events[0], StreamEvent::Start(s) if s.provider == "p" && s.model == "served-model")
    );
    assert_eq!(events[1], StreamEvent::TextDelta("hey".into()));
    assert_eq!(events[2], StreamEvent::Usage(Usage::new(3, 1)));
    assert_eq!(events[3], StreamEvent::Finish(FinishReason::Length));
}

#[test]
fn stream_items_wait_their_delays_and_can_fail_after_some_events() {
    let clock = FakeClock::new();
    let p = scripted(&clock).reply(
        Reply::stream([
            StreamItem::start(),
            StreamItem::text("a").after(secs(1)),
            StreamItem::text("b").after(secs(2)),
            StreamItem::error(Failure::new(ErrorKind::Network).no_status()).after(secs(4)),
            StreamItem::text("never"),
        ])
        .after(secs(1)),
    );
    let (events, elapsed) = streamed(&clock, &p);
    let events = events.unwrap();
    assert_eq!(elapsed, secs(8));
    assert_eq!(events.len(), 4, "the item after the error is never yielded");
    assert!(matches!(&events[0], Ok(StreamEvent::Start(s)) if s.provider == "p" && s.model == "m"));
    assert!(matches!(&events[2], Ok(StreamEvent::TextDelta(t)) if t == "b"));
    let e = events[3].as_ref().unwrap_err();
    assert_eq!(
        (e.kind(), e.status(), e.provider()),
        (ErrorKind::Network, None, Some("p"))
    );
}

#[test]
fn a_stream_asked_for_with_chat_is_collected() {
    let clock = FakeClock::new();
    let p = scripted(&clock).replies([
        Reply::stream([
            StreamItem::start(),
            StreamItem::reasoning("think"),
            StreamItem::text("one ").after(secs(1)),
            StreamItem::text("two"),
            StreamItem::usage(Usage::new(5, 2)),
            StreamItem::finish(FinishReason::Stop),
        ]),
        Reply::stream([StreamItem::text("x"), StreamItem::error(ErrorKind::Server)]),
    ]);
    let answer = clock.block_on(p.chat(&request("m"))).unwrap().unwrap();
    assert_eq!(answer.text, "one two");
    assert_eq!(answer.reasoning.as_deref(), Some("think"));
    assert_eq!(answer.usage, Some(Usage::new(5, 2)));
    assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
    let e = clock.block_on(p.chat(&request("m"))).unwrap().unwrap_err();
    assert_eq!((e.kind(), e.status()), (ErrorKind::Server, Some(500)));
}

#[test]
fn errors_carry_every_scripted_detail() {
    let clock = FakeClock::new();
    let p = scripted(&clock).replies([
        Reply::error(
            Failure::new(ErrorKind::RateLimited)
                .retry_after(secs(7))
                .should_retry(false)
                .message("slow down"),
        ),
        Reply::error(Failure::refused()),
        Reply::error(Failure::new(ErrorKind::Server).status(502)),
        Reply::error(ErrorKind::Auth).after(secs(2)),
    ]);
    let e = clock.block_on(p.chat(&request("m"))).unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!((e.status(), e.retry_after()), (Some(429), Some(secs(7))));
    assert!(!e.is_retryable(), "should_retry(false) wins over the kind");
    assert_eq!(e.message(), "slow down");
    let e = clock
        .block_on(p.stream(&request("m")))
        .unwrap()
        .err()
        .unwrap();
    assert!(e.is_connect() && e.kind() == ErrorKind::Network && e.status().is_none());
    let e = clock.block_on(p.chat(&request("m"))).unwrap().unwrap_err();
    assert_eq!(e.status(), Some(502));
    let t0 = clock.now();
    let e = clock.block_on(p.chat(&request("m"))).unwrap().unwrap_err();
    assert_eq!(
        (e.kind(), e.status(), clock.now() - t0),
        (ErrorKind::Auth, Some(401), secs(2))
    );
}

#[test]
fn every_kind_can_be_scripted() {
    for &kind in ErrorKind::ALL {
        let e = Failure::new(kind).to_error("p");
        assert_eq!(e.kind(), kind);
        assert_eq!(e.provider(), Some("p"));
    }
}

#[test]
fn an_exhausted_script_fails_with_unknown() {
    let clock = FakeClock::new();
    let p = scripted(&clock).reply(Reply::text("only"));
    assert_eq!(p.remaining(), 1);
    clock.block_on(p.chat(&request("m"))).unwrap().unwrap();
    assert_eq!(p.remaining(), 0);
    let e = clock.block_on(p.chat(&request("m"))).unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unknown);
    assert!(e.message().contains("run out"), "{e}");
}

#[test]
fn requests_are_recorded_in_order_and_shared_by_clones() {
    let clock = FakeClock::new();
    let p = scripted(&clock);
    let clone = p.clone();
    clone.extend([Reply::text("a"), Reply::text("b")]);
    p.push(Reply::text("c"));
    clock
        .block_on(clone.chat(&request("first")))
        .unwrap()
        .unwrap();
    let _stream = clock
        .block_on(clone.stream(&request("second")))
        .unwrap()
        .unwrap();
    assert_eq!(p.calls(), 2);
    let models: Vec<String> = p.requests().into_iter().map(|r| r.model).collect();
    assert_eq!(models, ["first", "second"]);
    assert_eq!(p.last_request().unwrap().model, "second");
    assert_eq!(p.remaining(), 1);
}

#[test]
fn a_hanging_request_stays_in_flight_until_dropped() {
    let clock = FakeClock::new();
    let p = scripted(&clock).replies([
        Reply::hang(),
        Reply::stream([StreamItem::start(), StreamItem::hang()]),
    ]);
    assert!(
        clock.block_on(p.chat(&request("m"))).is_none(),
        "never answers"
    );
    assert_eq!(
        p.in_flight(),
        0,
        "the dropped future is no longer in flight"
    );
    let mut s = clock.block_on(p.stream(&request("m"))).unwrap().unwrap();
    assert_eq!(p.in_flight(), 1, "the open stream is in flight");
    assert!(matches!(
        clock.block_on(s.next()),
        Some(Some(Ok(StreamEvent::Start(_))))
    ));
    assert!(clock.block_on(s.next()).is_none(), "the stream went silent");
    drop(s);
    assert_eq!(p.in_flight(), 0);
}

#[test]
fn a_table_validates_like_the_real_provider() {
    let p = ScriptedProvider::new("claude").table(llm_claude::PARAMS);
    let bad = request("m").temperature(1.5);
    assert_eq!(p.validate(&bad).unwrap_err().kind(), ErrorKind::Validation);
    assert!(p.validate(&request("m")).is_ok());
    assert!(ScriptedProvider::new("lax").validate(&bad).is_ok());
}
