//! The integration tests of `llm-claude`, as one test binary (one link instead of one per file); each
//! module is what was a test file, with the same tests under the same names.

mod connection_reuse;
mod e2e_katan;
mod http_chat;
mod http_errors;
mod stream_fixtures;
