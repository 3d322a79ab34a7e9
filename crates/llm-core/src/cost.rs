//! Money: US dollars held exactly, the price of a model's tokens, and the cost of an answer's [`Usage`].
//!
//! Amounts are integers of picodollars (10⁻¹² USD), never summed in floating point: a price written with up
//! to six decimals per million tokens (every published price) costs an exact whole number of picodollars per
//! token, so the cost of any token count, and any sum of costs, is exact.
//!
//! How a cost is computed from a [`Usage`] follows `Usage`'s own meaning of each count (written once on
//! [`Usage`]; every provider crate maps its wire counts to it):
//!
//! ```text
//! uncached input = input_tokens − cached_input_tokens − cache_write_input_tokens
//! cost = uncached input × input
//!      + cached_input_tokens × cache_read
//!      + (cache_write_input_tokens − cache_write_1h_input_tokens) × cache_write
//!      + cache_write_1h_input_tokens × cache_write_1h
//!      + output_tokens × output            (reasoning tokens are output tokens)
//! ```
//!
//! with the prices of the long-prompt tier when the price has one and `input_tokens` is above its threshold.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, AddAssign};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::response::Usage;

/// Picodollars in one dollar.
const PICOS_PER_USD: u64 = 1_000_000_000_000;
/// Tokens a price is quoted for.
const PER: u128 = 1_000_000;

/// An amount of US dollars, held exactly as a whole number of picodollars (10⁻¹² USD). Sums saturate at
/// about 18.4 million dollars.
///
/// ```
/// use llm_core::Usd;
/// let price = Usd::from_dollars(0.15).unwrap();
/// assert_eq!(price.picos(), 150_000_000_000);
/// assert_eq!(price.to_string(), "0.15");
/// assert_eq!((price + price).as_dollars(), 0.3);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Usd(u64);

impl Usd {
    /// Nothing.
    pub const ZERO: Usd = Usd(0);

    /// `picos` picodollars.
    pub const fn from_picos(picos: u64) -> Usd {
        Usd(picos)
    }

    /// The amount in picodollars.
    pub const fn picos(self) -> u64 {
        self.0
    }

    /// `dollars`, rounded to the nearest picodollar; `None` for a negative, non-finite or too large amount.
    pub fn from_dollars(dollars: f64) -> Option<Usd> {
        if !dollars.is_finite() || dollars < 0.0 {
            return None;
        }
        let picos = (dollars * PICOS_PER_USD as f64).round();
        (picos < u64::MAX as f64).then_some(Usd(picos as u64))
    }

    /// The amount in dollars, as the nearest `f64` (for display and JSON; never for sums).
    pub fn as_dollars(self) -> f64 {
        // Whole dollars and the picodollars below them, each exact in an f64, divided once.
        let whole = (self.0 / PICOS_PER_USD) as f64;
        let rest = (self.0 % PICOS_PER_USD) as f64 / PICOS_PER_USD as f64;
        whole + rest
    }

    /// The sum, saturating.
    pub const fn saturating_add(self, other: Usd) -> Usd {
        Usd(self.0.saturating_add(other.0))
    }

    /// The difference, saturating at zero.
    pub const fn saturating_sub(self, other: Usd) -> Usd {
        Usd(self.0.saturating_sub(other.0))
    }

    /// What `tokens` cost at `self` per million tokens, rounded to the nearest picodollar (exact for a price
    /// with at most six decimals per million).
    pub fn per_million(self, tokens: u64) -> Usd {
        let picos = (u128::from(tokens) * u128::from(self.0) + PER / 2) / PER;
        Usd(u64::try_from(picos).unwrap_or(u64::MAX))
    }
}

impl Add for Usd {
    type Output = Usd;
    fn add(self, other: Usd) -> Usd {
        self.saturating_add(other)
    }
}

impl AddAssign for Usd {
    fn add_assign(&mut self, other: Usd) {
        *self = *self + other;
    }
}

impl Sum for Usd {
    fn sum<I: Iterator<Item = Usd>>(iter: I) -> Usd {
        iter.fold(Usd::ZERO, Add::add)
    }
}

