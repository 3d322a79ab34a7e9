//! The libraries' warnings on stderr: a breaker opening, shared fleet state lost or back (`fleet state:
//! Redis unreachable…`, said once), a managed llama-server that exited. `LLMUX_LOG` takes a
//! `tracing-subscriber` filter (`warn` by default, `off` for none, `llm_chain=debug` for a chain's
//! decisions). Nothing the libraries log holds a key or a request body.

use tracing_subscriber::EnvFilter;

use crate::env::Env;

/// The variable holding the filter.
pub const LOG_VAR: &str = "LLMUX_LOG";

/// The filter `LLMUX_LOG` names, `warn` when unset; an invalid one is said and replaced by `warn`.
pub fn filter(env: &Env) -> EnvFilter {
    let text = env.get(LOG_VAR).unwrap_or("warn");
    EnvFilter::try_new(text).unwrap_or_else(|e| {
        eprintln!("llmux: {LOG_VAR} is not a valid filter ({e}); logging warnings");
        EnvFilter::new("warn")
    })
}

/// Sends the process's log events to stderr, in color on a terminal. Once per process (later calls do
/// nothing).
pub fn init(env: &Env, ansi: bool) {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(env))
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .with_ansi(ansi)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_filter_defaults_to_warnings_and_survives_a_bad_value() {
        assert_eq!(filter(&Env::default()).to_string(), "warn");
        let env = Env::from_pairs([(LOG_VAR, "llm_chain=debug")]);
        assert_eq!(filter(&env).to_string(), "llm_chain=debug");
        let bad = Env::from_pairs([(LOG_VAR, "llm_chain=loud")]);
        assert_eq!(filter(&bad).to_string(), "warn");
    }
}
