//! `client-llmux`: llmux's providers and chain, every answer priced (see `llmux_client`).

fn main() {
    llmux_bench::driver::main::<llmux_bench::llmux_client::Llmux<true>>();
}
