//! Where an image or a document comes from ([`Source`]): bytes carried inline (base64 with a media type) or
//! a URL the provider fetches.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};

/// The bytes of an image or a document: inline, or at a URL.
///
/// ```
/// use llm_core::Source;
/// let inline = Source::bytes("image/png", &[0x89, b'P', b'N', b'G']);
/// assert_eq!(inline.media_type(), Some("image/png"));
/// assert_eq!(inline.decoded_len(), Some(4));
/// assert_eq!(inline.data_url().unwrap(), "data:image/png;base64,iVBORw==");
/// let remote = Source::url("https://example.com/cat.jpg");
/// assert_eq!(remote.decoded_len(), None);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// Inline bytes, base64-encoded (standard alphabet, padded).
    Base64 {
        /// The IANA media type, e.g. `image/png` or `application/pdf`.
        media_type: String,
        /// The base64 text.
        data: String,
    },
    /// A URL the provider fetches itself.
    Url {
        /// The URL.
        url: String,
    },
}

impl Source {
    /// Inline `bytes` of `media_type`, base64-encoded here.
    pub fn bytes(media_type: impl Into<String>, bytes: &[u8]) -> Source {
        Source::Base64 {
            media_type: media_type.into(),
            data: STANDARD.encode(bytes),
        }
    }

    /// Inline data already base64-encoded.
    pub fn base64(media_type: impl Into<String>, data: impl Into<String>) -> Source {
        Source::Base64 {
            media_type: media_type.into(),
            data: data.into(),
        }
    }

    /// A URL the provider fetches.
    pub fn url(url: impl Into<String>) -> Source {
        Source::Url { url: url.into() }
    }

    /// The media type of inline bytes.
    pub fn media_type(&self) -> Option<&str> {
        match self {
            Source::Base64 { media_type, .. } => Some(media_type),
            Source::Url { .. } => None,
        }
    }

    /// The size of inline bytes once decoded (computed from the base64 length, nothing is decoded).
    pub fn decoded_len(&self) -> Option<usize> {
        match self {
            Source::Base64 { data, .. } => {
                let data = data.trim_end();
                let padding = data.bytes().rev().take_while(|&b| b == b'=').count();
                Some((data.len() / 4 * 3 + data.len() % 4 * 3 / 4).saturating_sub(padding.min(2)))
            }
            Source::Url { .. } => None,
        }
    }

    /// Inline bytes as a `data:` URL (how OpenAI-style APIs take them).
    pub fn data_url(&self) -> Option<String> {
        match self {
            Source::Base64 { media_type, data } => Some(format!("data:{media_type};base64,{data}")),
            Source::Url { .. } => None,
        }
    }

    /// Whether the bytes are a PDF (by media type; a URL is not known to be one).
    pub fn is_pdf(&self) -> bool {
        self.media_type() == Some("application/pdf")
    }
}

/// The media type of a file, from its extension: the image types providers take, and PDF.
///
/// ```
/// assert_eq!(llm_core::media_type_of("photo.JPG"), Some("image/jpeg"));
/// assert_eq!(llm_core::media_type_of("paper.pdf"), Some("application/pdf"));
/// assert_eq!(llm_core::media_type_of("notes.txt"), None);
/// ```
pub fn media_type_of(path: &str) -> Option<&'static str> {
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "pdf" => "application/pdf",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::Source;

    #[test]
    fn the_decoded_length_is_exact_for_every_padding() {
        for n in 0..20usize {
            let bytes: Vec<u8> = (0..n as u8).collect();
            assert_eq!(
                Source::bytes("image/png", &bytes).decoded_len(),
                Some(n),
                "{n}"
            );
        }
    }
}
