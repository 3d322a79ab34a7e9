//! The order in which a group's deployments are tried for one call, by the entry's [`Strategy`]: a pure
//! function of what the in-process view knows (weights, requests in flight, latency averages, budget left)
//! and a random number.

use std::sync::atomic::Ordering;

use crate::chain::{Inner, Slot};
use crate::entry::Strategy;

/// The targets of `slot` in the order to try them; `random` in `[0, 1)` drives `weighted`.
pub(crate) fn order(chain: &Inner, slot: &Slot, random: f64) -> Vec<usize> {
    let mut targets: Vec<usize> = slot.targets.clone().collect();
    let now = chain.clock.now();
    match slot.strategy {
        Strategy::InOrder => {}
        Strategy::Weighted => {
            let weights: Vec<u64> = targets
                .iter()
                .map(|&t| u64::from(chain.deployed[t].weight))
                .collect();
            if let Some(first) = weighted_pick(&weights, random) {
                // The picked one first, the others in order after it.
                let picked = targets.remove(first);
                targets.insert(0, picked);
            }
        }
        Strategy::LeastInFlight => {
            targets.sort_by_key(|&t| chain.deployed[t].inflight.load(Ordering::Relaxed));
        }
        Strategy::LowestLatency => {
            // Never measured first (so each gets measured), then fastest; a stable sort keeps ties in order.
            targets.sort_by_key(|&t| chain.target(t).health.speed().unwrap_or_default());
        }
        Strategy::MostBudgetLeft => {
            targets.sort_by_key(|&t| {
                let target = chain.target(t);
                let (requests, tokens) = target.rate.left(now, &target.limits);
                std::cmp::Reverse((requests, tokens))
            });
        }
    }
    targets
}

/// The index picked at `random` in proportion to `weights`; `None` when every weight is 0.
fn weighted_pick(weights: &[u64], random: f64) -> Option<usize> {
    let total: u64 = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let mut point = (random.clamp(0.0, 1.0) * total as f64) as u64;
    for (i, &w) in weights.iter().enumerate() {
        if point < w {
            return Some(i);
        }
        point -= w;
    }
    weights.iter().rposition(|&w| w > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weighted_picks_in_proportion() {
        let weights = [1, 3, 0];
        assert_eq!(weighted_pick(&weights, 0.0), Some(0));
        assert_eq!(weighted_pick(&weights, 0.24), Some(0));
        assert_eq!(weighted_pick(&weights, 0.25), Some(1));
        assert_eq!(weighted_pick(&weights, 0.99), Some(1));
        assert_eq!(weighted_pick(&weights, 1.0), Some(1));
        assert_eq!(weighted_pick(&[0, 0], 0.5), None);
        let picks = (0..1000)
            .filter(|i| weighted_pick(&weights, f64::from(*i) / 1000.0) == Some(1))
            .count();
        assert_eq!(picks, 750);
    }
}
