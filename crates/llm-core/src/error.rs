//! The one error type every llmux crate returns, and its kinds.
//!
//! Users decide what to do from [`Error::kind`] and the predicates ([`Error::is_retryable`],
//! [`Error::retry_after`], …), never from message text. The error stays one pointer wide: everything lives
//! in a boxed inner value.

use std::borrow::Cow;
use std::error::Error as StdError;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::attempt::Attempt;
use crate::response::RateLimit;
use crate::secret::ApiKey;
use crate::validate::Violation;

/// What went wrong, coarse enough to decide on: retry, fall back, fix the request or give up.
///
/// The snake_case names returned by [`ErrorKind::as_str`] are the names used wherever a kind is printed
/// (CLI output, logs, attempt lists).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The credentials were missing, malformed or rejected (HTTP 401).
    Auth,
    /// The credentials are valid but may not do this (HTTP 403).
    Permission,
    /// The model or endpoint does not exist (HTTP 404).
    NotFound,
    /// The provider rejected the request as malformed (HTTP 400, 422).
    BadRequest,
    /// The prompt plus the requested output do not fit the model's context window.
    ContextLength,
    /// The request body is larger than the provider accepts (HTTP 413).
    PayloadTooLarge,
    /// Too many requests: slow down and retry (HTTP 429).
    RateLimited,
    /// Credits or quota are used up: retrying will not help until billing changes (HTTP 402, `insufficient_quota`).
    QuotaExhausted,
    /// The provider is temporarily over capacity or still loading (HTTP 503, 529).
    Overloaded,
    /// The provider failed internally (HTTP 500, 502, 409 and other 5xx).
    Server,
    /// A time limit passed: ours (connect, first byte, idle, total) or the provider's (HTTP 408, 504).
    Timeout,
    /// The connection failed or broke: refused, reset, DNS, or a stream that ended before its terminal event.
    Network,
    /// The caller cancelled the request.
    Cancelled,
    /// The provider answered with something that cannot be decoded, or that exceeds a size limit.
    InvalidResponse,
    /// The request was rejected by llmux's own parameter validation before anything was sent.
    Validation,
    /// Anything not covered above.
    Unknown,
}

impl ErrorKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [ErrorKind] = &[
        ErrorKind::Auth,
        ErrorKind::Permission,
        ErrorKind::NotFound,
        ErrorKind::BadRequest,
        ErrorKind::ContextLength,
        ErrorKind::PayloadTooLarge,
        ErrorKind::RateLimited,
        ErrorKind::QuotaExhausted,
        ErrorKind::Overloaded,
        ErrorKind::Server,
        ErrorKind::Timeout,
        ErrorKind::Network,
        ErrorKind::Cancelled,
        ErrorKind::InvalidResponse,
        ErrorKind::Validation,
        ErrorKind::Unknown,
    ];

    /// The snake_case name of this kind, e.g. `rate_limited`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Auth => "auth",
            ErrorKind::Permission => "permission",
            ErrorKind::NotFound => "not_found",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::ContextLength => "context_length",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::QuotaExhausted => "quota_exhausted",
            ErrorKind::Overloaded => "overloaded",
            ErrorKind::Server => "server",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Network => "network",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Validation => "validation",
            ErrorKind::Unknown => "unknown",
        }
    }

    /// Whether errors of this kind are worth retrying when nothing else (such as `x-should-retry`) says
    /// otherwise: exactly `rate_limited`, `overloaded`, `server`, `timeout` and `network`.
    pub const fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::Overloaded
                | ErrorKind::Server
                | ErrorKind::Timeout
                | ErrorKind::Network
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text given to [`ErrorKind::from_str`] names no kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownKind(pub String);

impl fmt::Display for UnknownKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown error kind `{}`", self.0)
    }
}

impl StdError for UnknownKind {}

impl FromStr for ErrorKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ErrorKind::ALL
            .iter()
            .copied()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}

