//! The integration tests of `llm-gemini`, as one test binary (one link instead of one per file); each
//! module is what was a test file, with the same tests under the same names.

mod chain;
mod connection_reuse;
mod e2e_katan;
mod http;
mod stream_fixtures;