/// Dollars with every significant decimal and no trailing zeros: `0.000123`, `12`, `0.15`.
impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / PICOS_PER_USD;
        let rest = self.0 % PICOS_PER_USD;
        if rest == 0 {
            return write!(f, "{whole}");
        }
        let decimals = format!("{rest:012}");
        write!(f, "{whole}.{}", decimals.trim_end_matches('0'))
    }
}

impl fmt::Debug for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "${self}")
    }
}

/// Serialised as a number of dollars.
impl Serialize for Usd {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_dollars())
    }
}

impl<'de> Deserialize<'de> for Usd {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Usd, D::Error> {
        let dollars = f64::deserialize(d)?;
        Usd::from_dollars(dollars).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{dollars} is not an amount of dollars (a finite number, zero or more)"
            ))
        })
    }
}

/// What tokens of each kind cost, in USD per million tokens.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Rates {
    /// Uncached input tokens.
    pub input: Usd,
    /// Output tokens, reasoning tokens included.
    pub output: Usd,
    /// Input tokens read from the provider's prompt cache.
    pub cache_read: Usd,
    /// Input tokens written to the provider's prompt cache (Anthropic's 5-minute writes).
    pub cache_write: Usd,
    /// Input tokens written to the cache for an hour (Anthropic's 1-hour writes).
    pub cache_write_1h: Usd,
}

impl Rates {
    /// `input` and `output` per million tokens; cache reads and writes cost what input does.
    pub fn new(input: Usd, output: Usd) -> Rates {
        Rates {
            input,
            output,
            cache_read: input,
            cache_write: input,
            cache_write_1h: input,
        }
    }

    /// With this price for cache reads.
    pub fn cache_read(mut self, usd: Usd) -> Rates {
        self.cache_read = usd;
        self
    }

    /// With this price for cache writes (and for 1-hour writes, unless set after).
    pub fn cache_write(mut self, usd: Usd) -> Rates {
        self.cache_write = usd;
        self.cache_write_1h = usd;
        self
    }

    /// With this price for 1-hour cache writes.
    pub fn cache_write_1h(mut self, usd: Usd) -> Rates {
        self.cache_write_1h = usd;
        self
    }
}

/// The price of one model's tokens: its [`Rates`], and, for providers that charge more for long prompts,
/// the rates that apply to a prompt of more input tokens than a threshold.
///
/// ```
/// use llm_core::{Price, Usage, Usd};
/// let price = Price::per_million(0.15, 0.60).unwrap();
/// let mut usage = Usage::new(1_000_000, 1_000);
/// usage.cached_input_tokens = Some(500_000);
/// let cost = price.cost(&usage).unwrap();
/// // 500k uncached at 0.15 + 500k cached at 0.15 (no discount set) + 1k out at 0.60
/// assert_eq!(cost.usd, Usd::from_dollars(0.15 + 0.0006).unwrap());
/// assert!(!cost.estimated);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Price {
    /// The rates of an ordinary prompt.
    pub rates: Rates,
    /// The rates of a prompt with more input tokens than the threshold, when the provider has such a tier.
    pub above: Option<(u64, Rates)>,
}

impl Price {
    /// What a local model costs: nothing.
    pub const FREE: Price = Price {
        rates: Rates {
            input: Usd::ZERO,
            output: Usd::ZERO,
            cache_read: Usd::ZERO,
            cache_write: Usd::ZERO,
            cache_write_1h: Usd::ZERO,
        },
        above: None,
    };

    /// A price of these rates for every prompt.
    pub fn new(rates: Rates) -> Price {
        Price { rates, above: None }
    }

    /// `input` and `output` dollars per million tokens, cache reads and writes at the input price; `None`
    /// when either is not an amount of dollars.
    pub fn per_million(input: f64, output: f64) -> Option<Price> {
        Some(Price::new(Rates::new(
            Usd::from_dollars(input)?,
            Usd::from_dollars(output)?,
        )))
    }

    /// With `rates` for prompts of more than `tokens` input tokens.
    pub fn above(mut self, tokens: u64, rates: Rates) -> Price {
        self.above = Some((tokens, rates));
        self
    }

    /// The rates a prompt of `input_tokens` is charged at.
    pub fn rates_for(&self, input_tokens: u64) -> &Rates {
        match &self.above {
            Some((threshold, rates)) if input_tokens > *threshold => rates,
            _ => &self.rates,
        }
    }

