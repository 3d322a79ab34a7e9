//! What to run, before anything is built: the chain's entries with each setting and where it came from.
//!
//! Three sources: `--provider` (one entry), `--chain FILE` (the file's entries in order) and the default chain
//! (every provider configured in the environment, then the managed local llama-server).

use std::fmt;
use std::path::{Path, PathBuf};

use llmux::ErrorKind;
use llmux::chain::{BreakerPolicy, FallThrough, Policy, RetryBudget, RetryPolicy, Strategy};
use llmux::{ApiKey, Params, PriceEntry, PriceTable, Usd};
use serde::Deserialize;

use crate::args::{ProviderName, SelectArgs};
use crate::env::Env;

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

/// The fixed facts about a provider the CLI needs.
#[derive(Debug, Clone, Copy)]
pub struct ProviderInfo {
    /// The variable holding its key, if it takes one.
    pub key_var: Option<&'static str>,
    /// The variable holding an optional key (sent when set), for servers that may run without one.
    pub optional_key_var: Option<&'static str>,
    /// The variable holding its server's address, if any (the provider is used only when it is set).
    pub host_var: Option<&'static str>,
    /// The variable that moves its base URL when set, as its official SDK reads it (`OPENAI_BASE_URL`,
    /// `ANTHROPIC_BASE_URL`): for proxies and compatible servers.
    pub base_url_var: Option<&'static str>,
    /// The model asked for when none is given.
    pub default_model: &'static str,
    /// The embedding model `llmux embed` asks for when none is given; `None` when the provider does not
    /// embed through llmux.
    pub default_embed_model: Option<&'static str>,
    /// The base URL its crate uses by default (shown by `llmux providers`).
    pub default_base_url: &'static str,
}

/// The facts about `provider`.
pub fn info(provider: ProviderName) -> ProviderInfo {
    match provider {
        ProviderName::Openai => ProviderInfo {
            key_var: Some("OPENAI_API_KEY"),
            optional_key_var: None,
            host_var: None,
            base_url_var: Some(llmux::openai::BASE_URL_ENV),
            default_model: "gpt-4o-mini",
            default_embed_model: Some("text-embedding-3-small"),
            default_base_url: llmux::openai::DEFAULT_BASE_URL,
        },
        ProviderName::OpenaiResponses => ProviderInfo {
            key_var: Some("OPENAI_API_KEY"),
            optional_key_var: None,
            host_var: None,
            base_url_var: Some(llmux::openai::BASE_URL_ENV),
            default_model: "gpt-4o-mini",
            default_embed_model: None,
            default_base_url: llmux::openai::DEFAULT_BASE_URL,
        },
        ProviderName::Claude => ProviderInfo {
            key_var: Some("ANTHROPIC_API_KEY"),
            optional_key_var: None,
            host_var: None,
            base_url_var: Some(llmux::claude::config::BASE_URL_ENV),
            default_model: "claude-haiku-4-5",
            default_embed_model: None,
            default_base_url: llmux::claude::config::DEFAULT_BASE_URL,
        },
        ProviderName::Openrouter => ProviderInfo {
            key_var: Some("OPENROUTER_API_KEY"),
            optional_key_var: None,
            host_var: None,
            base_url_var: None,
            default_model: "openrouter/auto",
            default_embed_model: None,
            default_base_url: llmux::openrouter::DEFAULT_BASE_URL,
        },
        ProviderName::Ollama => ProviderInfo {
            key_var: None,
            optional_key_var: None,
            host_var: Some("OLLAMA_HOST"),
            base_url_var: None,
            default_model: "llama3.2",
            default_embed_model: Some("nomic-embed-text"),
            default_base_url: llmux::ollama::DEFAULT_BASE_URL,
        },
        ProviderName::Llamacpp => ProviderInfo {
            key_var: None,
            optional_key_var: Some(llmux::llamacpp::API_KEY_VAR),
            host_var: Some(llmux::llamacpp::URL_VAR),
            base_url_var: None,
            default_model: "default",
            default_embed_model: Some("default"),
            default_base_url: llmux::llamacpp::DEFAULT_BASE_URL,
        },
        ProviderName::Azure => ProviderInfo {
            key_var: Some(llmux::openai::AZURE_API_KEY_ENV),
            optional_key_var: None,
            host_var: None,
            base_url_var: Some(llmux::openai::AZURE_ENDPOINT_ENV),
            // The deployment's name is the caller's: this is only what `--model` defaults to.
            default_model: "gpt-4o-mini",
            default_base_url: "",
            default_embed_model: None,
        },
        ProviderName::Gemini => ProviderInfo {
            key_var: Some(llmux::gemini::API_KEY_ENV),
            optional_key_var: None,
            host_var: None,
            base_url_var: None,
            default_model: "gemini-2.5-flash",
            default_embed_model: Some("gemini-embedding-001"),
            default_base_url: llmux::gemini::DEFAULT_BASE_URL,
        },
    }
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

/// The managed local llama-server's binary and model, as the environment locates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDefault {
    /// The llama-server binary.
    pub binary: Setting<PathBuf>,
    /// The GGUF model.
    pub model_file: Setting<PathBuf>,
}

