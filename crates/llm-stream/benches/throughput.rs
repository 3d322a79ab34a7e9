//! Throughput of the parsers against a floor and against other SSE crates, on the same bytes.
//!
//! `cargo bench -p llm-stream` uses generated corpora of `LLM_STREAM_BENCH_MIB` MiB (default 64);
//! `LLM_STREAM_BENCH_QUICK=1` uses 1 MiB corpora and short measurements. The 1-byte chunking runs
//! on the first 1 MiB of a corpus only (64 KiB in quick mode): it measures per-call overhead, and
//! the slower crates would take minutes on the whole corpus.
//!
//! Variants, all counting events and data bytes (and, with `+decode`, decoding each payload's delta
//! text and finish reason with serde):
//! - `floor`: an allocation-free memchr line machine (LF, CR, CRLF split across chunks, BOM);
//! - `framing`: [`SseParser::feed_ref`] / [`NdjsonParser::feed_ref`], the borrowed path (with
//!   `+decode`, serde reads the already-validated `&str`);
//! - `framing-owned`: [`SseParser::feed`] / [`NdjsonParser::feed`], owned events;
//! - `eventsource` / `sse-stream`: the two crates, driven as streams of `Bytes`.
//!
//! Memory: before timing a group, each variant without decoding runs once under a counting
//! allocator (off while timing) and its peak heap growth is written, with the corpus's longest
//! event and the chunk size, to `<target>/criterion/llm-stream-memory.json`
//! (`cargo xtask stream-table` prints it).

use std::borrow::Cow;
use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::executor::block_on;
use futures::stream::{self, StreamExt};
use llm_stream::{NdjsonParser, SseParser};
use serde::Deserialize;

#[path = "../tests/it/common/counting.rs"]
mod counting;

#[global_allocator]
static ALLOCATOR: counting::Counting = counting::Counting;

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

fn quick() -> bool {
    std::env::var_os("LLM_STREAM_BENCH_QUICK").is_some_and(|v| v != "0")
}

fn corpus_bytes() -> usize {
    if quick() {
        return MIB;
    }
    std::env::var("LLM_STREAM_BENCH_MIB")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(64)
        * MIB
}

// ---------------------------------------------------------------------------------------------
// Corpora

/// A generated stream: its bytes and where each event ends (for the one-chunk-per-event cut).
struct Corpus {
    name: &'static str,
    bytes: Bytes,
    event_ends: Vec<usize>,
    decode: fn(&[u8]) -> usize,
    decode_str: fn(&str) -> usize,
    ndjson: bool,
}

/// A corpus's payload decoder, over raw bytes (for the floor) and over checked text.
type Decoders = (fn(&[u8]) -> usize, fn(&str) -> usize);

/// A cheap deterministic word generator, so deltas differ in length and content.
fn word(i: usize) -> &'static str {
    const WORDS: [&str; 8] = [
        "the",
        " quick",
        " brown",
        " fox é",
        " jumps",
        " over\\n",
        " a",
        " lazy dog.",
    ];
    WORDS[i.wrapping_mul(2_654_435_761) % WORDS.len()]
}

fn build(
    name: &'static str,
    target: usize,
    ndjson: bool,
    (decode, decode_str): Decoders,
    event: impl Fn(usize) -> String,
    last: &str,
) -> Corpus {
    let mut bytes = Vec::with_capacity(target + 4 * KIB);
    let mut event_ends = Vec::new();
    let mut i = 0;
    while bytes.len() < target {
        bytes.extend_from_slice(event(i).as_bytes());
        event_ends.push(bytes.len());
        i += 1;
    }
    bytes.extend_from_slice(last.as_bytes());
    event_ends.push(bytes.len());
    Corpus {
        name,
        bytes: Bytes::from(bytes),
        event_ends,
        decode,
        decode_str,
        ndjson,
    }
}

fn openai_event(i: usize, eol: &str) -> String {
    format!(
        "data: {{\"id\":\"chatcmpl-AbC123\",\"object\":\"chat.completion.chunk\",\"created\":1730000000,\"model\":\"gpt-4o-mini\",\"system_fingerprint\":\"fp_0ba0d124f1\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{}\"}},\"logprobs\":null,\"finish_reason\":null}}],\"usage\":null}}{eol}{eol}",
        word(i)
    )
}