    /// What `usage` costs at this price, by the rule in this module's docs. `None` when the usage counts
    /// nothing at all. A missing output count is the total less the input when both are reported (an
    /// embeddings answer's output is 0 that way); an estimate when the input or output count is still
    /// missing (the missing one counts 0).
    pub fn cost(&self, usage: &Usage) -> Option<Cost> {
        if usage.input_tokens.is_none() && usage.output_tokens.is_none() {
            return None;
        }
        let output = usage.output_tokens.or_else(|| {
            usage
                .total_tokens
                .zip(usage.input_tokens)
                .and_then(|(t, i)| t.checked_sub(i))
        });
        let input = usage.input_tokens.unwrap_or(0);
        let read = usage.cached_input_tokens.unwrap_or(0).min(input);
        let write = usage
            .cache_write_input_tokens
            .unwrap_or(0)
            .min(input - read);
        let write_1h = usage.cache_write_1h_input_tokens.unwrap_or(0).min(write);
        let uncached = input - read - write;
        let r = self.rates_for(input);
        let usd = r.input.per_million(uncached)
            + r.cache_read.per_million(read)
            + r.cache_write.per_million(write - write_1h)
            + r.cache_write_1h.per_million(write_1h)
            + r.output.per_million(output.unwrap_or(0));
        Some(Cost {
            usd,
            estimated: usage.input_tokens.is_none() || output.is_none(),
        })
    }
}

/// What a call or an attempt cost: an exact amount when the provider reported the tokens used, else an
/// estimate (a stream cut before its usage arrived, a hedged request cancelled before it answered), marked
/// as such.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Cost {
    /// The amount.
    pub usd: Usd,
    /// Whether any part of the amount is an estimate rather than priced from reported usage.
    pub estimated: bool,
}

impl Cost {
    /// Nothing consumed, exactly.
    pub const ZERO: Cost = Cost {
        usd: Usd::ZERO,
        estimated: false,
    };

    /// An amount priced from reported usage.
    pub fn exact(usd: Usd) -> Cost {
        Cost {
            usd,
            estimated: false,
        }
    }

    /// An estimated amount.
    pub fn estimate(usd: Usd) -> Cost {
        Cost {
            usd,
            estimated: true,
        }
    }
}

/// The sum is an estimate when either part is.
impl Add for Cost {
    type Output = Cost;
    fn add(self, other: Cost) -> Cost {
        Cost {
            usd: self.usd + other.usd,
            estimated: self.estimated || other.estimated,
        }
    }
}

impl AddAssign for Cost {
    fn add_assign(&mut self, other: Cost) {
        *self = *self + other;
    }
}

impl Sum for Cost {
    fn sum<I: Iterator<Item = Cost>>(iter: I) -> Cost {
        iter.fold(Cost::ZERO, Add::add)
    }
}

/// Bytes of text counted as one token by [`tokens_of_text`]: a rough mean for English text and code under
/// the providers' tokenizers, used only where no count was reported.
pub const BYTES_PER_TOKEN: u64 = 4;

/// Tokens counted for an image or a document where no count was reported.
pub const TOKENS_PER_ATTACHMENT: u64 = 1_500;

/// An estimate of the tokens in `bytes` bytes of text (one per [`BYTES_PER_TOKEN`], rounded up), used only
/// where no count was reported: a stream cut before its usage, a budget reservation.
pub fn tokens_of_text(bytes: usize) -> u64 {
    (bytes as u64).div_ceil(BYTES_PER_TOKEN)
}

