//! Images and documents from the command line (`--image`, `--file`) and from `--request` files: a path is
//! read and sent as bytes with the media type of its extension, an http(s) URL is sent for the provider to
//! fetch.

use std::fs;
use std::path::Path;

use llmux::{ContentPart, Source, media_type_of};

use crate::spec::ConfigError;

/// An image part from `arg`: an `http://`/`https://` URL, else a file (png, jpeg, gif or webp).
pub fn image(arg: &str, base: Option<&Path>) -> Result<ContentPart, ConfigError> {
    if arg.starts_with("https://") || arg.starts_with("http://") {
        return Ok(ContentPart::image_url(arg));
    }
    let media_type = media_type_of(arg)
        .filter(|t| t.starts_with("image/"))
        .ok_or_else(|| {
            ConfigError(format!(
                "image {arg}: expected a .png, .jpg, .jpeg, .gif or .webp file, or an http(s) URL"
            ))
        })?;
    let bytes = read(arg, base, "image")?;
    Ok(ContentPart::image_bytes(media_type, &bytes))
}

/// A PDF document part from the file `arg`.
pub fn document(arg: &str, base: Option<&Path>) -> Result<ContentPart, ConfigError> {
    if media_type_of(arg) != Some("application/pdf") {
        return Err(ConfigError(format!("file {arg}: expected a .pdf document")));
    }
    let bytes = read(arg, base, "document")?;
    let name = Path::new(arg)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned());
    Ok(ContentPart::Document {
        source: Source::bytes("application/pdf", &bytes),
        name,
    })
}

fn read(arg: &str, base: Option<&Path>, what: &str) -> Result<Vec<u8>, ConfigError> {
    let path = match base {
        Some(dir) if Path::new(arg).is_relative() => dir.join(arg),
        _ => Path::new(arg).to_path_buf(),
    };
    fs::read(&path)
        .map_err(|e| ConfigError(format!("cannot read the {what} {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_files_and_refusals() {
        assert_eq!(
            image("https://example.com/a.png", None).unwrap(),
            ContentPart::image_url("https://example.com/a.png")
        );
        let dir = std::env::temp_dir().join(format!("llmux-media-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("dot.png"), [1u8, 2, 3]).unwrap();
        fs::write(dir.join("paper.pdf"), b"%PDF-1.7").unwrap();
        assert_eq!(
            image("dot.png", Some(&dir)).unwrap(),
            ContentPart::image_bytes("image/png", &[1, 2, 3])
        );
        let doc = document("paper.pdf", Some(&dir)).unwrap();
        assert!(matches!(doc, ContentPart::Document { name: Some(ref n), .. } if n == "paper.pdf"));
        assert!(image("notes.txt", None).unwrap_err().0.contains(".png"));
        assert!(
            document("dot.png", Some(&dir))
                .unwrap_err()
                .0
                .contains(".pdf")
        );
        assert!(
            image("missing.png", Some(&dir))
                .unwrap_err()
                .0
                .contains("cannot read")
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