fn corpora(target: usize) -> Vec<Corpus> {
    let openai_last = |eol: &str| {
        format!(
            "data: {{\"choices\":[{{\"index\":0,\"delta\":{{}},\"finish_reason\":\"stop\"}}]}}{eol}{eol}data: [DONE]{eol}{eol}"
        )
    };
    vec![
        build(
            "openai_lf",
            target,
            false,
            (decode_openai, decode_openai_str),
            |i| openai_event(i, "\n"),
            &openai_last("\n"),
        ),
        build(
            "openai_crlf",
            target,
            false,
            (decode_openai, decode_openai_str),
            |i| openai_event(i, "\r\n"),
            &openai_last("\r\n"),
        ),
        build(
            "anthropic",
            target,
            false,
            (decode_anthropic, decode_anthropic_str),
            |i| {
                if i % 50 == 49 {
                    return "event: ping\ndata: {\"type\": \"ping\"}\n\n".to_owned();
                }
                format!(
                    "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{}\"}}}}\n\n",
                    word(i)
                )
            },
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\",\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        ),
        build(
            "ollama_ndjson",
            target,
            true,
            (decode_ollama, decode_ollama_str),
            |i| {
                format!(
                    "{{\"model\":\"llama3.2\",\"created_at\":\"2025-01-01T00:00:00.{i:06}Z\",\"message\":{{\"role\":\"assistant\",\"content\":\"{}\"}},\"done\":false}}\n",
                    word(i)
                )
            },
            "{\"model\":\"llama3.2\",\"created_at\":\"2025-01-01T00:00:01Z\",\"message\":{\"role\":\"assistant\",\"content\":\"\"},\"done\":true,\"done_reason\":\"stop\",\"eval_count\":2}\n",
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// The same typed decoding for every parser: delta text and finish reason.

#[derive(Deserialize)]
struct OpenAiChunk<'a> {
    #[serde(borrow)]
    choices: Vec<OpenAiChoice<'a>>,
}

#[derive(Deserialize)]
struct OpenAiChoice<'a> {
    #[serde(borrow)]
    delta: OpenAiDelta<'a>,
    finish_reason: Option<&'a str>,
}

#[derive(Deserialize)]
struct OpenAiDelta<'a> {
    #[serde(borrow)]
    content: Option<Cow<'a, str>>,
}

fn decode_openai(data: &[u8]) -> usize {
    if data == b"[DONE]" {
        return 0;
    }
    openai_sum(serde_json::from_slice(data).expect("corpus is valid"))
}

fn decode_openai_str(data: &str) -> usize {
    if data == "[DONE]" {
        return 0;
    }
    openai_sum(serde_json::from_str(data).expect("corpus is valid"))
}

fn openai_sum(chunk: OpenAiChunk<'_>) -> usize {
    chunk
        .choices
        .iter()
        .map(|c| {
            c.delta.content.as_ref().map_or(0, |t| t.len()) + c.finish_reason.map_or(0, str::len)
        })
        .sum()
}

#[derive(Deserialize)]
struct AnthropicEvent<'a> {
    #[serde(borrow)]
    delta: Option<AnthropicDelta<'a>>,
}

#[derive(Deserialize)]
struct AnthropicDelta<'a> {
    #[serde(borrow)]
    text: Option<Cow<'a, str>>,
    stop_reason: Option<&'a str>,
}

fn decode_anthropic(data: &[u8]) -> usize {
    anthropic_sum(serde_json::from_slice(data).expect("corpus is valid"))
}

fn decode_anthropic_str(data: &str) -> usize {
    anthropic_sum(serde_json::from_str(data).expect("corpus is valid"))
}

fn anthropic_sum(event: AnthropicEvent<'_>) -> usize {
    event.delta.map_or(0, |d| {
        d.text.map_or(0, |t| t.len()) + d.stop_reason.map_or(0, str::len)
    })
}

#[derive(Deserialize)]
struct OllamaLine<'a> {
    #[serde(borrow)]
    message: OllamaMessage<'a>,
    done_reason: Option<&'a str>,
}

#[derive(Deserialize)]
struct OllamaMessage<'a> {
    #[serde(borrow)]
    content: Cow<'a, str>,
}

