//! A sliding window of two counters, bucketed in time slots: enough precision for ratios over tens of
//! seconds, constant memory, and time passed in.

use std::time::{Duration, Instant};

/// Slots per window, unless a window says otherwise.
const SLOTS: usize = 10;

#[derive(Debug, Clone, Copy)]
struct Slot {
    /// Which slot period this slot last counted; `None` when never used.
    epoch: Option<u64>,
    counts: [u64; 2],
}

/// Two counters over a sliding window of time, in `N` slots (the oldest slot's counts leave together).
#[derive(Debug, Clone)]
pub(crate) struct Window<const N: usize = SLOTS> {
    origin: Instant,
    slot_nanos: u128,
    slots: [Slot; N],
}

impl<const N: usize> Window<N> {
    /// A window of length `window` whose time starts at `origin`.
    pub(crate) fn new(origin: Instant, window: Duration) -> Self {
        let slot_nanos = (window.as_nanos() / N as u128).max(1);
        Window {
            origin,
            slot_nanos,
            slots: [Slot {
                epoch: None,
                counts: [0; 2],
            }; N],
        }
    }

    fn epoch(&self, now: Instant) -> u64 {
        let nanos = now.saturating_duration_since(self.origin).as_nanos();
        u64::try_from(nanos / self.slot_nanos).unwrap_or(u64::MAX)
    }

    /// Adds one to counter `which` (0 or 1) at `now`.
    pub(crate) fn add(&mut self, now: Instant, which: usize) {
        self.add_n(now, which, 1);
    }

    /// The length of one slot: how soon the oldest counts may leave the window.
    pub(crate) fn slot(&self) -> Duration {
        Duration::from_nanos(u64::try_from(self.slot_nanos).unwrap_or(u64::MAX))
    }

    /// Adds `n` to counter `which` (0 or 1) at `now`.
    pub(crate) fn add_n(&mut self, now: Instant, which: usize, n: u64) {
        let epoch = self.epoch(now);
        let slot = &mut self.slots[(epoch % N as u64) as usize];
        if slot.epoch != Some(epoch) {
            *slot = Slot {
                epoch: Some(epoch),
                counts: [0; 2],
            };
        }
        if let Some(c) = slot.counts.get_mut(which) {
            *c = c.saturating_add(n);
        }
    }

    /// Both counters summed over the window ending at `now`.
    pub(crate) fn sums(&self, now: Instant) -> [u64; 2] {
        let current = self.epoch(now);
        let mut out = [0; 2];
        for slot in &self.slots {
            if let Some(e) = slot.epoch
                && e <= current
                && current - e < N as u64
            {
                out[0] += slot.counts[0];
                out[1] += slot.counts[1];
            }
        }
        out
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        for slot in &mut self.slots {
            slot.epoch = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_slide_out_of_the_window() {
        let t0 = Instant::now();
        let mut w: Window = Window::new(t0, Duration::from_secs(10));
        w.add(t0, 0);
        w.add(t0 + Duration::from_secs(5), 1);
        assert_eq!(w.sums(t0 + Duration::from_secs(6)), [1, 1]);
        assert_eq!(w.sums(t0 + Duration::from_secs(12)), [0, 1]);
        assert_eq!(w.sums(t0 + Duration::from_secs(30)), [0, 0]);
        w.add(t0 + Duration::from_secs(30), 0);
        assert_eq!(w.sums(t0 + Duration::from_secs(30)), [1, 0]);
        w.clear();
        assert_eq!(w.sums(t0 + Duration::from_secs(30)), [0, 0]);
    }
}
