//! From a [`ChainSpec`] to a running [`Chain`]: one provider per entry (and its embedder, for `llmux
//! embed`), the CLI's timeouts and retry settings, and the attempt observer.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use llmux::chain::redis::{RedisOptions, RedisState};
use llmux::chain::{AttemptObserver, Chain, Entry, Policy, SkipObserver};
use llmux::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, Embedder, Error, ErrorKind,
    PriceTable, Provider, Timeouts,
};

use crate::args::{LimitArgs, ProviderName};
use crate::local::LazyLocal;
use crate::providers::{self, Both, both};
use crate::spec::{self, Backend, ChainSpec, ConfigError, EntrySpec, Key, Origin};

/// How the CLI's flags shape every entry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Per-request limits.
    pub timeouts: Timeouts,
    /// Retries per entry (`None`: the chain's default).
    pub max_retries: Option<u32>,
    /// The limit for the whole call.
    pub deadline: Option<Duration>,
}

impl Options {
    /// The options the commands' limit flags give: `--connect-timeout`, `--first-byte-timeout`,
    /// `--idle-timeout`, `--timeout` (each request's total limit and the whole call's deadline) and
    /// `--max-retries`; a limit not given keeps its default.
    pub fn from_limits(limits: &LimitArgs) -> Options {
        let mut timeouts = Timeouts::default();
        if let Some(d) = limits.connect_timeout {
            timeouts = timeouts.connect(d);
        }
        if let Some(d) = limits.first_byte_timeout {
            timeouts = timeouts.first_byte(d);
        }
        if let Some(d) = limits.idle_timeout {
            timeouts = timeouts.idle(d);
        }
        if let Some(d) = limits.timeout {
            timeouts = timeouts.total(d);
        }
        Options {
            timeouts,
            max_retries: limits.max_retries,
            deadline: limits.timeout,
        }
    }
}

/// The chain for `spec`; with `[state]`, its breakers and budgets are shared through Redis (which needs a
/// tokio runtime: call this inside one).
pub fn chain(
    spec: &ChainSpec,
    options: Options,
    observer: Option<AttemptObserver>,
    skip_observer: Option<SkipObserver>,
) -> Result<Chain, ConfigError> {
    let mut builder = Chain::builder().name("llmux").policy(policy(options, spec));
    if let Some(o) = observer {
        builder = builder.on_attempt(o);
    }
    if let Some(o) = skip_observer {
        builder = builder.on_skip(o);
    }
    if let Some(route) = &spec.route {
        builder = builder.id(format!("llmux/{route}"));
    }
    if let Some(state) = &spec.state {
        let mut options =
            RedisOptions::default().namespace(state.key.as_deref().unwrap_or("llmux"));
        if let Some(path) = &state.ca_file {
            let pem = std::fs::read(path).map_err(|e| {
                ConfigError(format!(
                    "cannot read [state] ca_file {}: {e}",
                    path.display()
                ))
            })?;
            options = options.root_certificate(pem);
        }
        // The error never carries the URL: it may hold a password.
        let store = RedisState::connect(state.redis.expose(), options)
            .map_err(|e| ConfigError(format!("cannot set up [state] redis: {e}")))?;
        builder = builder.state(Arc::new(store));
    }
    for entry in &spec.entries {
        let mut built =
            self::entry(entry, options.timeouts, &spec.prices)?.strategy(entry.fleet.strategy);
        for d in &entry.fleet.deployments {
            built = built.deployment(self::entry(d, options.timeouts, &spec.prices)?);
        }
        builder = builder.entry(built);
    }
    builder
        .build()
        .map_err(|e| ConfigError(format!("cannot build the chain: {e}")))
}

/// The chain policy: the chain file's `[chain]` table (or the defaults), under the CLI's flags.
fn policy(options: Options, spec: &ChainSpec) -> Policy {
    let mut policy = spec.policy.clone();
    if let Some(n) = options.max_retries {
        let retry = policy.retry.max_attempts(n.saturating_add(1));
        policy = policy.retry(retry);
    }
    if let Some(d) = options.deadline {
        policy = policy.deadline(d);
    }
    policy
}