fn decode_ollama(line: &[u8]) -> usize {
    ollama_sum(serde_json::from_slice(line).expect("corpus is valid"))
}

fn decode_ollama_str(line: &str) -> usize {
    ollama_sum(serde_json::from_str(line).expect("corpus is valid"))
}

fn ollama_sum(line: OllamaLine<'_>) -> usize {
    line.message.content.len() + line.done_reason.map_or(0, str::len)
}

// ---------------------------------------------------------------------------------------------
// The floor: the least work any correct framing must do.

/// An allocation-free (when not decoding) line machine: finds line ends with memchr, handles
/// LF, CR and CRLF split across chunks and a leading BOM, and counts events and data bytes. With
/// a decoder it also assembles data into one reused buffer and decodes it at each blank line.
struct Floor {
    lf_only: bool,
    decode: Option<fn(&[u8]) -> usize>,
    bom_seen: u8,
    pending_cr: bool,
    /// First bytes of a line cut by a chunk end (enough to recognise `data: `), or the whole line
    /// when decoding.
    prefix: [u8; 6],
    prefix_len: usize,
    line_len: usize,
    carry: Vec<u8>,
    data: Vec<u8>,
    has_data: bool,
    events: usize,
    data_bytes: usize,
    decoded: usize,
}

impl Floor {
    fn new(lf_only: bool, decode: Option<fn(&[u8]) -> usize>) -> Self {
        Self {
            lf_only,
            decode,
            bom_seen: 0,
            pending_cr: false,
            prefix: [0; 6],
            prefix_len: 0,
            line_len: 0,
            carry: Vec::new(),
            data: Vec::new(),
            has_data: false,
            events: 0,
            data_bytes: 0,
            decoded: 0,
        }
    }

    fn feed(&mut self, mut input: &[u8]) {
        while self.bom_seen < 3 && !input.is_empty() {
            if input[0] == b"\xEF\xBB\xBF"[usize::from(self.bom_seen)] {
                self.bom_seen += 1;
                input = &input[1..];
            } else {
                self.bom_seen = 3; // (a real parser would replay the partial BOM; corpora have none)
            }
        }
        if self.pending_cr && !input.is_empty() {
            self.pending_cr = false;
            if input[0] == b'\n' {
                input = &input[1..];
            }
        }
        loop {
            let found = if self.lf_only {
                memchr::memchr(b'\n', input)
            } else {
                memchr::memchr2(b'\r', b'\n', input)
            };
            let Some(pos) = found else { break };
            let mut next = pos + 1;
            let mut end = pos;
            if input[pos] == b'\r' {
                match input.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
            } else if self.lf_only && pos > 0 && input[pos - 1] == b'\r' {
                end -= 1;
            }
            self.complete(&input[..end]);
            input = &input[next..];
        }
        if !input.is_empty() {
            if self.decode.is_some() {
                self.carry.extend_from_slice(input);
            } else {
                let take = input.len().min(6 - self.prefix_len);
                self.prefix[self.prefix_len..self.prefix_len + take]
                    .copy_from_slice(&input[..take]);
                self.prefix_len += take;
            }
            self.line_len += input.len();
        }
    }

    fn complete(&mut self, tail: &[u8]) {
        if self.line_len == 0 {
            self.line(tail, tail.len());
        } else if self.decode.is_some() {
            let mut carry = std::mem::take(&mut self.carry);
            carry.extend_from_slice(tail);
            let len = carry.len();
            self.line(&carry, len);
            carry.clear();
            self.carry = carry;
        } else {
            let take = tail.len().min(6 - self.prefix_len);
            self.prefix[self.prefix_len..self.prefix_len + take].copy_from_slice(&tail[..take]);
            let prefix = self.prefix;
            self.line(
                &prefix[..self.prefix_len + take],
                self.line_len + tail.len(),
            );
        }
        self.line_len = 0;
        self.prefix_len = 0;
    }

