//! `llmux serve`: the gateway ([`llmux_gateway`]) over the chain the command line and chain files
//! describe, until ctrl-c or SIGTERM.
//!
//! This module only turns the command line into a [`Gateway`]: the main chain and `--route` chains from
//! their specs, the gateway keys from `LLMUX_GATEWAY_KEYS` (comma-separated) and the main chain file's
//! `[gateway] keys`, the limits. Without a key the server only listens on a loopback address.

use std::net::SocketAddr;
use std::sync::Arc;

use llmux_gateway::{Caps, Gateway, HostedTools};

use crate::args::{HostedToolsArg, ServeArgs};
use crate::build::{self, Options};
use crate::env::Env;
use crate::exit;
use crate::spec::{self, ConfigError};

/// The environment variable holding the gateway keys, comma-separated.
pub const KEYS_VAR: &str = "LLMUX_GATEWAY_KEYS";
/// The environment variable holding the key `/metrics` asks for (unset: `/metrics` is open).
pub const METRICS_KEY_VAR: &str = "LLMUX_METRICS_KEY";

/// Runs `llmux serve` until ctrl-c or SIGTERM and returns the exit code.
pub async fn run(args: &ServeArgs, env: &Env) -> u8 {
    let (gateway, addr) = match prepare(args, env) {
        Ok(ready) => ready,
        Err(e) => {
            eprintln!("llmux: {e}");
            return exit::CONFIG;
        }
    };
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("llmux: cannot listen on {addr}: {e}");
            return exit::CONFIG;
        }
    };
    let local = listener.local_addr().unwrap_or(addr);
    eprintln!(
        "llmux serve: listening on http://{local} ({} chain entries, {} routes, {} gateway keys)",
        gateway.chain().entries().len(),
        gateway.routes().count(),
        gateway.key_count()
    );
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let server = gateway.serve(listener, async move {
        shutdown_signal().await;
        eprintln!("llmux serve: shutting down, finishing open requests");
        let _ = stop.send(true);
    });
    let grace = args.shutdown_timeout;
    tokio::select! {
        served = server => match served {
            Ok(()) => exit::OK,
            Err(e) => {
                eprintln!("llmux: the server failed: {e}");
                exit::OTHER
            }
        },
        () = async move {
            let _ = stopped.wait_for(|s| *s).await;
            tokio::time::sleep(grace).await;
        } => {
            eprintln!("llmux serve: requests still open after {grace:?}; exiting");
            exit::OTHER
        }
    }
}

