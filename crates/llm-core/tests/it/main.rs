//! The integration tests of `llm-core`, as one test binary (one link instead of one per file); each
//! module is what was a test file, with the same tests under the same names.

mod provider_object;
