//! [`Fragment`]: one piece of streamed text (a token or a few, a piece of a tool call's arguments).

use std::borrow::Borrow;
use std::fmt;
use std::ops::Deref;

use compact_str::CompactString;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// One piece of streamed text: what a [`StreamEvent`](crate::StreamEvent) delta carries. It reads as a
/// `str` (`Deref`, `Display`, comparisons with `&str` and `String`) and is (de)serialized as a string.
///
/// Streams come a few bytes at a time (a token is about four; OpenAI and llama.cpp send a tool call's
/// arguments a token or two per chunk), so a fragment of up to 24 bytes is kept inline, in the 24 bytes a
/// `String` would take: decoding a piece costs no allocation and dropping it no free. A longer piece is
/// kept on the heap as a `String` is (and one made from a `String` keeps its buffer).
///
/// ```
/// use llm_core::Fragment;
/// let piece = Fragment::from("{\"city\":");
/// assert_eq!(piece, "{\"city\":");
/// assert_eq!(piece.len(), 8);
/// let mut all = String::new();
/// all.push_str(&piece);
/// assert_eq!(String::from(piece), all);
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fragment(CompactString);

impl Fragment {
    /// The text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The text as a `String` (no copy when it was kept on the heap).
    pub fn into_string(self) -> String {
        self.0.into_string()
    }
}

impl Deref for Fragment {
    type Target = str;

    fn deref(&self) -> &str {
        self.0.as_str()
    }
}

impl AsRef<str> for Fragment {
    fn as_ref(&self) -> &str {
        self.0.as_str()
    }
}

impl Borrow<str> for Fragment {
    fn borrow(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Debug for Fragment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.0.as_str(), f)
    }
}

impl fmt::Display for Fragment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

impl From<&str> for Fragment {
    fn from(text: &str) -> Self {
        Fragment(CompactString::from(text))
    }
}

impl From<String> for Fragment {
    fn from(text: String) -> Self {
        Fragment(CompactString::from(text))
    }
}

impl From<&String> for Fragment {
    fn from(text: &String) -> Self {
        Fragment(CompactString::from(text.as_str()))
    }
}

impl From<std::borrow::Cow<'_, str>> for Fragment {
    fn from(text: std::borrow::Cow<'_, str>) -> Self {
        match text {
            std::borrow::Cow::Borrowed(s) => Fragment::from(s),
            std::borrow::Cow::Owned(s) => Fragment::from(s),
        }
    }
}

impl From<Fragment> for String {
    fn from(piece: Fragment) -> Self {
        piece.into_string()
    }
}

impl Serialize for Fragment {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.as_str())
    }
}

impl<'de> Deserialize<'de> for Fragment {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Fragment::from)
    }
}

impl PartialEq<str> for Fragment {
    fn eq(&self, other: &str) -> bool {
        self.0.as_str() == other
    }
}

impl PartialEq<&str> for Fragment {
    fn eq(&self, other: &&str) -> bool {
        self.0.as_str() == *other
    }
}

impl PartialEq<String> for Fragment {
    fn eq(&self, other: &String) -> bool {
        self.0.as_str() == other.as_str()
    }
}

impl PartialEq<Fragment> for str {
    fn eq(&self, other: &Fragment) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Fragment> for &str {
    fn eq(&self, other: &Fragment) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Fragment> for String {
    fn eq(&self, other: &Fragment) -> bool {
        self.as_str() == other.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_long_pieces_read_as_their_text() {
        for text in ["", "a", "é\"", &"x".repeat(24), &"long piece ".repeat(10)] {
            let piece = Fragment::from(text);
            assert_eq!(piece, text);
            assert_eq!(piece.len(), text.len());
            assert_eq!(format!("{piece}"), text);
            assert_eq!(format!("{piece:?}"), format!("{text:?}"));
            assert_eq!(Fragment::from(text.to_owned()).into_string(), text);
            let json = serde_json::to_string(&piece).unwrap();
            assert_eq!(json, serde_json::to_string(text).unwrap());
            assert_eq!(serde_json::from_str::<Fragment>(&json).unwrap(), piece);
        }
    }

    #[test]
    fn a_fragment_is_as_large_as_a_string() {
        assert_eq!(size_of::<Fragment>(), size_of::<String>());
        assert_eq!(size_of::<Option<Fragment>>(), size_of::<String>());
    }
}
