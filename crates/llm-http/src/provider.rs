//! The one driver: [`HttpProvider`] implements [`Provider`] for any [`Codec`], and [`EventStream`] drives a
//! streamed body through a [`Decoding`] as the consumer polls it.
//!
//! Entry points: a request starts in [`HttpProvider::chat`]/[`HttpProvider::stream`] (validate, encode, send
//! through the [`Transport`], classify a failed status with the codec's table); a streamed body is driven in
//! [`EventStream::poll_next`]. Nothing here knows a wire format.

use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use async_trait::async_trait;
use futures_core::Stream;
use http::header::{ACCEPT, HeaderValue};
use llm_core::{
    ApiKey, ChatRequest, ChatResponse, ChatStream, Error, Price, Pricing, Provider, RateLimit,
    StreamEvent, Usage,
};
use tracing::Instrument as _;

use crate::body::Body;
use crate::codec::{Codec, Framing, Method, StreamDecoder, WireRequest};
use crate::decoding::Decoding;
use crate::transport::{DEFAULT_MAX_BODY, Response, Transport};

/// Something a provider can be built from: a codec itself, or a provider configuration that builds one.
pub trait IntoCodec {
    /// The codec it builds.
    type Codec: Codec;

    /// Builds the codec (computing URLs and headers once).
    ///
    /// # Errors
    /// `validation` for an invalid header or URL, `auth` for a key that is not a valid header value.
    fn into_codec(self) -> Result<Self::Codec, Error>;
}

impl<C: Codec> IntoCodec for C {
    type Codec = C;

    fn into_codec(self) -> Result<C, Error> {
        Ok(self)
    }
}

/// A provider configuration that can be read from the environment, as the provider's official SDK does.
pub trait FromEnv: Sized {
    /// The configuration from variables read through `lookup`.
    ///
    /// # Errors
    /// `auth` naming a required variable that is missing; `validation` for a malformed one.
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error>;

    /// The configuration from the process environment.
    ///
    /// # Errors
    /// As [`FromEnv::from_lookup`].
    fn from_env() -> Result<Self, Error> {
        Self::from_lookup(&|name| std::env::var(name).ok())
    }
}

/// The default configuration type of a codec, so `Provider::from_env()` knows what to read.
pub trait DefaultConfig: Codec {
    /// The configuration `from_env()` reads.
    type Config: IntoCodec<Codec = Self> + FromEnv;
}

/// An HTTP provider for any codec `C`: the one implementation of [`Provider`] over HTTP. Cheap to clone:
/// clones share the connection pool and the codec.
pub struct HttpProvider<C> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    codec: C,
    transport: Transport,
}

impl<C> Clone for HttpProvider<C> {
    fn clone(&self) -> Self {
        HttpProvider {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<C: fmt::Debug> fmt::Debug for HttpProvider<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProvider")
            .field("codec", &self.inner.codec)
            .finish_non_exhaustive()
    }
}

impl<C: DefaultConfig> HttpProvider<C> {
    /// A provider configured from the environment ([`FromEnv::from_env`] of the codec's configuration).
    ///
    /// # Errors
    /// `auth` naming the missing variable; otherwise as [`HttpProvider::new`].
    pub fn from_env() -> Result<Self, Error> {
        HttpProvider::new(C::Config::from_env()?)
    }
}

impl<C: Codec> HttpProvider<C> {
    /// A provider for `config` (a codec, or a configuration that builds one) with its own connection pool,
    /// or the configuration's `reqwest::Client`.
    ///
    /// # Errors
    /// As [`IntoCodec::into_codec`]; `unknown` when the HTTP client cannot be built.
    pub fn new(config: impl IntoCodec<Codec = C>) -> Result<Self, Error> {
        let codec = config.into_codec()?;
        let http = codec.http();
        let transport = Transport::new(http.name.clone(), http.timeouts, http.http_client.clone())?
            .with_secret(http.api_key.clone());
        Ok(HttpProvider {
            inner: Arc::new(Inner { codec, transport }),
        })
    }

    /// The codec (for inspecting request bodies without sending them).
    pub fn codec(&self) -> &C {
        &self.inner.codec
    }

    /// The transport (its pool, limits and error scrubbing).
    pub fn transport(&self) -> &Transport {
        &self.inner.transport
    }

