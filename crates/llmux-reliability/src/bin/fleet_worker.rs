//! One process of a fleet, for the fleet-state tests: a two-entry chain (`first`, `second`, both
//! OpenAI-compatible servers) whose breakers and budgets are shared through Redis, driven by commands on
//! stdin, one per line, each answered by one line on stdout:
//!
//! - `call`: one chat call → `call ENTRY ATTEMPTS0 SKIP0` (the answering entry or -1, the requests sent to
//!   entry 0, and why entry 0 was skipped or `-`)
//! - `burst N`: N calls in a row → `burst OK FAILED FIRST` (answered, failed, answered by entry 0)
//! - `cost`: what this process's answers from entry 0 cost so far → `cost PICODOLLARS`
//! - `half`: waits until this process's view of entry 0 is half-open → `half`
//! - `synced`: waits until Redis is reachable and the fleet's state read → `synced`
//! - `quit`
//!
//! Unprompted, it prints `opened MICROS` (Unix time in microseconds) each time its own view of entry 0
//! turns open, so a test can measure how fast a breaker opened elsewhere reaches it.
//!
//! Arguments: `--redis URL --chain ID --first URL --second URL [--rpm N] [--usd-per-minute DOLLARS]
//! [--threshold N] [--cooldown-ms N] [--wait-ms N]`. With a dollar budget, entry 0 is priced at $100 per
//! million tokens, input and output.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use llm_chain::redis::{RedisOptions, RedisState};
use llm_chain::{BreakerPolicy, BreakerState, Chain, Entry, Policy, RetryPolicy, Skipped};
use llm_core::{ChatRequest, Price, Provider, Timeouts, Usd};
use llm_openai::{OpenAi, OpenAiConfig};
use tokio::io::{AsyncBufReadExt, BufReader};

/// Bounds every wait of a command, so a broken fleet fails the test instead of hanging it.
const HANG: Duration = Duration::from_secs(60);

struct Args {
    redis: String,
    chain: String,
    first: String,
    second: String,
    rpm: Option<u64>,
    usd_per_minute: Option<Usd>,
    threshold: u32,
    cooldown: Duration,
    wait: Duration,
}

fn parse() -> Result<Args, String> {
    let mut args = Args {
        redis: String::new(),
        chain: "fleet".to_owned(),
        first: String::new(),
        second: String::new(),
        rpm: None,
        usd_per_minute: None,
        threshold: 5,
        cooldown: Duration::from_secs(30),
        wait: Duration::from_millis(5),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || value.parse::<u64>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--redis" => args.redis = value.clone(),
            "--chain" => args.chain = value.clone(),
            "--first" => args.first = value.clone(),
            "--second" => args.second = value.clone(),
            "--rpm" => args.rpm = Some(number()?),
            "--usd-per-minute" => {
                let dollars: f64 = value.parse().map_err(|e| format!("{value}: {e}"))?;
                args.usd_per_minute = Some(
                    Usd::from_dollars(dollars).ok_or_else(|| format!("{value}: not dollars"))?,
                );
            }
            "--threshold" => {
                args.threshold = u32::try_from(number()?).map_err(|e| e.to_string())?
            }
            "--cooldown-ms" => args.cooldown = Duration::from_millis(number()?),
            "--wait-ms" => args.wait = Duration::from_millis(number()?),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    Ok(args)
}

fn entry(name: &'static str, url: &str) -> Result<Entry, String> {
    let config = OpenAiConfig::compatible(name, format!("{url}/v1"))
        .api_key("katan-key")
        .timeouts(Timeouts::default().total(Duration::from_secs(30)));
    let provider = OpenAi::new(config).map_err(|e| e.to_string())?;
    Ok(Entry::new(Arc::new(provider), "katan-echo"))
}

fn micros() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros())
        .unwrap_or(0)
}

