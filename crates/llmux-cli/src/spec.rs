//! What to run, before anything is built: the chain's entries with each setting and where it came from.
//!
//! Three sources: `--provider` (one entry), `--chain FILE` (the file's entries in order) and the default chain
//! (every provider configured in the environment, then the managed local llama-server).

use std::fmt;
use std::path::{Path, PathBuf};

use llmux::chain::{Policy, Strategy};
use llmux::{ApiKey, Params, PriceTable, Usd};

use crate::args::{ProviderName, SelectArgs};
use crate::env::Env;

mod file;
mod local;

pub use crate::providers::{ProviderInfo, info};
pub use file::parse_chain_file;
pub use local::{LocalDefault, local_defaults, managed_local, peers_dir};

/// Overrides the managed llama-server binary of the default chain.
pub const LLAMA_SERVER_BIN_VAR: &str = "LLMUX_LLAMA_SERVER_BIN";
/// Overrides the GGUF model of the default chain's managed llama-server.
pub const LOCAL_MODEL_VAR: &str = "LLMUX_LOCAL_MODEL";
/// The model file `cargo xtask peers` caches.
pub const LOCAL_MODEL_FILE: &str = "SmolLM2-135M-Instruct.Q4_1.gguf";
/// The model name the managed entry reports.
pub const LOCAL_MODEL_NAME: &str = "SmolLM2-135M-Instruct";

/// A configuration error: exit code 2, reported on stderr.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Where a setting came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The provider's documented default.
    Default,
    /// An environment variable.
    Env(String),
    /// A command-line flag.
    Flag(&'static str),
    /// A chain file.
    File(PathBuf),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::Env(var) => write!(f, "env {var}"),
            Origin::Flag(flag) => write!(f, "flag {flag}"),
            Origin::File(path) => write!(f, "file {}", path.display()),
        }
    }
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting<T> {
    /// The value.
    pub value: T,
    /// Its source.
    pub origin: Origin,
}

impl<T> Setting<T> {
    fn new(value: T, origin: Origin) -> Self {
        Setting { value, origin }
    }
}

/// The API key of an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// The provider takes no key.
    NotNeeded,
    /// Read from the variable `var`.
    Set {
        /// The variable.
        var: String,
        /// The key.
        key: ApiKey,
    },
    /// The variable `var` is not set: the entry fails with `auth` when tried.
    Missing {
        /// The variable.
        var: String,
    },
}

/// What serves an entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A provider over HTTP.
    Remote(ProviderName),
    /// A llama-server child started on first use (llama.cpp's managed mode).
    Managed {
        /// The llama-server binary.
        binary: Setting<PathBuf>,
        /// The GGUF model.
        model_file: Setting<PathBuf>,
    },
}

impl Backend {
    /// The provider name shown for this entry.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Remote(p) => p.as_str(),
            Backend::Managed { .. } => "llamacpp",
        }
    }
}

/// One entry of the chain to build.
#[derive(Debug, Clone, PartialEq)]
pub struct EntrySpec {
    /// What serves it.
    pub backend: Backend,
    /// The model to ask for.
    pub model: Setting<String>,
    /// The base URL; `None`: the provider crate's default.
    pub base_url: Setting<Option<String>>,
    /// The key.
    pub key: Key,
    /// Parameter overrides for this entry.
    pub params: Params,
    /// Parameters this entry uses when the request sets none (the local default's bounds).
    pub defaults: Params,
    /// Provider-specific body fields sent by this entry only (`[entry.extra]`).
    pub extra: serde_json::Map<String, serde_json::Value>,
    /// This entry's reasoning setting, replacing the request's (`[entry.reasoning]`).
    pub reasoning: Option<llmux::Reasoning>,
    /// The embedding model `llmux embed` asks this entry for, when set apart from `model` (a chain file's
    /// `embed_model`).
    pub embed_model: Option<Setting<String>>,
    /// The vector space of this entry's embeddings, when declared (a chain file's `space`); by default its
    /// embedding model's name.
    pub space: Option<String>,
    /// Its rate budgets, id and weight, and (for a group) its further deployments.
    pub fleet: FleetSpec,
}

/// An entry's budgets and deployments (chain files only).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetSpec {
    /// Requests per minute (`rpm`).
    pub rpm: Option<u64>,
    /// Tokens per minute (`tpm`).
    pub tpm: Option<u64>,
    /// Dollars per minute, hour and day (`usd_per_minute`, `usd_per_hour`, `usd_per_day`).
    pub usd: [Option<Usd>; 3],
    /// The id shared state is keyed by (`id`).
    pub id: Option<String>,
    /// Its weight among a group's deployments (`weight`).
    pub weight: Option<u32>,
    /// The group's further deployments (`[[entry.deployment]]` after the first).
    pub deployments: Vec<EntrySpec>,
    /// How a group's deployments are ordered (`strategy`).
    pub strategy: Strategy,
}