/// The provider's own description of an error, as it sent it: reachable without parsing strings.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProviderDetail {
    /// The provider's error code, e.g. `insufficient_quota` or `"429"` (numbers are kept as their decimal text).
    pub code: Option<String>,
    /// The provider's error type, e.g. `overloaded_error` or `invalid_request_error`.
    pub error_type: Option<String>,
    /// The provider's message.
    pub message: Option<String>,
    /// The request parameter the provider blamed, when it names one.
    pub param: Option<String>,
}

impl ProviderDetail {
    /// A detail with only a message.
    pub fn message(message: impl Into<String>) -> Self {
        ProviderDetail {
            message: Some(message.into()),
            ..ProviderDetail::default()
        }
    }

    /// Sets the code.
    #[must_use]
    pub fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Sets the type.
    #[must_use]
    pub fn with_type(mut self, error_type: impl Into<String>) -> Self {
        self.error_type = Some(error_type.into());
        self
    }

    /// Sets the blamed parameter.
    #[must_use]
    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.code.is_none()
            && self.error_type.is_none()
            && self.message.is_none()
            && self.param.is_none()
    }
}

/// The one error type of llmux.
///
/// Users read it with [`Error::kind`] and the predicates ([`Error::is_retryable`], [`Error::retry_after`],
/// [`Error::status`], [`Error::provider`], [`Error::request_id`], …). `Display` describes this layer only
/// (`openai: rate_limited (http 429): …`); the cause is in [`std::error::Error::source`].
///
/// # For provider authors
///
/// This impl is the one place errors are built: [`Error::new`] (a kind and this layer's message), then the
/// `with_*` methods ([`Error::with_provider`], [`Error::with_status`], [`Error::with_retry_after`],
/// [`Error::with_detail`], [`Error::with_connect_failed`], [`Error::with_not_ready`], …);
/// [`Error::validation`] for rejected requests. A failed HTTP status or an error object inside a stream is
/// classified by [`classify`](crate::classify) with the provider's own
/// [`ErrorTable`](crate::classify::ErrorTable), never built by hand, so the same failure gets the same
/// kind whichever provider sent it. `llm_http::HttpProvider` attaches the request id, scrubs the key and
/// counts delivered bytes; a codec only says what its wire format means.
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    provider: Option<Cow<'static, str>>,
    status: Option<u16>,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    should_retry: Option<bool>,
    detail: Option<ProviderDetail>,
    violations: Vec<Violation>,
    attempts: Vec<Attempt>,
    delivered_bytes: Option<u64>,
    connect_failed: bool,
    not_ready: bool,
    rate_limit: Option<RateLimit>,
    source: Option<Box<dyn StdError + Send + Sync + 'static>>,
}

