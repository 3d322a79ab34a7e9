//! What one attempt is charged at and what it cost (`Meter`: the entry's own price, else its provider's, and
//! the request's estimate), and its reservation against the target's dollar budgets (`spend`), taken before
//! the request (fleet-wide with a store) and settled at the real cost after.

use std::time::Duration;

use llm_core::{Cost, Price, Usage, Usd, tokens_of_text};

use crate::chain::Inner;
use crate::entry::Entry;
use crate::fleet::{Answer, Rate, Report};
use crate::health::Skip;

/// The output bound a reservation assumes when neither the request nor the entry's defaults set
/// `max_tokens`.
pub const DEFAULT_RESERVED_OUTPUT_TOKENS: u64 = 4_096;

/// What one attempt's request weighs, for estimates: its prompt's estimated tokens and its output bound.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Estimate {
    pub(crate) input_tokens: u64,
    pub(crate) max_output_tokens: u64,
}

/// What one attempt is charged at: its price (`None`: unknown) and its request's weight.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Meter {
    pub(crate) price: Option<Price>,
    pub(crate) estimate: Estimate,
}

impl Meter {
    /// The most the attempt can cost: its prompt's estimate and its whole output bound.
    pub(crate) fn worst_case(&self) -> Usd {
        let Some(price) = self.price else {
            return Usd::ZERO;
        };
        let r = price.rates_for(self.estimate.input_tokens);
        r.input.per_million(self.estimate.input_tokens)
            + r.output.per_million(self.estimate.max_output_tokens)
    }

    /// What a request that was sent and then cancelled before it answered consumed: its prompt, estimated.
    pub(crate) fn sent(&self) -> Option<Cost> {
        let price = self.price?;
        let r = price.rates_for(self.estimate.input_tokens);
        Some(Cost::estimate(
            r.input.per_million(self.estimate.input_tokens),
        ))
    }

    /// What an answer of `usage` cost: priced at this attempt's price, else as the provider priced it.
    pub(crate) fn cost(&self, usage: &Usage) -> Option<Cost> {
        match self.price {
            Some(price) => price.cost(usage),
            None => usage.cost,
        }
    }

    /// What an answer cut (or ended) without a complete usage cost, estimated: the counts `usage` reported
    /// so far, the prompt's estimate where it reported none, and at least `output_bytes` of output.
    pub(crate) fn partial(&self, usage: Option<&Usage>, output_bytes: u64) -> Option<Cost> {
        let mut counted = usage.copied().unwrap_or_default();
        counted.input_tokens = counted.input_tokens.or(Some(self.estimate.input_tokens));
        let delivered = tokens_of_text(usize::try_from(output_bytes).unwrap_or(usize::MAX));
        counted.output_tokens = Some(counted.output_tokens.unwrap_or(0).max(delivered));
        let mut cost = self.cost(&counted).or_else(|| {
            // The provider priced what it reported (a snapshot name only it knows): scale nothing, keep it.
            usage.and_then(|u| u.cost)
        })?;
        cost.estimated = true;
        Some(cost)
    }
}

/// The price an attempt of `entry` asking for `model` is charged at: the entry's own, else its provider's.
pub(crate) fn price_for(entry: &Entry, model: &str) -> Option<Price> {
    entry.own_price().or_else(|| entry.provider().price(model))
}

/// A reservation against a target's dollar budgets, held while its attempt runs. Dropped without being
/// settled (the attempt was cancelled: a hedge lost, a deadline passed), it settles at what a cancelled
/// request consumed.
pub(crate) struct Reserved<'c> {
    chain: &'c Inner,
    held: Held,
    armed: bool,
}

/// A reservation handed on from the run loop (to the chain's stream), settled with [`Inner::settle_spend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Held {
    pub(crate) target: usize,
    pub(crate) amount: Usd,
    /// What to settle at if the attempt is cancelled.
    pub(crate) cancelled: Usd,
    /// Whether the fleet's windows counted the reservation (else only this process's did, the store being
    /// away: the fleet then hears the whole actual cost when it settles).
    pub(crate) fleet: bool,
}

