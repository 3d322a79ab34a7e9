//! OpenRouter's routing options as typed values: provider preferences (the body's `provider` object) and
//! the server-side model fallback list (`models`).

use serde::Serialize;

/// Whether upstream providers may store and train on prompts.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataCollection {
    /// Providers that may store data are allowed.
    Allow,
    /// Only providers that do not store data.
    Deny,
}

/// How OpenRouter orders the candidate providers.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderSort {
    /// Cheapest first.
    Price,
    /// Highest throughput first.
    Throughput,
    /// Lowest latency first.
    Latency,
}

/// The most the caller will pay, in US dollars per million tokens (per request / per image for those).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct MaxPrice {
    /// Per million prompt tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt: Option<f64>,
    /// Per million completion tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub completion: Option<f64>,
    /// Per request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<f64>,
    /// Per image.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<f64>,
}

impl MaxPrice {
    /// Limits the prompt price.
    #[must_use]
    pub fn prompt(mut self, usd_per_million: f64) -> Self {
        self.prompt = Some(usd_per_million);
        self
    }

    /// Limits the completion price.
    #[must_use]
    pub fn completion(mut self, usd_per_million: f64) -> Self {
        self.completion = Some(usd_per_million);
        self
    }

    /// Limits the price per request.
    #[must_use]
    pub fn request(mut self, usd: f64) -> Self {
        self.request = Some(usd);
        self
    }

    /// Limits the price per image.
    #[must_use]
    pub fn image(mut self, usd: f64) -> Self {
        self.image = Some(usd);
        self
    }
}

/// Provider routing preferences, sent as the body's `provider` object. Unset fields are not sent (OpenRouter's
/// defaults apply).
///
/// ```
/// use llm_openrouter::{DataCollection, ProviderPreferences, ProviderSort};
/// let prefs = ProviderPreferences::default()
///     .order(["anthropic", "openai"])
///     .allow_fallbacks(false)
///     .data_collection(DataCollection::Deny)
///     .sort(ProviderSort::Throughput);
/// let json = serde_json::to_value(&prefs).unwrap();
/// assert_eq!(json["order"][0], "anthropic");
/// assert_eq!(json["data_collection"], "deny");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ProviderPreferences {
    /// Providers to try, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<Vec<String>>,
    /// Whether other providers may serve the request when the ordered ones cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allow_fallbacks: Option<bool>,
    /// Only providers that support every parameter of the request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub require_parameters: Option<bool>,
    /// Data retention policy.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_collection: Option<DataCollection>,
    /// Only these providers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub only: Option<Vec<String>>,
    /// Never these providers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ignore: Option<Vec<String>>,
    /// Only these quantization levels (e.g. `fp8`, `int4`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quantizations: Option<Vec<String>>,
    /// How candidates are ordered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sort: Option<ProviderSort>,
    /// Price limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_price: Option<MaxPrice>,
}

fn strings<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}

impl ProviderPreferences {
    /// Sets the provider order.
    #[must_use]
    pub fn order<I: IntoIterator<Item = S>, S: Into<String>>(mut self, providers: I) -> Self {
        self.order = Some(strings(providers));
        self
    }

    /// Sets whether other providers may serve the request.
    #[must_use]
    pub fn allow_fallbacks(mut self, allow: bool) -> Self {
        self.allow_fallbacks = Some(allow);
        self
    }

    /// Sets whether every parameter must be supported.
    #[must_use]
    pub fn require_parameters(mut self, require: bool) -> Self {
        self.require_parameters = Some(require);
        self
    }

    /// Sets the data retention policy.
    #[must_use]
    pub fn data_collection(mut self, policy: DataCollection) -> Self {
        self.data_collection = Some(policy);
        self
    }

    /// Allows only these providers.
    #[must_use]
    pub fn only<I: IntoIterator<Item = S>, S: Into<String>>(mut self, providers: I) -> Self {
        self.only = Some(strings(providers));
        self
    }

    /// Never uses these providers.
    #[must_use]
    pub fn ignore<I: IntoIterator<Item = S>, S: Into<String>>(mut self, providers: I) -> Self {
        self.ignore = Some(strings(providers));
        self
    }

    /// Allows only these quantization levels.
    #[must_use]
    pub fn quantizations<I: IntoIterator<Item = S>, S: Into<String>>(mut self, levels: I) -> Self {
        self.quantizations = Some(strings(levels));
        self
    }

    /// Sets how candidates are ordered.
    #[must_use]
    pub fn sort(mut self, sort: ProviderSort) -> Self {
        self.sort = Some(sort);
        self
    }

    /// Sets price limits.
    #[must_use]
    pub fn max_price(mut self, max_price: MaxPrice) -> Self {
        self.max_price = Some(max_price);
        self
    }
}
