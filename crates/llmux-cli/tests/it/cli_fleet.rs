//! The CLI's fleet-state contract across real processes: `[state] redis` in the chain file shares breakers
//! and budgets between separate `llmux chat` runs through a real redis-server, and `--json` prints a
//! `skip` line for every entry passed over without a request.

use crate::support::{Scratch, llmux, llmux_async, openai_stream, openai_whole, pairs, strings};
use llmux_e2e::{Katan, RedisServer};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer};

fn chain_file(
    dir: &Scratch,
    redis: &RedisServer,
    first: &Katan,
    second: &Katan,
    extra: &str,
) -> String {
    let file = dir.file(
        "chain.toml",
        &format!(
            "[state]\nredis = \"{}\"\nkey = \"cli-test\"\n\n\
             [[entry]]\nprovider = \"openai\"\nmodel = \"{m}\"\nbase_url = \"{}/v1\"\n{extra}\n\
             [[entry]]\nprovider = \"openai\"\nmodel = \"{m}\"\nbase_url = \"{}/v1\"\n",
            redis.url(),
            first.base_url(),
            second.base_url(),
            m = Katan::MODEL,
        ),
    );
    file.to_str().expect("utf-8 path").to_owned()
}

fn chat(chain: &str) -> crate::support::Run {
    llmux(
        &[
            "chat",
            "--json",
            "--no-stream",
            "--max-retries",
            "0",
            "--chain",
            chain,
            "hi",
        ],
        &[("OPENAI_API_KEY", "sk-katan")],
        None,
    )
}

#[test]
fn a_breaker_opened_by_earlier_runs_is_honoured_by_a_later_one_with_a_skip_line() {
    let redis = RedisServer::start();
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let healthy = Katan::start();
    let dir = Scratch::new("fleet-breaker");
    let chain = chain_file(&dir, &redis, &failing, &healthy, "");
    // Five runs, each seeing one failure of entry 0: the fleet's count opens its breaker (threshold 5).
    for _ in 0..5 {
        let run = chat(&chain);
        assert_eq!(run.code, 0, "{run:?}");
        assert_eq!(run.of_type("attempt")[0]["outcome"], "server");
        assert!(run.of_type("skip").is_empty());
    }
    let run = chat(&chain);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        run.of_type("skip"),
        [json!({"type": "skip", "entry": 0, "provider": "openai", "reason": "breaker_open"})]
    );
    let attempts = run.of_type("attempt");
    assert_eq!(attempts.len(), 1, "no request to the open entry");
    assert_eq!(attempts[0]["entry"], 1);
}

#[test]
fn an_rpm_budget_is_shared_by_separate_runs() {
    let redis = RedisServer::start();
    let first = Katan::start();
    let second = Katan::start();
    let dir = Scratch::new("fleet-rpm");
    let chain = chain_file(&dir, &redis, &first, &second, "rpm = 2\n");
    let entries: Vec<i64> = (0..3)
        .map(|_| {
            let run = chat(&chain);
            assert_eq!(run.code, 0, "{run:?}");
            run.of_type("attempt")[0]["entry"].as_i64().unwrap()
        })
        .collect();
    assert_eq!(entries, [0, 0, 1]);
    let run = chat(&chain);
    assert_eq!(
        run.of_type("skip"),
        [json!({"type": "skip", "entry": 0, "provider": "openai", "reason": "rate_budget"})]
    );
}

#[test]
fn a_redis_that_is_down_changes_nothing_but_a_log_line() {
    let mut redis = RedisServer::start();
    let healthy = Katan::start();
    let dir = Scratch::new("fleet-down");
    let chain = chain_file(&dir, &redis, &healthy, &healthy, "rpm = 100\n");
    redis.kill();
    let run = chat(&chain);
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(run.of_type("attempt")[0]["entry"], 0);
    assert!(
        !run.stderr.contains("redis://"),
        "the URL is never printed: {}",
        run.stderr
    );
    assert_eq!(
        run.stderr
            .matches("fleet state: Redis unreachable; deciding from in-process state")
            .count(),
        1,
        "said once: {}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_providers_remaining_requests_header_lowers_the_shared_budget() {
    remaining_requests_lower_the_budget(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_answers_remaining_requests_header_lowers_the_shared_budget() {
    remaining_requests_lower_the_budget(true).await;
}

async fn remaining_requests_lower_the_budget(streamed: bool) {
    let redis = RedisServer::start();
    let provider = MockServer::start().await;
    let answer = if streamed {
        openai_stream(&["h", "i"])
    } else {
        openai_whole("hi")
    };
    Mock::given(method("POST"))
        .respond_with(answer.insert_header("x-ratelimit-remaining-requests", "0"))
        .mount(&provider)
        .await;
    let healthy = Katan::start();
    let dir = Scratch::new("fleet-remaining");
    let file = dir.file(
        "chain.toml",
        &format!(
            "[state]\nredis = \"{}\"\nkey = \"cli-test\"\n\n\
             [[entry]]\nprovider = \"openai\"\nmodel = \"m\"\nbase_url = \"{}/v1\"\nrpm = 100\n\n\
             [[entry]]\nprovider = \"openai\"\nmodel = \"{m}\"\nbase_url = \"{}/v1\"\n",
            redis.url(),
            provider.uri(),
            healthy.base_url(),
            m = Katan::MODEL,
        ),
    );
    let chain = file.to_str().expect("utf-8 path").to_owned();
    let run = || {
        llmux_async(
            strings(
                &["chat", "--json", "--chain", &chain, "hi"]
                    .into_iter()
                    .chain((!streamed).then_some("--no-stream"))
                    .collect::<Vec<_>>(),
            ),
            pairs(&[("OPENAI_API_KEY", "sk-test")]),
            None,
        )
    };
    let first = run().await;
    assert_eq!(first.code, 0, "{first:?}");
    assert_eq!(first.of_type("attempt")[0]["entry"], 0);
    // The provider said no request is left: a separate process skips entry 0 without asking it.
    let second = run().await;
    assert_eq!(second.code, 0, "{second:?}");
    assert_eq!(
        second.of_type("skip"),
        [json!({"type": "skip", "entry": 0, "provider": "openai", "reason": "rate_budget"})]
    );
    assert_eq!(provider.received_requests().await.map(|r| r.len()), Some(1));
}
