//! `client-hand`: the hand-written client the goals are measured against — reqwest, a minimal SSE split
//! (events at blank lines, `data: ` lines; NDJSON at newlines) and serde decoding of each chunk into
//! borrowed structs. No error mapping, no limits, no timeouts: the least a correct client can do.

use std::borrow::Cow;

use futures_util::StreamExt;
use llmux_bench::driver::{self, Client};
use llmux_bench::plain;
use llmux_bench::wire::Format;
use serde::Deserialize;

struct Hand {
    base: String,
    http: reqwest::Client,
}

#[derive(Deserialize)]
struct OpenAiChunk<'a> {
    #[serde(borrow)]
    choices: Vec<OpenAiChoice<'a>>,
}

#[derive(Deserialize)]
struct OpenAiChoice<'a> {
    #[serde(borrow)]
    delta: OpenAiDelta<'a>,
}

#[derive(Deserialize)]
struct OpenAiDelta<'a> {
    #[serde(borrow)]
    content: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct AnthropicEvent<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    delta: Option<AnthropicDelta<'a>>,
}

#[derive(Deserialize)]
struct AnthropicDelta<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct OllamaLine<'a> {
    #[serde(borrow)]
    message: Option<OllamaMessage<'a>>,
    done: bool,
}

#[derive(Deserialize)]
struct OllamaMessage<'a> {
    #[serde(borrow)]
    content: Cow<'a, str>,
}

/// Decodes one SSE `data` payload or NDJSON line: `Some(true)` for a content token, `None` at the end.
fn decode(format: Format, payload: &[u8]) -> Result<Option<bool>, String> {
    let json = |e: serde_json::Error| e.to_string();
    Ok(match format {
        Format::OpenAi => {
            if payload == b"[DONE]" {
                return Ok(None);
            }
            let chunk: OpenAiChunk<'_> = serde_json::from_slice(payload).map_err(json)?;
            Some(
                chunk
                    .choices
                    .iter()
                    .any(|c| c.delta.content.as_deref().is_some_and(|t| !t.is_empty())),
            )
        }
        Format::Anthropic => {
            let event: AnthropicEvent<'_> = serde_json::from_slice(payload).map_err(json)?;
            if event.kind == "message_stop" {
                return Ok(None);
            }
            Some(
                event
                    .delta
                    .and_then(|d| d.text)
                    .is_some_and(|t| !t.is_empty()),
            )
        }
        Format::Ollama => {
            let line: OllamaLine<'_> = serde_json::from_slice(payload).map_err(json)?;
            if line.done {
                return Ok(None);
            }
            Some(line.message.is_some_and(|m| !m.content.is_empty()))
        }
    })
}

impl Client for Hand {
    fn new(base: &str) -> Result<Self, String> {
        Ok(Hand {
            base: base.to_string(),
            http: plain::client()?,
        })
    }

    fn supports(&self, _: Format) -> bool {
        true
    }

    async fn stream(&self, format: Format, model: String) -> Result<u64, String> {
        let response =
            plain::send(plain::request(&self.http, &self.base, format, &model, true)).await?;
        let mut body = response.bytes_stream();
        let separator: &[u8] = if format == Format::Ollama {
            b"\n"
        } else {
            b"\n\n"
        };
        let mut buf: Vec<u8> = Vec::new();
        let (mut tokens, mut ended) = (0u64, false);
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk.map_err(|e| e.to_string())?);
            let mut start = 0;
            while let Some(at) = memchr::memmem::find(&buf[start..], separator) {
                let record = &buf[start..start + at];
                start += at + separator.len();
                if ended {
                    continue;
                }
                let payloads: Vec<&[u8]> = if format == Format::Ollama {
                    vec![record]
                } else {
                    record
                        .split(|&b| b == b'\n')
                        .filter_map(|l| l.strip_prefix(b"data: "))
                        .collect()
                };
                for payload in payloads {
                    match decode(format, payload)? {
                        Some(true) => tokens += 1,
                        Some(false) => {}
                        None => ended = true,
                    }
                }
            }
            buf.drain(..start);
        }
        if !ended {
            return Err("stream ended before its terminal event".into());
        }
        Ok(tokens)
    }

    async fn chat(&self, format: Format, model: String) -> Result<u64, String> {
        #[derive(Deserialize)]
        struct OpenAiAnswer<'a> {
            #[serde(borrow)]
            choices: Vec<OpenAiMessage<'a>>,
        }
        #[derive(Deserialize)]
        struct OpenAiMessage<'a> {
            #[serde(borrow)]
            message: OllamaMessage<'a>,
        }
        #[derive(Deserialize)]
        struct AnthropicAnswer<'a> {
            #[serde(borrow)]
            content: Vec<AnthropicDelta<'a>>,
        }
        let response = plain::send(plain::request(
            &self.http, &self.base, format, &model, false,
        ))
        .await?;
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        let json = |e: serde_json::Error| e.to_string();
        let len = match format {
            Format::OpenAi => {
                let a: OpenAiAnswer<'_> = serde_json::from_slice(&bytes).map_err(json)?;
                a.choices.first().map_or(0, |c| c.message.content.len())
            }
            Format::Anthropic => {
                let a: AnthropicAnswer<'_> = serde_json::from_slice(&bytes).map_err(json)?;
                a.content
                    .iter()
                    .filter_map(|c| c.text.as_ref())
                    .map(|t| t.len())
                    .sum()
            }
            Format::Ollama => {
                let a: OllamaLine<'_> = serde_json::from_slice(&bytes).map_err(json)?;
                a.message.map_or(0, |m| m.content.len())
            }
        };
        Ok(len as u64)
    }
}

fn main() {
    driver::main::<Hand>();
}
