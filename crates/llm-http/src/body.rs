//! A response body as a stream of chunks, under the first-byte, idle and total limits.
//!
//! The limits cost no timer work per chunk: one `Sleep` stands for the current phase's deadline and is only
//! re-armed when it fires early (the deadline moved on because chunks arrived meanwhile).

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_core::stream::BoxStream;
use llm_core::{Error, ErrorKind};
use tokio::time::{Instant, Sleep};

use crate::transport::Transport;

/// The body of a response: `Result<Bytes, Error>` chunks. A limit that passes yields one `timeout` error and
/// ends the stream; a broken connection yields one `network` error and ends it. Dropping the body closes
/// the connection unless it was read to its end.
pub struct Body {
    inner: BoxStream<'static, reqwest::Result<Bytes>>,
    transport: Transport,
    first_byte: Duration,
    idle: Duration,
    /// When the current phase started: the request was sent, or the last chunk arrived.
    last: Instant,
    got_first: bool,
    phase_timer: Pin<Box<Sleep>>,
    total_timer: Pin<Box<Sleep>>,
    done: bool,
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Body")
            .field("provider", &self.transport.provider())
            .field("got_first", &self.got_first)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Body {
    pub(crate) fn new(
        inner: BoxStream<'static, reqwest::Result<Bytes>>,
        transport: Transport,
        sent: Instant,
        first_byte: Duration,
        idle: Duration,
        total_at: Instant,
    ) -> Self {
        Body {
            inner,
            transport,
            first_byte,
            idle,
            last: sent,
            got_first: false,
            phase_timer: Box::pin(tokio::time::sleep_until(sent + first_byte)),
            total_timer: Box::pin(tokio::time::sleep_until(total_at)),
            done: false,
        }
    }

    /// The transport the body belongs to (for building errors).
    pub fn transport(&self) -> &Transport {
        &self.transport
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
        Poll::Ready(Some(Err(self.transport.error(ErrorKind::Timeout, what))))
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
            match this.inner.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if chunk.is_empty() {
                        continue;
                    }
                    this.last = Instant::now();
                    if !this.got_first {
                        // The idle limit may be shorter than the first-byte one: re-arm once.
                        this.got_first = true;
                        this.phase_timer.as_mut().reset(this.last + this.idle);
                    }
                    return Poll::Ready(Some(Ok(chunk)));
                }
                Poll::Ready(Some(Err(e))) => {
                    this.done = true;
                    let err = this.transport.from_reqwest(e, "reading the response body");
                    return Poll::Ready(Some(Err(err)));
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => break,
            }
        }
        if this.total_timer.as_mut().poll(cx).is_ready() {
            let total = this.transport.timeouts().total;
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
        Poll::Pending
    }
}
