//! The integration tests of `llm-chain`, as one test binary (one link instead of one per file); each
//! module is what was a test file, with the same tests under the same names.

mod breaker;
mod budgets;
mod cost;
mod e2e_peers;
mod e2e_structured;
mod embeddings;
mod fallback;
mod fleet_poison;
mod not_ready;
mod observability;
mod props;
mod retry;
mod streaming;
mod support;
