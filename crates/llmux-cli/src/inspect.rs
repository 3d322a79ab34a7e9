//! `llmux health` and `llmux providers`: what is configured, where it came from, and whether it answers.

use std::io::{self, Write};
use std::time::{Duration, Instant};

use llmux::Timeouts;

use crate::args::{ProviderName, SelectArgs};
use crate::build;
use crate::env::Env;
use crate::exit;
use crate::spec::{self, Backend, ChainSpec, ConfigError, Key};

/// One row of the health table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthRow {
    /// The entry's position.
    pub entry: usize,
    /// The provider.
    pub provider: String,
    /// The model.
    pub model: String,
    /// How long the check took.
    pub latency: Duration,
    /// `None` when reachable, else the error's kind name and message.
    pub error: Option<(String, String)>,
}

/// Checks every entry of `spec` with `Provider::health` (no tokens spent), in order.
pub async fn check(spec: &ChainSpec, timeouts: Timeouts) -> Result<Vec<HealthRow>, ConfigError> {
    let mut rows = Vec::new();
    for (i, entry) in spec.entries.iter().enumerate() {
        let provider = build::provider(entry, timeouts)?;
        let started = Instant::now();
        let result = provider.health().await;
        rows.push(HealthRow {
            entry: i,
            provider: entry.backend.name().to_owned(),
            model: entry.model.value.clone(),
            latency: started.elapsed(),
            error: result
                .err()
                .map(|e| (e.kind().as_str().to_owned(), e.to_string())),
        });
    }
    Ok(rows)
}

/// Writes the health table: entry, provider, model, reachable, latency, error kind (and the message).
pub fn write_health(out: &mut dyn Write, rows: &[HealthRow]) -> io::Result<()> {
    writeln!(
        out,
        "{:<5} {:<10} {:<24} {:<9} {:>8}  ERROR",
        "ENTRY", "PROVIDER", "MODEL", "REACHABLE", "LATENCY"
    )?;
    for r in rows {
        let (reachable, error) = match &r.error {
            None => ("yes", "-".to_owned()),
            Some((kind, message)) => ("no", format!("{kind}: {message}")),
        };
        writeln!(
            out,
            "{:<5} {:<10} {:<24} {:<9} {:>6}ms  {error}",
            r.entry,
            r.provider,
            r.model,
            reachable,
            r.latency.as_millis()
        )?;
    }
    out.flush()
}

/// The exit code of a health check: 0 when every entry is reachable, else the class of the first failure.
pub fn health_code(rows: &[HealthRow]) -> u8 {
    rows.iter()
        .find_map(|r| r.error.as_ref())
        .map_or(exit::OK, |(kind, _)| {
            kind.parse().map_or(exit::OTHER, exit::for_kind)
        })
}

/// Runs `llmux health`.
pub async fn health(select: &SelectArgs, env: &Env, out: &mut dyn Write) -> u8 {
    let rows = match spec::resolve(select, env) {
        Ok(spec) => check(&spec, Timeouts::default()).await,
        Err(e) => Err(e),
    };
    match rows {
        Ok(rows) => {
            if write_health(out, &rows).is_err() {
                return exit::OTHER;
            }
            health_code(&rows)
        }
        Err(e) => {
            eprintln!("llmux: {e}");
            exit::CONFIG
        }
    }
}

/// Writes what `spec` configures and where each setting came from; keys are named by their variable only.
pub fn write_providers(
    out: &mut dyn Write,
    spec: &ChainSpec,
    select: &SelectArgs,
    env: &Env,
) -> io::Result<()> {
    let source = match (&select.provider, &select.chain) {
        (Some(p), _) => format!("one provider (--provider {})", p.as_str()),
        (None, Some(path)) => format!("chain file {}", path.display()),
        (None, None) => {
            "default chain (providers configured in the environment, then the local default)"
                .to_owned()
        }
    };
    writeln!(out, "source: {source}")?;
    for (i, e) in spec.entries.iter().enumerate() {
        writeln!(out, "entry {i}: {}", e.backend.name())?;
        writeln!(out, "  model     {} ({})", e.model.value, e.model.origin)?;
        match &e.backend {
            Backend::Remote(p) => {
                let url = e
                    .base_url
                    .value
                    .clone()
                    .unwrap_or_else(|| spec::info(*p).default_base_url.to_owned());
                writeln!(out, "  base url  {url} ({})", e.base_url.origin)?;
            }
            Backend::Managed { binary, model_file } => {
                writeln!(
                    out,
                    "  managed   llama-server started on first use on a free loopback port"
                )?;
                writeln!(
                    out,
                    "  binary    {} ({})",
                    binary.value.display(),
                    binary.origin
                )?;
                writeln!(
                    out,
                    "  gguf      {} ({})",
                    model_file.value.display(),
                    model_file.origin
                )?;
            }
        }
        let key = match &e.key {
            Key::NotNeeded => "none needed".to_owned(),
            Key::Set { var, .. } => format!("from {var} (set)"),
            Key::Missing { var } => format!("from {var} (NOT SET: this entry fails with auth)"),
        };
        writeln!(out, "  key       {key}")?;
        if !e.params.eq(&llmux::Params::default()) {
            let params = serde_json::to_string(&e.params).unwrap_or_default();
            writeln!(out, "  params    {params}")?;
        }
    }
    if select.provider.is_none() && select.chain.is_none() {
        for p in ProviderName::ALL {
            let info = spec::info(p);
            let var = info.key_var.or(info.host_var).unwrap_or_default();
            if env.get(var).is_none() {
                writeln!(out, "not configured: {} (set {var})", p.as_str())?;
            }
        }
        let local = spec::managed_local(env);
        for missing in local.missing() {
            writeln!(out, "not configured: local default: {missing}")?;
        }
    }
    out.flush()
}

/// Runs `llmux providers`.
pub fn providers(select: &SelectArgs, env: &Env, out: &mut dyn Write) -> u8 {
    match spec::resolve(select, env) {
        Ok(spec) => {
            if write_providers(out, &spec, select, env).is_err() {
                exit::OTHER
            } else {
                exit::OK
            }
        }
        Err(e) => {
            eprintln!("llmux: {e}");
            exit::CONFIG
        }
    }
}
