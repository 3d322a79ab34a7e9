//! Stable fingerprints: FNV-1a (64 bits) over length-prefixed parts, the same on every machine, platform
//! and Rust version, for ids that separate processes must agree on (shared fleet state). Not a
//! cryptographic hash: a fingerprint of a key says which key without saying the key, and two parts can
//! never run together into a third (`["ab", "c"]` and `["a", "bc"]` differ).

/// The fingerprint of `parts`, in order.
///
/// ```
/// use llm_core::fingerprint;
/// assert_eq!(fingerprint(&["openai", "https://api.openai.com/v1"]), fingerprint(&["openai", "https://api.openai.com/v1"]));
/// assert_ne!(fingerprint(&["ab", "c"]), fingerprint(&["a", "bc"]));
/// ```
pub fn fingerprint(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |byte: u8| {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    };
    for part in parts {
        for byte in (part.len() as u64).to_le_bytes() {
            eat(byte);
        }
        for byte in part.bytes() {
            eat(byte);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_fixed_values_and_separate_their_parts() {
        // Fixed, so processes built at different times agree.
        assert_eq!(fingerprint(&[]), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fingerprint(&["a"]), fingerprint(&["a"]));
        assert_ne!(fingerprint(&["a", ""]), fingerprint(&["a"]));
        assert_ne!(fingerprint(&["a:b", "c"]), fingerprint(&["a", "b:c"]));
    }
}
