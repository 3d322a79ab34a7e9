//! API keys that never print themselves.

use std::borrow::Cow;
use std::fmt;

/// The text that replaces a key wherever one would have been shown.
pub const REDACTED: &str = "[redacted]";

/// A secret credential. `Debug` and `Display` print [`REDACTED`]; only [`ApiKey::expose`] gives the value, for
/// the one place that puts it into a request header.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    /// Wraps a key.
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself. Call this only to build an authentication header.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// A fingerprint of the key (16 hex digits of [`fingerprint`](crate::fingerprint)): tells two keys
    /// apart in ids and logs without saying either.
    pub fn fingerprint(&self) -> String {
        format!(
            "{:016x}",
            crate::fingerprint::fingerprint(&[self.0.as_str()])
        )
    }

    /// True when the key is the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every occurrence of this key replaced by [`REDACTED`]. Borrows when there is nothing to
    /// replace. Keys shorter than 4 characters are not scrubbed (they would match ordinary text).
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        if self.0.len() < 4 || !text.contains(self.0.as_str()) {
            Cow::Borrowed(text)
        } else {
            Cow::Owned(text.replace(self.0.as_str(), REDACTED))
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKey({REDACTED})")
    }
}

impl fmt::Display for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl From<String> for ApiKey {
    fn from(key: String) -> Self {
        ApiKey(key)
    }
}

impl From<&str> for ApiKey {
    fn from(key: &str) -> Self {
        ApiKey(key.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_formats_the_key() {
        let k = ApiKey::new("sk-secret-value");
        assert_eq!(format!("{k}"), REDACTED);
        assert_eq!(format!("{k:?}"), "ApiKey([redacted])");
        assert_eq!(k.expose(), "sk-secret-value");
    }

    #[test]
    fn scrub_replaces_every_occurrence_and_borrows_otherwise() {
        let k = ApiKey::new("sk-abcdef");
        assert_eq!(
            k.scrub("a sk-abcdef b sk-abcdef"),
            "a [redacted] b [redacted]"
        );
        assert!(matches!(k.scrub("nothing here"), Cow::Borrowed(_)));
        assert!(matches!(ApiKey::new("ab").scrub("ab ab"), Cow::Borrowed(_)));
    }
}
