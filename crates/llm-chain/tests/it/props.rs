//! Property: for any scripted sequence of outcomes, the chain returns the first success in order, or an
//! error whose kind is the last attempt's (or `timeout`) listing every request made; it never waits past
//! its deadline, never skips an entry, and never continues after a stopping kind.

use std::time::Duration;

use crate::support::*;
use llm_chain::{FakeClock, RetryPolicy};
use llm_core::{Attempt, ErrorKind};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Out {
    Ok(u64),
    Fail(ErrorKind, u64, Option<u64>),
}

const KINDS: [ErrorKind; 8] = [
    ErrorKind::Server,
    ErrorKind::RateLimited,
    ErrorKind::Timeout,
    ErrorKind::Network,
    ErrorKind::Auth,
    ErrorKind::NotFound,
    ErrorKind::BadRequest,
    ErrorKind::Cancelled,
];

fn out() -> impl Strategy<Value = Out> {
    prop_oneof![
        (0u64..3000).prop_map(Out::Ok),
        (
            0..KINDS.len(),
            0u64..3000,
            proptest::option::weighted(0.3, 0u64..90_000)
        )
            .prop_map(|(k, after, hint)| Out::Fail(KINDS[k], after, hint)),
    ]
}

fn step(o: &Out, entry: usize, k: usize) -> Step {
    match o {
        Out::Ok(after) => ok_after(ms(*after), &format!("e{entry}s{k}")),
        Out::Fail(kind, after, hint) => {
            let fail = match hint {
                Some(h) => Fail::new(*kind).retry_after(ms(*h)),
                None => Fail::new(*kind),
            };
            fail_with(fail).after(ms(*after))
        }
    }
}

/// What the script says the `k`-th request to an entry gets; past its end the scripted provider fails
/// with `unknown`.
fn scripted_outcome(script: &[Out], k: usize) -> Option<ErrorKind> {
    match script.get(k) {
        Some(Out::Ok(_)) => None,
        Some(Out::Fail(kind, ..)) => Some(*kind),
        None => Some(ErrorKind::Unknown),
    }
}

fn check_attempts(
    scripts: &[Vec<Out>],
    attempts: &[Attempt],
    timed_out: bool,
) -> Result<(), TestCaseError> {
    prop_assert!(!attempts.is_empty());
    let mut per_entry = vec![0usize; scripts.len()];
    let mut last_entry = 0;
    for (i, a) in attempts.iter().enumerate() {
        let is_last = i + 1 == attempts.len();
        prop_assert!(a.entry >= last_entry, "entries in order");
        prop_assert!(a.entry <= last_entry + 1, "no entry skipped");
        last_entry = a.entry;
        let k = per_entry[a.entry];
        prop_assert_eq!(a.retry as usize, k, "retries counted per entry");
        per_entry[a.entry] += 1;
        let abandoned = is_last && timed_out && a.outcome == Some(ErrorKind::Timeout);
        if !abandoned {
            prop_assert_eq!(a.outcome, scripted_outcome(&scripts[a.entry], k));
        }
        if !is_last {
            prop_assert!(a.outcome.is_some(), "only the last attempt may succeed");
            let stop = matches!(
                a.outcome,
                Some(ErrorKind::BadRequest | ErrorKind::Cancelled)
            );
            prop_assert!(!stop, "nothing after a stopping kind");
        }
    }
    prop_assert!(attempts[0].entry == 0);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn first_success_in_order_or_every_attempt_and_never_past_the_deadline(
        scripts in proptest::collection::vec(proptest::collection::vec(out(), 0..5), 1..4),
        max_attempts in 1u32..4,
        deadline in proptest::option::of(1u64..20),
        jitter in prop_oneof![Just(0.0), Just(0.25)],
        streaming in any::<bool>(),
    ) {
        let clock = FakeClock::new();
        let providers: Vec<_> = scripts
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let steps = s.iter().enumerate().map(|(k, o)| step(o, i, k)).collect();
                scripted(["p0", "p1", "p2", "p3"][i], &clock, steps)
            })
            .collect();
        let refs: Vec<_> = providers.iter().collect();
        let mut policy = exact().retry(RetryPolicy::default().max_attempts(max_attempts).jitter(jitter));
        if let Some(d) = deadline {
            policy = policy.deadline(Duration::from_secs(d));
        }
        let chain = chain_with(&clock, &refs, policy);
        let (result, elapsed) = if streaming {
            let (r, e) = stream(&clock, &chain);
            let r = r.map(|events| {
                let start = events.iter().find_map(|e| match e {
                    Ok(llm_core::StreamEvent::Start(s)) => Some(s.attempts.clone()),
                    _ => None,
                });
                (text_of(&events), start.unwrap_or_default())
            });
            (r, e)
        } else {
            let (r, e) = chat(&clock, &chain);
            (r.map(|a| (a.text, a.attempts)), e)
        };
        if let Some(d) = deadline {
            prop_assert!(elapsed <= Duration::from_secs(d), "waited {elapsed:?} past {d}s");
        }
        match result {
            Ok((text, attempts)) => {
                check_attempts(&scripts, &attempts, false)?;
                let last = attempts.last().unwrap();
                prop_assert_eq!(last.outcome, None);
                prop_assert_eq!(text, format!("e{}s{}", last.entry, last.retry));
                for (i, p) in providers.iter().enumerate() {
                    let made = attempts.iter().filter(|a| a.entry == i).count();
                    prop_assert_eq!(p.calls(), made, "every request is an attempt");
                }
            }
            Err(err) => {
                let attempts = err.attempts();
                let timed_out = err.kind() == ErrorKind::Timeout && deadline.is_some();
                check_attempts(&scripts, attempts, timed_out)?;
                let last = attempts.last().unwrap();
                prop_assert!(
                    timed_out || Some(err.kind()) == last.outcome,
                    "kind {} vs last attempt {}", err.kind(), last.outcome_str()
                );
                for (i, p) in providers.iter().enumerate() {
                    let made = attempts.iter().filter(|a| a.entry == i).count();
                    prop_assert_eq!(p.calls(), made, "every request is an attempt");
                }
                let stopped = matches!(last.outcome, Some(ErrorKind::BadRequest | ErrorKind::Cancelled));
                if !stopped && !timed_out {
                    prop_assert_eq!(last.entry, scripts.len() - 1, "every entry was tried");
                }
            }
        }
    }
}
