//! One entry of a chain: a provider, the model to ask it for, parameter overrides, options meant for
//! this provider only; its rate budgets; for a group, its further deployments and the strategy that picks
//! among them; and, when it embeds, its embedder, embedding model and vector space.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use llm_core::{ChatRequest, Embedder, Params, Price, Provider, Reasoning, ResponseFormat, Usd};
use serde_json::{Map, Value};

use crate::rate::Limits;

/// How a group's deployments are ordered for each call. Each deployment has its own breaker and budgets; a
/// deployment that is skipped or fails with a kind that falls through passes the call on to the next one in
/// that order, then to the next entry.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strategy {
    /// In the order they were added (the entry itself first).
    #[default]
    InOrder,
    /// At random, each in proportion to its [`Entry::weight`].
    Weighted,
    /// The one with the fewest requests of this process in flight first.
    LeastInFlight,
    /// The one with the lowest moving average of time to first content (of a whole answer for `chat`)
    /// first; one never measured goes first, so every deployment gets measured.
    LowestLatency,
    /// The one with the most of its rate budget left (requests, then tokens) first.
    MostBudgetLeft,
}

impl Strategy {
    /// `in_order`, `weighted`, `least_in_flight`, `lowest_latency` or `most_budget_left`: the chain file's
    /// spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::InOrder => "in_order",
            Strategy::Weighted => "weighted",
            Strategy::LeastInFlight => "least_in_flight",
            Strategy::LowestLatency => "lowest_latency",
            Strategy::MostBudgetLeft => "most_budget_left",
        }
    }

    /// The strategy spelled `name` (see [`Strategy::as_str`]).
    pub fn from_name(name: &str) -> Option<Strategy> {
        [
            Strategy::InOrder,
            Strategy::Weighted,
            Strategy::LeastInFlight,
            Strategy::LowestLatency,
            Strategy::MostBudgetLeft,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }
}

/// A provider plus its own model name, optional parameter overrides and its own provider-specific options.
///
/// For each entry the chain sends the caller's request with `model` replaced by the entry's model, the
/// request's parameters layered over the entry's defaults, and the entry's overrides layered over both
/// ([`Params::merged_with`]). The entry's own extra fields are added to the request's `extra` (the entry's
/// value wins for a key both set), and its reasoning setting and response format, when set, replace the
/// request's: so a field meant for one provider is sent to that provider only.
///
///
/// An entry can also answer embeddings ([`Entry::embeddings`], or [`Entry::embedding`] for an entry that only
/// embeds): its embedder, the embedding model, and the vector space those vectors live in (by default the
/// embedding model's name; [`Entry::space`] names it when the same model is served under other names
/// elsewhere). A chain's embeddings fall back only among entries of one space. Chat and embeddings of one
/// entry share its health and breaker: they reach the same server.
#[derive(Clone)]
pub struct Entry {
    provider: Arc<dyn Provider>,
    model: String,
    defaults: Params,
    params: Params,
    extra: Map<String, Value>,
    reasoning: Option<Reasoning>,
    response_format: Option<ResponseFormat>,
    embedding: Option<Embedding>,
    space: Option<String>,
    id: Option<String>,
    pub(crate) limits: Limits,
    price: Option<Price>,
    weight: u32,
    deployments: Vec<Entry>,
    strategy: Strategy,
}

/// What an entry embeds with.
#[derive(Clone)]
struct Embedding {
    embedder: Arc<dyn Embedder>,
    model: String,
}

impl Entry {
    /// An entry asking `provider` for `model`.
    pub fn new(provider: Arc<dyn Provider>, model: impl Into<String>) -> Self {
        Entry {
            provider,
            model: model.into(),
            defaults: Params::default(),
            params: Params::default(),
            extra: Map::new(),
            reasoning: None,
            response_format: None,
            embedding: None,
            space: None,
            id: None,
            limits: Limits::default(),
            price: None,
            weight: 1,
            deployments: Vec::new(),
            strategy: Strategy::InOrder,
        }
    }

    /// Adds a provider-specific body field sent by this entry only (e.g. OpenRouter's `transforms`).
    #[must_use]
    pub fn extra(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }

