//! The integration tests of `llm-stream`, as one test binary (one link instead of one per file); each
//! module is what was a test file, with the same tests under the same names.

mod adapter;
mod borrowed;
mod chunking;
mod common;
mod hostile;
mod ndjson_rules;
mod snapshots;
mod sse_rules;
