//! A response body as a stream of chunks, under the first-byte, idle and total limits.
//!
//! The limits cost no timer work per chunk: one `Sleep` stands for the current phase's deadline and is only
//! re-armed when it fires early (the deadline moved on because chunks arrived meanwhile), and the timers are
//! not polled again while the body is polled with the waker they already hold and neither has fired.
//!
//! A body is read where it is polled, with no task of its own, with one exception: polled outside any task
//! on a multi-thread runtime (the `#[tokio::main]` function itself, on the `block_on` thread), every chunk
//! would cross threads twice between hyper's connection task and the consumer, which costs several times
//! the work of the chunk (measured: ~4.5x the CPU per streamed token). There the body starts a pump task on
//! a worker, which appends the chunks that arrive while the consumer is busy to one batch (at most 64 KiB,
//! one batch waiting: backpressure stays) and ends, closing the connection, as soon as the body is dropped.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_core::stream::BoxStream;
use futures_util::StreamExt as _;
use llm_core::{Error, ErrorKind};
use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use crate::failure::Failures;

/// The body of a response: `Result<Bytes, Error>` chunks. A limit that passes yields one `timeout` error and
/// ends the stream; a broken connection yields one `network` error and ends it. Dropping the body closes
/// the connection unless it was read to its end.
pub struct Body {
    inner: Source,
    failures: Failures,
    /// The total limit, for its error's message.
    total: Duration,
    first_byte: Duration,
    idle: Duration,
    /// When the current phase started: the request was sent, or the last chunk arrived.
    last: Instant,
    got_first: bool,
    phase_timer: Pin<Box<Sleep>>,
    total_timer: Pin<Box<Sleep>>,
    /// The waker both timers were last polled with while neither had fired: while the body is polled with
    /// the same waker and neither fired, polling them again would change nothing, so it is skipped.
    timers_waker: Option<Waker>,
    done: bool,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("provider", &self.failures.provider())
            .field("got_first", &self.got_first)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

/// Batches a pump may hold ready for a consumer that has not taken them yet.
const PUMP_DEPTH: usize = 1;

/// The most a pump joins into one batch.
const PUMP_BATCH: usize = 64 << 10;

type Chunks = BoxStream<'static, reqwest::Result<Bytes>>;

/// Where the chunks come from.
enum Source {
    /// Not polled yet: where it will be read is decided at the first poll.
    Unpolled(Chunks),
    /// Read by whoever polls the body.
    Direct(Chunks),
    /// Read by a pump task, in batches.
    Pumped(mpsc::Receiver<reqwest::Result<Bytes>>),
    /// Only while switching from `Unpolled`.
    Switching,
}

impl Source {
    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Option<reqwest::Result<Bytes>>> {
        if let Source::Unpolled(_) = self
            && let Source::Unpolled(chunks) = std::mem::replace(self, Source::Switching)
        {
            *self = if polled_outside_a_worker_task() {
                Source::Pumped(pump(chunks))
            } else {
                Source::Direct(chunks)
            };
        }
        match self {
            Source::Direct(chunks) => chunks.as_mut().poll_next(cx),
            Source::Pumped(rx) => rx.poll_recv(cx),
            Source::Unpolled(_) | Source::Switching => Poll::Ready(None),
        }
    }
}

/// True on the `block_on` thread of a multi-thread runtime: no task runs here, and workers exist to run
/// one.
fn polled_outside_a_worker_task() -> bool {
    tokio::task::try_id().is_none()
        && Handle::try_current().is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread)
}

/// Starts a task that reads `chunks` and hands them over joined: while the consumer has not taken the
/// waiting batch, the chunks that arrive are appended to the next one (up to [`PUMP_BATCH`] bytes, then
/// the pump waits: backpressure). It ends at the end of the body, after an error, or as soon as the
/// receiver is dropped (dropping `chunks`, so the connection).
fn pump(mut chunks: Chunks) -> mpsc::Receiver<reqwest::Result<Bytes>> {
    let (tx, rx) = mpsc::channel(PUMP_DEPTH);
    tokio::spawn(async move {
        let mut batch = BytesMut::new();
        // Set when the body ended: `Some(None)` at its end, `Some(Some(e))` after an error.
        let mut end: Option<Option<reqwest::Error>> = None;
        loop {
            if batch.is_empty()
                && let Some(end) = end
            {
                if let Some(e) = end {
                    let _ = tx.send(Err(e)).await;
                }
                return;
            }
            tokio::select! {
                biased;
                permit = tx.reserve(), if !batch.is_empty() => match permit {
                    Ok(permit) => permit.send(Ok(batch.split().freeze())),
                    Err(_) => return,
                },
                next = chunks.next(), if end.is_none() && batch.len() < PUMP_BATCH => match next {
                    Some(Ok(chunk)) => batch.extend_from_slice(&chunk),
                    Some(Err(e)) => end = Some(Some(e)),
                    None => end = Some(None),
                },
                () = tx.closed(), if batch.is_empty() => return,
            }
        }
    });
    rx
}

impl Body {
    pub(crate) fn new(
        inner: BoxStream<'static, reqwest::Result<Bytes>>,
        failures: Failures,
        total: Duration,
        sent: Instant,
        first_byte: Duration,
        idle: Duration,
        total_at: Instant,
    ) -> Self {
        Body {
            inner: Source::Unpolled(inner),
            failures,
            total,
            first_byte,
            idle,
            last: sent,
            got_first: false,
            phase_timer: Box::pin(tokio::time::sleep_until(sent + first_byte)),
            total_timer: Box::pin(tokio::time::sleep_until(total_at)),
            timers_waker: None,
            done: false,
        }
    }

    /// How the body's errors are worded (its provider, its key scrubbed).
    pub fn failures(&self) -> &Failures {
        &self.failures
    }

    fn phase_deadline(&self) -> Instant {
        if self.got_first {
            self.last + self.idle
        } else {
            self.last + self.first_byte
        }
    }

    fn timeout(&mut self, what: String) -> Poll<Option<Result<Bytes, Error>>> {
        self.done = true;
        Poll::Ready(Some(Err(self.failures.error(ErrorKind::Timeout, what))))
    }
}

impl Stream for Body {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.inner.poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    this.last = Instant::now();
                    if !this.got_first {
                        // The idle limit may be shorter than the first-byte one: re-arm once.
                        this.got_first = true;
                        this.phase_timer.as_mut().reset(this.last + this.idle);
                        this.timers_waker = None;
                    }
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    let err = this.failures.from_reqwest(e, "reading the response body");
                    return Poll::Ready(Some(Err(err)));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => break,
            }
        }
        // A registered timer that has not fired wakes the waker it was last polled with: the same one again
        // (the common case, one wake-up per chunk) needs no new poll of either.
        if this
            .timers_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
            && !this.total_timer.is_elapsed()
            && !this.phase_timer.is_elapsed()
        {
            return Poll::Pending;
        }
        if this.total_timer.as_mut().poll(cx).is_ready() {
            let total = this.total;
            return this.timeout(format!(
                "response not complete within the total limit of {total:?}"
            ));
        }
        while this.phase_timer.as_mut().poll(cx).is_ready() {
            let deadline = this.phase_deadline();
            if deadline <= Instant::now() {
                let what = if this.got_first {
                    format!("no data for the idle limit of {:?}", this.idle)
                } else {
                    format!("no first byte within the limit of {:?}", this.first_byte)
                };
                return this.timeout(what);
            }
            this.phase_timer.as_mut().reset(deadline);
        }
        match &mut this.timers_waker {
            Some(w) => w.clone_from(cx.waker()),
            None => this.timers_waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}
