//! Shared helpers of the llmux reliability suites (the suites themselves are in `tests/`).
//!
//! The raw HTTP/1.1 test server the suites use (a handler writes whatever bytes a test wants: cut
//! connections, stalls, huge lines, invalid UTF-8, and sees when the client closes its socket) is
//! [`llmux_e2e::net::RawServer`], shared with the provider crates' tests.
//!
//! - [`guard`]: runs one request in its own task under a generous limit, so a hang or a panic is counted
//!   instead of stopping the suite, and the outcome table the suites print.
//! - [`wire`]: a client per wire format (OpenAI, Anthropic, Ollama) and [`wire::call`], which sends one
//!   request, whole or streamed, and checks the streaming contract on the way.
#![forbid(unsafe_code)]

pub mod guard;
pub mod wire;
