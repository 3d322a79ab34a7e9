//! The chain itself: the shared state of every call (`Inner`: entries with their health, the policy, the
//! clock, the observer, the retry budget) and the accessors users read it through. Building is in
//! `builder`, the loop that walks the entries in `run`, embeddings in `embed` (with `hedge` for streams), the decision after a
//! failure in `decision`, and the [`Provider`](llm_core::Provider) implementation in `provider`.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use llm_core::Attempt;

use crate::budget::Budget;
use crate::clock::Clock;
use crate::entry::Entry;
use crate::health::{EntryHealth, Health};
use crate::policy::Policy;

/// Called right after each attempt ends, with the attempt (e.g. to print it as a JSON line).
pub type AttemptObserver = Arc<dyn Fn(&Attempt) + Send + Sync>;

/// A fallback chain of providers. It implements [`Provider`](llm_core::Provider), so it can be used wherever a provider can,
/// and clones share the same breakers, health and retry budget.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use llm_chain::{Chain, Entry, Policy};
/// use llm_core::{Params, Provider};
///
/// # fn demo(openai: Arc<dyn Provider>, local: Arc<dyn Provider>) -> Result<(), llm_core::Error> {
/// let chain = Chain::builder()
///     .entry(Entry::new(openai, "gpt-4o-mini"))
///     .entry(Entry::new(local, "smollm2").params(Params::default()))
///     .policy(Policy::default().deadline(Duration::from_secs(60)))
///     .build()?;
/// assert_eq!(chain.entries().len(), 2);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Chain {
    pub(crate) inner: Arc<Inner>,
}

/// One entry and its health.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) entry: Entry,
    pub(crate) health: Health,
}

/// What every call of one chain shares.
pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) entries: Vec<Slot>,
    pub(crate) policy: Policy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) observer: Option<AttemptObserver>,
    pub(crate) budget: Budget,
    /// The vector space of the entries that embed (one per chain), `None` when none does.
    pub(crate) space: Option<String>,
    /// The width of the space's vectors once it has answered (0 before).
    pub(crate) embed_width: AtomicUsize,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("name", &self.name)
            .field("entries", &self.entries)
            .field("policy", &self.policy)
            .field("clock", &self.clock)
            .field("observer", &self.observer.as_ref().map(|_| "set"))
            .field("space", &self.space)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

impl Chain {
    /// The entries, in order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &Entry> {
        self.inner.entries.iter().map(|s| &s.entry)
    }

    /// The vector space of the entries that embed, `None` when no entry does.
    pub fn space(&self) -> Option<&str> {
        self.inner.space.as_deref()
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Each entry's breaker state, failures, last error and success, and latency averages, now.
    pub fn health_snapshot(&self) -> Vec<EntryHealth> {
        let now = self.inner.clock.now();
        self.inner
            .entries
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.health
                    .snapshot(now, i, s.entry.provider().name(), s.entry.model())
            })
            .collect()
    }
}
