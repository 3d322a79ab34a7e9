//! Sending requests: the pooled client, the first-byte and total limits on the way to the response headers,
//! and classified errors for failed connections and non-success statuses.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::HeaderMap;
use llm_core::{ApiKey, Error, ErrorKind, Timeouts, classify};
use tokio::time::Instant;

use crate::body::Body;
use crate::failure::Failures;

/// The largest non-streamed body read by default (16 MiB): a larger one is an `invalid_response` error, never
/// an unbounded allocation.
pub const DEFAULT_MAX_BODY: usize = 16 << 20;

/// What classifies a non-success status: status, headers, the bounded body and the time the response
/// arrived in, the error out (a codec's [`Codec::error`](crate::Codec::error)).
pub type Classify<'a> = dyn Fn(u16, &HeaderMap, &[u8], SystemTime) -> Error + Sync + 'a;

/// How much of an error response's body is read to classify it.
const MAX_ERROR_BODY: usize = 64 << 10;

/// One provider's connection to its server: a pooled client plus the limits and the secret to scrub.
/// Cheap to clone; clones share the pool.
#[derive(Clone)]
pub struct Transport {
    inner: Arc<Inner>,
}

struct Inner {
    client: reqwest::Client,
    timeouts: Timeouts,
    failures: Failures,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("timeouts", &self.inner.timeouts)
            .field("failures", &self.inner.failures)
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// A transport for `provider` with `timeouts`. With `client: None` it builds its own pooled client (rustls,
    /// `timeouts.connect` as connect limit); a caller-supplied client is used as is (its own connect limit
    /// applies), and the first-byte, idle and total limits are still enforced here.
    pub fn new(
        provider: impl Into<Cow<'static, str>>,
        timeouts: Timeouts,
        client: Option<reqwest::Client>,
    ) -> Result<Self, Error> {
        let provider = provider.into();
        let client = match client {
            Some(c) => c,
            // Redirects are never followed: reqwest strips only `Authorization` when one changes host, so a
            // 307 would carry `x-api-key`, `x-goog-api-key` or `api-key` to whatever host it names.
            None => reqwest::Client::builder()
                .connect_timeout(timeouts.connect)
                .tcp_nodelay(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .map_err(|e| {
                    Error::new(ErrorKind::Unknown, "could not build the http client")
                        .with_provider(provider.clone())
                        .with_source(e)
                })?,
        };
        Ok(Transport {
            inner: Arc::new(Inner {
                client,
                timeouts,
                failures: Failures::new(provider, None),
            }),
        })
    }

    /// Scrub `key` out of every error this transport produces.
    #[must_use]
    pub fn with_secret(self, key: Option<ApiKey>) -> Self {
        let provider = self.inner.failures.provider_name();
        let inner = Inner {
            client: self.inner.client.clone(),
            timeouts: self.inner.timeouts,
            failures: Failures::new(provider, key),
        };
        Transport {
            inner: Arc::new(inner),
        }
    }

    /// The provider name used in errors.
    pub fn provider(&self) -> &str {
        self.inner.failures.provider()
    }

    /// How this connection words its errors (what a body it reads uses too).
    pub fn failures(&self) -> &Failures {
        &self.inner.failures
    }

    /// The limits in force.
    pub fn timeouts(&self) -> Timeouts {
        self.inner.timeouts
    }

    /// The pooled client.
    pub fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }

    /// A POST request on the pooled client.
    pub fn post(&self, url: &str) -> reqwest::RequestBuilder {
        self.inner.client.post(url)
    }

    /// A GET request on the pooled client.
    pub fn get(&self, url: &str) -> reqwest::RequestBuilder {
        self.inner.client.get(url)
    }

    /// An error of `kind` from this provider, with the secret scrubbed.
    pub fn error(&self, kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        self.inner.failures.error(kind, message)
    }

    /// Scrubs the secret out of `error` (for errors built elsewhere, e.g. decoded from a stream).
    pub fn finish(&self, error: Error) -> Error {
        self.inner.failures.finish(error)
    }

