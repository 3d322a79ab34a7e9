//! Fleet state across real processes: several `fleet_worker` processes share one chain's breakers and
//! budgets through a real redis-server, against real llm-katan servers (one failing every request, one
//! healthy). Figures measured here (propagation of an opened breaker) are printed; the assertions on
//! time are generous hang bounds only, so a loaded two-core machine cannot flake them.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use llmux_e2e::{Katan, RedisServer};

/// A bound that only proves nothing hangs.
const HANG: Duration = Duration::from_secs(60);
/// The generous bound on how fast an opened breaker reaches the other processes (the target is 100 ms;
/// the measured figure is printed and recorded in BENCHMARKS.md).
const PROPAGATION_BOUND_US: u128 = 2_000_000;

struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    opened: Arc<Mutex<Vec<u128>>>,
}

impl Worker {
    fn start(
        redis: &RedisServer,
        chain: &str,
        first: &Katan,
        second: &Katan,
        extra: &[&str],
    ) -> Worker {
        let mut child = Command::new(env!("CARGO_BIN_EXE_fleet_worker"))
            .args(["--redis", &redis.url(), "--chain", chain])
            .args(["--first", &first.base_url(), "--second", &second.base_url()])
            // A wait for Redis generous enough that a loaded machine does not fall back to in-process
            // decisions mid-test (the default is 5 ms; falling back is tested where Redis is killed).
            .args(["--wait-ms", "500"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start fleet_worker");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        let opened: Arc<Mutex<Vec<u128>>> = Arc::default();
        let seen = Arc::clone(&opened);
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(t) = line.strip_prefix("opened ") {
                    seen.lock().unwrap().push(t.parse().unwrap_or(0));
                } else if tx.send(line).is_err() {
                    return;
                }
            }
        });
        let mut worker = Worker {
            child,
            stdin,
            lines,
            opened,
        };
        worker.ask("synced");
        worker
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").expect("write to fleet_worker");
        self.stdin.flush().expect("flush");
    }

    fn answer(&self) -> String {
        let line = self
            .lines
            .recv_timeout(HANG)
            .expect("fleet_worker answered within the hang bound");
        assert!(!line.starts_with("timeout"), "fleet_worker gave up: {line}");
        line
    }

    fn ask(&mut self, command: &str) -> String {
        self.send(command);
        self.answer()
    }

    /// `call ENTRY ATTEMPTS0 SKIP0` → (entry, attempts to entry 0, skip reason of entry 0).
    fn call(&mut self) -> (i64, usize, String) {
        parse_call(&self.ask("call"))
    }

    fn first_opened(&self) -> Option<u128> {
        self.opened.lock().unwrap().first().copied()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = writeln!(self.stdin, "quit");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn parse_call(line: &str) -> (i64, usize, String) {
    let parts: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(parts.len(), 4, "unexpected answer {line:?}");
    (
        parts[1].parse().unwrap(),
        parts[2].parse().unwrap(),
        parts[3].to_owned(),
    )
}

/// `burst OK FAILED FIRST`.
fn parse_burst(line: &str) -> (usize, usize, usize) {
    let parts: Vec<usize> = line
        .split_whitespace()
        .skip(1)
        .map(|w| w.parse().unwrap())
        .collect();
    assert_eq!(parts.len(), 3, "unexpected answer {line:?}");
    (parts[0], parts[1], parts[2])
}

/// Polls `done` until it is true, within the hang bound.
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + HANG;
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} within {HANG:?}"
        );
        thread::yield_now();
    }
}