/// The chain entry (one deployment, for a group) of `entry`: its provider, model, parameters, budgets, and
/// its price when `prices` (the user's rows) has one for its provider and model (else its provider's own).
fn entry(entry: &EntrySpec, timeouts: Timeouts, prices: &PriceTable) -> Result<Entry, ConfigError> {
    let provider = provider(entry, timeouts)?;
    let mut built = Entry::new(provider, entry.model.value.clone())
        .defaults(entry.defaults.clone())
        .params(entry.params.clone());
    // An entry's one price: its chat model's row, else its embedding model's.
    let name = entry.backend.name();
    let price = prices.price(name, &entry.model.value).or_else(|| {
        let embed = entry.embed_model.as_ref()?;
        prices.price(name, &embed.value)
    });
    if let Some(price) = price {
        built = built.price(price);
    }
    for (key, value) in &entry.extra {
        built = built.extra(key.clone(), value.clone());
    }
    if let Some(reasoning) = entry.reasoning {
        built = built.reasoning(reasoning);
    }
    let fleet = &entry.fleet;
    if let Some(rpm) = fleet.rpm {
        built = built.rpm(rpm);
    }
    if let Some(tpm) = fleet.tpm {
        built = built.tpm(tpm);
    }
    let [minute, hour, day] = fleet.usd;
    if let Some(usd) = minute {
        built = built.usd_per_minute(usd);
    }
    if let Some(usd) = hour {
        built = built.usd_per_hour(usd);
    }
    if let Some(usd) = day {
        built = built.usd_per_day(usd);
    }
    if let Some(id) = &fleet.id {
        built = built.id(id.clone());
    }
    if let Some(weight) = fleet.weight {
        built = built.weight(weight);
    }
    Ok(built)
}

/// The provider serving `entry`.
pub fn provider(entry: &EntrySpec, timeouts: Timeouts) -> Result<Arc<dyn Provider>, ConfigError> {
    if let Key::Missing { var } = &entry.key {
        return Ok(Arc::new(MissingKey {
            name: entry.backend.name(),
            var: var.clone(),
        }));
    }
    let key = match &entry.key {
        Key::Set { key, .. } => Some(key.clone()),
        _ => None,
    };
    let base_url = entry.base_url.value.clone();
    let built: Result<Arc<dyn Provider>, Error> = match &entry.backend {
        Backend::Remote(p) => providers::row(*p).build(base_url, key, timeouts),
        Backend::Managed { binary, model_file } => {
            LazyLocal::new(binary.value.clone(), model_file.value.clone(), timeouts)
                .map(|p| Arc::new(p) as Arc<dyn Provider>)
        }
    };
    built.map_err(|e| ConfigError(format!("cannot set up {}: {e}", entry.backend.name())))
}

/// The embedding model `llmux embed` asks `entry` for: its `embed_model`; else, for a provider whose model
/// was not chosen, the provider's default embedding model; else its model. `None` when the provider does
/// not embed through llmux (Claude has no embeddings API; OpenRouter's is not wired).
pub fn embed_model(entry: &EntrySpec) -> Option<String> {
    if let Some(model) = &entry.embed_model {
        return Some(model.value.clone());
    }
    match &entry.backend {
        Backend::Managed { .. } => Some(entry.model.value.clone()),
        Backend::Remote(p) => {
            let default = spec::info(*p).default_embed_model?;
            Some(if entry.model.origin == Origin::Default {
                default.to_owned()
            } else {
                entry.model.value.clone()
            })
        }
    }
}

