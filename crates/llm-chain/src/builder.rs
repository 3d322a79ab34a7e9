//! Building a chain: [`ChainBuilder`] collects the entries, the policy, the clock and the observer, and
//! checks that there is at least one entry.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use llm_core::{Error, Violation};

use std::sync::atomic::{AtomicBool, AtomicU32};

use crate::budget::Budget;
use crate::chain::{AttemptObserver, Chain, Deployed, Inner, SkipObserver, Slot};
use crate::clock::{Clock, SystemClock};
use crate::entry::Entry;
use crate::fleet::{FleetView, StateStore, Target};
use crate::health::Health;
use crate::meter::price_for;
use crate::policy::Policy;
use crate::rate::LocalRate;
use crate::spend::LocalSpend;

/// Builds a [`Chain`].
#[must_use]
pub struct ChainBuilder {
    name: String,
    entries: Vec<Entry>,
    policy: Policy,
    clock: Arc<dyn Clock>,
    observer: Option<AttemptObserver>,
    skip_observer: Option<SkipObserver>,
    id: Option<String>,
    store: Option<Arc<dyn StateStore>>,
}

impl fmt::Debug for ChainBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainBuilder")
            .field("name", &self.name)
            .field("entries", &self.entries)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl ChainBuilder {
    /// Appends an entry; entries are tried in the order they were added.
    pub fn entry(mut self, entry: Entry) -> Self {
        self.entries.push(entry);
        self
    }

    /// Sets the policy (default: [`Policy::default`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the clock (default: [`SystemClock`], which sleeps on tokio's timer).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the observer called right after each attempt ends.
    pub fn on_attempt(mut self, observer: AttemptObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Sets the observer called whenever an entry (or a deployment) is passed over without a request:
    /// breaker open, probe in flight, rate budget spent.
    pub fn on_skip(mut self, observer: SkipObserver) -> Self {
        self.skip_observer = Some(observer);
        self
    }

    /// Shares breakers, cooldowns, half-open probes and rate budgets through `store` (e.g.
    /// `llm_chain::redis::RedisState`, feature `redis`) with every process whose chain has the same id.
    /// Default: none, every process on its own.
    pub fn state(mut self, store: Arc<dyn StateStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// Sets the id the shared store keys this chain's state by (default: the chain's name).
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Sets the name the chain reports as a provider (default `chain`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Builds the chain; a `validation` error when it has no entry, when its entries that embed declare
    /// more than one vector space (embeddings fall back only within one space), or when an entry with a
    /// dollar budget has no known price.
    pub fn build(self) -> Result<Chain, Error> {
        if self.entries.is_empty() {
            return Err(Error::validation(
                self.name,
                vec![Violation::new("entries", "at least one entry", "none")],
            ));
        }
        unpriced_budgets(&self.name, &self.entries)?;
        let space = one_space(&self.name, &self.entries)?;
        let origin = self.clock.now();
        let last = self.entries.len() - 1;
        let mut slots = Vec::new();
        let mut targets = Vec::new();
        let mut deployed = Vec::new();
        for (i, entry) in self.entries.into_iter().enumerate() {
            let whole = entry.clone();
            let (first, rest, strategy) = entry.split();
            let group = !rest.is_empty();
            let entry_id = first
                .explicit_id()
                .map_or_else(|| default_id(i, &first), str::to_owned);
            let start = targets.len();
            for (d, e) in std::iter::once(first).chain(rest).enumerate() {
                let id = match (group, d) {
                    (false, _) => entry_id.clone(),
                    (true, 0) => format!("{entry_id}/0"),
                    (true, _) => format!(
                        "{entry_id}/{}",
                        e.explicit_id()
                            .map_or_else(|| default_id(d, &e), str::to_owned)
                    ),
                };
                targets.push(Target {
                    id,
                    entry: i,
                    deployment: group.then_some(d),
                    health: Health::new(self.policy.breaker, origin),
                    limits: e.limits,
                    rate: LocalRate::new(origin),
                    spend: LocalSpend::new(origin),
                });
                let chat_price = price_for(&e, e.model());
                let embed_price = e.embed_model().and_then(|m| price_for(&e, m));
                deployed.push(Deployed {
                    chat_price,
                    embed_price,
                    weight: e.weight_value(),
                    // Every entry but the last has somewhere else to go: it does not wait out a server that
                    // is not ready yet (a model still loading), it reports it and the chain moves on at once.
                    entry: if i < last { e.without_waiting() } else { e },
                    inflight: AtomicU32::new(0),
                });
            }
            slots.push(Slot {
                entry: whole,
                targets: start..targets.len(),
                strategy,
            });
        }
        let view = Arc::new(FleetView {
            chain: self.id.unwrap_or_else(|| self.name.clone()),
            policy: self.policy.breaker,
            clock: Arc::clone(&self.clock),
            targets,
        });
        if let Some(store) = &self.store {
            store.attach(Arc::clone(&view));
        }
        Ok(Chain {
            inner: Arc::new(Inner {
                name: self.name,
                entries: slots,
                deployed,
                view,
                synced: AtomicBool::new(self.store.is_none()),
                store: self.store,
                budget: Budget::new(self.policy.budget, origin),
                policy: self.policy,
                clock: self.clock,
                observer: self.observer,
                space,
                embed_width: AtomicUsize::new(0),
                skip_observer: self.skip_observer,
            }),
        })
    }
}

/// The one vector space of the entries that embed: vectors of two spaces cannot stand in for each other, so
/// a chain holding both would have to drop entries silently; it is refused instead, naming each entry that
/// differs from the first.
fn one_space(name: &str, entries: &[Entry]) -> Result<Option<String>, Error> {
    let mut spaces = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| e.vector_space().map(|s| (i, e, s)));
    let Some((first_index, first, space)) = spaces.next() else {
        return Ok(None);
    };
    let violations: Vec<Violation> = spaces
        .filter(|(_, _, s)| s != &space)
        .map(|(i, e, s)| {
            Violation::new(
                format!("{}[{i}].space", e.provider().name()),
                format!(
                    "the space of {}[{first_index}]: `{space}`",
                    first.provider().name()
                ),
                format!("`{s}`"),
            )
        })
        .collect();
    if violations.is_empty() {
        Ok(Some(space.to_owned()))
    } else {
        Err(Error::validation(name.to_owned(), violations))
    }
}

impl Chain {
    /// A builder with no entries, the default policy and the system clock.
    pub fn builder() -> ChainBuilder {
        ChainBuilder {
            name: "chain".to_owned(),
            entries: Vec::new(),
            policy: Policy::default(),
            clock: Arc::new(SystemClock),
            observer: None,
            skip_observer: None,
            id: None,
            store: None,
        }
    }
}

/// A dollar budget needs a price: an entry (or deployment) with one and no known price is a `validation`
/// error naming it.
fn unpriced_budgets(name: &str, entries: &[Entry]) -> Result<(), Error> {
    let mut violations = Vec::new();
    for (i, entry) in entries.iter().enumerate() {
        for (d, e) in std::iter::once(entry)
            .chain(entry.deployments())
            .enumerate()
        {
            let model = e.embed_model().unwrap_or(e.model());
            if e.limits.usd.any() && price_for(e, model).is_none() {
                let at = if d == 0 {
                    format!("entries[{i}]")
                } else {
                    format!("entries[{i}].deployments[{}]", d - 1)
                };
                violations.push(Violation::new(
                    format!("{at}.usd_per_*"),
                    "a dollar budget on an entry whose price is known (set one with Entry::price)",
                    format!("no price known for {} model `{model}`", e.provider().name()),
                ));
            }
        }
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(Error::validation(name.to_owned(), violations))
    }
}

/// The id shared state keys a target by when none is set: its position, provider and model, and a
/// fingerprint of the provider's name, [identity](llm_core::Provider::identity) (base URL, key fingerprint)
/// and model, so entries that reach different servers or accounts never share a breaker or a budget, and no
/// two spellings run together (`0:openai:gpt-4o-mini#1f0c…`).
fn default_id(position: usize, entry: &Entry) -> String {
    let provider = entry.provider();
    let identity = provider.identity().unwrap_or_default();
    let model = entry.embed_model().unwrap_or(entry.model());
    let print = llm_core::fingerprint(&[provider.name(), &identity, entry.model(), model]);
    format!(
        "{position}:{}:{}#{print:016x}",
        provider.name(),
        entry.model()
    )
}