/// A Redis URL, which may hold a password: never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisUrl(String);

impl RedisUrl {
    /// The URL itself, to connect with.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RedisUrl(<redacted>)")
    }
}

/// Shared fleet state (`[state]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSpec {
    /// `redis = "redis://…"`.
    pub redis: RedisUrl,
    /// `key`: the namespace of every key (default `llmux`).
    pub key: Option<String>,
    /// `ca_file`: the certificate authority a `rediss://` server's certificate must chain to (PEM; default:
    /// the system's roots).
    pub ca_file: Option<PathBuf>,
}

/// `llmux serve`'s gateway keys from a chain file's `[gateway] keys`: secrets, never printed.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct GatewayKeys(Vec<String>);

impl GatewayKeys {
    /// The keys, to compare presented ones with.
    pub fn expose(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Debug for GatewayKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GatewayKeys({} keys, <redacted>)", self.0.len())
    }
}

/// The chain to build, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct ChainSpec {
    /// The entries.
    pub entries: Vec<EntrySpec>,
    /// Where breakers and budgets are shared, when the chain file says.
    pub state: Option<StateSpec>,
    /// The gateway keys a chain file names (`[gateway] keys`), read by `llmux serve` only.
    pub gateway_keys: GatewayKeys,
    /// The chain's policies (`[chain]`; the library's defaults without one). The CLI's `--max-retries` and
    /// `--timeout` win over the file's `max_retries` and `deadline`.
    pub policy: Policy,
    /// The gateway route this chain serves (`llmux serve --route NAME=FILE`), when it serves one: part of
    /// its id in shared state, so two routes never share breakers or budgets.
    pub route: Option<String>,
    /// The prices the user gave: a `--prices` file's rows under the chain file's `[[price]]` rows (each
    /// entry's own price when one matches it, over the price its provider ships).
    pub prices: PriceTable,
}

impl ChainSpec {
    /// A chain of `entries` with nothing else set.
    pub fn of(entries: Vec<EntrySpec>) -> ChainSpec {
        ChainSpec {
            entries,
            state: None,
            gateway_keys: GatewayKeys::default(),
            policy: Policy::default(),
            route: None,
            prices: PriceTable::default(),
        }
    }

    /// Puts the rows of the prices file at `path` under this chain's own (`--prices FILE`).
    pub fn with_prices_file(mut self, path: Option<&Path>) -> Result<ChainSpec, ConfigError> {
        if let Some(path) = path {
            let mut table = read_prices(path)?;
            table.overlay(&self.prices);
            self.prices = table;
        }
        Ok(self)
    }
}

/// The `[[price]]` tables of the file at `path`.
pub fn read_prices(path: &Path) -> Result<PriceTable, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "cannot read the prices file {}: {e}",
            path.display()
        ))
    })?;
    PriceTable::from_toml(&text).map_err(|e| {
        ConfigError(format!(
            "invalid prices file {}: {}",
            path.display(),
            e.to_string().trim_end()
        ))
    })
}

/// Resolves the chain `select` asks for in `env`.
pub fn resolve(select: &SelectArgs, env: &Env) -> Result<ChainSpec, ConfigError> {
    if let Some(provider) = select.provider {
        return single(provider, select, env).map(|e| ChainSpec::of(vec![e]));
    }
    if let Some(path) = &select.chain {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "cannot read the chain file {}: {e}",
                path.display()
            ))
        })?;
        return parse_chain_file(&text, path, env);
    }
    default_chain(env)
}

/// The chain `llmux embed` runs: as [`resolve`] with `--provider` or `--chain`; by default the first
/// provider configured in the environment that embeds (OpenAI, Ollama, llama.cpp, Gemini), else the managed local
/// llama-server. Only one: different providers' default models give vectors of different spaces, so the
/// default chain never falls back between them.
pub fn resolve_embed(select: &SelectArgs, env: &Env) -> Result<ChainSpec, ConfigError> {
    if select.provider.is_some() || select.chain.is_some() {
        return resolve(select, env);
    }
    let spec = default_chain(env)?;
    let embeds = |e: &EntrySpec| match &e.backend {
        Backend::Managed { .. } => true,
        Backend::Remote(p) => info(*p).default_embed_model.is_some(),
    };
    match spec.entries.into_iter().find(embeds) {
        Some(entry) => Ok(ChainSpec::of(vec![entry])),
        None => Err(ConfigError(format!(
            "no configured provider embeds (Claude and OpenRouter do not through llmux): set OPENAI_API_KEY, \
             OLLAMA_HOST or LLAMA_SERVER_URL, or run `cargo xtask peers` to install llama-server and SmolLM2, \
             or point {LLAMA_SERVER_BIN_VAR} and {LOCAL_MODEL_VAR} at them"
        ))),
    }
}

