//! Throughput benchmarks (written in the next step).

fn main() {}
