//! The gateway's integration tests: one binary, a module per subject.

mod hardening;
