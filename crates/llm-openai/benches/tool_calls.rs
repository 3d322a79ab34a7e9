//! Stream decoding with tool calls: llmux's path (llm-http's `Decoding` around `ChunkDecoder`, as the
//! driver runs it) against a hand-written assembler on the same parser (llm-stream's borrowed path, serde
//! into borrowed structs, the arguments appended into one buffer per index, parsed at the end), side by
//! side on the same bytes. The goal: llmux within 1.2x of the hand-written assembler.
//!
//! Both borrow their strings from the payload ([`JsonStr`]: serde copies an `Option<Cow<str>>` field
//! every time, the pitfall the hand-written side would otherwise pay for too).
//!
//! Times are the benchmark thread's CPU time (`support/cpu.rs`).
//!
//! `cargo bench -p llm-openai --bench tool_calls`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};

mod support {
    pub(crate) mod cpu;
}
use cpu_time::ThreadTime;
use llm_core::StreamEvent;
use llm_http::JsonStr;
use llm_openai::{ResponseMeta, sse_decoding};
use llm_stream::{Limits, SseParser};
use serde::Deserialize;
use serde_json::Value;
use support::cpu::CpuTime;

/// Two parallel calls whose arguments (a JSON object of `fields` string fields) arrive a few characters per
/// delta, interleaved, then the finish chunk and `[DONE]`. Each chunk is written as OpenAI writes it: its
/// fields in OpenAI's order (`index` before `delta`; `json!` would sort them), with `created`,
/// `system_fingerprint` and `logprobs`.
fn corpus(fields: usize) -> Vec<u8> {
    let mut args = String::from("{");
    for i in 0..fields {
        if i > 0 {
            args.push(',');
        }
        args.push_str(&format!(
            "\"field_{i}\": \"value number {i} with \\\"quotes\\\" and é\""
        ));
    }
    args.push('}');
    let chunk = |delta: String, finish: &str| {
        format!(
            "data: {{\"id\":\"chatcmpl-b\",\"object\":\"chat.completion.chunk\",\"created\":1733000000,\
             \"model\":\"gpt-4o-2024-08-06\",\"system_fingerprint\":\"fp_7f6be3efb0\",\"choices\":[{{\"index\":0,\
             \"delta\":{delta},\"logprobs\":null,\"finish_reason\":{finish}}}]}}\n\n"
        )
    };
    let call = |index: usize, id: &str, name: &str| {
        format!(
            "{{\"index\":{index},\"id\":\"{id}\",\"type\":\"function\",\"function\":{{\"name\":\"{name}\",\"arguments\":\"\"}}}}"
        )
    };
    let mut out = chunk(
        format!(
            "{{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{},{}],\"refusal\":null}}",
            call(0, "call_0", "first"),
            call(1, "call_1", "second")
        ),
        "null",
    );
    let pieces: Vec<String> = {
        let chars: Vec<char> = args.chars().collect();
        chars.chunks(6).map(|c| c.iter().collect()).collect()
    };
    for piece in &pieces {
        let piece = Value::String(piece.clone());
        for index in 0..2 {
            out.push_str(&chunk(
                format!("{{\"tool_calls\":[{{\"index\":{index},\"function\":{{\"arguments\":{piece}}}}}]}}"),
                "null",
            ));
        }
    }
    out.push_str(&chunk("{}".to_owned(), "\"tool_calls\""));
    out.push_str("data: [DONE]\n\n");
    out.into_bytes()
}

/// The same stream with every object's keys sorted, as a server that writes its JSON with sorted keys
/// sends it (`delta` then before `index`: llmux then reads each delta whole before giving it).
fn sorted_keys(bytes: &[u8]) -> Vec<u8> {
    let text = std::str::from_utf8(bytes).expect("utf-8");
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("data: ").map(str::trim_end) {
            Some(json) if json != "[DONE]" => {
                let value: Value = serde_json::from_str(json).expect("json");
                out.push_str(&format!("data: {value}\n"));
            }
            _ => out.push_str(line),
        }
    }
    out.into_bytes()
}

fn llmux(bytes: &[u8], chunk: usize) -> usize {
    let mut decoding = sse_decoding(ResponseMeta::new("openai", "gpt-4o"), Limits::default());
    let mut calls = 0;
    for piece in bytes.chunks(chunk) {
        decoding.feed(piece);
        while let Some(item) = decoding.next_item() {
            if let Ok(StreamEvent::ToolCall { call, .. }) = item {
                calls += call.arguments.as_object().map_or(0, serde_json::Map::len);
            }
        }
    }
    decoding.end();
    while let Some(item) = decoding.next_item() {
        if let Ok(StreamEvent::ToolCall { call, .. }) = item {
            calls += call.arguments.as_object().map_or(0, serde_json::Map::len);
        }
    }
    calls
}

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    choices: Vec<Choice<'a>>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<JsonStr<'a>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    tool_calls: Option<Vec<Call<'a>>>,
}