/// The sum of costs any of which may be unknown: unknown as soon as one is.
pub fn sum_known(costs: impl IntoIterator<Item = Option<Cost>>) -> Option<Cost> {
    costs
        .into_iter()
        .try_fold(Cost::ZERO, |sum, c| Some(sum + c?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(d: f64) -> Usd {
        Usd::from_dollars(d).unwrap()
    }

    #[test]
    fn dollars_round_trip_and_print_every_decimal() {
        assert_eq!(usd(0.075).picos(), 75_000_000_000);
        assert_eq!(usd(0.000001).to_string(), "0.000001");
        assert_eq!(Usd::from_picos(1).to_string(), "0.000000000001");
        assert_eq!(usd(12.0).to_string(), "12");
        assert_eq!(usd(1.25).as_dollars(), 1.25);
        assert_eq!(Usd::from_dollars(-1.0), None);
        assert_eq!(Usd::from_dollars(f64::NAN), None);
        assert_eq!(Usd::from_dollars(1e300), None);
        let json = serde_json::to_string(&usd(0.15)).unwrap();
        assert_eq!(json, "0.15");
        assert_eq!(serde_json::from_str::<Usd>("0.15").unwrap(), usd(0.15));
        assert!(serde_json::from_str::<Usd>("-0.15").is_err());
    }

    #[test]
    fn a_million_single_token_costs_sum_exactly_to_one_price() {
        // $0.075 per million: 75,000 picodollars a token, and a million of them is exactly $0.075, where
        // f64 sums of 7.5e-8 drift.
        let price = usd(0.075);
        let one = price.per_million(1);
        let sum: Usd = std::iter::repeat_n(one, 1_000_000).sum();
        assert_eq!(sum, price);
        let float: f64 = std::iter::repeat_n(0.075 / 1e6, 1_000_000).sum();
        assert_ne!(float, 0.075, "the f64 sum drifts; ours does not");
    }

    #[test]
    fn every_kind_of_token_is_priced_once() {
        let price = Price::new(
            Rates::new(usd(3.0), usd(15.0))
                .cache_read(usd(0.3))
                .cache_write(usd(3.75))
                .cache_write_1h(usd(6.0)),
        );
        let mut u = Usage::new(10_000, 2_000);
        u.cached_input_tokens = Some(4_000);
        u.cache_write_input_tokens = Some(3_000);
        u.cache_write_1h_input_tokens = Some(1_000);
        u.reasoning_tokens = Some(500); // part of the output: not priced again
        let cost = price.cost(&u).unwrap();
        // 3,000 uncached × 3 + 4,000 × 0.3 + 2,000 × 3.75 + 1,000 × 6 + 2,000 × 15, per million
        let expected =
            3_000.0 * 3.0 + 4_000.0 * 0.3 + 2_000.0 * 3.75 + 1_000.0 * 6.0 + 2_000.0 * 15.0;
        assert_eq!(cost, Cost::exact(usd(expected / 1e6)));
    }

    #[test]
    fn a_long_prompt_is_charged_at_the_tier_above_its_threshold() {
        let price = Price::new(Rates::new(usd(1.25), usd(10.0)))
            .above(200_000, Rates::new(usd(2.5), usd(15.0)));
        let at = price.cost(&Usage::new(200_000, 0)).unwrap();
        assert_eq!(at.usd, usd(0.25));
        let above = price.cost(&Usage::new(200_001, 1_000_000)).unwrap();
        assert_eq!(above.usd, usd(200_001.0 * 2.5 / 1e6 + 15.0));
    }

    #[test]
    fn missing_counts_make_an_estimate_and_nothing_counted_is_unknown() {
        let price = Price::per_million(1.0, 2.0).unwrap();
        assert_eq!(price.cost(&Usage::default()), None);
        let u = Usage {
            output_tokens: Some(1_000_000),
            ..Usage::default()
        };
        assert_eq!(price.cost(&u), Some(Cost::estimate(usd(2.0))));
        // Counts that contradict each other never go below zero.
        let mut odd = Usage::new(10, 0);
        odd.cached_input_tokens = Some(50);
        odd.cache_write_input_tokens = Some(50);
        assert_eq!(price.cost(&odd).unwrap().usd, usd(10.0 / 1e6));
        assert_eq!(Price::FREE.cost(&Usage::new(5, 5)), Some(Cost::ZERO));
        // Only a total and the input: the output is their difference, exactly (embeddings: 0).
        let totals = Usage {
            input_tokens: Some(1_000_000),
            total_tokens: Some(1_500_000),
            ..Usage::default()
        };
        assert_eq!(price.cost(&totals), Some(Cost::exact(usd(2.0))));
    }

    #[test]
    fn sums_are_unknown_when_one_part_is_and_estimated_when_one_is() {
        let a = Cost::exact(usd(1.0));
        let b = Cost::estimate(usd(0.5));
        assert_eq!(
            sum_known([Some(a), Some(b)]),
            Some(Cost::estimate(usd(1.5)))
        );
        assert_eq!(sum_known([Some(a), None]), None);
        assert_eq!(sum_known([]), Some(Cost::ZERO));
    }
}
