//! What a provider crate writes: a [`Codec`], its wire format as pure code.
//!
//! A codec encodes a [`ChatRequest`] into a [`WireRequest`] (URL, headers, JSON body), decodes a whole body,
//! names the framing of its streams ([`Framing`]), builds a [`StreamDecoder`] that turns one framed payload
//! at a time into [`StreamEvent`]s, classifies an error status with its own error-name table, and checks a
//! request against its own parameter table. It performs no IO and reads no clock: the time a response
//! arrived is an argument.
//!
//! [`HttpProvider`](crate::HttpProvider) is the one driver that owns the socket, the timers and the body loop
//! for every codec; [`Decoding`](crate::Decoding) is the sans-IO half of that loop (bytes in, events out), so
//! tests and fuzz targets drive a codec's stream exactly as the driver does, without a server.

use std::collections::VecDeque;
use std::fmt;
use std::time::SystemTime;

use http::HeaderMap;
use llm_core::classify::{self, RateLimitHeaders};
use llm_core::{ChatRequest, ChatResponse, Error, Pricing, RateLimit, StreamEvent};

use crate::config::HttpConfig;

/// How a streamed body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// Server-sent events (OpenAI, Anthropic, llama.cpp, Gemini): each event's type and data is one frame.
    Sse,
    /// Newline-delimited JSON (Ollama): each line is one frame.
    Ndjson,
}

/// One framed payload of a streamed body, lent from the bytes just read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// An SSE event: its `event:` type (`"message"` when it had none) and its data.
    Event {
        /// The event type.
        event: &'a str,
        /// The event data (its `data:` lines joined with `\n`).
        data: &'a str,
    },
    /// One NDJSON line, without its line end.
    Line(&'a str),
}

/// The HTTP method of a [`WireRequest`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET` (health checks, model lists).
    Get,
    /// `POST` with a JSON body.
    Post,
}

/// A request as it goes on the wire: everything the driver needs to send it.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct WireRequest {
    /// The method.
    pub method: Method,
    /// The full URL.
    pub url: String,
    /// Every header to send (authorization included, marked sensitive).
    pub headers: HeaderMap,
    /// The body (empty for `GET`).
    pub body: Vec<u8>,
}

impl WireRequest {
    /// A `POST` of `body` to `url`.
    pub fn post(url: impl Into<String>, headers: HeaderMap, body: Vec<u8>) -> Self {
        WireRequest {
            method: Method::Post,
            url: url.into(),
            headers,
            body,
        }
    }

    /// A `GET` of `url`.
    pub fn get(url: impl Into<String>, headers: HeaderMap) -> Self {
        WireRequest {
            method: Method::Get,
            url: url.into(),
            headers,
            body: Vec::new(),
        }
    }
}

/// The decoding state of one streamed answer: framed payloads in, [`StreamEvent`]s out.
///
/// The driver's rules, the same for every codec:
/// - every event a decoder appends is yielded, in order, before an error it returns (so a decoder appends
///   nothing for a frame it rejects, unless the frame really delivered it);
/// - after an `Err` the stream ends: the decoder is not called again;
/// - once [`StreamDecoder::is_done`] the answer is complete and the rest of the body is read and ignored
///   (so the connection can be reused), whatever it holds;
/// - a failure of the body or of the framing (size limit, invalid UTF-8) before the answer is complete goes
///   through [`StreamDecoder::attach`], so it carries this response's request id.
pub trait StreamDecoder: Send + Unpin + 'static {
    /// What it decodes frames into: [`StreamEvent`] for chat, a provider's own event type for its native
    /// endpoints.
    type Event: Delivered + fmt::Debug + Send + Unpin + 'static;

    /// Decodes one framed payload, appending the events it stands for to `out`.
    ///
    /// # Errors
    /// The error the payload carries (a mid-stream error event, classified like a status), or
    /// `invalid_response` for a payload that is not the wire format.
    fn frame(&mut self, frame: Frame<'_>, out: &mut VecDeque<Self::Event>) -> Result<(), Error>;

    /// True once the answer is complete: nothing after this point changes it.
    fn is_done(&self) -> bool;

    /// The body ended. `truncated` is true when it ended inside a frame (no final line end or blank line).
    /// May append final events (a held-back finish reason).
    ///
    /// # Errors
    /// A `network` error when the answer is not complete (a stream cut short is never a short answer).
    fn end(&mut self, truncated: bool, out: &mut VecDeque<Self::Event>) -> Result<(), Error>;

    /// Adds what the decoder knows of this response (its request id) to an error seen by the driver.
    fn attach(&self, error: Error) -> Error {
        error
    }
}