    /// `line` holds the whole line when decoding, else at least its first six bytes.
    fn line(&mut self, line: &[u8], len: usize) {
        if self.lf_only {
            if len > 0 {
                self.events += 1;
                self.data_bytes += len;
                if let Some(decode) = self.decode {
                    self.decoded += decode(line);
                }
            }
            return;
        }
        if len == 0 {
            if self.has_data {
                self.events += 1;
                self.has_data = false;
                if let Some(decode) = self.decode {
                    self.data.pop();
                    self.decoded += decode(&self.data);
                    self.data.clear();
                }
            }
        } else if line.starts_with(b"data:") {
            let skip = if line.get(5) == Some(&b' ') || (line.len() == 5 && len > 5) {
                6
            } else {
                5
            };
            self.data_bytes += len - skip;
            self.has_data = true;
            if self.decode.is_some() {
                self.data.extend_from_slice(&line[skip..]);
                self.data.push(b'\n');
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The runners: each returns a checksum (events + decoded bytes) so nothing is optimised away.

fn run_floor(chunks: &[Bytes], lf_only: bool, decode: Option<fn(&[u8]) -> usize>) -> usize {
    let mut floor = Floor::new(lf_only, decode);
    for chunk in chunks {
        floor.feed(chunk);
    }
    black_box(floor.data_bytes);
    floor.events + floor.decoded
}

/// The borrowed path: events lent by the `feed_ref` cursor, decoded from the `&str`.
fn run_sse(chunks: &[Bytes], decode: Option<fn(&str) -> usize>) -> usize {
    let mut parser = SseParser::new();
    let mut sum = 0;
    for chunk in chunks {
        let mut feed = parser.feed_ref(chunk);
        while let Some(event) = feed.next_event_ref() {
            let event = event.expect("corpus is valid");
            sum += 1;
            if let Some(decode) = decode {
                sum += decode(event.data());
            }
        }
    }
    sum
}

/// The owned path: `feed` and `events()`.
fn run_sse_owned(chunks: &[Bytes]) -> usize {
    let mut parser = SseParser::new();
    let mut sum = 0;
    for chunk in chunks {
        parser.feed(chunk);
        for event in parser.events() {
            black_box(event.expect("corpus is valid").data().len());
            sum += 1;
        }
    }
    sum
}

/// The borrowed path: lines lent by the `feed_ref` cursor, decoded from the `&str`.
fn run_ndjson(chunks: &[Bytes], decode: Option<fn(&str) -> usize>) -> usize {
    let mut parser = NdjsonParser::new();
    let mut sum = 0;
    for chunk in chunks {
        let mut feed = parser.feed_ref(chunk);
        while let Some(line) = feed.next_line_ref() {
            let line = line.expect("corpus is valid");
            sum += 1;
            if let Some(decode) = decode {
                sum += decode(line.as_str());
            }
        }
    }
    parser.finish();
    while let Some(line) = parser.next_line_ref() {
        let line = line.expect("corpus is valid");
        sum += 1;
        if let Some(decode) = decode {
            sum += decode(line.as_str());
        }
    }
    sum
}

/// The owned path: `feed` and `events()`.
fn run_ndjson_owned(chunks: &[Bytes]) -> usize {
    let mut parser = NdjsonParser::new();
    let mut sum = 0;
    for chunk in chunks {
        parser.feed(chunk);
        for line in parser.events() {
            black_box(line.expect("corpus is valid").as_str().len());
            sum += 1;
        }
    }
    parser.finish();
    sum + parser.events().count()
}

fn byte_stream(chunks: &[Bytes]) -> impl futures::Stream<Item = Result<Bytes, Infallible>> + '_ {
    stream::iter(chunks.iter().cloned().map(Ok))
}

fn io_byte_stream(
    chunks: &[Bytes],
) -> impl futures::Stream<Item = Result<Bytes, std::io::Error>> + '_ {
    stream::iter(chunks.iter().cloned().map(Ok))
}

fn run_eventsource(chunks: &[Bytes], decode: Option<fn(&str) -> usize>) -> usize {
    block_on(async {
        let mut events = eventsource_stream::EventStream::new(byte_stream(chunks));
        let mut sum = 0;
        while let Some(event) = events.next().await {
            let event = event.expect("corpus is valid");
            sum += 1;
            if let Some(decode) = decode {
                sum += decode(&event.data);
            }
        }
        sum
    })
}

fn run_sse_stream(chunks: &[Bytes], decode: Option<fn(&str) -> usize>) -> usize {
    block_on(async {
        let mut events = sse_stream::SseByteStream::new(io_byte_stream(chunks));
        let mut sum = 0;
        while let Some(event) = events.next().await {
            let event = event.expect("corpus is valid");
            if let Some(data) = event.data {
                sum += 1;
                if let Some(decode) = decode {
                    sum += decode(&data);
                }
            }
        }
        sum
    })
}

// ---------------------------------------------------------------------------------------------

/// Cuts the corpus into chunks; `None` means one chunk per event.
fn chunked(corpus: &Corpus, size: Option<usize>) -> Vec<Bytes> {
    let bytes = &corpus.bytes;
    match size {
        Some(1) => {
            // Cut at an event end so every parser sees whole events.
            let cap = if quick() { 64 * KIB } else { MIB };
            let cap = corpus
                .event_ends
                .iter()
                .copied()
                .take_while(|&end| end <= cap)
                .last()
                .unwrap_or(bytes.len());
            (0..cap).map(|i| bytes.slice(i..i + 1)).collect()
        }
        Some(size) => (0..bytes.len())
            .step_by(size)
            .map(|i| bytes.slice(i..(i + size).min(bytes.len())))
            .collect(),
        None => {
            let mut start = 0;
            corpus
                .event_ends
                .iter()
                .map(|&end| {
                    let chunk = bytes.slice(start..end);
                    start = end;
                    chunk
                })
                .collect()
        }
    }
}

fn chunk_label(size: Option<usize>) -> String {
    match size {
        None => "per_event".to_owned(),
        Some(s) if s >= KIB => format!("{}KiB", s / KIB),
        Some(s) => format!("{s}B"),
    }
}

fn throughput(c: &mut Criterion) {
    let target = corpus_bytes();
    let mut memory = Vec::new();
    for corpus in corpora(target) {
        for size in [
            Some(1),
            Some(256),
            Some(KIB),
            Some(16 * KIB),
            Some(256 * KIB),
            None,
        ] {
            let chunks = chunked(&corpus, size);
            let total: usize = chunks.iter().map(Bytes::len).sum();
            let mut group = c.benchmark_group(format!("{}/{}", corpus.name, chunk_label(size)));
            group.throughput(Throughput::Bytes(total as u64));
            let decode = Some(corpus.decode);
            let decode_str = Some(corpus.decode_str);
            let peaks = check_agreement(&corpus, &chunks);
            let longest_event = corpus
                .event_ends
                .iter()
                .scan(0, |start, &end| Some(end - std::mem::replace(start, end)))
                .max()
                .unwrap_or(0);
            memory.push(serde_json::json!({
                "group": format!("{}/{}", corpus.name, chunk_label(size)),
                "longest_event": longest_event,
                "chunk": size.unwrap_or(longest_event),
                "peak_heap_growth": peaks,
            }));
            if corpus.ndjson {
                group.bench_function("floor", |b| b.iter(|| run_floor(&chunks, true, None)));
                group.bench_function("framing", |b| b.iter(|| run_ndjson(&chunks, None)));
                group.bench_function("framing-owned", |b| b.iter(|| run_ndjson_owned(&chunks)));
                group.bench_function("floor+decode", |b| {
                    b.iter(|| run_floor(&chunks, true, decode))
                });
                group.bench_function("framing+decode", |b| {
                    b.iter(|| run_ndjson(&chunks, decode_str))
                });
            } else {
                group.bench_function("floor", |b| b.iter(|| run_floor(&chunks, false, None)));
                group.bench_function("framing", |b| b.iter(|| run_sse(&chunks, None)));
                group.bench_function("framing-owned", |b| b.iter(|| run_sse_owned(&chunks)));
                group.bench_function("floor+decode", |b| {
                    b.iter(|| run_floor(&chunks, false, decode))
                });
                group.bench_function("framing+decode", |b| {
                    b.iter(|| run_sse(&chunks, decode_str))
                });
                group.bench_function("eventsource", |b| b.iter(|| run_eventsource(&chunks, None)));
                group.bench_function("eventsource+decode", |b| {
                    b.iter(|| run_eventsource(&chunks, decode_str))
                });
                group.bench_function("sse-stream", |b| b.iter(|| run_sse_stream(&chunks, None)));
                group.bench_function("sse-stream+decode", |b| {
                    b.iter(|| run_sse_stream(&chunks, decode_str))
                });
            }
            group.finish();
        }
    }
    write_memory(&memory);
}

/// Writes the peak heap growth of every variant beside criterion's records.
fn write_memory(rows: &[serde_json::Value]) {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            // <target>/release/deps/throughput-<hash>
            let exe = std::env::current_exe().ok()?;
            Some(exe.parent()?.parent()?.parent()?.to_path_buf())
        });
    let Some(target) = target else {
        eprintln!("memory: no target directory found; not written");
        return;
    };
    let dir = target.join("criterion");
    let path = dir.join("llm-stream-memory.json");
    let text = serde_json::to_string_pretty(rows).expect("plain JSON values");
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&path, text)) {
        Ok(()) => eprintln!(
            "memory: peak heap growth per variant written to {}",
            path.display()
        ),
        Err(e) => eprintln!("memory: cannot write {}: {e}", path.display()),
    }
}