fn single(
    provider: ProviderName,
    select: &SelectArgs,
    env: &Env,
) -> Result<EntrySpec, ConfigError> {
    let info = info(provider);
    let key = match info.key_var {
        None => optional_key(info, env),
        Some(var) => match env.get(var) {
            Some(k) => Key::Set {
                var: var.to_owned(),
                key: ApiKey::new(k),
            },
            None => {
                return Err(ConfigError(format!(
                    "--provider {} needs an API key: set {var}",
                    provider.as_str()
                )));
            }
        },
    };
    let model = match &select.model {
        Some(m) => Setting::new(m.clone(), Origin::Flag("--model")),
        None => Setting::new(info.default_model.to_owned(), Origin::Default),
    };
    let base_url = match &select.base_url {
        Some(url) => Setting::new(Some(url.clone()), Origin::Flag("--base-url")),
        None => host_from_env(info, env)?,
    };
    Ok(EntrySpec {
        backend: Backend::Remote(provider),
        model,
        base_url,
        key,
        params: Params::default(),
        defaults: Params::default(),
        extra: serde_json::Map::new(),
        reasoning: None,
        embed_model: None,
        space: None,
        fleet: FleetSpec::default(),
    })
}

/// The optional key of a keyless provider, when its variable is set.
fn optional_key(info: ProviderInfo, env: &Env) -> Key {
    match info
        .optional_key_var
        .and_then(|var| Some((var, env.get(var)?)))
    {
        Some((var, k)) => Key::Set {
            var: var.to_owned(),
            key: ApiKey::new(k),
        },
        None => Key::NotNeeded,
    }
}

/// The base URL from the provider's host or base-URL variable, when set. `OLLAMA_HOST` is read the way
/// Ollama's own CLI reads it (`host`, `host:port` or a URL; see `llm_ollama::parse_host`).
fn host_from_env(info: ProviderInfo, env: &Env) -> Result<Setting<Option<String>>, ConfigError> {
    let var = info.host_var.or(info.base_url_var);
    let Some((var, value)) = var.and_then(|var| Some((var, env.get(var)?))) else {
        return Ok(Setting::new(None, Origin::Default));
    };
    let url = if var == llmux::ollama::HOST_VAR {
        llmux::ollama::parse_host(value)
            .map_err(|why| ConfigError(format!("{var}={value:?} is not a server address: {why}")))?
    } else {
        value.to_owned()
    };
    Ok(Setting::new(Some(url), Origin::Env(var.to_owned())))
}

/// The default chain: OpenAI, Claude and OpenRouter when their keys are set, Ollama when `OLLAMA_HOST` is
/// set, llama.cpp when `LLAMA_SERVER_URL` is set, and last the managed llama-server when its binary and
/// model exist. An error when that leaves nothing.
pub fn default_chain(env: &Env) -> Result<ChainSpec, ConfigError> {
    let mut entries = Vec::new();
    for provider in ProviderName::ALL {
        // An Azure deployment is named by its owner: the default chain cannot guess one. OpenAI's Responses
        // API takes the same key as its Chat Completions, which the default chain already tries.
        if matches!(
            provider,
            ProviderName::Azure | ProviderName::OpenaiResponses
        ) {
            continue;
        }
        let info = info(provider);
        let key = match info.key_var {
            Some(var) => match env.get(var) {
                Some(k) => Key::Set {
                    var: var.to_owned(),
                    key: ApiKey::new(k),
                },
                None => continue,
            },
            None => optional_key(info, env),
        };
        let base_url = host_from_env(info, env)?;
        if info.host_var.is_some() && base_url.value.is_none() {
            continue;
        }
        entries.push(EntrySpec {
            backend: Backend::Remote(provider),
            model: Setting::new(info.default_model.to_owned(), Origin::Default),
            base_url,
            key,
            params: Params::default(),
            defaults: Params::default(),
            extra: serde_json::Map::new(),
            reasoning: None,
            embed_model: None,
            space: None,
            fleet: FleetSpec::default(),
        });
    }
    let local = managed_local(env);
    let missing = local.missing();
    if missing.is_empty() {
        entries.push(local.into_entry());
    } else if entries.is_empty() {
        return Err(ConfigError(format!(
            "no provider is configured and the local default is not installed ({}): set OPENAI_API_KEY, \
             ANTHROPIC_API_KEY, OPENROUTER_API_KEY, OLLAMA_HOST or LLAMA_SERVER_URL, or run \
             `cargo xtask demo` (or `cargo xtask peers`) to install llama-server and SmolLM2, or point {} and {} \
             at them",
            missing.join(", "),
            LLAMA_SERVER_BIN_VAR,
            LOCAL_MODEL_VAR
        )));
    }
    Ok(ChainSpec::of(entries))
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
