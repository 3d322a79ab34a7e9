//! The gateway's counters, rendered in the Prometheus text exposition format (version 0.0.4) at
//! `/metrics`: requests by API, mode and status, attempts by provider and outcome, a time-to-first-token
//! histogram, the streams open now, entries passed over without a request (an open breaker, shared fleet
//! state, a rate budget) and each chain entry's breaker state.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use llmux::chain::{BreakerState, EntryHealth, Skipped};
use llmux::{Attempt, Usd};

/// Upper bounds of the time-to-first-token buckets, in seconds.
const TTFT_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Every counter the gateway keeps. Cheap to update from any task.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, bool, u16), u64>>,
    attempts: Mutex<BTreeMap<(String, &'static str), u64>>,
    ttft: Mutex<Histogram>,
    open_streams: AtomicI64,
    stream_failures: Mutex<BTreeMap<&'static str, u64>>,
    skips: Mutex<BTreeMap<(String, &'static str), u64>>,
    /// What attempts cost, by route, provider and model, summed exactly.
    cost: Mutex<BTreeMap<(String, String, String), Usd>>,
}

#[derive(Debug, Default)]
struct Histogram {
    counts: [u64; TTFT_BUCKETS.len()],
    count: u64,
    sum: f64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Counters only: a panic elsewhere leaves nothing half-written worth refusing.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Metrics {
    /// One answered request.
    pub fn request(&self, api: &'static str, stream: bool, status: u16) {
        *lock(&self.requests)
            .entry((api, stream, status))
            .or_default() += 1;
    }

    /// One attempt the chain of `route` made (`""`: the main chain), and what it cost when known.
    pub fn attempt(&self, route: &str, attempt: &Attempt) {
        *lock(&self.attempts)
            .entry((attempt.provider.clone(), attempt.outcome_str()))
            .or_default() += 1;
        if let Some(cost) = attempt.cost.filter(|c| c.usd > Usd::ZERO) {
            let key = (
                route.to_owned(),
                attempt.provider.clone(),
                attempt.model.clone(),
            );
            *lock(&self.cost).entry(key).or_default() += cost.usd;
        }
    }

    /// An entry the chain passed over without a request (the gateway's form of the CLI's `skip` line).
    pub fn skip(&self, skipped: &Skipped) {
        *lock(&self.skips)
            .entry((skipped.provider.clone(), skipped.reason.as_str()))
            .or_default() += 1;
    }

    /// The time from a streamed request's arrival to its first content.
    pub fn ttft(&self, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let mut h = lock(&self.ttft);
        for (count, bound) in h.counts.iter_mut().zip(TTFT_BUCKETS) {
            if secs <= bound {
                *count += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    /// A stream that failed after its first token (ended with the dialect's error event).
    pub fn stream_failed(&self, api: &'static str) {
        *lock(&self.stream_failures).entry(api).or_default() += 1;
    }

    /// A stream opened (`1`) or closed (`-1`).
    pub fn streams(&self, delta: i64) {
        self.open_streams.fetch_add(delta, Ordering::Relaxed);
    }

    /// Everything, in the text format, with the whole answers being prepared now (`open_requests`: the
    /// gateway's semaphore counts them) and the breaker states of each route's `health` (`""`: the main
    /// chain).
    pub fn render(&self, open_requests: usize, health: &[(&str, Vec<EntryHealth>)]) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP llmux_requests_total Requests answered, by API, streaming and HTTP status.\n",
        );
        out.push_str("# TYPE llmux_requests_total counter\n");
        for ((api, stream, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "llmux_requests_total{{api=\"{api}\",stream=\"{stream}\",status=\"{status}\"}} {n}"
            );
        }
        out.push_str("# HELP llmux_attempts_total Requests to providers, by provider and outcome (ok or the error kind).\n");
        out.push_str("# TYPE llmux_attempts_total counter\n");
        for ((provider, outcome), n) in lock(&self.attempts).iter() {
            let _ = writeln!(
                out,
                "llmux_attempts_total{{provider=\"{}\",outcome=\"{outcome}\"}} {n}",
                escape(provider)
            );
        }
        out.push_str("# HELP llmux_skips_total Entries passed over without a request, by provider and reason (breaker_open, probe_in_flight, rate_budget).\n");
        out.push_str("# TYPE llmux_skips_total counter\n");
        for ((provider, reason), n) in lock(&self.skips).iter() {
            let _ = writeln!(
                out,
                "llmux_skips_total{{provider=\"{}\",reason=\"{reason}\"}} {n}",
                escape(provider)
            );
        }
        out.push_str("# HELP llmux_time_to_first_token_seconds From a streamed request's arrival to its first content.\n");
        out.push_str("# TYPE llmux_time_to_first_token_seconds histogram\n");
        {
            let h = lock(&self.ttft);
            for (count, bound) in h.counts.iter().zip(TTFT_BUCKETS) {
                let _ = writeln!(
                    out,
                    "llmux_time_to_first_token_seconds_bucket{{le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "llmux_time_to_first_token_seconds_bucket{{le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(out, "llmux_time_to_first_token_seconds_sum {}", h.sum);
            let _ = writeln!(out, "llmux_time_to_first_token_seconds_count {}", h.count);
        }
        out.push_str("# HELP llmux_stream_failures_total Streams that failed after their first token, by API.\n");
        out.push_str("# TYPE llmux_stream_failures_total counter\n");
        for (api, n) in lock(&self.stream_failures).iter() {
            let _ = writeln!(out, "llmux_stream_failures_total{{api=\"{api}\"}} {n}");
        }
        out.push_str("# HELP llmux_open_streams Streamed answers being sent now.\n");
        out.push_str("# TYPE llmux_open_streams gauge\n");
        let _ = writeln!(
            out,
            "llmux_open_streams {}",
            self.open_streams.load(Ordering::Relaxed)
        );
        out.push_str("# HELP llmux_open_requests Whole (unstreamed) answers being prepared now.\n");
        out.push_str("# TYPE llmux_open_requests gauge\n");
        let _ = writeln!(out, "llmux_open_requests {open_requests}");
        out.push_str("# HELP llmux_cost_usd_total What attempts cost in US dollars (estimates included: a cut stream, a cancelled hedge), by route, provider and model; models of unknown price are not counted.\n");
        out.push_str("# TYPE llmux_cost_usd_total counter\n");
        for ((route, provider, model), usd) in lock(&self.cost).iter() {
            let _ = writeln!(
                out,
                "llmux_cost_usd_total{{route=\"{}\",provider=\"{}\",model=\"{}\"}} {usd}",
                escape(route),
                escape(provider),
                escape(model)
            );
        }
        out.push_str("# HELP llmux_breaker_state Each chain entry's circuit breaker: 0 closed, 1 open, 2 half-open.\n");
        out.push_str("# TYPE llmux_breaker_state gauge\n");
        for (route, entry) in health
            .iter()
            .flat_map(|(route, entries)| entries.iter().map(move |e| (route, e)))
        {
            let state = match entry.state {
                BreakerState::Closed => 0,
                BreakerState::Open { .. } => 1,
                _ => 2,
            };
            let _ = writeln!(
                out,
                "llmux_breaker_state{{route=\"{}\",entry=\"{}\",provider=\"{}\",model=\"{}\"}} {state}",
                escape(route),
                entry.entry,
                escape(&entry.provider),
                escape(&entry.model)
            );
        }
        out
    }
}

/// A label value escaped as the text format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_every_family_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request("openai", true, 200);
        m.request("openai", true, 200);
        let mut priced = Attempt::succeeded(0, "claude", "m", 0, Duration::ZERO);
        priced.cost = Some(llmux::Cost::exact(Usd::from_picos(1_500_000_000)));
        m.attempt("fast", &priced);
        m.attempt("fast", &priced);
        m.ttft(Duration::from_millis(30));
        m.ttft(Duration::from_secs(60));
        m.stream_failed("anthropic");
        let text = m.render(0, &[]);
        assert!(
            text.contains("llmux_requests_total{api=\"openai\",stream=\"true\",status=\"200\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("llmux_attempts_total{provider=\"claude\",outcome=\"ok\"} 2"),
            "{text}"
        );
        assert!(
            text.contains(
                "llmux_cost_usd_total{route=\"fast\",provider=\"claude\",model=\"m\"} 0.003"
            ),
            "two attempts of $0.0015, summed exactly: {text}"
        );
        assert!(
            text.contains("llmux_time_to_first_token_seconds_bucket{le=\"0.05\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("llmux_time_to_first_token_seconds_bucket{le=\"+Inf\"} 2"),
            "{text}"
        );
        assert!(
            text.contains("llmux_time_to_first_token_seconds_count 2"),
            "{text}"
        );
        assert!(
            text.contains("llmux_stream_failures_total{api=\"anthropic\"} 1"),
            "{text}"
        );
        assert_eq!(escape("a\"b\\"), "a\\\"b\\\\");
    }
}
