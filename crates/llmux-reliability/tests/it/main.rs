//! The integration tests of `llmux-reliability`, as one test binary (one link instead of one per file); each
//! module is what was a test file, with the same tests under the same names.

mod big_requests;
mod cancellation;
mod fault_matrix;
mod fleet;
mod hostile;
mod load;
