//! The `llmux` command line, as a library so its parts can be tested without a process: argument parsing
//! ([`args`]), configuration and chain files ([`spec`]), building the chain ([`build`]), the output formats
//! ([`output`]) and the commands ([`chat`], [`embed`], [`inspect`], [`serve`]). `src/main.rs` only wires them
//! to the real stdin, stdout, stderr and environment.
//!
//! See the crate README for the command reference, the chain file format and the exit codes.
#![forbid(unsafe_code)]

use std::io::{IsTerminal, Read, Write};

pub mod args;
pub mod build;
pub mod chat;
pub mod conversation;
pub mod duration;
pub mod embed;
pub mod env;
pub mod exit;
pub mod inspect;
pub mod local;
pub mod log;
pub mod media;
pub mod output;
pub mod prices;
pub mod providers;
pub mod serve;
pub mod spec;
pub mod spinner;

pub use args::{Cli, Command};
pub use env::Env;

use output::{Mode, Output};
use spinner::Spinner;

/// Runs `cli` with `env`, reading a missing prompt from `stdin`, and returns the exit code.
///
/// `stderr_is_terminal` turns the spinner on (it draws on the process's real stderr).
pub fn run<O, E>(
    cli: &Cli,
    env: &Env,
    stdin: &mut dyn Read,
    mut stdout: O,
    stderr: E,
    stderr_is_terminal: bool,
) -> u8
where
    O: Write + Send + 'static,
    E: Write + Send + 'static,
{
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("llmux: cannot start the async runtime: {e}");
            return exit::OTHER;
        }
    };
    match &cli.command {
        Command::Chat(args) => {
            let mode = if args.json { Mode::Json } else { Mode::Text };
            let spinner =
                (stderr_is_terminal && mode == Mode::Text).then(|| Spinner::start("starting"));
            let output = Output::new(mode, stdout, stderr, spinner);
            runtime.block_on(chat::run(args, env, stdin, output))
        }
        Command::Embed(args) => {
            let mode = if args.json { Mode::Json } else { Mode::Text };
            let spinner =
                (stderr_is_terminal && mode == Mode::Text).then(|| Spinner::start("embedding"));
            let output = Output::new(mode, stdout, stderr, spinner);
            let mut stdin = std::io::BufReader::new(stdin);
            runtime.block_on(embed::run(args, env, &mut stdin, output))
        }
        Command::Health(select) => runtime.block_on(inspect::health(select, env, &mut stdout)),
        Command::Providers(select) => inspect::providers(select, env, &mut stdout),
        Command::Prices(args) => {
            let mut stderr = stderr;
            prices::run(args, env, &mut stdout, &mut stderr)
        }
        Command::Serve(args) => runtime.block_on(serve::run(args, env)),
    }
}

/// Runs with the process's own arguments, environment and standard streams.
pub fn main_with_process() -> u8 {
    use clap::Parser as _;
    let cli = Cli::parse();
    let env = Env::from_process();
    let stderr_is_terminal = std::io::stderr().is_terminal();
    log::init(&env, stderr_is_terminal);
    run(
        &cli,
        &env,
        &mut std::io::stdin(),
        std::io::stdout(),
        std::io::stderr(),
        stderr_is_terminal,
    )
}