fn is_open(chain: &Chain) -> bool {
    matches!(chain.health_snapshot()[0].state, BreakerState::Open { .. })
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), String> {
    let args = parse()?;
    let state = RedisState::connect(
        &args.redis,
        RedisOptions::default()
            .namespace("test")
            .wait(args.wait)
            .startup_wait(Duration::from_secs(5))
            .probe_lease(Duration::from_secs(10)),
    )
    .map_err(|e| e.to_string())?;
    // Ids the tests can name in Redis (the default ids carry a fingerprint of the server and key).
    let mut first = entry("first", &args.first)?.id("first");
    if let Some(rpm) = args.rpm {
        first = first.rpm(rpm);
    }
    if let Some(usd) = args.usd_per_minute {
        let price = Price::per_million(100.0, 100.0).ok_or("a price")?;
        first = first.price(price).usd_per_minute(usd);
    }
    let mut spent = Usd::ZERO;
    let skips: Arc<Mutex<Vec<Skipped>>> = Arc::default();
    let seen = Arc::clone(&skips);
    let chain = Chain::builder()
        .id(args.chain.clone())
        .entry(first)
        .entry(entry("second", &args.second)?.id("second"))
        .policy(
            Policy::default().retry(RetryPolicy::none()).breaker(
                BreakerPolicy::default()
                    .consecutive_failures(args.threshold)
                    .cooldown(args.cooldown, args.cooldown),
            ),
        )
        .state(Arc::new(state.clone()))
        .on_skip(Arc::new(move |s: &Skipped| {
            seen.lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(s.clone())
        }))
        .build()
        .map_err(|e| e.to_string())?;
    let watched = chain.clone();
    tokio::spawn(async move {
        // Polls its own in-process view: what a call would read. Measuring, not waiting for something.
        let mut was_open = false;
        loop {
            let open = is_open(&watched);
            if open && !was_open {
                println!("opened {}", micros());
            }
            was_open = open;
            tokio::time::sleep(Duration::from_micros(250)).await;
        }
    });
    let request = ChatRequest::new("ignored").user("hi").max_tokens(4);
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("call") => {
                skips.lock().unwrap_or_else(|e| e.into_inner()).clear();
                let (entry, attempts) = match chain.chat(&request).await {
                    Ok(r) => {
                        let e = r.attempts.last().map_or(-1, |a| a.entry as i64);
                        (e, r.attempts.iter().filter(|a| a.entry == 0).count())
                    }
                    Err(e) => (-1, e.attempts().iter().filter(|a| a.entry == 0).count()),
                };
                let skip = skips
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .find(|s| s.entry == 0)
                    .map_or("-", |s| s.reason.as_str());
                println!("call {entry} {attempts} {skip}");
            }
            Some("burst") => {
                let n: usize = words.next().and_then(|w| w.parse().ok()).unwrap_or(1);
                let (mut ok, mut failed, mut first) = (0, 0, 0);
                for _ in 0..n {
                    match chain.chat(&request).await {
                        Ok(r) => {
                            ok += 1;
                            if r.attempts.last().is_some_and(|a| a.entry == 0) {
                                first += 1;
                            }
                            let of_first = r.attempts.iter().filter(|a| a.entry == 0);
                            spent += of_first.filter_map(|a| a.cost).map(|c| c.usd).sum();
                        }
                        Err(_) => failed += 1,
                    }
                }
                println!("burst {ok} {failed} {first}");
            }
            Some("cost") => println!("cost {}", spent.picos()),
            Some("half") => {
                let wait = async {
                    while !matches!(
                        chain.health_snapshot()[0].state,
                        BreakerState::HalfOpen { .. }
                    ) {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                };
                match tokio::time::timeout(HANG, wait).await {
                    Ok(()) => println!("half"),
                    Err(_) => println!("timeout half"),
                }
            }
            Some("synced") => match tokio::time::timeout(HANG, state.reachable()).await {
                Ok(()) => println!("synced"),
                Err(_) => println!("timeout synced"),
            },
            Some("quit") | None => break,
            Some(other) => println!("unknown {other}"),
        }
    }
    Ok(())
}
