//! `client-floor`: the floor — reqwest reading the body and counting `data:` lines (NDJSON: lines) with
//! memchr, decoding nothing. Its `chat` is a bare reqwest POST that reads the body without decoding it.

use futures_util::StreamExt;
use llmux_bench::driver::{self, Client};
use llmux_bench::plain;
use llmux_bench::wire::{Format, Spec};

struct Floor {
    base: String,
    http: reqwest::Client,
}

/// Counts lines that start with `data:` (or, for NDJSON, all lines), across chunk boundaries.
#[derive(Default)]
struct LineCounter {
    at_line_start: bool,
    prefix: Vec<u8>,
    lines: u64,
}

impl LineCounter {
    fn feed(&mut self, mut chunk: &[u8]) {
        loop {
            if self.at_line_start {
                let want = 5 - self.prefix.len();
                let take = chunk.len().min(want);
                let head = &chunk[..take];
                match memchr::memchr(b'\n', head) {
                    Some(nl) => {
                        self.prefix.clear();
                        chunk = &chunk[nl + 1..];
                        continue;
                    }
                    None => {
                        self.prefix.extend_from_slice(head);
                        chunk = &chunk[take..];
                        if self.prefix.len() < 5 {
                            return;
                        }
                        if self.prefix == b"data:" {
                            self.lines += 1;
                        }
                        self.prefix.clear();
                        self.at_line_start = false;
                    }
                }
            }
            match memchr::memchr(b'\n', chunk) {
                Some(nl) => {
                    chunk = &chunk[nl + 1..];
                    self.at_line_start = true;
                }
                None => return,
            }
        }
    }
}

impl Client for Floor {
    fn new(base: &str) -> Result<Self, String> {
        Ok(Floor {
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
        let mut counter = LineCounter {
            at_line_start: true,
            ..LineCounter::default()
        };
        let mut newlines = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| e.to_string())?;
            if format == Format::Ollama {
                newlines += memchr::memchr_iter(b'\n', &chunk).count() as u64;
            } else {
                counter.feed(&chunk);
            }
        }
        // The floor does not decode, so it reports what the server was asked for once it saw enough lines.
        let expected = Spec::from_model(&model).map_or(0, |s| u64::from(s.tokens));
        let (lines, overhead) = match format {
            Format::OpenAi => (counter.lines, 4),
            Format::Anthropic => (counter.lines, 6),
            Format::Ollama => (newlines, 1),
        };
        if lines != expected + overhead {
            return Err(format!(
                "saw {lines} lines, expected {}",
                expected + overhead
            ));
        }
        Ok(expected)
    }

    async fn chat(&self, format: Format, model: String) -> Result<u64, String> {
        let response = plain::send(plain::request(
            &self.http, &self.base, format, &model, false,
        ))
        .await?;
        let bytes = response.bytes().await.map_err(|e| e.to_string())?;
        std::hint::black_box(&bytes);
        // Nothing is decoded: report the text length the server was asked for.
        Ok(Spec::from_model(&model).map_or(0, |s| u64::from(s.tokens * s.token_bytes)))
    }
}

fn main() {
    driver::main::<Floor>();
}
