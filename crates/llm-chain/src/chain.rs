//! The chain itself: the shared state of every call (`Inner`: entries with their health, the policy, the
//! clock, the observer, the retry budget) and the accessors users read it through. Building is in
//! `builder`, the loop that walks the entries in `run`, embeddings in `embed` (with `hedge` for streams), the decision after a
//! failure in `decision`, and the [`Provider`](llm_core::Provider) implementation in `provider`.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::time::Instant;

use llm_core::{Attempt, Price};

use crate::budget::Budget;
use crate::clock::Clock;
use crate::entry::{Entry, Strategy};
use crate::fleet::{FleetView, Report, StateStore, Target};
use crate::health::{EntryHealth, Skipped};
use crate::policy::Policy;

/// Called right after each attempt ends, with the attempt (e.g. to print it as a JSON line).
pub type AttemptObserver = Arc<dyn Fn(&Attempt) + Send + Sync>;

/// Called whenever an entry (or a deployment of a group) is passed over without a request.
pub type SkipObserver = Arc<dyn Fn(&Skipped) + Send + Sync>;

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

/// One entry as the caller built it, and the targets (an entry, or a group's deployments) it runs on.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) entry: Entry,
    pub(crate) targets: Range<usize>,
    pub(crate) strategy: Strategy,
}

/// What the run loop needs of one target besides its breaker and budgets (those are in the view).
#[derive(Debug)]
pub(crate) struct Deployed {
    /// The provider, model and parameters requests to this target use.
    pub(crate) entry: Entry,
    /// Its weight for the `weighted` strategy.
    pub(crate) weight: u32,
    /// This process's requests in flight to it, for `least in flight`.
    pub(crate) inflight: AtomicU32,
    /// What its chat model's tokens cost (its own price, else its provider's), looked up once.
    pub(crate) chat_price: Option<Price>,
    /// What its embedding model's tokens cost, looked up once.
    pub(crate) embed_price: Option<Price>,
}

impl Deployed {
    /// Counts one request in flight until the guard is dropped.
    pub(crate) fn enter(&self) -> InflightGuard<'_> {
        self.inflight.fetch_add(1, Ordering::Relaxed);
        InflightGuard(&self.inflight)
    }
}

/// One request in flight to a target.
pub(crate) struct InflightGuard<'a>(&'a AtomicU32);

impl Drop for InflightGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What every call of one chain shares.
pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) entries: Vec<Slot>,
    /// Every target, parallel to `view.targets`.
    pub(crate) deployed: Vec<Deployed>,
    /// The breakers and rate windows of every target.
    pub(crate) view: Arc<FleetView>,
    /// The shared store, when the chain has one.
    pub(crate) store: Option<Arc<dyn StateStore>>,
    /// Whether the store has been awaited once (see `StateStore::ready`).
    pub(crate) synced: AtomicBool,
    pub(crate) policy: Policy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) observer: Option<AttemptObserver>,
    pub(crate) skip_observer: Option<SkipObserver>,
    pub(crate) budget: Budget,
    /// The vector space of the entries that embed (one per chain), `None` when none does.
    pub(crate) space: Option<String>,
    /// The width of the space's vectors once it has answered (0 before).
    pub(crate) embed_width: AtomicUsize,
}

impl Inner {
    /// The target `t`'s breaker and budgets.
    pub(crate) fn target(&self, t: usize) -> &Target {
        &self.view.targets[t]
    }

    /// The provider, model and parameters of target `t`.
    pub(crate) fn deployed(&self, t: usize) -> &Entry {
        &self.deployed[t].entry
    }

    /// Tells the observer, when there is one, that `attempt` ended.
    pub(crate) fn observe(&self, attempt: &Attempt) {
        if let Some(observer) = &self.observer {
            observer(attempt);
        }
    }

    /// `tokens` an answer used, counted against target `t`'s `tpm` (when it has one) in process and, with
    /// a store, fleet-wide.
    pub(crate) fn spend(&self, t: usize, now: Instant, tokens: u64) {
        let target = self.target(t);
        if target.limits.tpm.is_none() {
            return;
        }
        target.rate.tokens(now, tokens);
        if let Some(store) = &self.store {
            store.report(t, Report::Tokens(tokens));
        }
    }
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
            .field("store", &self.store)
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

    /// Each entry's breaker state, failures, last error and success, and latency averages, now: one row
    /// per entry, and for a group one row per deployment.
    pub fn health_snapshot(&self) -> Vec<EntryHealth> {
        let now = self.inner.clock.now();
        self.inner
            .view
            .targets
            .iter()
            .zip(&self.inner.deployed)
            .map(|(t, d)| {
                let mut h =
                    t.health
                        .snapshot(now, t.entry, d.entry.provider().name(), d.entry.model());
                h.deployment = t.deployment;
                h
            })
            .collect()
    }

    /// Completes once the outcomes reported so far reached the shared store (within its bounded wait); at
    /// once without a store. A short-lived process calls it before it exits.
    pub async fn flush_state(&self) {
        if let Some(store) = &self.inner.store {
            store.flush().await;
        }
    }

    /// The in-process view of every target's breaker and budget (what a shared store keeps current).
    pub fn fleet_view(&self) -> &Arc<FleetView> {
        &self.inner.view
    }
}