/// The client embedding for `entry` (a provider that embeds).
fn embedder(entry: &EntrySpec, timeouts: Timeouts) -> Result<Both, ConfigError> {
    if let Key::Missing { var } = &entry.key {
        return Ok(both(MissingKey {
            name: entry.backend.name(),
            var: var.clone(),
        }));
    }
    let key = match &entry.key {
        Key::Set { key, .. } => Some(key.clone()),
        _ => None,
    };
    let url = entry.base_url.value.clone();
    let built: Result<Both, Error> = match &entry.backend {
        Backend::Remote(p) => match providers::row(*p).build_embedder(url, key, timeouts) {
            Some(built) => built,
            None => return Err(no_embeddings(*p)),
        },
        Backend::Managed { binary, model_file } => {
            LazyLocal::embeddings(binary.value.clone(), model_file.value.clone(), timeouts)
                .map(both)
        }
    };
    built.map_err(|e| ConfigError(format!("cannot set up {}: {e}", entry.backend.name())))
}

fn no_embeddings(provider: ProviderName) -> ConfigError {
    let embedding: Vec<&str> = providers::PROVIDERS
        .iter()
        .filter(|r| r.embed.is_some())
        .map(|r| r.id)
        .collect();
    ConfigError(format!(
        "{} has no embeddings through llmux: use {}",
        provider.as_str(),
        embedding.join(", ")
    ))
}

/// The embeddings chain for `spec`: each entry that embeds with its embedding model and space; an entry
/// whose provider does not embed is kept for chat only, so the chain passes over it (with one entry, that
/// is a configuration error). Entries that embed must share one vector space.
pub fn embed_chain(
    spec: &ChainSpec,
    options: Options,
    observer: Option<AttemptObserver>,
) -> Result<Chain, ConfigError> {
    let mut builder = Chain::builder().name("llmux").policy(policy(options, spec));
    if let Some(o) = observer {
        builder = builder.on_attempt(o);
    }
    for entry in &spec.entries {
        let Some(model) = embed_model(entry) else {
            if let (Backend::Remote(p), 1) = (&entry.backend, spec.entries.len()) {
                return Err(no_embeddings(*p));
            }
            builder = builder.entry(Entry::new(
                provider(entry, options.timeouts)?,
                entry.model.value.clone(),
            ));
            continue;
        };
        let (provider, embedder) = embedder(entry, options.timeouts)?;
        let price = spec.prices.price(entry.backend.name(), &model);
        let mut built = Entry::new(provider, model.clone()).embeddings(embedder, model);
        if let Some(price) = price {
            built = built.price(price);
        }
        if let Some(space) = &entry.space {
            built = built.space(space.clone());
        }
        builder = builder.entry(built);
    }
    builder
        .build()
        .map_err(|e| ConfigError(format!("cannot build the embeddings chain: {e}")))
}

/// An entry whose key variable is unset: every call fails with `auth` naming the variable, so the chain
/// records it as an attempt and moves on.
#[derive(Debug)]
pub struct MissingKey {
    name: &'static str,
    var: String,
}

impl MissingKey {
    fn error(&self) -> Error {
        Error::new(
            ErrorKind::Auth,
            format!(
                "no api key: the environment variable {} is not set",
                self.var
            ),
        )
        .with_provider(self.name)
    }
}

#[async_trait]
impl Provider for MissingKey {
    fn name(&self) -> &str {
        self.name
    }

    fn validate(&self, _request: &ChatRequest) -> Result<(), Error> {
        Ok(())
    }

    async fn chat(&self, _request: &ChatRequest) -> Result<ChatResponse, Error> {
        Err(self.error())
    }

    async fn stream(&self, _request: &ChatRequest) -> Result<ChatStream, Error> {
        Err(self.error())
    }

    async fn health(&self) -> Result<(), Error> {
        Err(self.error())
    }
}

#[async_trait]
impl Embedder for MissingKey {
    fn embedder_name(&self) -> &str {
        self.name
    }

    fn validate_embed(&self, _request: &EmbedRequest) -> Result<(), Error> {
        Ok(())
    }

    async fn embed(&self, _request: &EmbedRequest) -> Result<EmbedResponse, Error> {
        Err(self.error())
    }
}
