//! The errors of one provider's connection: a reqwest failure classified (`network`, `timeout`,
//! `bad_request`), and any error named for the provider and scrubbed of its key. The transport and the
//! bodies it reads share it.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use llm_core::{ApiKey, Error, ErrorKind};

/// How one provider's connection words its errors: its name, and the key to scrub. Cheap to clone.
#[derive(Clone)]
pub struct Failures {
    inner: Arc<(Cow<'static, str>, Option<ApiKey>)>,
}

impl fmt::Debug for Failures {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failures")
            .field("provider", &self.inner.0)
            .field("secret", &self.inner.1)
            .finish()
    }
}

impl Failures {
    /// The errors of `provider`, scrubbed of `secret`.
    pub fn new(provider: Cow<'static, str>, secret: Option<ApiKey>) -> Self {
        Failures {
            inner: Arc::new((provider, secret)),
        }
    }

    /// The provider name used in errors.
    pub fn provider(&self) -> &str {
        &self.inner.0
    }

    /// The provider name, to put in errors built elsewhere (cheap for a `'static` name).
    pub(crate) fn provider_name(&self) -> Cow<'static, str> {
        self.inner.0.clone()
    }

    /// An error of `kind` from this provider, with the secret scrubbed.
    pub fn error(&self, kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        self.finish(Error::new(kind, message).with_provider(self.inner.0.clone()))
    }

    /// Scrubs the secret out of `error` (for errors built elsewhere, e.g. decoded from a stream).
    pub fn finish(&self, error: Error) -> Error {
        match &self.inner.1 {
            Some(key) => error.redact(key),
            None => error,
        }
    }

    /// Maps a reqwest failure to a classified error: timeouts are `timeout`, connection and body failures are
    /// `network` (reqwest reports a body cut mid-transfer as a decode error: it is still the connection that
    /// failed, since llmux decodes payloads itself), a request that cannot be built `bad_request`.
    pub fn from_reqwest(&self, e: reqwest::Error, doing: &str) -> Error {
        let kind = if e.is_timeout() {
            ErrorKind::Timeout
        } else if e.is_builder() {
            ErrorKind::BadRequest
        } else {
            ErrorKind::Network
        };
        let what = if e.is_connect() {
            "could not connect"
        } else if e.is_timeout() {
            "timed out"
        } else if e.is_builder() {
            "invalid request"
        } else {
            "connection failed"
        };
        let host = e.url().and_then(|u| {
            u.host_str()
                .map(|h| (h.to_owned(), u.port_or_known_default()))
        });
        let message = match host {
            Some((h, Some(p))) => format!("{what} while {doing} ({h}:{p})"),
            Some((h, None)) => format!("{what} while {doing} ({h})"),
            None => format!("{what} while {doing}"),
        };
        let connect_failed = e.is_connect();
        self.finish(
            Error::new(kind, message)
                .with_provider(self.inner.0.clone())
                .with_connect_failed(connect_failed)
                .with_source(e.without_url()),
        )
    }
}