impl Error {
    /// A new error of `kind` whose message describes what this layer saw.
    pub fn new(kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                provider: None,
                status: None,
                request_id: None,
                retry_after: None,
                should_retry: None,
                detail: None,
                violations: Vec::new(),
                attempts: Vec::new(),
                delivered_bytes: None,
                connect_failed: false,
                not_ready: false,
                rate_limit: None,
                source: None,
            }),
        }
    }

    /// A `validation` error listing every violation.
    pub fn validation(provider: impl Into<Cow<'static, str>>, violations: Vec<Violation>) -> Self {
        let provider = provider.into();
        let message = match violations.len() {
            1 => "1 invalid parameter".to_owned(),
            n => format!("{n} invalid parameters"),
        };
        Error::new(ErrorKind::Validation, message)
            .with_provider(provider)
            .with_violations(violations)
    }

    /// A `cancelled` error.
    pub fn cancelled() -> Self {
        Error::new(ErrorKind::Cancelled, "request cancelled")
    }

    /// Sets the name of the provider that produced the error.
    #[must_use]
    pub fn with_provider(mut self, provider: impl Into<Cow<'static, str>>) -> Self {
        self.inner.provider = Some(provider.into());
        self
    }

    /// Sets the HTTP status the provider answered with.
    #[must_use]
    pub fn with_status(mut self, status: u16) -> Self {
        self.inner.status = Some(status);
        self
    }

    /// Sets the provider's request id.
    #[must_use]
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> Self {
        self.inner.request_id = Some(request_id.into());
        self
    }

    /// Sets the provider's request id when there is one.
    #[must_use]
    pub fn with_request_id_opt(mut self, request_id: Option<String>) -> Self {
        if request_id.is_some() {
            self.inner.request_id = request_id;
        }
        self
    }

    /// Sets how long the provider asked the caller to wait before retrying.
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.inner.retry_after = retry_after;
        self
    }

    /// Sets what the provider's rate-limit headers said was left of its budget.
    #[must_use]
    pub fn with_rate_limit(mut self, rate_limit: Option<RateLimit>) -> Self {
        self.inner.rate_limit = rate_limit;
        self
    }

    /// Overrides the kind's retry rule, as the `x-should-retry` response header does.
    #[must_use]
    pub fn with_should_retry(mut self, should_retry: Option<bool>) -> Self {
        self.inner.should_retry = should_retry;
        self
    }

    /// Attaches the provider's own error description.
    #[must_use]
    pub fn with_detail(mut self, detail: ProviderDetail) -> Self {
        self.inner.detail = (!detail.is_empty()).then_some(detail);
        self
    }

    /// Attaches parameter violations (for `validation` errors).
    #[must_use]
    pub fn with_violations(mut self, violations: Vec<Violation>) -> Self {
        self.inner.violations = violations;
        self
    }

    /// Attaches the list of attempts a fallback chain made.
    #[must_use]
    pub fn with_attempts(mut self, attempts: Vec<Attempt>) -> Self {
        self.inner.attempts = attempts;
        self
    }

    /// Records how many bytes of text had already been delivered to the caller when a stream failed.
    #[must_use]
    pub fn with_delivered_bytes(mut self, bytes: u64) -> Self {
        self.inner.delivered_bytes = Some(bytes);
        self
    }

    /// Marks the error as a connection that could not be established: the request never reached the
    /// provider (refused, unreachable, DNS, TLS handshake).
    #[must_use]
    pub fn with_connect_failed(mut self, connect_failed: bool) -> Self {
        self.inner.connect_failed = connect_failed;
        self
    }

    /// Marks the error as a server that is up but not ready to answer yet (a model still loading): waiting
    /// would fix it, and a caller with somewhere else to go moves on at once.
    #[must_use]
    pub fn with_not_ready(mut self, not_ready: bool) -> Self {
        self.inner.not_ready = not_ready;
        self
    }

    /// Attaches the underlying cause.
    #[must_use]
    pub fn with_source(
        mut self,
        source: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    /// Replaces the kind, keeping everything else.
    #[must_use]
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.inner.kind = kind;
        self
    }

    /// Removes every occurrence of `key` from the messages this error carries, so a server that echoes the key
    /// back ("Incorrect API key provided: sk-…") cannot leak it through logs.
    #[must_use]
    pub fn redact(mut self, key: &ApiKey) -> Self {
        if let Cow::Owned(clean) = key.scrub(&self.inner.message) {
            self.inner.message = Cow::Owned(clean);
        }
        // A server or proxy may echo the credential into a header we keep, too.
        if let Some(id) = &mut self.inner.request_id
            && let Cow::Owned(clean) = key.scrub(id)
        {
            *id = clean;
        }
        if let Some(detail) = &mut self.inner.detail {
            for field in [
                &mut detail.message,
                &mut detail.code,
                &mut detail.error_type,
                &mut detail.param,
            ]
            .into_iter()
            .flatten()
            {
                if let Cow::Owned(clean) = key.scrub(field) {
                    *field = clean;
                }
            }
        }
        self
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// Whether retrying the same request may succeed: the kind's rule (see [`ErrorKind::is_retryable`]) unless
    /// the provider said otherwise with `x-should-retry`.
    pub fn is_retryable(&self) -> bool {
        self.inner
            .should_retry
            .unwrap_or_else(|| self.inner.kind.is_retryable())
    }

    /// How long the provider asked the caller to wait before retrying, when it said.
    pub fn retry_after(&self) -> Option<Duration> {
        self.inner.retry_after
    }

    /// What the provider's rate-limit headers said was left of its budget, when it sent them.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.inner.rate_limit
    }

    /// The HTTP status, when the error came with one.
    pub fn status(&self) -> Option<u16> {
        self.inner.status
    }

    /// The name of the provider that produced the error (for a chain, the last attempt's).
    pub fn provider(&self) -> Option<&str> {
        self.inner.provider.as_deref()
    }

    /// The provider's request id: what a support ticket needs.
    pub fn request_id(&self) -> Option<&str> {
        self.inner.request_id.as_deref()
    }

    /// The provider's own error code, type, message and parameter, when it sent them.
    pub fn detail(&self) -> Option<&ProviderDetail> {
        self.inner.detail.as_ref()
    }

    /// This layer's description of the error.
    pub fn message(&self) -> &str {
        &self.inner.message
    }

    /// Every parameter violation, for `validation` errors.
    pub fn violations(&self) -> &[Violation] {
        &self.inner.violations
    }

    /// Every attempt a fallback chain made, in order.
    pub fn attempts(&self) -> &[Attempt] {
        &self.inner.attempts
    }

    /// True when no connection to the provider could be established, so the request never reached it. Such an
    /// error is `network`; a fallback chain moves on from it at once instead of retrying the same address.
    pub fn is_connect(&self) -> bool {
        self.inner.connect_failed
    }

    /// True when the server answered that it is not ready yet (e.g. llama-server's "503 Loading model").
    /// Such an error is `overloaded` (retryable); a fallback chain moves on from it at once when a later
    /// entry exists, as it does for [`Error::is_connect`].
    pub fn is_not_ready(&self) -> bool {
        self.inner.not_ready
    }

    /// How many bytes of text a failed stream had delivered before it failed, when the error ended a stream.
    pub fn delivered_bytes(&self) -> Option<u64> {
        self.inner.delivered_bytes
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        let mut d = f.debug_struct("Error");
        d.field("kind", &i.kind);
        if let Some(p) = &i.provider {
            d.field("provider", p);
        }
        if let Some(s) = i.status {
            d.field("status", &s);
        }
        d.field("message", &i.message);
        if let Some(r) = &i.request_id {
            d.field("request_id", r);
        }
        if let Some(r) = &i.retry_after {
            d.field("retry_after", r);
        }
        if let Some(r) = &i.should_retry {
            d.field("should_retry", r);
        }
        if let Some(r) = &i.rate_limit {
            d.field("rate_limit", r);
        }
        if let Some(detail) = &i.detail {
            d.field("detail", detail);
        }
        if !i.violations.is_empty() {
            d.field("violations", &i.violations);
        }
        if !i.attempts.is_empty() {
            d.field("attempts", &i.attempts);
        }
        if let Some(b) = i.delivered_bytes {
            d.field("delivered_bytes", &b);
        }
        if i.connect_failed {
            d.field("connect_failed", &true);
        }
        if i.not_ready {
            d.field("not_ready", &true);
        }
        if let Some(s) = &i.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.inner;
        if let Some(p) = &i.provider {
            write!(f, "{p}: ")?;
        }
        write!(f, "{}", i.kind)?;
        if let Some(s) = i.status {
            write!(f, " (http {s})")?;
        }
        if !i.message.is_empty() {
            write!(f, ": {}", i.message)?;
        }
        for v in i.violations.iter().take(SHOWN_VIOLATIONS) {
            write!(f, "; {v}")?;
        }
        if let Some(more) = i
            .violations
            .len()
            .checked_sub(SHOWN_VIOLATIONS)
            .filter(|n| *n > 0)
        {
            write!(f, "; … and {more} more")?;
        }
        Ok(())
    }
}

