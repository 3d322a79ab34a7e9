//! The integration tests of `tests`, as one test binary (one link instead of one per file); each
//! module is what was a test file, with the same tests under the same names.

mod katan;
mod llama_server;
