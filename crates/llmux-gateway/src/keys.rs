//! Gateway keys and each key's requests per minute: the check every API route passes first.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

/// The keys and, with a per-minute limit, each key's current minute (one shared slot without keys).
pub(crate) struct Keys {
    keys: Vec<Vec<u8>>,
    /// The limit and, per key, the current minute's start and count.
    windows: Option<(u32, Mutex<Vec<Window>>)>,
}

/// When a key's current minute started, and how many requests it made in it.
type Window = (Instant, u32);

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys")
            .field("count", &self.keys.len())
            .field("rpm", &self.windows.as_ref().map(|(rpm, _)| rpm))
            .finish()
    }
}

impl Keys {
    pub(crate) fn new(keys: Vec<Vec<u8>>, rpm: Option<u32>) -> Keys {
        let windows = rpm.map(|rpm| {
            let now = Instant::now();
            (rpm, Mutex::new(vec![(now, 0); keys.len().max(1)]))
        });
        Keys { keys, windows }
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether no key is asked for.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The slot of the key among `presented` (`Some(0)` when no key is asked for), `None` for none known.
    pub(crate) fn slot<'a>(&self, presented: impl IntoIterator<Item = &'a [u8]>) -> Option<usize> {
        if self.keys.is_empty() {
            return Some(0);
        }
        presented.into_iter().find_map(|k| key_index(&self.keys, k))
    }

    /// Counts one request of key `slot` against the per-minute limit; `Err` holds the wait until its
    /// minute ends.
    pub(crate) fn admit(&self, slot: usize, now: Instant) -> Result<(), Duration> {
        let Some((rpm, windows)) = &self.windows else {
            return Ok(());
        };
        let mut windows = windows.lock().unwrap_or_else(|e| e.into_inner());
        let Some((start, count)) = windows.get_mut(slot) else {
            return Ok(());
        };
        let minute = Duration::from_secs(60);
        if now.duration_since(*start) >= minute {
            *start = now;
            *count = 0;
        }
        if *count >= *rpm {
            return Err(minute.saturating_sub(now.duration_since(*start)));
        }
        *count += 1;
        Ok(())
    }
}

/// Which of `keys` `presented` is. Every key is compared, each in constant time, so the time taken says
/// nothing about which bytes matched (only a length differing from every key's is quicker).
pub fn key_index(keys: &[Vec<u8>], presented: &[u8]) -> Option<usize> {
    let mut found = None;
    for (i, key) in keys.iter().enumerate() {
        if bool::from(key.as_slice().ct_eq(presented)) {
            found = Some(i);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_matched_exactly() {
        let keys = vec![b"k1".to_vec(), b"k2".to_vec()];
        assert_eq!(key_index(&keys, b"k2"), Some(1));
        assert_eq!(key_index(&keys, b"k"), None);
        assert_eq!(key_index(&keys, b"k22"), None);
        assert_eq!(key_index(&[], b""), None);
        let keys = Keys::new(keys, None);
        assert_eq!(keys.slot([&b"nope"[..], &b"k1"[..]]), Some(0));
        assert_eq!(keys.slot([&b"nope"[..]]), None);
        assert_eq!(Keys::new(Vec::new(), None).slot([]), Some(0));
        assert!(!format!("{keys:?}").contains("k1"));
    }

    #[test]
    fn each_key_gets_its_own_minute_of_requests() {
        let keys = Keys::new(vec![b"a".to_vec(), b"b".to_vec()], Some(2));
        let t0 = Instant::now();
        assert!(keys.admit(0, t0).is_ok());
        assert!(keys.admit(0, t0).is_ok());
        let wait = keys.admit(0, t0 + Duration::from_secs(20)).unwrap_err();
        // The minute began when the keys were made, just before t0.
        assert!(
            wait <= Duration::from_secs(40) && wait > Duration::from_secs(39),
            "{wait:?}"
        );
        assert!(keys.admit(1, t0).is_ok(), "another key has its own count");
        assert!(
            keys.admit(0, t0 + Duration::from_secs(60)).is_ok(),
            "a new minute"
        );
    }
}