impl LocalDefault {
    /// Each missing file, described with the variable that overrides it.
    pub fn missing(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (setting, what) in [(&self.binary, "llama-server"), (&self.model_file, "model")] {
            if !setting.value.is_file() {
                out.push(format!(
                    "no {what} at {} ({})",
                    setting.value.display(),
                    setting.origin
                ));
            }
        }
        out
    }

    /// The chain entry serving it.
    pub fn into_entry(self) -> EntrySpec {
        EntrySpec {
            backend: Backend::Managed {
                binary: self.binary,
                model_file: self.model_file,
            },
            model: Setting::new(LOCAL_MODEL_NAME.to_owned(), Origin::Default),
            base_url: Setting::new(None, Origin::Default),
            key: Key::NotNeeded,
            params: Params::default(),
            defaults: local_defaults(),
            extra: serde_json::Map::new(),
            reasoning: None,
            embed_model: None,
            space: None,
            fleet: FleetSpec::default(),
        }
    }
}

/// What the local default sends when a request sets nothing else: a 135M model rambles and loops without a
/// bound, so answers stop at 256 tokens, sample narrowly and penalise repeats. `--param` (the request's own
/// values) overrides each.
pub fn local_defaults() -> Params {
    let mut p = Params::default();
    p.max_tokens = Some(256);
    p.temperature = Some(0.3);
    p.top_p = Some(0.9);
    p.top_k = Some(40);
    p.repeat_penalty = Some(1.2);
    p
}

/// Where the managed llama-server and its model are: `LLMUX_LLAMA_SERVER_BIN` / `LLMUX_LOCAL_MODEL`, else the
/// peers cache that `cargo xtask peers` fills (`${LLMUX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/llmux}/peers`).
pub fn managed_local(env: &Env) -> LocalDefault {
    let peers = peers_dir(env);
    let pick = |var: &str, cached: Option<PathBuf>| match env.get(var) {
        Some(v) => Setting::new(PathBuf::from(v), Origin::Env(var.to_owned())),
        None => Setting::new(
            cached.unwrap_or_else(|| PathBuf::from("<no cache directory: HOME is not set>")),
            Origin::Default,
        ),
    };
    LocalDefault {
        binary: pick(
            LLAMA_SERVER_BIN_VAR,
            peers.as_ref().map(|p| p.join("bin").join("llama-server")),
        ),
        model_file: pick(
            LOCAL_MODEL_VAR,
            peers.map(|p| p.join("models").join(LOCAL_MODEL_FILE)),
        ),
    }
}

/// The peers cache directory, by the same rule as `xtask/src/layout.rs`.
pub fn peers_dir(env: &Env) -> Option<PathBuf> {
    let cache = if let Some(dir) = env.get("LLMUX_CACHE_DIR") {
        PathBuf::from(dir)
    } else if let Some(xdg) = env.get("XDG_CACHE_HOME") {
        Path::new(xdg).join("llmux")
    } else {
        Path::new(env.get("HOME")?).join(".cache").join("llmux")
    };
    Some(cache.join("peers"))
}

