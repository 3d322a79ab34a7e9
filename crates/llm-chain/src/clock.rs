//! Time as an argument: the [`Clock`] trait the chain reads the time from and sleeps through, the real
//! [`SystemClock`], and a [`FakeClock`] with virtual time for tests that never really sleep.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

/// A sleep in progress; dropping it cancels it.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where the chain reads the time and how it waits. Every backoff, cooldown, deadline and hedge timer
/// goes through this trait, so a test can drive all of them with a [`FakeClock`].
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current time.
    fn now(&self) -> Instant;

    /// A future that completes once `duration` has passed on this clock.
    fn sleep(&self, duration: Duration) -> Sleep;
}

/// The real clock: [`Instant::now`] and `tokio::time::sleep` (so sleeping needs a tokio runtime with the
/// time driver enabled).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        Box::pin(tokio::time::sleep(duration))
    }
}

/// A clock whose time only moves when told to: by [`FakeClock::advance`], or by [`FakeClock::block_on`],
/// which runs a future and, whenever it is stuck waiting, jumps straight to the earliest pending sleep.
///
/// Clones share the same time. Nothing here ever really sleeps.
///
/// ```
/// use std::time::Duration;
/// use llm_chain::{Clock, FakeClock};
///
/// let clock = FakeClock::new();
/// let start = clock.now();
/// let slept = clock.block_on(clock.sleep(Duration::from_secs(30)));
/// assert_eq!(slept, Some(()));
/// assert_eq!(clock.now() - start, Duration::from_secs(30));
/// ```
#[derive(Clone, Default)]
pub struct FakeClock {
    state: Arc<Mutex<FakeState>>,
}

struct FakeState {
    now: Instant,
    next_id: u64,
    timers: Vec<Timer>,
}

struct Timer {
    id: u64,
    deadline: Instant,
    waker: Waker,
}

impl Default for FakeState {
    fn default() -> Self {
        FakeState {
            now: Instant::now(),
            next_id: 0,
            timers: Vec::new(),
        }
    }
}

impl fmt::Debug for FakeClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("FakeClock")
            .field("now", &state.now)
            .field("pending_sleeps", &state.timers.len())
            .finish()
    }
}

/// Most steps [`FakeClock::block_on`] takes before it gives up on a future that keeps waking itself.
const MAX_STEPS: usize = 10_000_000;

impl FakeClock {
    /// A fake clock starting at the current real instant.
    pub fn new() -> Self {
        FakeClock::default()
    }

    fn lock(&self) -> MutexGuard<'_, FakeState> {
        // A panic while the lock was held cannot leave the state inconsistent (every update is one
        // assignment or one Vec operation), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Moves time forward by `duration` and wakes every sleep that is now over.
    pub fn advance(&self, duration: Duration) {
        let woken = {
            let mut state = self.lock();
            state.now += duration;
            let now = state.now;
            take_due(&mut state.timers, now)
        };
        woken.into_iter().for_each(Waker::wake);
    }

    /// Runs `future` to completion on the current thread in virtual time: whenever it cannot make progress,
    /// time jumps to the earliest pending sleep. Returns `None` when the future is stuck with no sleep
    /// pending (it would never finish) or keeps waking itself without end.
    pub fn block_on<F: Future>(&self, future: F) -> Option<F::Output> {
        let mut future = std::pin::pin!(future);
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        let waker = Waker::from(Arc::clone(&flag));
        let mut cx = Context::from_waker(&waker);
        for _ in 0..MAX_STEPS {
            flag.0.store(false, Ordering::SeqCst);
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return Some(out);
            }
            if flag.0.load(Ordering::SeqCst) {
                continue;
            }
            let next = self.lock().timers.iter().map(|t| t.deadline).min()?;
            let now = self.now();
            self.advance(next.saturating_duration_since(now));
        }
        None
    }

    /// How many sleeps are pending.
    pub fn pending_sleeps(&self) -> usize {
        self.lock().timers.len()
    }
}

fn take_due(timers: &mut Vec<Timer>, now: Instant) -> Vec<Waker> {
    let mut woken = Vec::new();
    timers.retain(|t| {
        if t.deadline <= now {
            woken.push(t.waker.clone());
            false
        } else {
            true
        }
    });
    woken
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Instant {
        self.lock().now
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        let mut state = self.lock();
        let deadline = state.now + duration;
        state.next_id += 1;
        let id = state.next_id;
        drop(state);
        Box::pin(FakeSleep {
            clock: self.clone(),
            deadline,
            id,
        })
    }
}

/// A sleep on a [`FakeClock`]; its timer is removed when it is dropped, so a cancelled sleep never
/// makes [`FakeClock::block_on`] move time.
struct FakeSleep {
    clock: FakeClock,
    deadline: Instant,
    id: u64,
}

impl Future for FakeSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.clock.lock();
        if state.now >= self.deadline {
            state.timers.retain(|t| t.id != self.id);
            return Poll::Ready(());
        }
        match state.timers.iter_mut().find(|t| t.id == self.id) {
            Some(timer) => timer.waker.clone_from(cx.waker()),
            None => state.timers.push(Timer {
                id: self.id,
                deadline: self.deadline,
                waker: cx.waker().clone(),
            }),
        }
        Poll::Pending
    }
}

impl Drop for FakeSleep {
    fn drop(&mut self) {
        self.clock.lock().timers.retain(|t| t.id != self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_on_jumps_to_earliest_sleep() {
        let clock = FakeClock::new();
        let start = clock.now();
        let c = clock.clone();
        let out = clock.block_on(async move {
            let a = c.sleep(Duration::from_secs(5));
            let b = c.sleep(Duration::from_secs(2));
            match futures_util::future::select(a, b).await {
                futures_util::future::Either::Left(_) => "a",
                futures_util::future::Either::Right(_) => "b",
            }
        });
        assert_eq!(out, Some("b"));
        assert_eq!(clock.now() - start, Duration::from_secs(2));
        assert_eq!(clock.pending_sleeps(), 0, "the dropped sleep left no timer");
    }

    #[test]
    fn stuck_future_gives_none() {
        let clock = FakeClock::new();
        assert_eq!(clock.block_on(std::future::pending::<()>()), None);
    }

    #[test]
    fn advance_moves_time() {
        let clock = FakeClock::new();
        let start = clock.now();
        clock.advance(Duration::from_millis(1500));
        assert_eq!(clock.now() - start, Duration::from_millis(1500));
    }
}
