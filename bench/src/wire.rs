//! What the server sends. A request names its scenario in the model name, `bench-n{N}-t{T}-p{P}`: N content
//! tokens of T bytes each, P milliseconds between tokens (0: as fast as the socket allows). Every client
//! library passes the model name through untouched, so no custom header or query is needed.
//!
//! Streams are rendered once per scenario and cached by the server: one HTTP/1.1 chunk per SSE event or
//! NDJSON line, as real servers send them.

use std::fmt::Write as _;

/// The wire format of a request, chosen by its path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// OpenAI Chat Completions, `POST /v1/chat/completions`, SSE `data:` chunks ending in `[DONE]`.
    OpenAi,
    /// Anthropic Messages, `POST /v1/messages`, named SSE events ending in `message_stop`.
    Anthropic,
    /// Ollama native chat, `POST /api/chat`, NDJSON lines ending in `"done":true`.
    Ollama,
}

impl Format {
    /// Every format.
    pub const ALL: [Format; 3] = [Format::OpenAi, Format::Anthropic, Format::Ollama];

    /// The short name used on command lines and in result tables.
    pub fn name(self) -> &'static str {
        match self {
            Format::OpenAi => "openai",
            Format::Anthropic => "anthropic",
            Format::Ollama => "ollama",
        }
    }

    /// The format called `name`.
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The format served at `path`.
    pub fn from_path(path: &str) -> Option<Format> {
        match path {
            "/v1/chat/completions" => Some(Format::OpenAi),
            "/v1/messages" => Some(Format::Anthropic),
            "/api/chat" => Some(Format::Ollama),
            _ => None,
        }
    }

    /// The media type of a streamed answer.
    pub fn stream_media_type(self) -> &'static str {
        match self {
            Format::OpenAi | Format::Anthropic => "text/event-stream",
            Format::Ollama => "application/x-ndjson",
        }
    }
}

/// What one request asks the server for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Spec {
    /// Content tokens in the answer.
    pub tokens: u32,
    /// Bytes of text per token.
    pub token_bytes: u32,
    /// Milliseconds between streamed tokens (0: no pause).
    pub pace_ms: u32,
}

impl Spec {
    /// The model name that asks for this spec.
    pub fn model(&self) -> String {
        format!(
            "bench-n{}-t{}-p{}",
            self.tokens, self.token_bytes, self.pace_ms
        )
    }

    /// The spec a model name asks for; `None` if it is not a bench model name.
    pub fn from_model(model: &str) -> Option<Spec> {
        let mut parts = model.strip_prefix("bench-")?.split('-');
        let mut field =
            |prefix: char| -> Option<u32> { parts.next()?.strip_prefix(prefix)?.parse().ok() };
        let spec = Spec {
            tokens: field('n')?,
            token_bytes: field('t')?,
            pace_ms: field('p')?,
        };
        (spec.token_bytes > 0).then_some(spec)
    }

    /// The text of one token: a space and lowercase letters, `token_bytes` long, nothing to escape.
    pub fn token_text(&self) -> String {
        let letters = b"abcdefghijklmnopqrstuvwxyz";
        let mut text = String::from(" ");
        for i in 1..self.token_bytes as usize {
            text.push(char::from(letters[i % letters.len()]));
        }
        text
    }
}

/// The model name inside a JSON request body (the first `"model":"…"`), without JSON unescaping: bench
/// model names need none.
pub fn model_in_body(body: &[u8]) -> Option<&str> {
    let key = b"\"model\"";
    let at = memchr::memmem::find(body, key)? + key.len();
    let rest = &body[at..];
    let open = memchr::memchr(b'"', rest)? + 1;
    let len = memchr::memchr(b'"', &rest[open..])?;
    std::str::from_utf8(&rest[open..open + len]).ok()
}