    /// Sends `wire` and waits for the response headers; a failed status is classified by the codec.
    ///
    /// # Errors
    /// The classified status, `network`, `timeout`.
    pub async fn send(&self, wire: WireRequest, stream: bool) -> Result<Response, Error> {
        let inner = &*self.inner;
        let mut builder = match wire.method {
            Method::Get => inner.transport.get(&wire.url),
            Method::Post => inner.transport.post(&wire.url).body(wire.body),
        }
        .headers(wire.headers);
        if stream {
            let accept = match inner.codec.framing() {
                Framing::Sse => "text/event-stream",
                Framing::Ndjson => "application/x-ndjson",
            };
            builder = builder.header(ACCEPT, HeaderValue::from_static(accept));
        }
        let codec = &inner.codec;
        inner
            .transport
            .send_with(builder, &|status, headers, body, now| {
                codec.error(status, headers, body, now)
            })
            .await
    }

    async fn post(&self, request: &ChatRequest, stream: bool) -> Result<Response, Error> {
        let codec = &self.inner.codec;
        codec.validate(request)?;
        let wire = codec.encode(request, stream)?;
        self.send(wire, stream).await
    }

    async fn whole(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let response = self.post(request, false).await?;
        self.answer(request, response).await
    }

    /// A whole answer's body decoded, with the rate limit its headers report.
    async fn answer(
        &self,
        request: &ChatRequest,
        response: Response,
    ) -> Result<ChatResponse, Error> {
        let headers = response.headers().clone();
        let body = response.bytes(DEFAULT_MAX_BODY).await?;
        let mut answer = self
            .inner
            .codec
            .decode(request, &headers, &body)
            .map_err(|e| self.inner.transport.finish(e))?;
        answer.rate_limit = self.inner.codec.rate_limit(&headers);
        let price = self.price_of(&request.model, Some(&answer.model));
        if let Some(usage) = &mut answer.usage {
            price_usage(usage, price);
        }
        Ok(answer)
    }

    /// The price of `model` at this provider, else of the model the answer reported (a dated snapshot).
    fn price_of(&self, model: &str, reported: Option<&str>) -> Option<Price> {
        let pricing = self.inner.codec.pricing();
        pricing
            .price(model)
            .or_else(|| reported.and_then(|r| pricing.price(r)))
    }

    async fn streamed(&self, request: &ChatRequest) -> Result<Streamed<C::Decoder>, Error> {
        let response = self.post(request, true).await?;
        let codec = &self.inner.codec;
        let framing = codec.framing();
        if answered_whole(framing, response.media_type().as_deref()) {
            // A whole answer where a stream was asked for (a proxy that buffers, a server that answers tools
            // as JSON): decode it whole and replay it as the events a stream would have produced.
            let whole = self.answer(request, response).await?;
            return Ok(Streamed::Whole(whole.into_events().into_iter()));
        }
        let decoder = codec.decoder(request, response.headers());
        let rate_limit = codec.rate_limit(response.headers());
        Ok(Streamed::Body {
            body: EventStream::new(
                response.into_body(),
                Decoding::new(self.inner.transport.provider().to_owned(), framing, decoder),
                self.inner.transport.clone(),
            ),
            rate_limit,
            price: self.price_of(&request.model, None),
            pricing: codec.pricing(),
        })
    }
}

#[async_trait]
impl<C: Codec> Provider for HttpProvider<C> {
    fn name(&self) -> &str {
        self.inner.codec.name()
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        self.inner.codec.validate(request)
    }

    fn price(&self, model: &str) -> Option<Price> {
        self.inner.codec.pricing().price(model)
    }

    fn relay_wire(&self) -> Option<&'static str> {
        self.inner.codec.relay_wire()
    }

    /// Its base URL and its key's fingerprint (`-` without a key).
    fn identity(&self) -> Option<String> {
        let http = self.inner.codec.http();
        let key = http.api_key.as_ref().map(ApiKey::fingerprint);
        Some(format!(
            "{} {}",
            http.base_url,
            key.as_deref().unwrap_or("-")
        ))
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let span = crate::span::request("chat", self.name(), &request.model);
        let result = self.whole(request).instrument(span.clone()).await;
        crate::span::record_response(&span, &result);
        result
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let span = crate::span::request("chat", self.name(), &request.model);
        let result = self.streamed(request).instrument(span.clone()).await;
        match result {
            Ok(stream) => Ok(Box::pin(crate::span::Traced::new(
                stream,
                span,
                Instant::now(),
            ))),
            Err(e) => {
                crate::span::record_error(&span, &e);
                Err(e)
            }
        }
    }

