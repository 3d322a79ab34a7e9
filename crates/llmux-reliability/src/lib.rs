//! Shared helpers of the llmux reliability suites (the suites themselves are in `tests/`).
//!
//! - [`server`]: a raw HTTP/1.1 test server on 127.0.0.1 whose handler writes whatever bytes a test wants
//!   (cut connections, stalls, huge lines, invalid UTF-8), and sees when the client closes its socket.
//! - [`guard`]: runs one request in its own task under a generous limit, so a hang or a panic is counted
//!   instead of stopping the suite, and the outcome table the suites print.
//! - [`wire`]: a client per wire format (OpenAI, Anthropic, Ollama) and [`wire::call`], which sends one
//!   request, whole or streamed, and checks the streaming contract on the way.
#![forbid(unsafe_code)]

pub mod guard;
pub mod server;
pub mod wire;