/// A chain file: `[[entry]]` tables, tried in file order, optional `[chain]` (policies) and `[state]`
/// tables and, for `llmux serve`, an optional `[gateway]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChainFile {
    chain: Option<PolicyFile>,
    state: Option<StateFile>,
    gateway: Option<GatewayFile>,
    entry: Vec<FileEntry>,
    /// Prices that win over a `--prices` file's and the shipped ones.
    #[serde(default)]
    price: Vec<PriceEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayFile {
    keys: Vec<String>,
}

impl fmt::Debug for GatewayFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GatewayFile").finish_non_exhaustive()
    }
}

/// `[chain]`: the chain's policies, each key optional (absent: the library's default).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    max_retries: Option<u32>,
    backoff: Option<String>,
    max_backoff: Option<String>,
    retry_budget: Option<f64>,
    deadline: Option<String>,
    hedge_after: Option<String>,
    context_length: Option<String>,
    breaker: Option<BreakerFile>,
}

/// `[chain.breaker]` (or `breaker = { … }`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BreakerFile {
    enabled: Option<bool>,
    failures: Option<u32>,
    failure_ratio: Option<f64>,
    min_requests: Option<u32>,
    window: Option<String>,
    cooldown: Option<String>,
    max_cooldown: Option<String>,
}

impl PolicyFile {
    /// The chain policy this table asks for, over the library's defaults; every mistake recorded.
    fn to_policy(&self, problems: &mut Vec<String>) -> Policy {
        let duration = |key: &str, text: &Option<String>, problems: &mut Vec<String>| {
            let text = text.as_deref()?;
            match crate::duration::parse_duration(text) {
                Ok(d) if !d.is_zero() => Some(d),
                Ok(_) => {
                    problems.push(format!(
                        "[chain] {key} = \"{text}\": expected a duration above 0"
                    ));
                    None
                }
                Err(e) => {
                    problems.push(format!("[chain] {key} = \"{text}\": {e}"));
                    None
                }
            }
        };
        let mut policy = Policy::default();
        let mut retry = RetryPolicy::default();
        if let Some(n) = self.max_retries {
            retry = retry.max_attempts(n.saturating_add(1));
        }
        let backoff = duration("backoff", &self.backoff, problems);
        let max_backoff = duration("max_backoff", &self.max_backoff, problems);
        if backoff.is_some() || max_backoff.is_some() {
            let initial = backoff.unwrap_or(retry.initial_backoff);
            let max = max_backoff.unwrap_or(retry.max_backoff).max(initial);
            retry = retry.backoff(initial, max);
        }
        policy = policy.retry(retry);
        match self.retry_budget {
            Some(r) if r.is_finite() && r >= 0.0 => {
                policy = policy.budget(RetryBudget::default().ratio(r));
            }
            Some(r) => problems.push(format!(
                "[chain] retry_budget = {r}: expected a share of calls, 0 or more (0.2: a retry per five calls)"
            )),
            None => {}
        }
        if let Some(d) = duration("deadline", &self.deadline, problems) {
            policy = policy.deadline(d);
        }
        if let Some(d) = duration("hedge_after", &self.hedge_after, problems) {
            policy = policy.hedge_after(d);
        }
        match self.context_length.as_deref() {
            None | Some("stop") => {}
            Some("next") => {
                policy = policy.fall_through(FallThrough::default().with(ErrorKind::ContextLength));
            }
            Some(other) => problems.push(format!(
                "[chain] context_length = \"{other}\": expected \"next\" (try the next entry, whose window may be larger) or \"stop\""
            )),
        }
        if let Some(b) = &self.breaker {
            let mut breaker = if b.enabled == Some(false) {
                BreakerPolicy::disabled()
            } else {
                BreakerPolicy::default()
            };
            if let Some(n) = b.failures {
                breaker = breaker.consecutive_failures(n);
            }
            match (b.failure_ratio, b.min_requests) {
                (Some(r), _) if !(r > 0.0 && r <= 1.0) => problems.push(format!(
                    "[chain] breaker.failure_ratio = {r}: expected a share of requests above 0, at most 1"
                )),
                (None, None) => {}
                (r, n) => {
                    breaker = breaker.failure_ratio(
                        r.unwrap_or(breaker.failure_ratio),
                        n.unwrap_or(breaker.min_requests),
                    );
                }
            }
            if let Some(w) = duration("breaker.window", &b.window, problems) {
                breaker = breaker.window(w);
            }
            let cooldown = duration("breaker.cooldown", &b.cooldown, problems);
            let max = duration("breaker.max_cooldown", &b.max_cooldown, problems);
            if cooldown.is_some() || max.is_some() {
                let c = cooldown.unwrap_or(breaker.cooldown);
                breaker = breaker.cooldown(c, max.unwrap_or(breaker.max_cooldown).max(c));
            }
            policy = policy.breaker(breaker);
        }
        policy
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    redis: String,
    key: Option<String>,
    ca_file: Option<PathBuf>,
}

/// One `[[entry]]`: a provider and model, or a group of `[[entry.deployment]]` tables with a `strategy`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileEntry {
    provider: Option<String>,
    model: Option<String>,
    base_url: Option<String>,
    api_key_env: Option<String>,
    #[serde(default)]
    params: toml::Table,
    rpm: Option<u64>,
    tpm: Option<u64>,
    usd_per_minute: Option<f64>,
    usd_per_hour: Option<f64>,
    usd_per_day: Option<f64>,
    id: Option<String>,
    strategy: Option<String>,
    #[serde(default)]
    deployment: Vec<FileDeployment>,
    embed_model: Option<String>,
    space: Option<String>,
    /// Body fields for this entry's provider only (for a group: each deployment's).
    #[serde(default)]
    extra: toml::Table,
    reasoning: Option<FileReasoning>,
}

