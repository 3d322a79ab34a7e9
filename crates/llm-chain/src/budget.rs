//! The retry budget's state: calls and retries over a sliding window, shared by every call of one chain.

use std::sync::Mutex;
use std::time::Instant;

use crate::policy::RetryBudget;
use crate::window::Window;

const CALLS: usize = 0;
const RETRIES: usize = 1;

/// Calls deposit, retries withdraw; a retry is allowed while retries stay within
/// `min_retries + ratio * calls` over the window.
#[derive(Debug)]
pub(crate) struct Budget {
    policy: RetryBudget,
    window: Mutex<Window>,
}

impl Budget {
    pub(crate) fn new(policy: RetryBudget, origin: Instant) -> Self {
        Budget {
            policy,
            window: Mutex::new(Window::new(origin, policy.window)),
        }
    }

    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        // Every update is a plain counter change: a poisoned lock holds consistent data.
        self.window.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records one chain call.
    pub(crate) fn deposit(&self, now: Instant) {
        self.window().add(now, CALLS);
    }

    /// Takes one retry from the budget; false when it is spent.
    pub(crate) fn try_withdraw(&self, now: Instant) -> bool {
        if self.policy.ratio.is_infinite() {
            return true;
        }
        let mut window = self.window();
        let [calls, retries] = window.sums(now);
        let allowed = f64::from(self.policy.min_retries) + self.policy.ratio * calls as f64;
        if (retries as f64) < allowed {
            window.add(now, RETRIES);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn ratio_and_minimum_bound_retries() {
        let t0 = Instant::now();
        let b = Budget::new(RetryBudget::default().ratio(0.2).min_retries(1), t0);
        for _ in 0..10 {
            b.deposit(t0);
        }
        // 1 + 0.2 * 10 = 3 retries
        assert!(b.try_withdraw(t0));
        assert!(b.try_withdraw(t0));
        assert!(b.try_withdraw(t0));
        assert!(!b.try_withdraw(t0));
        // the window slides: the minimum is available again
        let later = t0 + Duration::from_secs(20);
        assert!(b.try_withdraw(later));
        assert!(!b.try_withdraw(later));
    }

    #[test]
    fn unlimited_never_runs_out() {
        let t0 = Instant::now();
        let b = Budget::new(RetryBudget::unlimited(), t0);
        assert!((0..1000).all(|_| b.try_withdraw(t0)));
    }
}
