//! Chain files: the `[[entry]]` tables (and their deployments), `[chain]` policies, `[state]`, `[gateway]`
//! and `[[price]]` tables, read into a [`ChainSpec`] with every mistake named (exit 2).

use std::fmt;
use std::path::{Path, PathBuf};

use llmux::chain::{BreakerPolicy, FallThrough, Policy, RetryBudget, RetryPolicy, Strategy};
use llmux::{ApiKey, ErrorKind, Params, PriceEntry, PriceTable, Usd};
use serde::Deserialize;

use super::{
    Backend, ChainSpec, ConfigError, EntrySpec, FleetSpec, GatewayKeys, Key, Origin, RedisUrl,
    Setting, StateSpec, host_from_env, info, optional_key,
};
use crate::args::ProviderName;
use crate::env::Env;

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
                    "reasoning.effort `{effort}`: expected minimal, low, medium, high, xhigh or max"
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

/// A TOML error without the file's text: toml's own message quotes the offending line, which may be the
/// one holding `keys = ["…"]`, and serde's quotes a mistyped value. Where it is, then what is wrong, with
/// every double-quoted value in it replaced.
fn toml_error(e: &toml::de::Error, text: &str) -> String {
    let at = e.span().map(|span| {
        let before = &text[..span.start.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        format!("line {line}, column {column}: ")
    });
    let mut message = String::new();
    let mut quoted = false;
    for c in e.message().trim_end().chars() {
        if c == '"' {
            if quoted {
                message.push_str("\"…\"");
            }
            quoted = !quoted;
        } else if !quoted {
            message.push(c);
        }
    }
    format!("{}{message}", at.unwrap_or_default())
}

/// Parses a chain file's text; `path` is used in messages and as the settings' origin.
pub fn parse_chain_file(text: &str, path: &Path, env: &Env) -> Result<ChainSpec, ConfigError> {
    let file: ChainFile = toml::from_str(text).map_err(|e| {
        ConfigError(format!(
            "invalid chain file {}: {}",
            path.display(),
            toml_error(&e, text)
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
