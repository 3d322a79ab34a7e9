//! What a client process costs: CPU time (user + system, all threads), peak and current resident memory,
//! and raising the open-file limit so thousands of concurrent connections fit.
//!
//! The three libc calls are the only `unsafe` in the bench; each sits in one small function.

use std::time::Duration;

/// CPU time (user + system) used so far by every thread of this process, from `getrusage(RUSAGE_SELF)`.
pub fn cpu_time() -> Duration {
    let usage = rusage();
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// Peak resident set size of this process so far, in KiB (`ru_maxrss`).
pub fn peak_rss_kib() -> u64 {
    u64::try_from(rusage().ru_maxrss).unwrap_or(0)
}

/// Current resident set size in KiB, from `/proc/self/statm` (0 where it cannot be read).
pub fn current_rss_kib() -> u64 {
    let Ok(statm) = std::fs::read_to_string("/proc/self/statm") else {
        return 0;
    };
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    pages * page_size_kib()
}

// Allowed: getrusage only writes into the struct we pass, which lives on our stack.
#[allow(unsafe_code)]
fn rusage() -> libc::rusage {
    // SAFETY: an all-zero `rusage` is a valid value (plain integers), and getrusage fills it; RUSAGE_SELF
    // is always a valid `who`, so the call cannot fail.
    unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    }
}

// Allowed: sysconf has no memory effects.
#[allow(unsafe_code)]
fn page_size_kib() -> u64 {
    // SAFETY: sysconf reads a constant of the system and touches no memory of ours.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    u64::try_from(size).map_or(4, |s| (s / 1024).max(1))
}

/// Raises this process's soft open-file limit to its hard limit (done in-process, by the server and by each
/// client, rather than by `ulimit -n` in a shell). Returns the soft limit now in force.
// Allowed: getrlimit/setrlimit only read and write the struct we pass, which lives on our stack.
#[allow(unsafe_code)]
pub fn raise_nofile_limit() -> u64 {
    // SAFETY: `limit` is a valid, initialised rlimit on our stack; both calls only read or write it and
    // report failure through their return value, which we check.
    unsafe {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                limit = raised;
            }
        }
        limit.rlim_cur
    }
}

/// The `q`-quantile (0.0..=1.0) of `values` by nearest rank; 0 when empty. Sorts `values`.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    let rank = (q * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_by_nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(quantile(&mut v, 0.5), 50.0);
        assert_eq!(quantile(&mut v, 0.99), 99.0);
        assert_eq!(quantile(&mut v, 1.0), 100.0);
        assert_eq!(quantile(&mut [], 0.5), 0.0);
    }

    #[test]
    fn cpu_time_grows_with_work() {
        let before = cpu_time();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_add(i * i));
        }
        assert!(cpu_time() > before, "{x}");
        assert!(peak_rss_kib() > 0);
        assert!(current_rss_kib() > 0);
    }
}