/// Whether a JSON request body asks for a stream. Ollama streams unless told `"stream":false`; the others
/// only when told `"stream":true`.
pub fn wants_stream(format: Format, body: &[u8]) -> bool {
    let compact = |needle: &[u8]| memchr::memmem::find(body, needle).is_some();
    match format {
        Format::Ollama => !(compact(b"\"stream\":false") || compact(b"\"stream\": false")),
        _ => compact(b"\"stream\":true") || compact(b"\"stream\": true"),
    }
}

/// A streamed answer: the payload of each HTTP chunk (one SSE event or NDJSON line), in order.
/// `token_range` says which chunks are content tokens (the ones a paced stream waits before).
#[derive(Debug)]
pub struct Rendered {
    /// Chunk payloads.
    pub chunks: Vec<Vec<u8>>,
    /// Indices of the content-token chunks.
    pub token_range: std::ops::Range<usize>,
}

const CREATED: &str = "1700000000";

/// The streamed answer for `spec` in `format`, with the model name `model`.
pub fn render_stream(format: Format, spec: Spec, model: &str) -> Rendered {
    let text = spec.token_text();
    let n = spec.tokens as usize;
    let mut chunks = Vec::with_capacity(n + 8);
    let token_range;
    match format {
        Format::OpenAi => {
            let chunk = |delta: &str, finish: &str| {
                format!(
                    "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\"model\":\"{model}\",\"system_fingerprint\":\"fp_bench\",\"choices\":[{{\"index\":0,\"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n"
                )
            };
            chunks.push(chunk("{\"role\":\"assistant\",\"content\":\"\"}", "null").into_bytes());
            let token = chunk(&format!("{{\"content\":\"{text}\"}}"), "null").into_bytes();
            token_range = 1..1 + n;
            chunks.extend(std::iter::repeat_n(token, n));
            chunks.push(chunk("{}", "\"stop\"").into_bytes());
            chunks.push(format!(
                "data: {{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"created\":{CREATED},\"model\":\"{model}\",\"system_fingerprint\":\"fp_bench\",\"choices\":[],\"usage\":{{\"prompt_tokens\":8,\"completion_tokens\":{n},\"total_tokens\":{}}}}}\n\n",
                n + 8
            ).into_bytes());
            chunks.push(b"data: [DONE]\n\n".to_vec());
        }
        Format::Anthropic => {
            let event =
                |name: &str, data: &str| format!("event: {name}\ndata: {data}\n\n").into_bytes();
            chunks.push(event("message_start", &format!(
                "{{\"type\":\"message_start\",\"message\":{{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"{model}\",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{{\"input_tokens\":8,\"output_tokens\":1}}}}}}"
            )));
            chunks.push(event("content_block_start", "{\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}"));
            chunks.push(event("ping", "{\"type\": \"ping\"}"));
            let token = event(
                "content_block_delta",
                &format!(
                    "{{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{text}\"}}}}"
                ),
            );
            token_range = 3..3 + n;
            chunks.extend(std::iter::repeat_n(token, n));
            chunks.push(event(
                "content_block_stop",
                "{\"type\":\"content_block_stop\",\"index\":0}",
            ));
            chunks.push(event("message_delta", &format!(
                "{{\"type\":\"message_delta\",\"delta\":{{\"stop_reason\":\"end_turn\",\"stop_sequence\":null}},\"usage\":{{\"output_tokens\":{n}}}}}"
            )));
            chunks.push(event("message_stop", "{\"type\":\"message_stop\"}"));
        }
        Format::Ollama => {
            let token = format!(
                "{{\"model\":\"{model}\",\"created_at\":\"2024-01-01T00:00:00.000000Z\",\"message\":{{\"role\":\"assistant\",\"content\":\"{text}\"}},\"done\":false}}\n"
            ).into_bytes();
            token_range = 0..n;
            chunks.extend(std::iter::repeat_n(token, n));
            chunks.push(format!(
                "{{\"model\":\"{model}\",\"created_at\":\"2024-01-01T00:00:00.000000Z\",\"message\":{{\"role\":\"assistant\",\"content\":\"\"}},\"done\":true,\"done_reason\":\"stop\",\"total_duration\":1000,\"load_duration\":10,\"prompt_eval_count\":8,\"prompt_eval_duration\":10,\"eval_count\":{n},\"eval_duration\":100}}\n"
            ).into_bytes());
        }
    }
    Rendered {
        chunks,
        token_range,
    }
}

