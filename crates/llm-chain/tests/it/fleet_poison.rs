//! Fleet state that cannot be poisoned, against a real redis-server: whatever another program writes to
//! Redis (a huge opening published on the channel, a field that is not a number), a sub-millisecond
//! `retry-after`, or another chain whose entries reach another server, this process's breakers and budgets
//! stay its own policy's, and Redis stays in use. Each of these broke the store before it was hardened.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use llm_chain::redis::{RedisOptions, RedisState};
use llm_chain::testing::{Failure, Reply, ScriptedProvider};
use llm_chain::{BreakerPolicy, BreakerState, Chain, Entry, Policy, RetryPolicy};
use llm_core::{ChatRequest, ErrorKind, Provider};
use llm_openai::{OpenAi, OpenAiConfig};
use llmux_e2e::RedisServer;

/// A bound that only proves nothing hangs.
const HANG: Duration = Duration::from_secs(20);
/// The policy's longest cooldown.
const MAX_COOLDOWN: Duration = Duration::from_secs(5);

fn store(redis: &RedisServer) -> RedisState {
    RedisState::connect(
        &redis.url(),
        RedisOptions::default()
            .namespace("t")
            // Generous: a loaded machine must not fall back to in-process decisions mid-test.
            .wait(Duration::from_millis(500))
            .startup_wait(Duration::from_secs(5)),
    )
    .expect("a redis URL")
}

fn policy() -> Policy {
    Policy::default().retry(RetryPolicy::none()).breaker(
        BreakerPolicy::default()
            .consecutive_failures(1)
            .cooldown(Duration::from_secs(1), MAX_COOLDOWN),
    )
}

fn scripted(name: &str, replies: Vec<Reply>) -> Arc<dyn Provider> {
    Arc::new(ScriptedProvider::new(name).replies(replies))
}

fn chain(state: &RedisState, entries: Vec<Entry>) -> Chain {
    let mut b = Chain::builder()
        .id("c")
        .policy(policy())
        .state(Arc::new(state.clone()));
    for e in entries {
        b = b.entry(e);
    }
    b.build().expect("a chain")
}

fn request() -> ChatRequest {
    ChatRequest::new("m").user("hi")
}

