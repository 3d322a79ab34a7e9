//! [`JsonStr`]: a JSON string field that borrows from the payload whenever it can.

use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

use llm_core::Fragment;
use serde::de::{Deserialize, Deserializer, Visitor};

/// A string read from a JSON payload: borrowed from the payload when the JSON string had no escapes, owned
/// only when it had to be unescaped.
///
/// Decoders use it for every text field of a wire struct, in place of `Option<Cow<'a, str>>`: serde's
/// `#[serde(borrow)]` borrows a `Cow<str>` only when it is the field's whole type, so inside an `Option`
/// (how optional wire fields are written) a `Cow` is always copied. `Option<JsonStr<'a>>` with
/// `#[serde(borrow)]` borrows as intended; it derefs to `str`, so `.as_deref()` gives an `Option<&str>`.
///
/// ```
/// use llm_http::JsonStr;
///
/// #[derive(serde::Deserialize)]
/// struct Delta<'a> {
///     #[serde(borrow, default)]
///     content: Option<JsonStr<'a>>,
/// }
/// let plain: Delta<'_> = serde_json::from_str(r#"{"content":"hi"}"#).unwrap();
/// assert!(plain.content.as_ref().unwrap().is_borrowed());
/// let escaped: Delta<'_> = serde_json::from_str(r#"{"content":"a\"b"}"#).unwrap();
/// assert_eq!(escaped.content.as_deref(), Some("a\"b"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JsonStr<'a>(pub Cow<'a, str>);

impl JsonStr<'_> {
    /// True when the text is a slice of the payload (no copy was made).
    pub fn is_borrowed(&self) -> bool {
        matches!(self.0, Cow::Borrowed(_))
    }

    /// The text as an owned `String` (a copy only when it was borrowed).
    pub fn into_owned(self) -> String {
        self.0.into_owned()
    }
}

impl Deref for JsonStr<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for JsonStr<'_> {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A piece of a stream's text as its event's [`Fragment`]: no copy when the JSON escaped it (it is
/// already owned) or when it fits inline.
impl From<JsonStr<'_>> for Fragment {
    fn from(text: JsonStr<'_>) -> Self {
        Fragment::from(text.0)
    }
}

impl fmt::Display for JsonStr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for JsonStr<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StrVisitor;

        impl<'de> Visitor<'de> for StrVisitor {
            type Value = JsonStr<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(JsonStr(Cow::Borrowed(v)))
            }

            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(JsonStr(Cow::Owned(v.to_owned())))
            }

            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(JsonStr(Cow::Owned(v)))
            }

            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                std::str::from_utf8(v)
                    .map(|s| JsonStr(Cow::Owned(s.to_owned())))
                    .map_err(|_| E::invalid_value(serde::de::Unexpected::Bytes(v), &self))
            }
        }

        deserializer.deserialize_str(StrVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::JsonStr;

    #[derive(serde::Deserialize)]
    struct Wire<'a> {
        #[serde(borrow, default)]
        text: Option<JsonStr<'a>>,
    }

    #[test]
    fn a_plain_string_is_borrowed_an_escaped_one_is_unescaped_and_owned() {
        let plain: Wire<'_> = serde_json::from_str(r#"{"text":"héllo"}"#).unwrap();
        let text = plain.text.unwrap();
        assert!(text.is_borrowed());
        assert_eq!(&*text, "héllo");
        let escaped: Wire<'_> = serde_json::from_str(r#"{"text":"a\nb\u00e9"}"#).unwrap();
        let text = escaped.text.unwrap();
        assert!(!text.is_borrowed());
        assert_eq!(&*text, "a\nbé");
        let absent: Wire<'_> = serde_json::from_str("{}").unwrap();
        assert!(absent.text.is_none());
        let null: Wire<'_> = serde_json::from_str(r#"{"text":null}"#).unwrap();
        assert!(null.text.is_none());
        assert!(serde_json::from_str::<Wire<'_>>(r#"{"text":5}"#).is_err());
    }
}