/// Every variant must see the same events and decode the same payloads, or the numbers mean
/// nothing. Returns each variant's peak heap growth (without decoding) while it ran.
fn check_agreement(corpus: &Corpus, chunks: &[Bytes]) -> serde_json::Value {
    let decode = Some(corpus.decode);
    let decode_str = Some(corpus.decode_str);
    let mut peaks = serde_json::Map::new();
    let mut measured = |name: &str, run: &dyn Fn() -> usize| {
        let (sum, peak) = counting::peak_growth(run);
        peaks.insert(name.to_owned(), peak.into());
        sum
    };
    let (plain, decoded) = if corpus.ndjson {
        (
            vec![
                measured("floor", &|| run_floor(chunks, true, None)),
                measured("framing", &|| run_ndjson(chunks, None)),
                measured("framing-owned", &|| run_ndjson_owned(chunks)),
            ],
            vec![
                run_floor(chunks, true, decode),
                run_ndjson(chunks, decode_str),
            ],
        )
    } else {
        (
            vec![
                measured("floor", &|| run_floor(chunks, false, None)),
                measured("framing", &|| run_sse(chunks, None)),
                measured("framing-owned", &|| run_sse_owned(chunks)),
                measured("eventsource", &|| run_eventsource(chunks, None)),
                measured("sse-stream", &|| run_sse_stream(chunks, None)),
            ],
            vec![
                run_floor(chunks, false, decode),
                run_sse(chunks, decode_str),
                run_eventsource(chunks, decode_str),
                run_sse_stream(chunks, decode_str),
            ],
        )
    };
    assert!(
        plain.windows(2).all(|w| w[0] == w[1]),
        "{}: event counts differ: {plain:?}",
        corpus.name
    );
    assert!(
        decoded.windows(2).all(|w| w[0] == w[1]),
        "{}: decoded sums differ: {decoded:?}",
        corpus.name
    );
    serde_json::Value::Object(peaks)
}