fn prepare(args: &ServeArgs, env: &Env) -> Result<(Gateway, SocketAddr), ConfigError> {
    let addr: SocketAddr = args.listen.parse().map_err(|_| {
        ConfigError(format!(
            "--listen `{}`: expected HOST:PORT with an IP address, e.g. 127.0.0.1:8080",
            args.listen
        ))
    })?;
    let mut route_files = Vec::new();
    for route in &args.routes {
        match route.split_once('=') {
            Some((name, file)) if !name.is_empty() && !file.is_empty() => {
                route_files.push((name, file));
            }
            _ => {
                return Err(ConfigError(format!(
                    "--route `{route}`: expected NAME=FILE (a model name and a chain file)"
                )));
            }
        }
    }
    let prices = args.prices.prices_file.as_deref();
    let spec = spec::resolve(&args.select, env)?.with_prices_file(prices)?;
    let mut keys = gateway_keys(env);
    keys.extend(
        spec.gateway_keys
            .expose()
            .iter()
            .map(|k| k.as_bytes().to_vec()),
    );
    if keys.is_empty() && !addr.ip().is_loopback() {
        return Err(ConfigError(format!(
            "refusing to listen on {addr} without a gateway key: set {KEYS_VAR}, give the chain file \
             `[gateway] keys`, or listen on a loopback address"
        )));
    }
    let options = Options::from_limits(&args.limits);
    let mut builder = Gateway::builder()
        .keys(keys)
        .key_rpm(args.key_rpm)
        .max_streams(args.max_streams)
        .max_requests(args.max_requests)
        .keepalive(Some(args.keepalive))
        .max_body(args.max_body_bytes)
        .max_connections(args.max_connections)
        .caps(Caps {
            messages: args.max_messages,
            parts: args.max_parts,
            tools: args.max_tools,
        })
        .header_timeout(args.header_timeout)
        .body_timeout(args.body_timeout)
        .stall_timeout(args.stall_timeout)
        .metrics_key(
            env.get(METRICS_KEY_VAR)
                .map(|k| k.trim().as_bytes().to_vec()),
        )
        .hosted_tools(match args.hosted_tools {
            HostedToolsArg::Remove => HostedTools::Remove,
            HostedToolsArg::Refuse => HostedTools::Refuse,
        });
    // Each route's attempts are counted under its name (`""`: the main chain), their costs too.
    let observer = builder.attempt_observer("");
    let skips = builder.skip_observer();
    let chain = build::chain(
        &spec,
        options,
        Some(Arc::clone(&observer)),
        Some(Arc::clone(&skips)),
    )?;
    // Its entries that embed; a chain without any still serves chat (and says why on /v1/embeddings).
    let embeddings = build::embed_chain(&spec, options, Some(observer)).map_err(|e| e.0);
    builder = builder.chain(chain).embeddings(embeddings);
    let mut named = std::collections::BTreeSet::new();
    for (name, file) in route_files {
        let select = crate::args::SelectArgs {
            chain: Some(file.into()),
            ..crate::args::SelectArgs::default()
        };
        let mut spec = spec::resolve(&select, env)?.with_prices_file(prices)?;
        spec.route = Some(name.to_owned());
        if !spec.gateway_keys.expose().is_empty() {
            return Err(ConfigError(format!(
                "--route `{name}`: [gateway] keys are read from the main chain file only"
            )));
        }
        if !named.insert(name) {
            return Err(ConfigError(format!("--route `{name}` is given twice")));
        }
        let built = build::chain(
            &spec,
            options,
            Some(builder.attempt_observer(name)),
            Some(Arc::clone(&skips)),
        )?;
        builder = builder.route(name, built);
    }
    Ok((builder.build(), addr))
}

/// The keys of `LLMUX_GATEWAY_KEYS`, blanks dropped.
pub fn gateway_keys(env: &Env) -> Vec<Vec<u8>> {
    env.get(KEYS_VAR)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|k| !k.is_empty())
        .map(|k| k.as_bytes().to_vec())
        .collect()
}

/// Waits for ctrl-c or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_trimmed_and_never_shown() {
        let env = Env::from_pairs([(KEYS_VAR, " k1 , ,k2")]);
        assert_eq!(gateway_keys(&env), [b"k1".to_vec(), b"k2".to_vec()]);
        let args = test_args_with(&["--provider", "openai"]);
        let env = Env::from_pairs([
            (KEYS_VAR, "gw-secret-1"),
            ("OPENAI_API_KEY", "sk-up-secret"),
        ]);
        let (gateway, _) = prepare(&args, &env).unwrap();
        assert_eq!(gateway.key_count(), 1);
        let shown = format!("{gateway:?}");
        assert!(
            !shown.contains("gw-secret") && !shown.contains("sk-up-secret"),
            "{shown}"
        );
    }

    #[test]
    fn routes_need_a_name_and_a_file() {
        for bad in ["fast", "=x.toml", "fast="] {
            let args = test_args_with(&["--route", bad]);
            let err = prepare(&args, &Env::default()).unwrap_err();
            assert!(err.0.contains("NAME=FILE"), "{bad}: {}", err.0);
        }
    }

    #[test]
    fn without_a_key_only_loopback_is_accepted() {
        let mut args = test_args_with(&["--listen", "0.0.0.0:0", "--provider", "openai"]);
        let env = Env::from_pairs([("OPENAI_API_KEY", "sk-x")]);
        let err = prepare(&args, &env).unwrap_err();
        assert!(err.0.contains("refusing"), "{}", err.0);
        let keyed = Env::from_pairs([("OPENAI_API_KEY", "sk-x"), (KEYS_VAR, "gw")]);
        assert!(prepare(&args, &keyed).is_ok(), "a key allows any address");
        args.listen = "not an address".into();
        assert!(prepare(&args, &keyed).is_err());
    }

    fn test_args_with(extra: &[&str]) -> ServeArgs {
        use clap::Parser as _;
        let cli = crate::Cli::parse_from(["llmux", "serve"].iter().chain(extra));
        match cli.command {
            crate::Command::Serve(a) => a,
            _ => unreachable!("parsed as serve"),
        }
    }
}
