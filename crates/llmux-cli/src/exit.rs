//! Exit codes: one per class of failure, so scripts can decide without parsing text.

use llmux::ErrorKind;

/// Success.
pub const OK: u8 = 0;
/// Anything not listed below.
pub const OTHER: u8 = 1;
/// A usage or configuration error (also clap's code for a bad command line).
pub const CONFIG: u8 = 2;
/// The request failed validation.
pub const VALIDATION: u8 = 3;
/// `auth` or `permission`.
pub const AUTH: u8 = 4;
/// `rate_limited` or `quota_exhausted`.
pub const RATE: u8 = 5;
/// `network`, `timeout`, `server` or `overloaded`.
pub const UNAVAILABLE: u8 = 6;

/// The exit code for a failure of `kind`.
pub fn for_kind(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::Validation => VALIDATION,
        ErrorKind::Auth | ErrorKind::Permission => AUTH,
        ErrorKind::RateLimited | ErrorKind::QuotaExhausted => RATE,
        ErrorKind::Network | ErrorKind::Timeout | ErrorKind::Server | ErrorKind::Overloaded => {
            UNAVAILABLE
        }
        _ => OTHER,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_class() {
        let expected = |kind: ErrorKind| match kind.as_str() {
            "validation" => 3,
            "auth" | "permission" => 4,
            "rate_limited" | "quota_exhausted" => 5,
            "network" | "timeout" | "server" | "overloaded" => 6,
            _ => 1,
        };
        for &kind in ErrorKind::ALL {
            assert_eq!(for_kind(kind), expected(kind), "{kind}");
        }
    }
}
