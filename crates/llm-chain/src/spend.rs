//! A target's dollar budgets (`usd_per_minute`, `usd_per_hour`, `usd_per_day`) in this process: the spend
//! of each window and the reservations in flight. What an attempt reserves and settles is `meter`'s.
//!
//! A budget holds under concurrency by reserving before it sends: an attempt is admitted only while the
//! spend of the window plus every reservation in flight plus its own fits every limit; when it ends, its
//! reservation is replaced by what it really cost. So concurrent calls can overspend a budget only by what
//! their real costs exceed their reservations (a prompt larger than its estimate), never by the number in
//! flight. With a shared store the fleet's windows are the store's (see `redis`), these the fallback.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use llm_core::Usd;

use crate::window::Window;

/// Slots per dollar window: a minute in seconds, an hour in minutes, a day in 24-minute slots.
const SLOTS: usize = 60;

/// The windows, in the order of [`UsdLimits::each`].
const WINDOWS: [Duration; 3] = [
    Duration::from_secs(60),
    Duration::from_secs(3_600),
    Duration::from_secs(86_400),
];

/// A target's dollar budgets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct UsdLimits {
    /// Per minute.
    pub(crate) per_minute: Option<Usd>,
    /// Per hour.
    pub(crate) per_hour: Option<Usd>,
    /// Per day.
    pub(crate) per_day: Option<Usd>,
}

impl UsdLimits {
    /// Whether any is set.
    pub(crate) fn any(&self) -> bool {
        self.each().iter().any(Option::is_some)
    }

    /// Minute, hour, day.
    pub(crate) fn each(&self) -> [Option<Usd>; 3] {
        [self.per_minute, self.per_hour, self.per_day]
    }
}

#[derive(Debug)]
struct State {
    /// Settled spend in picodollars (counter 0) per window.
    windows: [Window<SLOTS>; 3],
    /// Reservations in flight, in picodollars.
    reserved: u64,
}

/// One target's dollar windows in this process.
#[derive(Debug)]
pub(crate) struct LocalSpend {
    state: Mutex<State>,
}

impl LocalSpend {
    pub(crate) fn new(origin: Instant) -> Self {
        LocalSpend {
            state: Mutex::new(State {
                windows: WINDOWS.map(|w| Window::new(origin, w)),
                reserved: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a counter change: a poisoned lock holds consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reserves `amount` when every limit has room for it with the reservations in flight (`enforce`), or
    /// reserves it without asking (the fleet admitted it). `Err` with the time until the oldest spend of a
    /// full window leaves it.
    pub(crate) fn reserve(
        &self,
        now: Instant,
        limits: &UsdLimits,
        amount: Usd,
        enforce: bool,
    ) -> Result<(), Duration> {
        let mut state = self.lock();
        if enforce {
            let reserved = state.reserved;
            for (window, limit) in state.windows.iter().zip(limits.each()) {
                let Some(limit) = limit else { continue };
                let [spent, _] = window.sums(now);
                let wanted = spent
                    .saturating_add(reserved)
                    .saturating_add(amount.picos());
                if wanted > limit.picos() {
                    return Err(window.slot());
                }
            }
        }
        state.reserved = state.reserved.saturating_add(amount.picos());
        Ok(())
    }

    /// A reservation of `reserved` ended having cost `actual`.
    pub(crate) fn settle(&self, now: Instant, reserved: Usd, actual: Usd) {
        let mut state = self.lock();
        state.reserved = state.reserved.saturating_sub(reserved.picos());
        for window in &mut state.windows {
            window.add_n(now, 0, actual.picos());
        }
    }

    /// The settled spend of each window at `now` (minute, hour, day).
    #[cfg(test)]
    pub(crate) fn spent(&self, now: Instant) -> [Usd; 3] {
        let state = self.lock();
        [0, 1, 2].map(|i| Usd::from_picos(state.windows[i].sums(now)[0]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(d: f64) -> Usd {
        Usd::from_dollars(d).unwrap()
    }

    #[test]
    fn reservations_in_flight_count_until_settled_and_windows_slide() {
        let t0 = Instant::now();
        let s = LocalSpend::new(t0);
        let limits = UsdLimits {
            per_minute: Some(usd(1.0)),
            per_day: Some(usd(1.5)),
            ..UsdLimits::default()
        };
        assert!(s.reserve(t0, &limits, usd(0.6), true).is_ok());
        assert!(
            s.reserve(t0, &limits, usd(0.6), true).is_err(),
            "two reservations would not fit the minute"
        );
        s.settle(t0, usd(0.6), usd(0.1));
        assert!(s.reserve(t0, &limits, usd(0.6), true).is_ok());
        s.settle(t0, usd(0.6), usd(0.6));
        assert_eq!(s.spent(t0), [usd(0.7), usd(0.7), usd(0.7)]);
        let later = t0 + Duration::from_secs(61);
        assert_eq!(s.spent(later)[0], Usd::ZERO, "the minute slid on");
        assert!(s.reserve(later, &limits, usd(0.8), true).is_ok());
        assert!(
            s.reserve(later, &limits, usd(0.1), true).is_err(),
            "the day is full: 0.7 spent and 0.8 reserved"
        );
        assert!(
            s.reserve(later, &limits, usd(0.1), false).is_ok(),
            "the fleet's admission is taken as given"
        );
    }
}