    async fn health(&self) -> Result<(), Error> {
        let codec = &self.inner.codec;
        let response = self.send(codec.health(), false).await?;
        // Read (bounded) so the connection goes back to the pool.
        let body = response.bytes(DEFAULT_MAX_BODY).await?;
        codec
            .check_health(&body)
            .map_err(|e| self.inner.transport.finish(e))
    }
}

/// A streamed answer: a body being decoded, or a whole answer replayed as events.
// Built once per call and boxed as a `ChatStream` right away: the size difference is never copied around.
#[allow(clippy::large_enum_variant)]
enum Streamed<D: StreamDecoder> {
    /// A body being decoded.
    Body {
        body: EventStream<D>,
        /// The rate-limit headers' news until the `Start` event carries it.
        rate_limit: Option<RateLimit>,
        /// The price of the requested model (else of the one `Start` reports), for each `Usage` event.
        price: Option<Price>,
        pricing: Pricing,
    },
    Whole(std::vec::IntoIter<StreamEvent>),
}

/// Prices `usage` at `price`, when one is known.
fn price_usage(usage: &mut Usage, price: Option<Price>) {
    usage.cost = price.and_then(|p| p.cost(usage));
}

impl<D: StreamDecoder<Event = StreamEvent>> Stream for Streamed<D> {
    type Item = Result<StreamEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match &mut *self {
            Streamed::Body {
                body,
                rate_limit,
                price,
                pricing,
            } => {
                let mut polled = Pin::new(body).poll_next(cx);
                match &mut polled {
                    Poll::Ready(Some(Ok(StreamEvent::Usage(usage)))) => price_usage(usage, *price),
                    Poll::Ready(Some(Ok(StreamEvent::Start(start)))) => {
                        if rate_limit.is_some() {
                            start.rate_limit = rate_limit.take().map(Box::new);
                        }
                        if price.is_none() {
                            *price = pricing.price(&start.model);
                        }
                    }
                    _ => {}
                }
                polled
            }
            Streamed::Whole(events) => Poll::Ready(events.next().map(Ok)),
        }
    }
}

/// A streamed answer: the response body decoded as it is polled, with no task of its own. After the answer
/// is complete it reads the body to its end (ignoring it), so the connection can be reused; dropping it
/// closes the connection.
pub struct EventStream<D: StreamDecoder> {
    body: Option<Body>,
    decoding: Decoding<D>,
    transport: Transport,
}

impl<D: StreamDecoder> fmt::Debug for EventStream<D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("body_open", &self.body.is_some())
            .finish_non_exhaustive()
    }
}

impl<D: StreamDecoder> EventStream<D> {
    /// Drives `body` through `decoding`; errors are scrubbed of `transport`'s secret.
    pub fn new(body: Body, decoding: Decoding<D>, transport: Transport) -> Self {
        EventStream {
            body: Some(body),
            decoding,
            transport,
        }
    }
}

impl<D: StreamDecoder> Stream for EventStream<D> {
    type Item = Result<D::Event, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if let Some(item) = this.decoding.next_item() {
                if item.is_err() {
                    this.body = None;
                }
                return Poll::Ready(Some(item.map_err(|e| this.transport.finish(e))));
            }
            if this.decoding.is_finished() && this.body.is_none() {
                return Poll::Ready(None);
            }
            let Some(body) = this.body.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(body).poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(bytes))) => this.decoding.feed(&bytes),
                Poll::Ready(Some(Err(e))) => {
                    this.body = None;
                    this.decoding.fail(e);
                }
                Poll::Ready(None) => {
                    this.body = None;
                    this.decoding.end();
                }
            }
        }
    }
}

/// Whether a streaming request was answered with a whole body: `application/json` always; for SSE, any media
/// type other than `text/event-stream` (a body without a content type is read as the stream it should be).
fn answered_whole(framing: Framing, media: Option<&str>) -> bool {
    match (framing, media) {
        (_, Some("application/json")) => true,
        (Framing::Sse, Some(media)) => media != "text/event-stream",
        _ => false,
    }
}