#[derive(Deserialize)]
struct Call<'a> {
    index: usize,
    #[serde(borrow, default)]
    function: Option<Function<'a>>,
}

#[derive(Deserialize)]
struct Function<'a> {
    #[serde(borrow, default)]
    arguments: Option<JsonStr<'a>>,
}

/// The hand-written assembler: what a careful engineer writes for this one format.
fn hand(bytes: &[u8], chunk: usize) -> usize {
    let mut parser = SseParser::new();
    let mut buffers: Vec<String> = Vec::new();
    let mut fields = 0;
    let mut finish = |buffers: &mut Vec<String>| {
        for buffer in buffers.drain(..) {
            let value: Value = serde_json::from_str(&buffer).expect("json");
            fields += value.as_object().map_or(0, serde_json::Map::len);
        }
    };
    for piece in bytes.chunks(chunk) {
        let mut events = parser.feed_ref(piece);
        while let Some(event) = events.next_event_ref() {
            let data = event.expect("event").data();
            if data == "[DONE]" {
                continue;
            }
            let parsed: Chunk<'_> = serde_json::from_str(data).expect("chunk");
            for choice in &parsed.choices {
                for call in choice
                    .delta
                    .iter()
                    .flat_map(|d| d.tool_calls.iter().flatten())
                {
                    if buffers.len() <= call.index {
                        buffers.resize(call.index + 1, String::new());
                    }
                    if let Some(args) = call.function.as_ref().and_then(|f| f.arguments.as_deref())
                    {
                        buffers[call.index].push_str(args);
                    }
                }
                if choice.finish_reason.is_some() {
                    finish(&mut buffers);
                }
            }
        }
    }
    fields
}

fn bench(c: &mut Criterion<CpuTime>) {
    let bytes = corpus(40);
    assert_eq!(
        llmux(&bytes, 16 << 10),
        hand(&bytes, 16 << 10),
        "both see the same calls"
    );
    assert_eq!(llmux(&bytes, 16 << 10), 80);
    let mut group = c.benchmark_group("tool_calls");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    for chunk in [256, 16 << 10] {
        group.bench_function(format!("llmux/{chunk}B"), |b| {
            b.iter(|| llmux(black_box(&bytes), chunk));
        });
        group.bench_function(format!("hand/{chunk}B"), |b| {
            b.iter(|| hand(black_box(&bytes), chunk));
        });
    }
    group.finish();
    for chunk in [256, 16 << 10] {
        interleaved(&bytes, chunk, "");
    }
    let sorted = sorted_keys(&bytes);
    assert_eq!(llmux(&sorted, 256), 80);
    assert_eq!(hand(&sorted, 256), 80);
    interleaved(&sorted, 256, ", keys sorted");
}

/// Both sides alternately, round by round, on the same thread: a slow spell of the machine (another
/// tenant, a frequency change) then falls on both alike instead of on whichever criterion ran during it.
/// Prints the median of the rounds' ratios, and each side's median time.
fn interleaved(bytes: &[u8], chunk: usize, what: &str) {
    const ROUNDS: usize = 400;
    let mut ratios = Vec::with_capacity(ROUNDS);
    let (mut ours, mut theirs) = (Vec::with_capacity(ROUNDS), Vec::with_capacity(ROUNDS));
    for _ in 0..ROUNDS {
        let t = ThreadTime::now();
        black_box(llmux(black_box(bytes), chunk));
        let a = t.elapsed();
        let t = ThreadTime::now();
        black_box(hand(black_box(bytes), chunk));
        let b = t.elapsed();
        ratios.push(a.as_secs_f64() / b.as_secs_f64().max(1e-9));
        ours.push(a);
        theirs.push(b);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    ours.sort();
    theirs.sort();
    println!(
        "tool_calls interleaved {chunk}B{what}: llmux {:?}, hand {:?} (medians of {ROUNDS} rounds), ratio {:.2}x",
        ours[ROUNDS / 2],
        theirs[ROUNDS / 2],
        median(&mut ratios)
    );
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(CpuTime::default());
    targets = bench
}
criterion_main!(benches);