#[test]
fn one_process_trips_the_breaker_and_the_others_skip_the_entry_within_the_bound() {
    let redis = RedisServer::start();
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let healthy = Katan::start();
    let mut workers: Vec<Worker> = (0..4)
        .map(|_| Worker::start(&redis, "trip", &failing, &healthy, &["--threshold", "3"]))
        .collect();
    for _ in 0..3 {
        let (entry, attempts, _) = workers[0].call();
        assert_eq!((entry, attempts), (1, 1), "entry 0 fails, entry 1 answers");
    }
    eventually("every process sees the breaker open", || {
        workers.iter().all(|w| w.first_opened().is_some())
    });
    let tripped = workers[0].first_opened().unwrap();
    let mut worst = 0;
    for (i, w) in workers.iter().enumerate().skip(1) {
        let lag = w.first_opened().unwrap().saturating_sub(tripped);
        println!("fleet: breaker opened in worker 0 reached worker {i} after {lag} us");
        worst = worst.max(lag);
    }
    println!("fleet: worst propagation {worst} us (target 100000 us)");
    assert!(worst < PROPAGATION_BOUND_US, "propagation {worst} us");
    for w in &mut workers[1..] {
        let (entry, attempts, skip) = w.call();
        assert_eq!(entry, 1);
        assert_eq!(attempts, 0, "no request to the open entry");
        assert_eq!(skip, "breaker_open");
    }
    // A process that starts later reads the open breaker before its first call.
    let mut late = Worker::start(&redis, "trip", &failing, &healthy, &["--threshold", "3"]);
    let (entry, attempts, skip) = late.call();
    assert_eq!((entry, attempts, skip.as_str()), (1, 0, "breaker_open"));
}

#[test]
fn failures_are_counted_fleet_wide_and_the_half_open_probe_is_one_per_fleet() {
    let redis = RedisServer::start();
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let healthy = Katan::start();
    let args = ["--threshold", "5", "--cooldown-ms", "1500"];
    let mut workers: Vec<Worker> = (0..5)
        .map(|_| Worker::start(&redis, "count", &failing, &healthy, &args))
        .collect();
    // Five processes each see one failure: the breaker opens for all of them, as one process seeing five.
    for w in &mut workers {
        assert_eq!(w.call(), (1, 1, "-".to_owned()));
    }
    eventually("the fifth failure opens the breaker everywhere", || {
        workers.iter().all(|w| w.first_opened().is_some())
    });
    for w in &mut workers {
        assert_eq!(w.call(), (1, 0, "breaker_open".to_owned()));
    }
    // After the cooldown every process wants to probe; the fleet lets exactly one through.
    for w in &mut workers {
        w.ask("half");
    }
    for w in &mut workers {
        w.send("call");
    }
    let answers: Vec<(i64, usize, String)> =
        workers.iter().map(|w| parse_call(&w.answer())).collect();
    let probes: usize = answers.iter().map(|a| a.1).sum();
    assert_eq!(probes, 1, "one probe for the fleet: {answers:?}");
    assert!(
        answers.iter().all(|a| a.0 == 1),
        "every call answered: {answers:?}"
    );
    assert!(
        answers
            .iter()
            .filter(|a| a.1 == 0)
            .all(|a| a.2 == "probe_in_flight" || a.2 == "breaker_open"),
        "the others skipped entry 0: {answers:?}"
    );
}

#[test]
fn an_rpm_budget_holds_across_four_concurrent_processes() {
    let redis = RedisServer::start();
    let first = Katan::start();
    let second = Katan::start();
    let rpm = 40;
    let mut workers: Vec<Worker> = (0..4)
        .map(|_| Worker::start(&redis, "rpm", &first, &second, &["--rpm", &rpm.to_string()]))
        .collect();
    for w in &mut workers {
        w.send("burst 30");
    }
    let bursts: Vec<(usize, usize, usize)> =
        workers.iter().map(|w| parse_burst(&w.answer())).collect();
    let sent_first: usize = bursts.iter().map(|b| b.2).sum();
    let answered: usize = bursts.iter().map(|b| b.0).sum();
    println!(
        "fleet: rpm {rpm} across 4 processes: {sent_first} of 120 calls went to entry 0 {bursts:?}"
    );
    assert_eq!(
        answered, 120,
        "every call answered (entry 1 takes the rest)"
    );
    assert_eq!(sent_first, rpm, "the budget holds fleet-wide");
}