    /// Sets this entry's reasoning setting, replacing the request's.
    #[must_use]
    pub fn reasoning(mut self, reasoning: Reasoning) -> Self {
        self.reasoning = Some(reasoning);
        self
    }

    /// Sets this entry's response format, replacing the request's.
    #[must_use]
    pub fn response_format(mut self, format: impl Into<ResponseFormat>) -> Self {
        self.response_format = Some(format.into());
        self
    }

    /// This entry's own extra fields.
    pub fn extras(&self) -> &Map<String, Value> {
        &self.extra
    }

    /// An entry that embeds with `client` (also its provider, for health) asking for `model`: the shape of
    /// an embeddings-only chain's entries.
    pub fn embedding<E>(client: Arc<E>, model: impl Into<String>) -> Self
    where
        E: Provider + Embedder + 'static,
    {
        let model = model.into();
        let embedder: Arc<dyn Embedder> = client.clone();
        Entry::new(client, model.clone()).embeddings(embedder, model)
    }

    /// Lets this entry answer embeddings: `embedder` (usually the same client as its provider) asked for
    /// `model`.
    #[must_use]
    pub fn embeddings(mut self, embedder: Arc<dyn Embedder>, model: impl Into<String>) -> Self {
        self.embedding = Some(Embedding {
            embedder,
            model: model.into(),
        });
        self
    }

    /// Names the vector space of this entry's embeddings (default: the embedding model's name). Entries of
    /// one space must give interchangeable vectors: the same model, served elsewhere.
    #[must_use]
    pub fn space(mut self, space: impl Into<String>) -> Self {
        self.space = Some(space.into());
        self
    }

    /// The embedder, when this entry embeds.
    pub fn embedder(&self) -> Option<&Arc<dyn Embedder>> {
        self.embedding.as_ref().map(|e| &e.embedder)
    }

    /// The embedding model, when this entry embeds.
    pub fn embed_model(&self) -> Option<&str> {
        self.embedding.as_ref().map(|e| e.model.as_str())
    }

    /// The vector space of this entry's embeddings (its declared space, else its embedding model), when it
    /// embeds.
    pub fn vector_space(&self) -> Option<&str> {
        self.embedding
            .as_ref()
            .map(|e| self.space.as_deref().unwrap_or(&e.model))
    }

    /// Sets the id a shared state store keys this entry's breaker and budgets by (default: its position,
    /// provider and model, and a fingerprint of its provider's name, base URL, key fingerprint and model,
    /// e.g. `0:openai:gpt-4o-mini#9a0c…`, so entries reaching different servers or accounts never share
    /// state). Processes that share a chain must agree on it.
    #[must_use]
    pub fn id(mut self, id: impl Into<String>) -> Self {
        self.id = Some(id.into());
        self
    }

    /// Allows at most `rpm` requests per minute to this entry (for a group: to this deployment), across the
    /// fleet when the chain has a shared store. An entry out of budget is skipped without a request.
    #[must_use]
    pub fn rpm(mut self, rpm: u64) -> Self {
        self.limits.rpm = Some(rpm);
        self
    }

    /// Allows at most `tpm` tokens (input and output, as answers report them) per minute; an entry whose
    /// last minute used them all is skipped without a request.
    #[must_use]
    pub fn tpm(mut self, tpm: u64) -> Self {
        self.limits.tpm = Some(tpm);
        self
    }

    /// Prices this entry's tokens at `price`, over the price its provider ships for the model (for a
    /// group: this deployment's). An entry with no price of its own and none shipped has an unknown cost.
    #[must_use]
    pub fn price(mut self, price: Price) -> Self {
        self.price = Some(price);
        self
    }

    /// The price set with [`Entry::price`], when one was.
    pub fn own_price(&self) -> Option<Price> {
        self.price
    }

    /// Allows at most `usd` of spend per minute on this entry (for a group: this deployment), across the
    /// fleet when the chain has a shared store. Before each request the chain reserves the request's worst
    /// case (its prompt's estimate and its `max_tokens`, else the entry's default, else
    /// [`DEFAULT_RESERVED_OUTPUT_TOKENS`](crate::DEFAULT_RESERVED_OUTPUT_TOKENS), at the entry's price) and
    /// settles at the real cost after; an entry without room is skipped without a request (`cost_budget`).
    /// The entry needs a known price: building the chain fails otherwise.
    #[must_use]
    pub fn usd_per_minute(mut self, usd: Usd) -> Self {
        self.limits.usd.per_minute = Some(usd);
        self
    }