impl Reserved<'_> {
    /// The attempt ended having cost `actual`.
    pub(crate) fn settle(mut self, actual: Usd) {
        self.armed = false;
        self.chain.settle_spend(self.held, actual);
    }

    /// Hands the reservation on to whoever reads the rest of the answer.
    pub(crate) fn keep(mut self) -> Held {
        self.armed = false;
        self.held
    }
}

impl Drop for Reserved<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.chain.settle_spend(self.held, self.held.cancelled);
        }
    }
}

impl Inner {
    /// Reserves `meter`'s worst case against target `t`'s dollar budgets (fleet-wide with a store), waiting up
    /// to the target's `wait_for_budget` for room; `None` when the target has no dollar budget.
    pub(crate) async fn reserve_spend(
        &self,
        t: usize,
        meter: &Meter,
    ) -> Result<Option<Reserved<'_>>, Skip> {
        let target = self.target(t);
        let limits = &target.limits.usd;
        if !limits.any() {
            return Ok(None);
        }
        let amount = meter.worst_case();
        let mut waited = Duration::ZERO;
        loop {
            let answer = match &self.store {
                Some(store) => store.acquire_spend(t, amount).await,
                None => Answer::Local,
            };
            let now = self.clock.now();
            let fleet = answer == Answer::Shared(Rate::Admitted);
            let admitted = match answer {
                Answer::Shared(Rate::Admitted) => target.spend.reserve(now, limits, amount, false),
                Answer::Shared(Rate::Denied(wait)) => Err(wait),
                _ => target.spend.reserve(now, limits, amount, true),
            };
            let wait = match admitted {
                Ok(()) => {
                    let cancelled = meter.sent().map_or(Usd::ZERO, |c| c.usd);
                    return Ok(Some(Reserved {
                        chain: self,
                        held: Held {
                            target: t,
                            amount,
                            cancelled,
                            fleet,
                        },
                        armed: true,
                    }));
                }
                Err(wait) => wait,
            };
            match target.limits.wait {
                Some(max) if waited + wait <= max => {
                    self.clock.sleep(wait).await;
                    waited += wait;
                }
                _ => return Err(Skip::CostBudget(wait)),
            }
        }
    }

    /// A reservation ended having cost `actual`: in process and, with a store, fleet-wide.
    pub(crate) fn settle_spend(&self, held: Held, actual: Usd) {
        let now = self.clock.now();
        self.target(held.target)
            .spend
            .settle(now, held.amount, actual);
        if let Some(store) = &self.store {
            store.report(
                held.target,
                Report::Spent {
                    reserved: if held.fleet { held.amount } else { Usd::ZERO },
                    actual,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(d: f64) -> Usd {
        Usd::from_dollars(d).unwrap()
    }

    #[test]
    fn a_meter_prices_its_worst_case_what_was_sent_and_what_was_delivered() {
        let price = Price::per_million(2.0, 10.0).unwrap();
        let m = Meter {
            price: Some(price),
            estimate: Estimate {
                input_tokens: 1_000,
                max_output_tokens: 500,
            },
        };
        assert_eq!(m.worst_case(), usd(0.002 + 0.005));
        assert_eq!(m.sent(), Some(Cost::estimate(usd(0.002))));
        // Cut after 400 bytes (100 tokens) with no usage: prompt estimate + delivered, estimated.
        assert_eq!(
            m.partial(None, 400),
            Some(Cost::estimate(usd(0.002 + 0.001)))
        );
        // A usage that came early (the prompt's count) is used for the prompt.
        let early = Usage::new(3_000, 1);
        assert_eq!(
            m.partial(Some(&early), 400),
            Some(Cost::estimate(usd(0.006 + 0.001)))
        );
        let unknown = Meter::default();
        assert_eq!(unknown.sent(), None);
        assert_eq!(unknown.partial(None, 10), None);
        assert_eq!(unknown.worst_case(), Usd::ZERO);
    }
}
