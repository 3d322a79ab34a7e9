//! The integration tests of `llm-ollama`, as one test binary (one link instead of one per file); each
//! module is what was a test file, with the same tests under the same names.

mod client;
mod embed;
mod request;
mod stream_fixtures;