/// `[entry.reasoning]`: `effort = "low" | "medium" | "high"` or `budget = TOKENS`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileReasoning {
    effort: Option<String>,
    budget: Option<u32>,
}

impl FileReasoning {
    fn to_reasoning(&self) -> Result<llmux::Reasoning, String> {
        match (&self.effort, self.budget) {
            (Some(effort), None) => match llmux::Reasoning::parse(effort) {
                Some(r @ llmux::Reasoning::Effort(_)) => Ok(r),
                _ => Err(format!(
                    "reasoning.effort `{effort}`: expected low, medium or high"
                )),
            },
            (None, Some(budget)) => Ok(llmux::Reasoning::Budget(budget)),
            _ => Err("reasoning: expected either `effort` or `budget`".to_owned()),
        }
    }
}

/// One `[[entry.deployment]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileDeployment {
    provider: String,
    model: String,
    base_url: Option<String>,
    api_key_env: Option<String>,
    #[serde(default)]
    params: toml::Table,
    rpm: Option<u64>,
    tpm: Option<u64>,
    usd_per_minute: Option<f64>,
    usd_per_hour: Option<f64>,
    usd_per_day: Option<f64>,
    id: Option<String>,
    weight: Option<u32>,
}

/// What one provider table (an entry or a deployment) says.
struct Target<'a> {
    provider: &'a str,
    model: &'a str,
    base_url: Option<&'a String>,
    api_key_env: Option<&'a str>,
    params: &'a toml::Table,
}

