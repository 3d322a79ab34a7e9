//! One entry of a chain: a provider, the model to ask it for, and parameter overrides.

use std::fmt;
use std::sync::Arc;

use llm_core::{ChatRequest, Params, Provider};

/// A provider plus its own model name and optional parameter overrides.
///
/// For each entry the chain sends the caller's request with `model` replaced by the entry's model and the
/// entry's parameters layered over the request's ([`Params::merged_with`]).
#[derive(Clone)]
pub struct Entry {
    provider: Arc<dyn Provider>,
    model: String,
    params: Params,
}

impl Entry {
    /// An entry asking `provider` for `model`.
    pub fn new(provider: Arc<dyn Provider>, model: impl Into<String>) -> Self {
        Entry {
            provider,
            model: model.into(),
            params: Params::default(),
        }
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

    /// This entry with its provider's [`Provider::without_waiting`] variant, when it has one.
    pub(crate) fn without_waiting(mut self) -> Self {
        if let Some(provider) = self.provider.without_waiting() {
            self.provider = provider;
        }
        self
    }

    /// The request as this entry sends it: the entry's model, the entry's parameters over the request's.
    pub fn request_for(&self, request: &ChatRequest) -> ChatRequest {
        let mut out = request.clone();
        out.model.clone_from(&self.model);
        out.params = request.params.merged_with(&self.params);
        out
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("provider", &self.provider.name())
            .field("model", &self.model)
            .field("params", &self.params)
            .finish()
    }
}
