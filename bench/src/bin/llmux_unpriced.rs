//! `client-llmux-unpriced`: `client-llmux` with prices off, the baseline of what pricing costs.

fn main() {
    llmux_bench::driver::main::<llmux_bench::llmux_client::Llmux<false>>();
}