/// Parses a chain file's text; `path` is used in messages and as the settings' origin.
pub fn parse_chain_file(text: &str, path: &Path, env: &Env) -> Result<ChainSpec, ConfigError> {
    let file: ChainFile = toml::from_str(text).map_err(|e| {
        ConfigError(format!(
            "invalid chain file {}: {}",
            path.display(),
            e.to_string().trim_end()
        ))
    })?;
    if file.entry.is_empty() {
        return Err(ConfigError(format!(
            "invalid chain file {}: no [[entry]]",
            path.display()
        )));
    }
    let origin = Origin::File(path.to_path_buf());
    let mut problems = Vec::new();
    let mut entries = Vec::new();
    for (i, e) in file.entry.iter().enumerate() {
        let extra: serde_json::Map<String, serde_json::Value> = e
            .extra
            .iter()
            .map(|(k, v)| {
                let json = serde_json::to_value(v).unwrap_or(serde_json::Value::Null);
                (k.clone(), json)
            })
            .collect();
        let reasoning = match e.reasoning.as_ref().map(FileReasoning::to_reasoning) {
            None => None,
            Some(Ok(r)) => Some(r),
            Some(Err(problem)) => {
                problems.push(format!("entry {i}: {problem}"));
                None
            }
        };
        let strategy = match e.strategy.as_deref() {
            None => Strategy::InOrder,
            Some(name) => match Strategy::from_name(name) {
                Some(s) => s,
                None => {
                    problems.push(format!(
                        "entry {i}: unknown strategy `{name}` (expected one of in_order, weighted, \
                         least_in_flight, lowest_latency, most_budget_left)"
                    ));
                    continue;
                }
            },
        };
        if e.deployment.is_empty() {
            let (Some(provider), Some(model)) = (&e.provider, &e.model) else {
                problems.push(format!(
                    "entry {i}: needs `provider` and `model`, or [[entry.deployment]] tables"
                ));
                continue;
            };
            if e.strategy.is_some() {
                problems.push(format!(
                    "entry {i}: `strategy` needs [[entry.deployment]] tables"
                ));
            }
            let target = Target {
                provider,
                model,
                base_url: e.base_url.as_ref(),
                api_key_env: e.api_key_env.as_deref(),
                params: &e.params,
            };
            if let Some(mut spec) =
                file_target(&target, &format!("entry {i}"), &origin, env, &mut problems)?
            {
                spec.fleet.rpm = e.rpm;
                spec.fleet.tpm = e.tpm;
                spec.fleet.usd = dollars(
                    [e.usd_per_minute, e.usd_per_hour, e.usd_per_day],
                    &format!("entry {i}"),
                    &mut problems,
                );
                spec.fleet.id.clone_from(&e.id);
                spec.extra = extra;
                spec.reasoning = reasoning;
                spec.embed_model = e
                    .embed_model
                    .clone()
                    .map(|m| Setting::new(m, origin.clone()));
                spec.space.clone_from(&e.space);
                entries.push(spec);
            }
            continue;
        }
        if e.provider.is_some()
            || e.model.is_some()
            || e.base_url.is_some()
            || e.api_key_env.is_some()
            || !e.params.is_empty()
        {
            problems.push(format!(
                "entry {i}: a group's provider, model, base_url, api_key_env and params go in its \
                 [[entry.deployment]] tables"
            ));
            continue;
        }
        let mut group = Vec::new();
        for (d, dep) in e.deployment.iter().enumerate() {
            let target = Target {
                provider: &dep.provider,
                model: &dep.model,
                base_url: dep.base_url.as_ref(),
                api_key_env: dep.api_key_env.as_deref(),
                params: &dep.params,
            };
            let at = format!("entry {i} deployment {d}");
            if let Some(mut spec) = file_target(&target, &at, &origin, env, &mut problems)? {
                // An entry's rpm/tpm is the default of each deployment that sets none.
                spec.fleet.rpm = dep.rpm.or(e.rpm);
                spec.fleet.tpm = dep.tpm.or(e.tpm);
                spec.fleet.usd = dollars(
                    [
                        dep.usd_per_minute.or(e.usd_per_minute),
                        dep.usd_per_hour.or(e.usd_per_hour),
                        dep.usd_per_day.or(e.usd_per_day),
                    ],
                    &at,
                    &mut problems,
                );
                spec.fleet.id.clone_from(&dep.id);
                spec.fleet.weight = dep.weight;
                spec.extra.clone_from(&extra);
                spec.reasoning = reasoning;
                group.push(spec);
            }
        }
        let mut rest = group.into_iter();
        if let Some(mut first) = rest.next() {
            let own_id = first.fleet.id.take();
            first.fleet.id = e.id.clone().or(own_id);
            first.fleet.strategy = strategy;
            first.fleet.deployments = rest.collect();
            entries.push(first);
        }
    }
    let state = file.state.map(|s| StateSpec {
        redis: RedisUrl(s.redis),
        key: s.key,
        ca_file: s.ca_file,
    });
    if let Some(s) = &state
        && !["redis://", "rediss://", "unix://", "redis+unix://"]
            .iter()
            .any(|scheme| s.redis.0.starts_with(scheme))
    {
        problems.push("[state] redis must be a redis:// URL".to_owned());
    }
    let mut gateway_keys = Vec::new();
    for key in file.gateway.map(|g| g.keys).unwrap_or_default() {
        let key = key.trim();
        if key.is_empty() {
            problems.push("[gateway] keys must not be empty strings".to_owned());
        } else {
            gateway_keys.push(key.to_owned());
        }
    }
    let policy = file
        .chain
        .as_ref()
        .map_or_else(Policy::default, |p| p.to_policy(&mut problems));
    let prices = PriceTable::from_entries(file.price).unwrap_or_else(|e| {
        problems.push(e.to_string());
        PriceTable::default()
    });
    if problems.is_empty() {
        Ok(ChainSpec {
            entries,
            state,
            gateway_keys: GatewayKeys(gateway_keys),
            policy,
            route: None,
            prices,
        })
    } else {
        Err(ConfigError(format!(
            "invalid chain file {}: {}",
            path.display(),
            problems.join("; ")
        )))
    }
}