/// How many violations an error's text lists ([`Error::violations`] holds them all): a request of 300k
/// invalid parts must not become a 25 MB message.
pub(crate) const SHOWN_VIOLATIONS: usize = 20;

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_deref()
            .map(|s| s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_small_send_sync() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        assert_eq!(size_of::<Error>(), size_of::<usize>());
        assert_eq!(size_of::<Result<(), Error>>(), size_of::<usize>());
    }

    #[test]
    fn the_text_lists_the_first_violations_and_counts_the_rest() {
        let many: Vec<Violation> = (0..1000)
            .map(|i| Violation::new(format!("messages[{i}]"), "text", "an image"))
            .collect();
        let e = Error::validation("p", many);
        let text = e.to_string();
        assert!(
            text.contains("messages[19]") && !text.contains("messages[20]"),
            "{text}"
        );
        assert!(text.ends_with("; … and 980 more"), "{text}");
        assert_eq!(e.violations().len(), 1000);
        assert!(text.len() < 2000, "{}", text.len());
    }

    #[test]
    fn kind_names_round_trip() {
        for &kind in ErrorKind::ALL {
            assert_eq!(kind.as_str().parse::<ErrorKind>(), Ok(kind));
            assert_eq!(kind.to_string(), kind.as_str());
        }
        assert!("nope".parse::<ErrorKind>().is_err());
    }

    #[test]
    fn retryable_kinds_are_exactly_five() {
        let retryable: Vec<_> = ErrorKind::ALL
            .iter()
            .copied()
            .filter(|k| k.is_retryable())
            .collect();
        assert_eq!(
            retryable,
            [
                ErrorKind::RateLimited,
                ErrorKind::Overloaded,
                ErrorKind::Server,
                ErrorKind::Timeout,
                ErrorKind::Network
            ]
        );
    }

    #[test]
    fn connect_failure_is_a_flag_on_network_errors() {
        let e = Error::new(ErrorKind::Network, "refused");
        assert!(!e.is_connect());
        let e = e.with_connect_failed(true);
        assert!(e.is_connect());
        assert!(e.is_retryable());
        assert!(format!("{e:?}").contains("connect_failed"));
    }

    #[test]
    fn should_retry_overrides_kind() {
        let e = Error::new(ErrorKind::BadRequest, "x").with_should_retry(Some(true));
        assert!(e.is_retryable());
        let e = Error::new(ErrorKind::Server, "x").with_should_retry(Some(false));
        assert!(!e.is_retryable());
        assert!(Error::new(ErrorKind::Server, "x").is_retryable());
    }

    #[test]
    fn display_is_lowercase_layered_and_source_is_kept() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = Error::new(ErrorKind::Network, "could not connect")
            .with_provider("openai")
            .with_source(io);
        assert_eq!(e.to_string(), "openai: network: could not connect");
        assert!(e.source().is_some());
        let e = Error::new(ErrorKind::RateLimited, "slow down")
            .with_provider("claude")
            .with_status(429);
        assert_eq!(e.to_string(), "claude: rate_limited (http 429): slow down");
    }

    #[test]
    fn redact_removes_key_from_message_and_detail() {
        let key = ApiKey::new("sk-test-1234567890abcdef");
        let e = Error::new(
            ErrorKind::Auth,
            "Incorrect API key provided: sk-test-1234567890abcdef",
        )
        .with_detail(ProviderDetail::message(
            "Incorrect API key provided: sk-test-1234567890abcdef.",
        ))
        .redact(&key);
        let all = format!("{e} {e:?}");
        assert!(!all.contains("sk-test-1234567890abcdef"), "{all}");
        assert!(all.contains("[redacted]"));
    }

    #[test]
    fn redact_removes_key_from_an_echoed_request_id() {
        let key = ApiKey::new("sk-test-1234567890abcdef");
        let e = Error::new(ErrorKind::Auth, "no")
            .with_request_id("req-sk-test-1234567890abcdef")
            .redact(&key);
        assert_eq!(e.request_id(), Some("req-[redacted]"));
    }
}
