//! Embeddings decoding, side by side in one run on one 2,048 × 1,536 answer (OpenAI's largest batch of
//! `text-embedding-3-small` vectors, its numbers printed as OpenAI prints them: the `f32` widened to `f64`,
//! about 21 characters each):
//!
//! - `float/llmux`: [`decode_embeddings`] of the float answer (ordered by index, checked, usage);
//! - `float/serde_json`: the same answer into serde-derived structs, then into `Vec<Vec<f32>>` (what a
//!   hand-written client does); the issue's goal: llmux within 1.2x of it;
//! - `float/bare_array`: `serde_json::from_slice::<Vec<Vec<f32>>>` of the numbers alone (a floor: no
//!   objects, no keys);
//! - `base64/llmux`: [`decode_embeddings`] of the base64 answer; the goal: at least 2x faster than
//!   `float/llmux`.
//!
//! `cargo bench -p llm-openai --bench embeddings`

use std::hint::black_box;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use llm_openai::{ResponseMeta, decode_embeddings};
use serde::Deserialize;

const ROWS: usize = 2048;
const WIDTH: usize = 1536;

/// Deterministic vectors in (-0.1, 0.1), like a normalised 1,536-wide embedding's components.
fn vectors() -> Vec<Vec<f32>> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..ROWS)
        .map(|_| {
            (0..WIDTH)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
                })
                .collect()
        })
        .collect()
}

fn float_answer(vectors: &[Vec<f32>]) -> Vec<u8> {
    let mut out = String::from(r#"{"object":"list","data":["#);
    for (i, v) in vectors.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!(
            r#"{{"object":"embedding","index":{i},"embedding":["#
        ));
        for (j, x) in v.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(&f64::from(*x).to_string());
        }
        out.push_str("]}");
    }
    out.push_str(
        r#"],"model":"text-embedding-3-small","usage":{"prompt_tokens":8192,"total_tokens":8192}}"#,
    );
    out.into_bytes()
}

fn base64_answer(vectors: &[Vec<f32>]) -> Vec<u8> {
    let mut out = String::from(r#"{"object":"list","data":["#);
    for (i, v) in vectors.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
        out.push_str(&format!(
            r#"{{"object":"embedding","index":{i},"embedding":"{}"}}"#,
            STANDARD.encode(bytes)
        ));
    }
    out.push_str(
        r#"],"model":"text-embedding-3-small","usage":{"prompt_tokens":8192,"total_tokens":8192}}"#,
    );
    out.into_bytes()
}

fn bare_array(vectors: &[Vec<f32>]) -> Vec<u8> {
    let rows: Vec<String> = vectors
        .iter()
        .map(|v| {
            let xs: Vec<String> = v.iter().map(|x| f64::from(*x).to_string()).collect();
            format!("[{}]", xs.join(","))
        })
        .collect();
    format!("[{}]", rows.join(",")).into_bytes()
}

/// A hand-written client's decoding: serde-derived structs, then the vectors.
#[derive(Deserialize)]
struct List {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    embedding: Vec<f32>,
}

fn serde_json_decode(body: &[u8]) -> Vec<Vec<f32>> {
    let list: List = serde_json::from_slice(body).expect("list");
    list.data.into_iter().map(|i| i.embedding).collect()
}

fn llmux(body: &[u8]) -> Vec<Vec<f32>> {
    let meta = ResponseMeta::new("openai", "text-embedding-3-small");
    decode_embeddings(body, &meta, ROWS)
        .expect("embeddings")
        .vectors
}

fn bench(c: &mut Criterion) {
    let vectors = vectors();
    let float = float_answer(&vectors);
    let base64 = base64_answer(&vectors);
    let bare = bare_array(&vectors);
    assert_eq!(llmux(&float), vectors, "floats round-trip through f64 text");
    assert_eq!(llmux(&base64), vectors);
    assert_eq!(serde_json_decode(&float), vectors);
    let bare_decoded: Vec<Vec<f32>> = serde_json::from_slice(&bare).expect("bare");
    assert_eq!(bare_decoded, vectors);
    eprintln!(
        "float answer {:.1} MiB, base64 answer {:.1} MiB, bare array {:.1} MiB",
        float.len() as f64 / f64::from(1 << 20),
        base64.len() as f64 / f64::from(1 << 20),
        bare.len() as f64 / f64::from(1 << 20),
    );

    let mut group = c.benchmark_group("embeddings_2048x1536");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(8));
    group.throughput(Throughput::Elements((ROWS * WIDTH) as u64));
    group.bench_function("float/llmux", |b| b.iter(|| llmux(black_box(&float))));
    group.bench_function("float/serde_json", |b| {
        b.iter(|| serde_json_decode(black_box(&float)));
    });
    group.bench_function("float/bare_array", |b| {
        b.iter(|| serde_json::from_slice::<Vec<Vec<f32>>>(black_box(&bare)).expect("bare"));
    });
    group.bench_function("base64/llmux", |b| b.iter(|| llmux(black_box(&base64))));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
