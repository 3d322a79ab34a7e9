//! Deliberately naive reference implementations, written straight from the format rules: decode
//! the whole input at once, split it into lines, interpret each line. No limits, no chunking.

use serde_json::{Value, json};

/// The WHATWG event stream rules applied to the whole input at once, in `sse_dump`'s shape.
pub(crate) fn sse(input: &[u8]) -> Vec<Value> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = String::from_utf8_lossy(input);
    let mut out = Vec::new();
    let (mut data, mut event_type, mut id) = (String::new(), String::new(), String::new());
    let mut retry = None;
    let mut rest = text.as_ref();
    let mut unterminated = false;
    while !rest.is_empty() {
        let (line, next) = match rest.find(['\r', '\n']) {
            Some(i) if rest[i..].starts_with("\r\n") => (&rest[..i], &rest[i + 2..]),
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => {
                unterminated = true;
                break;
            }
        };
        rest = next;
        if line.is_empty() {
            if !data.is_empty() {
                data.pop();
                let kind = if event_type.is_empty() {
                    "message"
                } else {
                    event_type.as_str()
                };
                out.push(json!({ "event": kind, "data": data, "id": id }));
            }
            data.clear();
            event_type.clear();
            continue;
        }
        if line.starts_with(':') {
            continue;
        }
        let (field, value) = match line.split_once(':') {
            Some((f, v)) => (f, v.strip_prefix(' ').unwrap_or(v)),
            None => (line, ""),
        };
        match field {
            "data" => {
                data.push_str(value);
                data.push('\n');
            }
            "event" => event_type = value.to_owned(),
            "id" if !value.contains('\0') => id = value.to_owned(),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(ms) = value.parse::<u64>() {
                    retry = Some(ms);
                }
            }
            _ => {}
        }
    }
    if let Some(ms) = retry {
        out.push(json!({ "retry": ms }));
    }
    if unterminated || !data.is_empty() {
        out.push(json!({ "truncated": true }));
    }
    out
}

/// The NDJSON rules applied to the whole input at once, in `ndjson_dump`'s shape.
pub(crate) fn ndjson(input: &[u8]) -> Vec<Value> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut out = Vec::new();
    let mut lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    for (i, line) in lines.iter().enumerate() {
        let number = i as u64 + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            continue;
        }
        out.push(match std::str::from_utf8(line) {
            Err(_) => json!({ "line": number, "error": format!("ndjson line {number} is not valid utf-8") }),
            Ok(text) => match serde_json::from_str::<Value>(text) {
                Ok(value) => json!({ "line": number, "value": value }),
                Err(_) => json!({ "line": number, "error": format!("ndjson line {number} is not valid json") }),
            },
        });
    }
    out
}
