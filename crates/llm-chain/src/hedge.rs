//! Hedging, for operations that allow it (streams): entries start in order; while only one runs and it has
//! shown no content within the hedge delay, the next one starts too, and the first to show content wins.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::future::poll_fn;
use llm_core::{Error, ErrorKind};

use crate::call::{Call, LANES};
use crate::clock::Sleep;
use crate::operation::Operation;
use crate::target::{LaneEnd, Winner, run_entry};

/// One entry's run for one call, on one lane.
type Lane<'a, T> = Pin<Box<dyn Future<Output = LaneEnd<T>> + Send + 'a>>;

/// Streams with hedging: entries start in order; while only one runs and it has shown no content for
/// `after`, the next one starts too. The first to show content wins and the other is dropped (its request
/// in flight is recorded as a `cancelled` attempt).
pub(crate) async fn hedged<O: Operation>(
    call: &Call<'_>,
    op: &O,
    after: Duration,
) -> Result<Winner<O::Output>, Error> {
    let chain = call.chain;
    let clock = &chain.clock;
    let n = chain.entries.len();
    let mut next = 0;
    let mut lanes: [Option<(Lane<'_, O::Output>, Instant)>; LANES] = [None, None];
    let mut timer: Option<Sleep> = None;
    poll_fn(|cx: &mut Context<'_>| {
        loop {
            let mut progressed = false;
            for i in 0..LANES {
                let Some((lane, _)) = lanes[i].as_mut() else {
                    continue;
                };
                let Poll::Ready(end) = lane.as_mut().poll(cx) else {
                    continue;
                };
                lanes[i] = None;
                progressed = true;
                match end {
                    LaneEnd::Next => {}
                    LaneEnd::Won(winner) => {
                        let lost = Error::new(ErrorKind::Cancelled, "lost the hedge race");
                        drop_other(call, &mut lanes, i, &lost);
                        return Poll::Ready(Ok(winner));
                    }
                    LaneEnd::Stop(e) => {
                        let stopped = Error::new(ErrorKind::Cancelled, "the chain stopped");
                        drop_other(call, &mut lanes, i, &stopped);
                        return Poll::Ready(Err(e));
                    }
                }
            }
            let running = lanes.iter().flatten().count();
            if running == 0 && next >= n {
                return Poll::Ready(Err(call.exhausted(clock.now())));
            }
            let start_one = next < n
                && (running == 0
                    || (running == 1
                        && timer
                            .as_mut()
                            .is_some_and(|t| t.as_mut().poll(cx).is_ready())));
            if start_one {
                if let Some(free) = lanes.iter().position(Option::is_none) {
                    let now = clock.now();
                    if running == 1 {
                        tracing::debug!(
                            entry = next,
                            "no content within the hedge delay: starting the next entry too"
                        );
                    }
                    lanes[free] = Some((Box::pin(run_entry(call, op, free, next)), now));
                    next += 1;
                }
                timer = None;
                progressed = true;
            }
            // Arm the hedge timer while exactly one lane runs and entries remain.
            let mut started = lanes.iter().flatten().map(|(_, s)| *s);
            let only = match (started.next(), started.next()) {
                (Some(s), None) => Some(s),
                _ => None,
            };
            match only {
                Some(s) if next < n && timer.is_none() => {
                    timer = Some(clock.sleep((s + after).saturating_duration_since(clock.now())));
                    progressed = true;
                }
                Some(_) => {}
                None => timer = None,
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    })
    .await
}

/// Drops the lane other than `winner`, recording its request in flight as ended by `why`.
fn drop_other<T>(
    call: &Call<'_>,
    lanes: &mut [Option<(Lane<'_, T>, Instant)>; LANES],
    winner: usize,
    why: &Error,
) {
    for (i, lane) in lanes.iter_mut().enumerate() {
        if i != winner && lane.take().is_some() {
            call.abandon(i, call.chain.clock.now(), why);
        }
    }
}