/// One 2 MiB `data:` line fed in 1 KiB chunks, against the same number of bytes as short lines.
fn long_line(c: &mut Criterion) {
    let payload = "x".repeat(2 * MIB);
    let long = Bytes::from(format!("data: {payload}\n\n"));
    let mut short = String::with_capacity(long.len() + 128);
    while short.len() < long.len() {
        short.push_str("data: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n\n");
    }
    let short = Bytes::from(short);
    let mut group = c.benchmark_group("long_line_2MiB/1KiB");
    for (name, bytes) in [("one_line", &long), ("short_lines", &short)] {
        let chunks: Vec<Bytes> = (0..bytes.len())
            .step_by(KIB)
            .map(|i| bytes.slice(i..(i + KIB).min(bytes.len())))
            .collect();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(BenchmarkId::new("framing", name), &chunks, |b, chunks| {
            b.iter(|| run_sse(chunks, None))
        });
        group.bench_with_input(BenchmarkId::new("floor", name), &chunks, |b, chunks| {
            b.iter(|| run_floor(chunks, false, None))
        });
    }
    group.finish();
}

fn config() -> Criterion {
    let c = Criterion::default().sample_size(10);
    if quick() {
        c.warm_up_time(Duration::from_millis(300))
            .measurement_time(Duration::from_secs(1))
    } else {
        c
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = throughput, long_line
}
criterion_main!(benches);