    /// Allows at most `usd` of spend per hour (see [`Entry::usd_per_minute`]).
    #[must_use]
    pub fn usd_per_hour(mut self, usd: Usd) -> Self {
        self.limits.usd.per_hour = Some(usd);
        self
    }

    /// Allows at most `usd` of spend per day, a sliding 24 hours (see [`Entry::usd_per_minute`]).
    #[must_use]
    pub fn usd_per_day(mut self, usd: Usd) -> Self {
        self.limits.usd.per_day = Some(usd);
        self
    }

    /// Waits up to `wait` for room in this entry's budget instead of skipping it at once.
    #[must_use]
    pub fn wait_for_budget(mut self, wait: Duration) -> Self {
        self.limits.wait = Some(wait);
        self
    }

    /// Sets this deployment's weight for [`Strategy::Weighted`] (default 1; 0 never picked first).
    #[must_use]
    pub fn weight(mut self, weight: u32) -> Self {
        self.weight = weight;
        self
    }

    /// Adds a deployment: this entry becomes a group of deployments of one model (several keys, regions
    /// or vendors), itself the first. Each deployment has its own breaker and budgets.
    #[must_use]
    pub fn deployment(mut self, deployment: Entry) -> Self {
        self.deployments.push(deployment);
        self
    }

    /// Sets how a group's deployments are ordered for each call (default [`Strategy::InOrder`]).
    #[must_use]
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// The further deployments of a group (empty for a plain entry).
    pub fn deployments(&self) -> &[Entry] {
        &self.deployments
    }

    /// The strategy among a group's deployments.
    pub fn deployment_strategy(&self) -> Strategy {
        self.strategy
    }

    /// The deployment weight.
    pub(crate) fn weight_value(&self) -> u32 {
        self.weight
    }

    /// The id set with [`Entry::id`].
    pub(crate) fn explicit_id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// This entry as its group's first deployment: without the further deployments.
    pub(crate) fn split(mut self) -> (Entry, Vec<Entry>, Strategy) {
        let rest = std::mem::take(&mut self.deployments);
        let strategy = self.strategy;
        (self, rest, strategy)
    }

    /// Sets parameters this entry uses when the request sets none (e.g. a token bound and sampling suited
    /// to a small local model); the request's own values win.
    #[must_use]
    pub fn defaults(mut self, defaults: Params) -> Self {
        self.defaults = defaults;
        self
    }

    /// Sets parameters that override the request's for this entry only.
    #[must_use]
    pub fn params(mut self, overrides: Params) -> Self {
        self.params = overrides;
        self
    }

    /// The provider.
    pub fn provider(&self) -> &Arc<dyn Provider> {
        &self.provider
    }

    /// The model this entry asks for.
    pub fn model(&self) -> &str {
        &self.model
    }

    /// The parameter overrides.
    pub fn overrides(&self) -> &Params {
        &self.params
    }

    /// The parameter defaults.
    pub fn default_params(&self) -> &Params {
        &self.defaults
    }

    /// This entry with its provider's [`Provider::without_waiting`] variant, when it has one.
    pub(crate) fn without_waiting(mut self) -> Self {
        if let Some(provider) = self.provider.without_waiting() {
            self.provider = provider;
        }
        if let Some(embedding) = &mut self.embedding
            && let Some(embedder) = embedding.embedder.embed_without_waiting()
        {
            embedding.embedder = embedder;
        }
        self
    }

