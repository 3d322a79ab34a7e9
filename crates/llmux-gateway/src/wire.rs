//! What the dialects share on the wire: small readers of JSON values that turn a wrong shape into a
//! message for a 400 (never a panic), and writers of JSON strings and SSE events.

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::io;

use llmux::Source;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::dialect::Invalid;

/// The body as a JSON object whose fields are all in `lists` (a codec's written fields, then what a reader
/// takes beyond them). The field names are checked before any value is built into a tree: a body of one
/// unknown field holding 32 MiB of numbers is refused after a scan, never held as millions of values.
pub fn known_object(body: &[u8], lists: &[&[&str]]) -> Result<Map<String, Value>, Invalid> {
    let raw: BTreeMap<String, Box<RawValue>> = match serde_json::from_slice(body) {
        Ok(raw) => raw,
        Err(e) if e.is_data() => return Err("the request body must be a JSON object".to_owned()),
        Err(e) => return Err(format!("the request body is not valid JSON: {e}")),
    };
    if let Some(k) = raw
        .keys()
        .find(|k| !lists.iter().any(|l| l.contains(&k.as_str())))
    {
        return Err(format!("`{k}` is not supported by this gateway"));
    }
    raw.into_iter()
        .map(|(k, v)| {
            serde_json::from_str(v.get())
                .map(|v| (k, v))
                .map_err(|e| format!("the request body is not valid JSON: {e}"))
        })
        .collect()
}

/// Where a value sits, for messages (`messages[2].content[0]`).
pub fn at(path: &str, key: impl fmt::Display) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// A JSON object, or a message naming `path`.
pub fn as_object<'a>(value: &'a Value, path: &str) -> Result<&'a Map<String, Value>, Invalid> {
    value
        .as_object()
        .ok_or_else(|| format!("`{path}` must be an object"))
}

/// A JSON array, or a message naming `path`.
pub fn as_array<'a>(value: &'a Value, path: &str) -> Result<&'a Vec<Value>, Invalid> {
    value
        .as_array()
        .ok_or_else(|| format!("`{path}` must be an array"))
}

/// A string, or a message naming `path`.
pub fn as_str<'a>(value: &'a Value, path: &str) -> Result<&'a str, Invalid> {
    value
        .as_str()
        .ok_or_else(|| format!("`{path}` must be a string"))
}

/// The string field `key` of `map`, required.
pub fn str_field<'a>(
    map: &'a Map<String, Value>,
    key: &str,
    path: &str,
) -> Result<&'a str, Invalid> {
    match map.get(key) {
        Some(v) => as_str(v, &at(path, key)),
        None => Err(format!("`{}` is required", at(path, key))),
    }
}

/// The field `key` of `map` unless it is absent or `null`.
pub fn present<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    map.get(key).filter(|v| !v.is_null())
}

/// An optional number.
pub fn f64_field(map: &Map<String, Value>, key: &str) -> Result<Option<f64>, Invalid> {
    present(map, key)
        .map(|v| {
            v.as_f64()
                .ok_or_else(|| format!("`{key}` must be a number"))
        })
        .transpose()
}

/// An optional integer.
pub fn i64_field(map: &Map<String, Value>, key: &str) -> Result<Option<i64>, Invalid> {
    present(map, key)
        .map(|v| {
            v.as_i64()
                .ok_or_else(|| format!("`{key}` must be an integer"))
        })
        .transpose()
}

/// An optional boolean.
pub fn bool_field(map: &Map<String, Value>, key: &str) -> Result<Option<bool>, Invalid> {
    present(map, key)
        .map(|v| {
            v.as_bool()
                .ok_or_else(|| format!("`{key}` must be a boolean"))
        })
        .transpose()
}

/// Fails naming the first field of `map` not in `known`: a field the gateway would otherwise drop.
pub fn no_unknown_fields(
    map: &Map<String, Value>,
    known: &[&str],
    path: &str,
) -> Result<(), Invalid> {
    match map.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!(
            "`{}` is not supported by this gateway",
            at(path, k)
        )),
        None => Ok(()),
    }
}

/// A `data:` URL's media type and base64 text, else the URL itself.
pub fn source_of_url(url: &str) -> Result<Source, Invalid> {
    let Some(rest) = url.strip_prefix("data:") else {
        return Ok(Source::url(url));
    };
    let Some((head, data)) = rest.split_once(',') else {
        return Err("a data: URL needs a `,` before its data".to_owned());
    };
    match head.strip_suffix(";base64") {
        Some(media_type) if !media_type.is_empty() => Ok(Source::base64(media_type, data)),
        _ => Err("only base64 data: URLs with a media type are supported".to_owned()),
    }
}

/// The JSON text of a tool call's arguments, as OpenAI sends them: a string.
pub fn arguments_text(arguments: &Value) -> String {
    match arguments {
        Value::Null => "{}".to_owned(),
        v => v.to_string(),
    }
}

/// `text` as a JSON string (quoted and escaped), written straight into the output: a stream's per-token
/// pieces need neither a `Value` nor a copy of their text to be escaped.
#[derive(Debug, Clone, Copy)]
pub struct Quoted<'a>(pub &'a str);

impl fmt::Display for Quoted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        serde_json::to_writer(FmtWriter(f), self.0).map_err(|_| fmt::Error)
    }
}

/// serde_json's `io::Write` output into a formatter. serde_json writes a string as pieces of it cut only
/// at the ASCII characters it escapes, and the escapes themselves, so every write is whole UTF-8.
struct FmtWriter<'a, 'b>(&'a mut fmt::Formatter<'b>);

impl io::Write for FmtWriter<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = std::str::from_utf8(buf).map_err(io::Error::other)?;
        self.0.write_str(text).map_err(io::Error::other)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// One SSE event to `out`: `event:` when named, one `data:` line (JSON has no raw newlines).
pub fn sse(out: &mut String, event: Option<&str>, data: &Value) {
    if let Some(name) = event {
        let _ = writeln!(out, "event: {name}");
    }
    let _ = write!(out, "data: {data}\n\n");
}

/// Tool names by call id, so a result can name the tool it answers (for providers keyed by name).
#[derive(Debug, Default)]
pub struct CallNames(BTreeMap<String, String>);

impl CallNames {
    /// Remembers that call `id` was of tool `name`.
    pub fn insert(&mut self, id: &str, name: &str) {
        self.0.insert(id.to_owned(), name.to_owned());
    }

    /// The tool of call `id`, or empty.
    pub fn name(&self, id: &str) -> String {
        self.0.get(id).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls_become_inline_sources_and_others_urls() {
        assert_eq!(
            source_of_url("data:image/png;base64,iVBO").unwrap(),
            Source::base64("image/png", "iVBO")
        );
        assert_eq!(
            source_of_url("https://x/cat.jpg").unwrap(),
            Source::url("https://x/cat.jpg")
        );
        assert!(source_of_url("data:text/plain,hello").is_err());
        assert!(known_object(b"[1]", &[]).is_err());
        assert!(
            known_object(b"{", &[])
                .unwrap_err()
                .contains("not valid JSON")
        );
    }

    #[test]
    fn quoted_escapes_as_serde_json_does() {
        for text in [
            "",
            "plain",
            "q\"uote\\ and\nnew\tline \u{1} \u{7f}",
            "ünï 🦀 \u{2028}",
        ] {
            assert_eq!(
                Quoted(text).to_string(),
                Value::String(text.to_owned()).to_string()
            );
        }
    }
}