/// The whole (non-streamed) answer for `spec` in `format`.
pub fn render_whole(format: Format, spec: Spec, model: &str) -> Vec<u8> {
    let mut text = String::new();
    for _ in 0..spec.tokens {
        text.push_str(&spec.token_text());
    }
    let n = spec.tokens;
    let mut body = String::new();
    // Writing to a String cannot fail.
    let _ = match format {
        Format::OpenAi => write!(
            body,
            "{{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":{CREATED},\"model\":\"{model}\",\"system_fingerprint\":\"fp_bench\",\"choices\":[{{\"index\":0,\"message\":{{\"role\":\"assistant\",\"content\":\"{text}\",\"refusal\":null,\"annotations\":[]}},\"logprobs\":null,\"finish_reason\":\"stop\"}}],\"usage\":{{\"prompt_tokens\":8,\"completion_tokens\":{n},\"total_tokens\":{}}}}}",
            n + 8
        ),
        Format::Anthropic => write!(
            body,
            "{{\"id\":\"msg_bench\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"{model}\",\"content\":[{{\"type\":\"text\",\"text\":\"{text}\"}}],\"stop_reason\":\"end_turn\",\"stop_sequence\":null,\"usage\":{{\"input_tokens\":8,\"output_tokens\":{n}}}}}"
        ),
        Format::Ollama => write!(
            body,
            "{{\"model\":\"{model}\",\"created_at\":\"2024-01-01T00:00:00.000000Z\",\"message\":{{\"role\":\"assistant\",\"content\":\"{text}\"}},\"done\":true,\"done_reason\":\"stop\",\"total_duration\":1000,\"load_duration\":10,\"prompt_eval_count\":8,\"prompt_eval_duration\":10,\"eval_count\":{n},\"eval_duration\":100}}"
        ),
    };
    body.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_round_trips_through_the_model_name() {
        let spec = Spec {
            tokens: 500,
            token_bytes: 4,
            pace_ms: 20,
        };
        assert_eq!(spec.model(), "bench-n500-t4-p20");
        assert_eq!(Spec::from_model(&spec.model()), Some(spec));
        assert_eq!(Spec::from_model("gpt-4o"), None);
        assert_eq!(spec.token_text(), " bcd");
    }

    #[test]
    fn finds_model_and_stream_flag_in_bodies() {
        let body = br#"{"messages":[],"model":"bench-n5-t4-p0","stream":true}"#;
        assert_eq!(model_in_body(body), Some("bench-n5-t4-p0"));
        assert!(wants_stream(Format::OpenAi, body));
        assert!(wants_stream(Format::Ollama, br#"{"model":"m"}"#));
        assert!(!wants_stream(
            Format::Ollama,
            br#"{"model":"m","stream":false}"#
        ));
        assert!(!wants_stream(Format::Anthropic, br#"{"model":"m"}"#));
    }

    #[test]
    fn rendered_streams_hold_every_token_and_valid_json() {
        let spec = Spec {
            tokens: 3,
            token_bytes: 5,
            pace_ms: 0,
        };
        for format in Format::ALL {
            let r = render_stream(format, spec, &spec.model());
            assert_eq!(r.token_range.len(), 3, "{format:?}");
            for chunk in &r.chunks {
                let text = std::str::from_utf8(chunk).expect("utf-8");
                for line in text.lines() {
                    let json = line.strip_prefix("data: ").unwrap_or(line);
                    if json.starts_with('{') {
                        serde_json::from_str::<serde_json::Value>(json).expect("valid json");
                    }
                }
            }
            let whole = render_whole(format, spec, &spec.model());
            let v: serde_json::Value = serde_json::from_slice(&whole).expect("valid json");
            assert!(v.to_string().contains(" bcde bcde bcde"), "{format:?}: {v}");
        }
    }
}
