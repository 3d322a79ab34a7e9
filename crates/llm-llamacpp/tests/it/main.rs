//! The integration tests of `llm-llamacpp`, as one test binary (one link instead of one per file); each
//! module is what was a test file, with the same tests under the same names.

mod client;
mod e2e_embed;
mod e2e_managed;
mod e2e_server;
mod e2e_tools;
mod native_fixtures;
