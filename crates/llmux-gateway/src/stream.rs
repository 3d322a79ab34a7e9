//! A streamed answer: the chain's stream, opened at its first content, pumped through the dialect's
//! encoder as SSE, with keep-alives while the provider is silent and the dialect's failure at the end of a
//! stream that fails.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use futures_util::{FutureExt as _, StreamExt as _};
use llmux::{ChatStream, Provider as _, StreamEvent};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Sleep;

use crate::Gateway;
use crate::dialect::{Dialect, Encode, Parsed, Reply};
use crate::error::ApiError;
use crate::handle::{provider_header, relay_header};
use crate::metrics::Metrics;

/// How much ready SSE text is gathered into one body chunk at most.
const COALESCE_BYTES: usize = 16 * 1024;
/// How many times the pump yields, with events in hand, for more of a burst to arrive before it writes.
const HANDOVER_YIELDS: u32 = 2;

/// Answers `parsed` as a stream in `dialect`.
pub(crate) async fn answer(
    gateway: &Gateway,
    dialect: &'static dyn Dialect,
    parsed: Parsed,
    arrived: Instant,
) -> Response {
    let Ok(permit) = Arc::clone(&gateway.streams).try_acquire_owned() else {
        return ApiError::busy(dialect, gateway.max_streams, "streams").into_response();
    };
    let chain = gateway.chain_for(&parsed.model);
    let mut stream = match chain.stream(&parsed.request).await {
        Ok(s) => s,
        Err(e) => return ApiError::from_error(dialect, &e).into_response(),
    };
    // The chain hands the stream over at its first content: everything before it is settled.
    gateway.metrics.ttft(arrived.elapsed());
    // The start event is already buffered: read it so the response's headers can name the provider and
    // the answer its entry's model.
    let first = match stream.next().await {
        Some(Ok(event)) => Some(event),
        Some(Err(e)) => return ApiError::from_error(dialect, &e).into_response(),
        None => None,
    };
    let (provider, model, attempts) = match &first {
        Some(StreamEvent::Start(start)) => (
            Some(start.provider.clone()),
            start
                .attempts
                .last()
                .map(|a| a.model.clone())
                .filter(|m| !m.is_empty()),
            start.attempts.clone(),
        ),
        _ => (None, None, Vec::new()),
    };
    let reply = Reply {
        id: gateway.fresh_id(dialect),
        model: model.unwrap_or_else(|| parsed.model.clone()),
    };
    let mut encoder = dialect.stream(reply, &parsed);
    let mut head = String::new();
    let mut done = false;
    match first {
        Some(event) => encoder.event(event, &mut head),
        None => {
            encoder.end(&mut head);
            done = true;
        }
    }
    gateway.metrics.streams(1);
    let live = Live {
        stream,
        encoder,
        dialect,
        done,
        first: Some(head),
        keepalive: gateway
            .keepalive
            .map(|quiet| (quiet, Box::pin(tokio::time::sleep(quiet)))),
        _permit: permit,
        metrics: Arc::clone(&gateway.metrics),
    };
    let body = futures_util::stream::unfold(live, |mut live| async move {
        let chunk = live.next_chunk().await?;
        Some((Ok::<Bytes, Infallible>(Bytes::from(chunk)), live))
    });
    let mut response = (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(body),
    )
        .into_response();
    if let Some(p) = provider {
        provider_header(&mut response, &p);
    }
    relay_header(&mut response, chain, &attempts, &parsed.request);
    response
}

/// A stream being sent: it holds its slot among the open streams until the body is done or dropped (a
/// client that goes away drops it, which cancels the upstream request).
struct Live {
    stream: ChatStream,
    encoder: Box<dyn Encode>,
    dialect: &'static dyn Dialect,
    done: bool,
    first: Option<String>,
    /// The keep-alive interval and the one timer, reset for each wait, that sends it.
    keepalive: Option<(Duration, Pin<Box<Sleep>>)>,
    _permit: OwnedSemaphorePermit,
    metrics: Arc<Metrics>,
}

impl Live {
    /// The next piece of the body, `None` after the end.
    async fn next_chunk(&mut self) -> Option<String> {
        if let Some(first) = self.first.take().filter(|f| !f.is_empty()) {
            return Some(first);
        }
        if self.done {
            return None;
        }
        let mut out = String::new();
        while out.is_empty() {
            let next = match &mut self.keepalive {
                // A silent provider (a long think, a slow tool call) would leave the client's and every
                // proxy's idle timer running out: a keep-alive tells them the stream is alive. Waiting on
                // `next()` again after the timer fires loses nothing: the stream keeps its own state.
                Some((quiet, timer)) => {
                    // A `quiet` too long for an `Instant` is never: `sleep` set the timer far ahead.
                    if let Some(deadline) = tokio::time::Instant::now().checked_add(*quiet) {
                        timer.as_mut().reset(deadline);
                    }
                    tokio::select! {
                        // An event that is ready goes out before a keep-alive that is due.
                        biased;
                        next = self.stream.next() => next,
                        () = timer.as_mut() => {
                            self.encoder.keepalive(&mut out);
                            continue;
                        }
                    }
                }
                None => self.stream.next().await,
            };
            self.take(next, &mut out);
        }
        // Events that are already here go out in the same write: one chunk and one syscall for a burst.
        // The upstream connection hands its body over frame by frame from its own task, so a burst that
        // has arrived may still be on its way through that hand-over: yielding to it a few times lets it
        // come (microseconds), where writing each event alone cost a syscall and two task switches each.
        let mut yields = 0;
        while !self.done && out.len() < COALESCE_BYTES {
            match self.stream.next().now_or_never() {
                Some(next) => {
                    self.take(next, &mut out);
                    yields = 0;
                }
                None if yields < HANDOVER_YIELDS => {
                    yields += 1;
                    tokio::task::yield_now().await;
                }
                None => break,
            }
        }
        Some(out)
    }

    /// Encodes one item of the chain's stream (`None`: its end) into `out`.
    fn take(&mut self, item: Option<Result<StreamEvent, llmux::Error>>, out: &mut String) {
        match item {
            Some(Ok(event)) => self.encoder.event(event, out),
            Some(Err(e)) => {
                self.encoder
                    .fail(&ApiError::from_error(self.dialect, &e), out);
                self.metrics.stream_failed(self.dialect.name());
                self.done = true;
            }
            None => {
                self.encoder.end(out);
                self.done = true;
            }
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.metrics.streams(-1);
    }
}