/// An event that may carry generated text: the driver counts its bytes, so an error after it says how much
/// was delivered ([`Error::delivered_bytes`]).
pub trait Delivered {
    /// The bytes of generated text this event delivers (0 for events that carry none).
    fn delivered_bytes(&self) -> usize;
}

impl Delivered for StreamEvent {
    /// Text deltas count; reasoning does not (it is not part of the answer).
    fn delivered_bytes(&self) -> usize {
        match self {
            StreamEvent::TextDelta(text) => text.len(),
            _ => 0,
        }
    }
}

/// A provider's wire format, as pure code: encode a request, decode a body, a stream decoder for framed
/// payloads, the error table, the health request. [`HttpProvider`](crate::HttpProvider) drives it.
pub trait Codec: Send + Sync + fmt::Debug + 'static {
    /// The stream decoder of one response.
    type Decoder: StreamDecoder<Event = StreamEvent>;

    /// The provider's name (in errors, attempts and stream starts).
    fn name(&self) -> &str;

    /// The settings the driver's transport takes: timeouts, a caller's `reqwest::Client`, the key to scrub.
    fn http(&self) -> &HttpConfig;

    /// Every reason `request` cannot be sent, as one `validation` error; `Ok` when it can.
    ///
    /// # Errors
    /// `validation`, listing every violation.
    fn validate(&self, request: &ChatRequest) -> Result<(), Error>;

    /// The request to send for `request` (`stream` asks for a streamed answer). Called after
    /// [`Codec::validate`] passed.
    ///
    /// # Errors
    /// `validation` when the request cannot be encoded.
    fn encode(&self, request: &ChatRequest, stream: bool) -> Result<WireRequest, Error>;

    /// Decodes a whole success body; `headers` are the response's (request id).
    ///
    /// # Errors
    /// The error an HTTP-200 body carries, or `invalid_response`.
    fn decode(
        &self,
        request: &ChatRequest,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<ChatResponse, Error>;

    /// The framing of a streamed body.
    fn framing(&self) -> Framing;

    /// A decoder for one streamed answer to `request`, whose response carried `headers`.
    fn decoder(&self, request: &ChatRequest, headers: &HeaderMap) -> Self::Decoder;

    /// The classified error for a non-success status, with the provider's own error names; `now` is when the
    /// response arrived (for HTTP-date retry hints).
    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Error;

    /// What a successful response's rate-limit headers say is left of the provider's budget (default: the
    /// standard `x-ratelimit-remaining-*` headers).
    fn rate_limit(&self, headers: &HeaderMap) -> Option<RateLimit> {
        classify::rate_limit(headers, &RateLimitHeaders::STANDARD)
    }

    /// The wire format whose [`Relay`](llm_core::Relay) this codec sends as given (default: none).
    fn relay_wire(&self) -> Option<&'static str> {
        None
    }

    /// Where this provider's prices come from (default: unknown, so costs are unknown).
    fn pricing(&self) -> Pricing {
        Pricing::Unknown
    }

    /// The request `health()` sends: it checks reachability and credentials without spending tokens.
    fn health(&self) -> WireRequest;

    /// Checks the body of a successful health answer (default: any body is fine).
    ///
    /// # Errors
    /// `invalid_response` when the server is not what the codec speaks to.
    fn check_health(&self, body: &[u8]) -> Result<(), Error> {
        let _ = body;
        Ok(())
    }
}
