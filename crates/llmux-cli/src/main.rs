//! The `llmux` binary: everything lives in the library (`llmux_cli`), so it can be tested.

use std::process::ExitCode;

fn main() -> ExitCode {
    ExitCode::from(llmux_cli::main_with_process())
}
