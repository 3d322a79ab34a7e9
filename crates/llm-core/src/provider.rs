//! The `Provider` trait every provider crate and the fallback chain implement.

use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use futures_core::Stream;

use crate::cost::Price;
use crate::error::Error;
use crate::request::ChatRequest;
use crate::response::{ChatResponse, StreamEvent};

/// A stream of answer events. It is `Send + 'static`, so it can be moved to another task; dropping it
/// cancels the request and closes (or returns to the pool) its connection.
pub type ChatStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, Error>> + Send + 'static>>;

/// A large-language-model provider: one HTTP API (or a chain of them) that answers chat requests.
///
/// The trait is object safe: `Arc<dyn Provider>` is how a chain holds its entries.
#[async_trait]
pub trait Provider: Send + Sync + std::fmt::Debug {
    /// The provider's name, e.g. `openai` (used in errors, attempts and logs).
    fn name(&self) -> &str;

    /// Checks `request` against this provider's parameter table without sending anything. Returns every
    /// violation at once as one `validation` error.
    fn validate(&self, request: &ChatRequest) -> Result<(), Error>;

    /// Sends `request` and waits for the whole answer.
    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error>;

    /// Sends `request` and returns the answer as a stream of events. Errors before the response starts
    /// (connection, HTTP status) come as `Err` here; errors after it started come as an `Err` item, after which
    /// the stream ends.
    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error>;

    /// Checks that the provider is reachable and the credentials are accepted, without spending tokens
    /// (e.g. `GET /v1/models`, `/api/tags`, `/health`).
    async fn health(&self) -> Result<(), Error>;

    /// This provider configured not to wait out a server that is not ready yet (a model still loading):
    /// such a call fails at once with an [`Error::is_not_ready`] error. A fallback chain uses it for every
    /// entry but its last, since it has somewhere else to go; waiting stays right for a lone client and the
    /// last entry. `None` (the default) for providers that never wait.
    fn without_waiting(&self) -> Option<Arc<dyn Provider>> {
        None
    }

    /// The wire format whose [`Relay`](crate::Relay) this provider sends (`None`, the default: it sends
    /// none, and a request's relay is left out).
    fn relay_wire(&self) -> Option<&'static str> {
        None
    }

    /// What tells this provider's server and credentials apart from another's of the same name: its base
    /// URL and its key's [fingerprint](crate::ApiKey::fingerprint), never the key. Shared fleet state keys a
    /// target's breakers and budgets by it, so two chains whose entries reach different servers or accounts
    /// never share them. `None` (the default): nothing beyond the name.
    fn identity(&self) -> Option<String> {
        None
    }

    /// What `model`'s tokens cost at this provider, from the price table its crate ships (looked up as
    /// [`PriceTable::lookup`](crate::PriceTable::lookup) does); `None` (the default) when no price is known.
    /// Local servers answer [`Price::FREE`].
    fn price(&self, model: &str) -> Option<Price> {
        let _ = model;
        None
    }
}

#[async_trait]
impl<P: Provider + ?Sized> Provider for Arc<P> {
    fn name(&self) -> &str {
        (**self).name()
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        (**self).validate(request)
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        (**self).chat(request).await
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        (**self).stream(request).await
    }

    async fn health(&self) -> Result<(), Error> {
        (**self).health().await
    }

    fn without_waiting(&self) -> Option<Arc<dyn Provider>> {
        (**self).without_waiting()
    }

    fn price(&self, model: &str) -> Option<Price> {
        (**self).price(model)
    }

    fn identity(&self) -> Option<String> {
        (**self).identity()
    }

    fn relay_wire(&self) -> Option<&'static str> {
        (**self).relay_wire()
    }
}