    /// Sends `request` and waits for the response headers within the first-byte and total limits. A
    /// non-success status is read (bounded) and returned as a classified error; a success is returned with
    /// its body not yet read.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Result<Response, Error> {
        let provider = self.inner.failures.provider_name();
        self.send_with(request, &|status, headers, body, now| {
            classify::error_from_response(
                provider.clone(),
                status,
                headers,
                body,
                now,
                &classify::ErrorTable::EMPTY,
            )
        })
        .await
    }

    /// As [`Transport::send`], with a non-success status classified by `classify` (a codec's own error
    /// table; it gets the status, headers, the bounded body and the time the response arrived).
    pub async fn send_with(
        &self,
        request: reqwest::RequestBuilder,
        classify: &Classify<'_>,
    ) -> Result<Response, Error> {
        let t = self.inner.timeouts;
        let sent = Instant::now();
        let first_byte_at = sent + t.first_byte;
        let total_at = sent + t.total;
        let (deadline, phase) = if first_byte_at <= total_at {
            (first_byte_at, "first byte")
        } else {
            (total_at, "total")
        };
        let response = match tokio::time::timeout_at(deadline, request.send()).await {
            Ok(Ok(r)) => r,
            Ok(Err(e)) => return Err(self.from_reqwest(e, "sending the request")),
            Err(_) => {
                let limit = if phase == "total" {
                    t.total
                } else {
                    t.first_byte
                };
                return Err(self.error(
                    ErrorKind::Timeout,
                    format!("no response within the {phase} limit of {limit:?}"),
                ));
            }
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        if (300..400).contains(&status) {
            // Where it points, without its query (which could hold anything).
            let to = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(|l| l.split(['?', '#']).next().unwrap_or_default().to_owned())
                .unwrap_or_default();
            return Err(self
                .error(
                    ErrorKind::NotFound,
                    format!(
                        "the provider answered {status}, a redirect to `{to}`: redirects are not followed \
                         (they would carry the key to another host); set the base URL to where it points"
                    ),
                )
                .with_status(status));
        }
        let body = Body::new(
            response.bytes_stream().boxed(),
            self.inner.failures.clone(),
            t.total,
            sent,
            t.first_byte,
            t.idle,
            total_at,
        );
        let response = Response {
            status,
            headers,
            body,
        };
        if (200..300).contains(&status) {
            Ok(response)
        } else {
            Err(response.into_error(classify).await)
        }
    }

    /// Maps a reqwest failure to a classified error (see [`Failures::from_reqwest`]).
    pub fn from_reqwest(&self, e: reqwest::Error, doing: &str) -> Error {
        self.inner.failures.from_reqwest(e, doing)
    }
}

/// A response whose status is a success and whose body is not read yet.
#[derive(Debug)]
pub struct Response {
    status: u16,
    headers: HeaderMap,
    body: Body,
}

impl Response {
    /// The HTTP status.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The response headers.
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The provider's request id (first of `x-request-id`, `request-id`, `x-generation-id`).
    pub fn request_id(&self) -> Option<String> {
        classify::request_id(&self.headers)
    }

    /// The media type of the body, lowercased and without parameters (`text/event-stream`).
    pub fn media_type(&self) -> Option<String> {
        let v = self
            .headers
            .get(http::header::CONTENT_TYPE)?
            .to_str()
            .ok()?;
        Some(v.split(';').next()?.trim().to_ascii_lowercase())
    }

    /// The body as a stream of chunks under the idle and total limits.
    pub fn into_body(self) -> Body {
        self.body
    }

    /// The whole body, at most `limit` bytes: a longer body is an `invalid_response` error (memory stays near
    /// the limit).
    pub async fn bytes(self, limit: usize) -> Result<Bytes, Error> {
        let mut body = self.body;
        let mut buf = BytesMut::new();
        while let Some(chunk) = body.next().await {
            let chunk = chunk?;
            if buf.len() + chunk.len() > limit {
                return Err(body.failures().error(
                    ErrorKind::InvalidResponse,
                    format!("response body larger than {limit} bytes"),
                ));
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf.freeze())
    }

    async fn into_error(self, classify: &Classify<'_>) -> Error {
        let status = self.status;
        let headers = self.headers;
        let mut body = self.body;
        let failures = body.failures().clone();
        let mut buf = Vec::new();
        while let Some(Ok(chunk)) = body.next().await {
            let room = MAX_ERROR_BODY - buf.len();
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if buf.len() >= MAX_ERROR_BODY {
                break;
            }
        }
        failures.finish(classify(status, &headers, &buf, SystemTime::now()))
    }
}
