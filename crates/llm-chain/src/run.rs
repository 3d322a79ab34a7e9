//! One call, generic over the [`Operation`]: every entry in order (two at a time while hedging a stream,
//! see `hedge`), within the deadline. What happens at each entry (admission, validation, attempts and their
//! bookkeeping) is `target`'s; this file owns the call's deadline and its end.

use std::pin::pin;
use std::sync::atomic::Ordering;
use std::time::Instant;

use futures_util::future::{Either, select};
use llm_core::{Attempt, Error, ErrorKind};

use crate::call::{Call, LANES};
use crate::chain::Inner;
use crate::hedge::hedged;
use crate::operation::Operation;
use crate::target::{LaneEnd, Winner, run_entry};

/// Runs one call of `op` on `chain`: the answering entry, its answer and every attempt; or the error that
/// ended the call, carrying every attempt.
pub(crate) async fn run<O: Operation>(
    chain: &Inner,
    op: &O,
    deadline: Option<Instant>,
) -> Result<(Winner<O::Output>, Vec<Attempt>), Error> {
    if !chain.synced.load(Ordering::Relaxed)
        && let Some(store) = &chain.store
    {
        // Once per chain: a process that starts later reads the fleet's state before its first call
        // (within the store's bounded wait).
        store.ready().await;
        chain.synced.store(true, Ordering::Relaxed);
    }
    let now = chain.clock.now();
    chain.budget.deposit(now);
    let call = Call::new(chain, deadline);
    let outcome = match deadline {
        None => Some(drive(&call, op).await),
        Some(at) => {
            // The driver is dropped at the end of this block, cancelling whatever is in flight.
            let driver = pin!(drive(&call, op));
            let timer = chain.clock.sleep(at.saturating_duration_since(now));
            match select(driver, timer).await {
                Either::Left((result, _)) => Some(result),
                Either::Right(_) => None,
            }
        }
    };
    match outcome {
        Some(Ok(winner)) => Ok((winner, call.take_attempts())),
        Some(Err(e)) => Err(e.with_attempts(call.take_attempts())),
        None => {
            let limit = chain.policy.deadline.unwrap_or_default();
            let error = Error::new(
                ErrorKind::Timeout,
                format!("chain deadline of {limit:?} passed"),
            )
            .with_provider(chain.name.clone());
            let now = chain.clock.now();
            for lane in 0..LANES {
                call.abandon(lane, now, &error);
            }
            Err(error.with_attempts(call.take_attempts()))
        }
    }
}

/// Walks the entries for one call and returns the answering entry, or the error that ends the call.
async fn drive<O: Operation>(call: &Call<'_>, op: &O) -> Result<Winner<O::Output>, Error> {
    let chain = call.chain;
    let n = chain.entries.len();
    match chain.policy.hedge_after {
        Some(after) if op.hedges() && n > 1 => hedged(call, op, after).await,
        _ => {
            for entry in 0..n {
                match run_entry(call, op, 0, entry).await {
                    LaneEnd::Won(winner) => return Ok(winner),
                    LaneEnd::Next => {}
                    LaneEnd::Stop(e) => return Err(e),
                }
            }
            Err(call.exhausted(chain.clock.now()))
        }
    }
}