/// Waits (bounded) until `done`.
async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG;
    while !done() {
        assert!(Instant::now() < deadline, "{what} within {HANG:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn open_for(chain: &Chain, entry: usize) -> Option<Duration> {
    match chain.health_snapshot()[entry].state {
        BreakerState::Open { until } => Some(until.saturating_duration_since(Instant::now())),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poisoned_publish_opens_a_breaker_no_longer_than_the_policy_allows() {
    let redis = RedisServer::start();
    let state = store(&redis);
    let chain = chain(
        &state,
        vec![Entry::new(scripted("a", vec![Reply::text("ok")]), "m").id("e0")],
    );
    chain.chat(&request()).await.expect("an answer");
    tokio::time::timeout(HANG, state.reachable())
        .await
        .expect("reachable");
    // Anyone who can reach Redis can publish on the chain's channel.
    let published = redis.command(&["PUBLISH", "t:c", "o 9223372036854775807 e0"]);
    assert_eq!(published.as_deref(), Some(":1\r\n"), "one subscriber");
    eventually("the opening arrives", || open_for(&chain, 0).is_some()).await;
    let left = open_for(&chain, 0).expect("open");
    assert!(left <= MAX_COOLDOWN, "open for {left:?}, not for centuries");
    // A number that does not parse is dropped, not read as 0 or as anything else.
    redis.command(&["PUBLISH", "t:c", "o soon e0"]);
    assert!(state.is_reachable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fields_that_are_not_numbers_shift_nothing_and_keep_redis_in_use() {
    let redis = RedisServer::start();
    // Another program wrote nonsense into e0's breaker; e1's breaker is open for a minute (the fleet's).
    redis.command(&["HSET", "t:c:e0:b", "f", "abc", "u", "xyz"]);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_millis();
    let until = (now_ms + 60_000).to_string();
    redis.command(&["HSET", "t:c:e1:b", "f", "3", "u", &until]);
    let state = store(&redis);
    let chain = chain(
        &state,
        vec![
            Entry::new(
                scripted("a", vec![Reply::error(Failure::new(ErrorKind::Server))]),
                "m",
            )
            .id("e0"),
            Entry::new(scripted("b", vec![Reply::text("never")]), "m").id("e1"),
            Entry::new(scripted("c", vec![Reply::text("from c")]), "m").id("e2"),
        ],
    );
    // The first call reads the fleet's state: e1 is open (skipped), e0 is not, and nothing shifted onto e2.
    let answer = chain.chat(&request()).await.expect("an answer");
    assert_eq!(answer.text, "from c");
    let snapshot = chain.health_snapshot();
    assert!(
        matches!(snapshot[1].state, BreakerState::Open { .. }),
        "e1 is open: {snapshot:?}"
    );
    assert!(
        matches!(snapshot[2].state, BreakerState::Closed),
        "{snapshot:?}"
    );
    // e0's failure ran the failure script over its nonsense count: Redis is still in use, and the fleet
    // now counts e0's failure from 0.
    chain.flush_state().await;
    assert!(state.is_reachable(), "a bad field never takes Redis away");
    assert_eq!(
        redis.command(&["HGET", "t:c:e0:b", "f"]).as_deref(),
        Some("$1\r\n1\r\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sub_millisecond_retry_after_holds_the_budget_and_keeps_redis_in_use() {
    let redis = RedisServer::start();
    let state = store(&redis);
    let limited = Failure::new(ErrorKind::RateLimited).retry_after(Duration::from_micros(500));
    let chain = chain(
        &state,
        vec![
            Entry::new(scripted("a", vec![Reply::error(limited)]), "m")
                .id("e0")
                .rpm(100),
            Entry::new(scripted("b", vec![Reply::text("from b")]), "m").id("e1"),
        ],
    );
    let answer = chain.chat(&request()).await.expect("an answer");
    assert_eq!(answer.text, "from b");
    chain.flush_state().await;
    assert!(
        state.is_reachable(),
        "a 0.5 ms hold is sent as 1 ms, which Redis takes"
    );
}

/// An OpenAI-compatible provider at `base`, where nothing listens: every request is refused.
fn refused_at(base: &str) -> Arc<dyn Provider> {
    Arc::new(
        OpenAi::new(OpenAiConfig::compatible("openai", base).api_key("sk-same"))
            .expect("a provider"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chains_whose_entries_reach_other_servers_share_no_breaker() {
    let redis = RedisServer::start();
    let free = || {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        let port = listener.local_addr().expect("an address").port();
        format!("http://127.0.0.1:{port}/v1")
    };
    let (first, second) = (free(), free());
    // The same chain id, provider name and model: only the base URL differs.
    let a_state = store(&redis);
    let a = chain(
        &a_state,
        vec![
            Entry::new(refused_at(&first), "m"),
            Entry::new(scripted("fallback", vec![Reply::text("ok")]), "m"),
        ],
    );
    a.chat(&request()).await.expect("the fallback answers");
    assert!(open_for(&a, 0).is_some(), "a's entry 0 opened");
    a.flush_state().await;
    assert!(a_state.is_reachable());
    let b_state = store(&redis);
    let b = chain(
        &b_state,
        vec![
            Entry::new(refused_at(&second), "m"),
            Entry::new(scripted("fallback", vec![Reply::text("ok")]), "m"),
        ],
    );
    tokio::time::timeout(HANG, b_state.reachable())
        .await
        .expect("reachable");
    b.chat(&request()).await.expect("an answer");
    let attempts = b.health_snapshot();
    assert!(
        attempts[0].last_error.is_some(),
        "b's entry 0 was tried, not skipped as a's open breaker: {attempts:?}"
    );
    assert_ne!(
        a.fleet_view().targets()[0].id(),
        b.fleet_view().targets()[0].id()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rediss_shares_state_over_tls_with_a_given_certificate_authority() {
    let redis = RedisServer::start_tls();
    let url = redis.tls_url().expect("a TLS port");
    let ca = redis.tls_ca().expect("the CA");
    let state = RedisState::connect(
        &url,
        RedisOptions::default()
            .namespace("t")
            .wait(Duration::from_millis(500))
            .startup_wait(Duration::from_secs(5))
            .root_certificate(ca),
    )
    .expect("rediss:// is a redis URL");
    let chain = chain(
        &state,
        vec![
            Entry::new(
                scripted("a", vec![Reply::error(Failure::new(ErrorKind::Server))]),
                "m",
            )
            .id("e0"),
            Entry::new(scripted("b", vec![Reply::text("from b")]), "m").id("e1"),
        ],
    );
    tokio::time::timeout(HANG, state.reachable())
        .await
        .expect("reachable over TLS");
    chain.chat(&request()).await.expect("an answer");
    chain.flush_state().await;
    assert!(state.is_reachable());
    // The failure reached the server over TLS: e0's breaker is open in Redis.
    let u = redis
        .command(&["HGET", "t:c:e0:b", "u"])
        .expect("an answer on the plain port");
    assert!(u.starts_with('$') && !u.starts_with("$-1"), "{u:?}");

    // Without the CA, the server's certificate is not trusted: never reachable, and calls still answer.
    let untrusted = RedisState::connect(
        &url,
        RedisOptions::default()
            .namespace("t2")
            .startup_wait(Duration::from_millis(300)),
    )
    .expect("a redis URL");
    let other = Chain::builder()
        .id("c")
        .policy(policy())
        .state(Arc::new(untrusted.clone()))
        .entry(Entry::new(scripted("b", vec![Reply::text("still")]), "m"))
        .build()
        .expect("a chain");
    assert_eq!(
        other.chat(&request()).await.expect("an answer").text,
        "still"
    );
    assert!(!untrusted.is_reachable());
}