/// A table's `usd_per_minute`, `usd_per_hour` and `usd_per_day` as amounts; a value that is not one is a
/// problem recorded.
fn dollars(values: [Option<f64>; 3], at: &str, problems: &mut Vec<String>) -> [Option<Usd>; 3] {
    let names = ["usd_per_minute", "usd_per_hour", "usd_per_day"];
    let mut out = [None; 3];
    for ((value, name), slot) in values.into_iter().zip(names).zip(&mut out) {
        let Some(v) = value else { continue };
        match Usd::from_dollars(v).filter(|u| *u > Usd::ZERO) {
            Some(usd) => *slot = Some(usd),
            None => problems.push(format!(
                "{at}: {name} = {v}: expected an amount of dollars above 0"
            )),
        }
    }
    out
}

/// The spec of one provider table; `None` (and a problem recorded) when its provider is unknown.
fn file_target(
    t: &Target<'_>,
    at: &str,
    origin: &Origin,
    env: &Env,
    problems: &mut Vec<String>,
) -> Result<Option<EntrySpec>, ConfigError> {
    let Some(provider) = ProviderName::from_name(t.provider) else {
        let known: Vec<&str> = ProviderName::ALL.iter().map(|p| p.as_str()).collect();
        problems.push(format!(
            "{at}: unknown provider `{}` (expected one of {})",
            t.provider,
            known.join(", ")
        ));
        return Ok(None);
    };
    let info = info(provider);
    let key = match t.api_key_env.or(info.key_var) {
        None => optional_key(info, env),
        Some(var) => match env.get(var) {
            Some(k) => Key::Set {
                var: var.to_owned(),
                key: ApiKey::new(k),
            },
            None => Key::Missing {
                var: var.to_owned(),
            },
        },
    };
    let base_url = match t.base_url {
        Some(url) => Setting::new(Some(url.clone()), origin.clone()),
        None => host_from_env(info, env)?,
    };
    let mut params = Params::default();
    for (name, value) in t.params {
        let json = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
        if let Err(v) = params.set(name, &json) {
            problems.push(format!("{at}: params.{v}"));
        }
    }
    Ok(Some(EntrySpec {
        backend: Backend::Remote(provider),
        model: Setting::new(t.model.to_owned(), origin.clone()),
        base_url,
        key,
        params,
        defaults: Params::default(),
        extra: serde_json::Map::new(),
        reasoning: None,
        embed_model: None,
        space: None,
        fleet: FleetSpec::default(),
    }))
}

#[cfg(test)]
#[path = "spec_tests.rs"]
mod tests;