    /// The request as this entry sends it: the entry's model; its defaults, under the request's parameters,
    /// under its overrides; its extra fields over the request's; its reasoning and format over the request's.
    pub fn request_for(&self, request: &ChatRequest) -> ChatRequest {
        let mut out = request.clone();
        out.model.clone_from(&self.model);
        out.params = self
            .defaults
            .merged_with(&request.params)
            .merged_with(&self.params);
        for (key, value) in &self.extra {
            out.extra.insert(key.clone(), value.clone());
        }
        if let Some(reasoning) = self.reasoning {
            out.reasoning = Some(reasoning);
        }
        if let Some(format) = &self.response_format {
            out.response_format = Some(format.clone());
        }
        out
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("provider", &self.provider.name())
            .field("model", &self.model)
            .field("defaults", &self.defaults)
            .field("params", &self.params)
            .field("extra", &self.extra.keys().collect::<Vec<_>>())
            .field("reasoning", &self.reasoning)
            .field("response_format", &self.response_format.is_some())
            .field("embed_model", &self.embed_model())
            .field("space", &self.vector_space())
            .field("id", &self.id)
            .field("limits", &self.limits)
            .field("price", &self.price)
            .field("deployments", &self.deployments)
            .field("strategy", &self.strategy)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use llm_core::{ChatResponse, ChatStream, Error};

    use super::*;

    #[derive(Debug)]
    struct Nothing;

    #[async_trait::async_trait]
    impl Provider for Nothing {
        fn name(&self) -> &str {
            "nothing"
        }
        fn validate(&self, _: &ChatRequest) -> Result<(), Error> {
            Ok(())
        }
        async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, Error> {
            Err(Error::cancelled())
        }
        async fn stream(&self, _: &ChatRequest) -> Result<ChatStream, Error> {
            Err(Error::cancelled())
        }
        async fn health(&self) -> Result<(), Error> {
            Ok(())
        }
    }

    #[test]
    fn the_request_wins_over_defaults_and_overrides_win_over_the_request() {
        let mut defaults = Params::default();
        defaults.max_tokens = Some(256);
        defaults.temperature = Some(0.2);
        defaults.repeat_penalty = Some(1.15);
        let mut overrides = Params::default();
        overrides.seed = Some(7);
        overrides.temperature = Some(0.5);
        let entry = Entry::new(Arc::new(Nothing), "m")
            .defaults(defaults)
            .params(overrides);
        let sent = entry.request_for(
            &ChatRequest::new("x")
                .user("hi")
                .max_tokens(16)
                .temperature(0.9),
        );
        assert_eq!(sent.model, "m");
        assert_eq!(
            sent.params.max_tokens,
            Some(16),
            "the request's bound wins over the default"
        );
        assert_eq!(
            sent.params.repeat_penalty,
            Some(1.15),
            "a default fills what the request left unset"
        );
        assert_eq!(
            sent.params.temperature,
            Some(0.5),
            "an override wins over the request"
        );
        assert_eq!(sent.params.seed, Some(7));
        let bare = entry.request_for(&ChatRequest::new("x").user("hi"));
        assert_eq!(bare.params.max_tokens, Some(256));
    }

    #[test]
    fn entry_options_reach_only_their_entry_and_replace_the_requests() {
        use llm_core::{Effort, ResponseFormat};
        use serde_json::json;
        let routed = Entry::new(Arc::new(Nothing), "a")
            .extra("transforms", json!(["middle-out"]))
            .extra("shared", json!("entry"))
            .reasoning(Reasoning::Budget(2048))
            .response_format(ResponseFormat::json_schema("s", json!({"type": "object"})));
        let plain = Entry::new(Arc::new(Nothing), "b");
        let request = ChatRequest::for_chain()
            .user("hi")
            .extra("shared", json!("request"))
            .reasoning(Reasoning::Effort(Effort::Low));
        let sent = routed.request_for(&request);
        assert_eq!(sent.extra["transforms"], json!(["middle-out"]));
        assert_eq!(
            sent.extra["shared"],
            json!("entry"),
            "the entry's value wins"
        );
        assert_eq!(sent.reasoning, Some(Reasoning::Budget(2048)));
        assert!(matches!(
            sent.response_format,
            Some(ResponseFormat::JsonSchema(_))
        ));
        let other = plain.request_for(&request);
        assert!(
            !other.extra.contains_key("transforms"),
            "never sent to another entry"
        );
        assert_eq!(other.extra["shared"], json!("request"));
        assert_eq!(other.reasoning, Some(Reasoning::Effort(Effort::Low)));
        assert!(other.response_format.is_none());
    }
}