#[test]
fn a_dollar_budget_holds_across_four_concurrent_processes() {
    let redis = RedisServer::start();
    let first = Katan::start();
    let second = Katan::start();
    let budget = 0.02;
    let mut workers: Vec<Worker> = (0..4)
        .map(|_| {
            let usd = budget.to_string();
            Worker::start(&redis, "usd", &first, &second, &["--usd-per-minute", &usd])
        })
        .collect();
    for w in &mut workers {
        w.send("burst 30");
    }
    let bursts: Vec<(usize, usize, usize)> =
        workers.iter().map(|w| parse_burst(&w.answer())).collect();
    let answered: usize = bursts.iter().map(|b| b.0).sum();
    let sent_first: usize = bursts.iter().map(|b| b.2).sum();
    let spent: u64 = workers
        .iter_mut()
        .map(|w| {
            let line = w.ask("cost");
            line.strip_prefix("cost ")
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("unexpected answer {line:?}"))
        })
        .sum();
    let spent = spent as f64 / 1e12;
    println!(
        "fleet: ${budget} a minute across 4 processes: {sent_first} of 120 calls to entry 0 spent ${spent}"
    );
    assert_eq!(
        answered, 120,
        "every call answered (entry 1 takes the rest)"
    );
    assert!(
        sent_first > 0 && sent_first < 120,
        "the budget passed entry 0 over once spent"
    );
    // Each process alone would allow the whole budget (4x in all); shared, the fleet spends at most the
    // budget plus what real costs exceeded the reservations of the four calls that can be in flight.
    assert!(spent <= budget * 1.25, "spent ${spent} of ${budget}");
    assert!(
        spent >= budget * 0.5,
        "the budget was used: ${spent} of ${budget}"
    );
}

#[test]
fn redis_killed_mid_run_fails_no_call_and_the_fleet_resyncs_when_it_returns() {
    let mut redis = RedisServer::start();
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let healthy = Katan::start();
    // A budget that never runs out, so every call asks Redis for room: each decision meets the outage.
    let mut workers: Vec<Worker> = (0..3)
        .map(|_| Worker::start(&redis, "down", &healthy, &failing, &["--rpm", "1000000"]))
        .collect();
    for w in &mut workers {
        w.send("burst 200");
    }
    redis.kill();
    for w in &workers {
        let (ok, failed, first) = parse_burst(&w.answer());
        assert_eq!(
            (ok, failed),
            (200, 0),
            "no call fails because Redis is gone"
        );
        assert_eq!(first, 200, "entry 0 answered throughout");
    }
    for w in &mut workers {
        assert_eq!(
            w.ask("burst 10"),
            "burst 10 0 10",
            "calls while Redis is down"
        );
    }
    redis.restart();
    for w in &mut workers {
        w.ask("synced");
    }
    // Back: a breaker another process opens now (written as the failure script writes it) reaches every
    // running process again, and its next call honours it.
    let until = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis()
        + 60_000;
    let id = "first";
    let breaker = format!("test:down:{id}:b");
    let written = redis.command(&["HSET", &breaker, "f", "2", "u", &until.to_string()]);
    assert!(written.is_some_and(|r| r.starts_with(':')), "HSET answered");
    let published = redis.command(&["PUBLISH", "test:down", &format!("o 60000 {id}")]);
    assert_eq!(
        published.as_deref(),
        Some(":3\r\n"),
        "three subscribers again"
    );
    eventually(
        "the breaker reaches every process after the restart",
        || workers.iter().all(|w| w.first_opened().is_some()),
    );
    for w in &mut workers {
        let (_, attempts, skip) = w.call();
        assert_eq!((attempts, skip.as_str()), (0, "breaker_open"));
    }
}

#[test]
fn the_failure_ratio_is_the_fleets_so_processes_too_quiet_to_trip_alone_trip_together() {
    let redis = RedisServer::start();
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let healthy = Katan::start();
    // Consecutive failures never trip here (100), and each process sees 3 outcomes, under the ratio's
    // minimum of 10: only the fleet's window (12 outcomes, all failures) can open the breaker.
    let mut workers: Vec<Worker> = (0..4)
        .map(|_| Worker::start(&redis, "ratio", &failing, &healthy, &["--threshold", "100"]))
        .collect();
    let mut sent = 0;
    for w in &mut workers {
        for _ in 0..3 {
            let (entry, attempts, _) = w.call();
            assert_eq!(entry, 1, "entry 1 answers");
            sent += attempts;
        }
    }
    eventually(
        "the fleet's ratio opens the breaker in every process",
        || workers.iter().all(|w| w.first_opened().is_some()),
    );
    assert!(
        (10..=12).contains(&sent),
        "opened at the 10th outcome, give or take the reports in flight: {sent}"
    );
    for w in &mut workers {
        let (_, attempts, skip) = w.call();
        assert_eq!((attempts, skip.as_str()), (0, "breaker_open"));
    }
}

