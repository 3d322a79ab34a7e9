//! Whole-client benchmarks for llmux (issue 9): shared parts of the canned-response server and the client
//! processes.
//!
//! - [`wire`]: the scenario a request asks for (encoded in its model name, so every client library can ask
//!   for it without custom headers) and the canned OpenAI, Anthropic and Ollama bodies the server sends.
//! - [`measure`]: CPU time, wall time and memory of the current process, and the open-file limit.
//! - [`driver`]: the scenarios, run the same way for every client through the [`driver::Client`] trait, and
//!   the `key=value` result line `cargo xtask bench` reads.
//!
//! Binaries: `bench-server` (the server), and one client per library compared: `client-llmux`,
//! `client-llmux-unpriced` (the same with prices off),
//! `client-hand` (reqwest + a minimal SSE split + serde), `client-floor` (reqwest counting `data:` lines),
//! `client-async-openai`, `client-genai`.

pub mod driver;
pub mod llmux_client;
pub mod measure;
pub mod plain;
pub mod wire;
