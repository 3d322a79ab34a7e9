//! One HTTP request made on the caller's behalf, as a fallback chain reports it.

use std::fmt;
use std::time::Duration;

use crate::cost::Cost;
use crate::error::{Error, ErrorKind};

/// One attempt: one HTTP request to one chain entry. Retries are separate attempts.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct Attempt {
    /// The entry's position in the chain, from 0.
    pub entry: usize,
    /// The provider's name.
    pub provider: String,
    /// The model the entry asked for.
    pub model: String,
    /// Retries made within this entry before this attempt, from 0.
    pub retry: u32,
    /// `None` when the attempt succeeded, else the kind of its error.
    pub outcome: Option<ErrorKind>,
    /// The HTTP status, when there was one.
    pub status: Option<u16>,
    /// The wait the provider asked for, when it did.
    pub retry_after: Option<Duration>,
    /// How long the attempt took until it succeeded (first content for streams) or failed.
    pub latency: Duration,
    /// The error's display text, when the attempt failed.
    pub message: Option<String>,
    /// What this attempt alone cost (`None`: unknown, no price is known for its model). A failed attempt
    /// that consumed nothing costs [`Cost::ZERO`]; one cut after it consumed tokens, or a hedged request
    /// cancelled after it was sent, has an estimated cost.
    pub cost: Option<Cost>,
}

impl Attempt {
    /// A successful attempt.
    pub fn succeeded(
        entry: usize,
        provider: impl Into<String>,
        model: impl Into<String>,
        retry: u32,
        latency: Duration,
    ) -> Self {
        Attempt {
            entry,
            provider: provider.into(),
            model: model.into(),
            retry,
            outcome: None,
            status: None,
            retry_after: None,
            latency,
            message: None,
            cost: None,
        }
    }

    /// A failed attempt, described by its error.
    pub fn failed(
        entry: usize,
        provider: impl Into<String>,
        model: impl Into<String>,
        retry: u32,
        latency: Duration,
        error: &Error,
    ) -> Self {
        Attempt {
            entry,
            provider: provider.into(),
            model: model.into(),
            retry,
            outcome: Some(error.kind()),
            status: error.status(),
            retry_after: error.retry_after(),
            latency,
            message: Some(error.to_string()),
            cost: Some(Cost::ZERO),
        }
    }

    /// What a call of these attempts cost: their sum, an estimate when one is, unknown (`None`) when one
    /// is.
    pub fn total_cost(attempts: &[Attempt]) -> Option<Cost> {
        crate::cost::sum_known(attempts.iter().map(|a| a.cost))
    }

    /// `ok` or the kind's name.
    pub fn outcome_str(&self) -> &'static str {
        self.outcome.map_or("ok", ErrorKind::as_str)
    }
}

impl fmt::Display for Attempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "entry {} {} {} retry {}: {}",
            self.entry,
            self.provider,
            self.model,
            self.retry,
            self.outcome_str()
        )?;
        if let Some(s) = self.status {
            write!(f, " (http {s})")?;
        }
        Ok(())
    }
}