#[test]
fn a_breaker_opened_while_redis_was_down_is_offered_to_the_fleet_when_it_returns() {
    let mut redis = RedisServer::start();
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let healthy = Katan::start();
    let args = ["--threshold", "2", "--cooldown-ms", "60000"];
    let mut alone = Worker::start(&redis, "offer", &failing, &healthy, &args);
    redis.kill();
    for _ in 0..2 {
        let (entry, attempts, _) = alone.call();
        assert_eq!((entry, attempts), (1, 1), "entry 0 fails, entry 1 answers");
    }
    let (_, attempts, skip) = alone.call();
    assert_eq!(
        (attempts, skip.as_str()),
        (0, "breaker_open"),
        "opened in process while Redis is down"
    );
    redis.restart();
    alone.ask("synced");
    let breaker = "test:offer:first:b";
    eventually("the breaker is written to Redis", || {
        redis
            .command(&["HGET", breaker, "u"])
            .is_some_and(|r| r.starts_with('$') && !r.starts_with("$-1"))
    });
    // A process that starts now learns what the first learned alone.
    let mut later = Worker::start(&redis, "offer", &failing, &healthy, &args);
    let (entry, attempts, skip) = later.call();
    assert_eq!((entry, attempts, skip.as_str()), (1, 0, "breaker_open"));
}

#[test]
fn successes_elsewhere_keep_the_fleets_ratio_under_the_threshold() {
    let redis = RedisServer::start();
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let healthy = Katan::start();
    let args = ["--threshold", "100"];
    // Both processes call their first entry "first" (the same target for the fleet); one reaches a
    // healthy server, the other a failing one.
    let mut good = Worker::start(&redis, "mix", &healthy, &healthy, &args);
    let mut bad = Worker::start(&redis, "mix", &failing, &healthy, &args);
    for _ in 0..20 {
        assert_eq!(good.call().1, 1, "the healthy process's entry 0 answers");
    }
    let window = "test:mix:first:ws";
    eventually("the successes reach the fleet's window", || {
        let values = redis.command(&["HVALS", window]).unwrap_or_default();
        let total: u64 = values
            .lines()
            .filter(|l| !l.starts_with(['*', '$']))
            .filter_map(|l| l.trim().parse::<u64>().ok())
            .sum();
        total == 20
    });
    // Its own ratio (every outcome a failure, ten of them) opens this process's breaker; the fleet's
    // (ten failures in thirty outcomes) does not.
    for _ in 0..12 {
        bad.call();
    }
    let (_, attempts, skip) = bad.call();
    assert_eq!((attempts, skip.as_str()), (0, "breaker_open"));
    let (entry, attempts, _) = good.call();
    assert_eq!(
        (entry, attempts),
        (0, 1),
        "the fleet's breaker stays closed for the healthy process"
    );
    assert!(good.first_opened().is_none(), "never opened there");
}

/// Successes a process counted for the fleet's window (sent by its reporter every 250 ms) say nothing
/// about failures the fleet counted after them: they must not reset the fleet's consecutive count. The
/// healthy process succeeds, the failing one fails just after (before the healthy one's tick sends that
/// success), waits out the tick and fails again: the second failure is the fleet's second in a row and
/// opens the breaker everywhere.
#[test]
fn successes_counted_before_a_failure_elsewhere_do_not_reset_the_fleets_count() {
    let redis = RedisServer::start();
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let healthy = Katan::start();
    let args = ["--threshold", "2"];
    let mut good = Worker::start(&redis, "tick", &healthy, &healthy, &args);
    let mut bad = Worker::start(&redis, "tick", &failing, &healthy, &args);
    assert_eq!(good.call().1, 1, "the healthy process's entry 0 answers");
    assert_eq!(
        bad.call(),
        (1, 1, "-".to_owned()),
        "one failure, then entry 1"
    );
    // Past the healthy process's next tick, which sends its counted success.
    thread::sleep(Duration::from_millis(600));
    assert_eq!(bad.call().1, 1, "the second failure is still attempted");
    eventually(
        "the fleet's second failure in a row opens the breaker for the healthy process",
        || good.first_opened().is_some(),
    );
}
