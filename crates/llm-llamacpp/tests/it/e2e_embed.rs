//! End-to-end: embeddings from the real `llama-server` with SmolLM2-135M-Instruct, started with
//! `--embeddings --pooling mean` (managed, and by the test harness): vectors of the model's width, the same
//! text twice the same vector, different texts different vectors, batch order kept when a call is split,
//! and the base64 encoding decoding to the float encoding's values. The server runs one slot: with two, this
//! build pools texts in its second slot into vectors that are not theirs (see `ManagedConfig::embeddings`).

use std::time::Duration;

use llm_core::{EmbedRequest, Embedder, ErrorKind};
use llm_llamacpp::{LlamaCpp, LlamaCppConfig, ManagedConfig, ManagedServer, Pooling};
use llm_openai::{EmbedEncoding, OpenAi, OpenAiConfig};
use llmux_e2e::LlamaServer;

/// SmolLM2-135M's hidden width.
const WIDTH: usize = 576;

const TEXTS: [&str; 5] = [
    "The cat sat on the mat.",
    "Quantum chromodynamics describes the strong interaction.",
    "The cat sat on the mat.",
    "Bonjour tout le monde",
    "1, 2, 3, 4, 5",
];

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn managed(batch: usize) -> ManagedConfig {
    ManagedConfig::new(LlamaServer::binary_path(), LlamaServer::model_path())
        .ctx_size(1024)
        .embeddings(Pooling::Mean)
        .client(LlamaCppConfig::default().embed_batch(batch))
        .ready_timeout(Duration::from_secs(60))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_managed_server_with_embeddings_on_gives_the_models_vectors_in_order() {
    let server = ManagedServer::start(managed(2)).await.unwrap();
    let request = EmbedRequest::new("smollm2", TEXTS);
    // Five inputs in batches of two: three requests, joined in input order.
    let split = server.embed(&request).await.unwrap();
    assert_eq!(split.vectors.len(), TEXTS.len());
    for v in &split.vectors {
        assert_eq!(v.len(), WIDTH);
        assert!(v.iter().all(|x| x.is_finite()));
        assert!(v.iter().any(|x| *x != 0.0));
    }
    let (cat, physics, cat_again) = (&split.vectors[0], &split.vectors[1], &split.vectors[2]);
    assert!(
        max_diff(cat, cat_again) < 1e-4,
        "the same text twice gives the same vector (max difference {})",
        max_diff(cat, cat_again)
    );
    assert!(
        cosine(cat, physics) < 0.999,
        "different texts give different vectors (cosine {})",
        cosine(cat, physics)
    );
    // Each text alone gives the vector the split call put at its index.
    for (i, text) in TEXTS.iter().enumerate() {
        let alone = server
            .embed(&EmbedRequest::new("smollm2", [*text]))
            .await
            .unwrap();
        assert!(
            max_diff(&alone.vectors[0], &split.vectors[i]) < 1e-4,
            "input {i} kept its place"
        );
    }
    let usage = split.usage.expect("llama-server reports prompt tokens");
    assert!(usage.input_tokens.unwrap_or(0) > 0, "{usage:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_the_server_cannot_take_are_refused_before_sending() {
    let server = ManagedServer::start(managed(64)).await.unwrap();
    let err = server
        .embed(&EmbedRequest::new("smollm2", ["a"]).dimensions(64))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.violations()[0].param, "dimensions");
    assert_eq!(err.provider(), Some("llamacpp"));
    let err = server
        .embed(&EmbedRequest::new("smollm2", ["a", ""]))
        .await
        .unwrap_err();
    assert_eq!(err.violations()[0].param, "inputs[1]");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_base64_encoding_decodes_to_the_float_encodings_values() {
    let server = LlamaServer::builder()
        // One slot: see `ManagedConfig::embeddings` for what a second slot does to vectors.
        .args(["--embeddings", "--pooling", "mean", "-np", "1"])
        .start();
    let client = LlamaCpp::new(LlamaCppConfig::default().base_url(server.base_url())).unwrap();
    let request = EmbedRequest::new("smollm2", TEXTS[..2].iter().copied());
    let float = client.embed(&request).await.unwrap();
    let base64 = OpenAi::new(
        OpenAiConfig::compatible("llamacpp", format!("{}/v1", server.base_url()))
            .embed_encoding(EmbedEncoding::Base64),
    )
    .unwrap()
    .embed(&request)
    .await
    .unwrap();
    assert_eq!(base64.vectors.len(), 2);
    for (f, b) in float.vectors.iter().zip(&base64.vectors) {
        assert_eq!(b.len(), WIDTH);
        assert!(
            max_diff(f, b) < 1e-4,
            "{}\n{}",
            max_diff(f, b),
            server.log_tail(20)
        );
    }
}
