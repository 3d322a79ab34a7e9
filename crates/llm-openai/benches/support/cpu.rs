//! A criterion [`Measurement`] of the benchmark thread's CPU time instead of wall time: on a busy machine
//! (two cores, other builds running) wall time includes the time the thread was not scheduled, which skews
//! whichever side of a side-by-side comparison ran while something else did. CPU time counts only the work.

use std::time::Duration;

use cpu_time::ThreadTime;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// The benchmark thread's CPU time, shown as durations like wall time.
pub(crate) struct CpuTime {
    wall: WallTime,
}

impl Default for CpuTime {
    fn default() -> Self {
        CpuTime { wall: WallTime }
    }
}

impl Measurement for CpuTime {
    type Intermediate = ThreadTime;
    type Value = Duration;

    fn start(&self) -> ThreadTime {
        ThreadTime::now()
    }

    fn end(&self, start: ThreadTime) -> Duration {
        start.elapsed()
    }

    fn add(&self, a: &Duration, b: &Duration) -> Duration {
        *a + *b
    }

    fn zero(&self) -> Duration {
        Duration::ZERO
    }

    fn to_f64(&self, value: &Duration) -> f64 {
        value.as_nanos() as f64
    }

    /// Values are nanoseconds, as wall time's are, so its formatter fits.
    fn formatter(&self) -> &dyn ValueFormatter {
        self.wall.formatter()
    }
}
