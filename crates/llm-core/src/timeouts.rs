//! Per-phase time limits shared by every HTTP provider's configuration.

use std::time::Duration;

/// Time limits for one request, phase by phase. A limit that passes ends the request with a `timeout` error
/// that names the phase.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP (and TLS) connection. Default 5 s (as the official SDKs).
    pub connect: Duration,
    /// From sending the request until the first byte of the response body. Default 60 s.
    pub first_byte: Duration,
    /// Between two chunks of the response body. Default 60 s.
    pub idle: Duration,
    /// The whole request, headers to last byte. Default 600 s (as the official SDKs).
    pub total: Duration,
}

impl Timeouts {
    /// The default connect limit.
    pub const DEFAULT_CONNECT: Duration = Duration::from_secs(5);
    /// The default first-byte limit.
    pub const DEFAULT_FIRST_BYTE: Duration = Duration::from_secs(60);
    /// The default idle limit.
    pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);
    /// The default total limit.
    pub const DEFAULT_TOTAL: Duration = Duration::from_secs(600);

    /// Sets the connect limit.
    #[must_use]
    pub fn connect(mut self, d: Duration) -> Self {
        self.connect = d;
        self
    }

    /// Sets the first-byte limit.
    #[must_use]
    pub fn first_byte(mut self, d: Duration) -> Self {
        self.first_byte = d;
        self
    }

    /// Sets the idle limit.
    #[must_use]
    pub fn idle(mut self, d: Duration) -> Self {
        self.idle = d;
        self
    }

    /// Sets the total limit.
    #[must_use]
    pub fn total(mut self, d: Duration) -> Self {
        self.total = d;
        self
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Self::DEFAULT_CONNECT,
            first_byte: Self::DEFAULT_FIRST_BYTE,
            idle: Self::DEFAULT_IDLE,
            total: Self::DEFAULT_TOTAL,
        }
    }
}
