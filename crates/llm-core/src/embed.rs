//! Embeddings: the [`EmbedRequest`] and [`EmbedResponse`] vocabulary, the object-safe [`Embedder`] trait
//! (beside [`Provider`](crate::Provider): not every provider embeds), and the [`EmbedTable`] a provider
//! declares so one engine checks inputs and settings before anything is sent.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::attempt::Attempt;
use crate::error::{Error, ErrorKind};
use crate::response::Usage;
use crate::validate::Violation;

/// What the inputs of a request are for, where a provider embeds queries and documents differently.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// A search query.
    Query,
    /// A document (a passage to be searched).
    Document,
}

impl InputKind {
    /// The snake_case name, e.g. `query`.
    pub const fn as_str(self) -> &'static str {
        match self {
            InputKind::Query => "query",
            InputKind::Document => "document",
        }
    }
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request for the embeddings of a batch of texts.
///
/// ```
/// use llm_core::{EmbedRequest, InputKind};
///
/// let request = EmbedRequest::new("text-embedding-3-small", ["a cat", "a dog"]).dimensions(256);
/// assert_eq!(request.inputs.len(), 2);
/// assert_eq!(request.kind, None::<InputKind>);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EmbedRequest {
    /// The embedding model.
    pub model: String,
    /// The texts, one vector each, answered in this order.
    pub inputs: Vec<String>,
    /// The width of the vectors asked for, where the provider and model can shorten them.
    pub dimensions: Option<u32>,
    /// What the inputs are for, where the provider distinguishes queries from documents.
    pub kind: Option<InputKind>,
}

impl EmbedRequest {
    /// An estimate of the inputs' tokens ([`tokens_of_text`](crate::tokens_of_text) of their bytes), for
    /// budgets. Never a reported count.
    pub fn estimated_input_tokens(&self) -> u64 {
        crate::cost::tokens_of_text(self.inputs.iter().map(String::len).sum())
    }

    /// A request for the embeddings of `inputs` from `model`.
    pub fn new<I, S>(model: impl Into<String>, inputs: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        EmbedRequest {
            model: model.into(),
            inputs: inputs.into_iter().map(Into::into).collect(),
            dimensions: None,
            kind: None,
        }
    }

    /// Asks for vectors `n` wide.
    #[must_use]
    pub fn dimensions(mut self, n: u32) -> Self {
        self.dimensions = Some(n);
        self
    }

    /// Says what the inputs are for.
    #[must_use]
    pub fn kind(mut self, kind: InputKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// The same request for another model (what a chain entry sends).
    #[must_use]
    pub fn with_model(&self, model: &str) -> Self {
        let mut out = self.clone();
        model.clone_into(&mut out.model);
        out
    }
}

/// The embeddings of one request.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EmbedResponse {
    /// One vector per input, in the order of the request's inputs.
    pub vectors: Vec<Vec<f32>>,
    /// The model as the provider reported it.
    pub model: String,
    /// Token counts, as far as the provider reports them (summed over batches).
    pub usage: Option<Usage>,
    /// The provider that answered.
    pub provider: String,
    /// The provider's request id (of the first batch when the inputs were sent in several).
    pub request_id: Option<String>,
    /// The attempts made before and including the answering one (filled by a fallback chain; empty when a
    /// provider is called directly).
    pub attempts: Vec<Attempt>,
}

impl EmbedResponse {
    /// A response of `vectors` from `model` of `provider`, everything else empty.
    pub fn new(
        provider: impl Into<String>,
        model: impl Into<String>,
        vectors: Vec<Vec<f32>>,
    ) -> Self {
        EmbedResponse {
            vectors,
            model: model.into(),
            provider: provider.into(),
            ..EmbedResponse::default()
        }
    }

    /// The width of the vectors (of the first; [`EmbedResponse::check_width`] checks they agree), `None`
    /// when there is none.
    pub fn dims(&self) -> Option<usize> {
        self.vectors.first().map(Vec::len)
    }

    /// Checks that every vector is `width` wide (the width of the first when `None`), and that there is at
    /// least one element in each.
    ///
    /// # Errors
    /// `invalid_response` naming the first vector of another width.
    pub fn check_width(&self, width: Option<usize>) -> Result<(), Error> {
        let Some(expected) = width.or_else(|| self.dims()) else {
            return Ok(());
        };
        for (i, v) in self.vectors.iter().enumerate() {
            let problem = if v.is_empty() {
                format!("embedding {i} is empty")
            } else if v.len() != expected {
                format!(
                    "embedding {i} is {} wide where {expected} was expected",
                    v.len()
                )
            } else {
                continue;
            };
            return Err(Error::new(ErrorKind::InvalidResponse, problem)
                .with_provider(self.provider.clone()));
        }
        Ok(())
    }

    /// Adds a later batch's answer: its vectors after these, its usage to these.
    pub fn append(&mut self, later: EmbedResponse) {
        self.vectors.extend(later.vectors);
        self.usage = match (self.usage, later.usage) {
            (Some(a), Some(b)) => Some(a + b),
            (a, b) => a.or(b),
        };
        if self.request_id.is_none() {
            self.request_id = later.request_id;
        }
    }
}

/// What a provider's embeddings endpoint takes: how many inputs one request may carry (more are split by
/// the driver), how many one call may carry in all, how long one input may be where that is documented in
/// bytes, and which optional settings it accepts. [`EmbedTable::validate`] is the one engine that checks a
/// request against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbedTable {
    /// The provider's name (in the violations).
    pub provider: &'static str,
    /// The most inputs one HTTP request carries; a call with more is sent in several.
    pub max_batch: usize,
    /// The most inputs one call may carry (a bound on the memory one call holds).
    pub max_inputs: usize,
    /// The longest input in bytes, where the provider documents one.
    pub max_input_bytes: Option<usize>,
    /// Whether the endpoint takes [`EmbedRequest::dimensions`].
    pub dimensions: bool,
    /// Whether the endpoint takes [`EmbedRequest::kind`].
    pub input_kind: bool,
}

/// The default bound on the inputs of one call (65,536: about 400 MB of 1,536-wide vectors).
pub const MAX_INPUTS: usize = 1 << 16;

impl EmbedTable {
    /// Every reason `request` cannot be sent, as one `validation` error: no input, too many inputs, an
    /// empty or too long input, a setting the provider does not take, zero dimensions.
    ///
    /// # Errors
    /// `validation`, listing every violation.
    pub fn validate(&self, request: &EmbedRequest) -> Result<(), Error> {
        let mut violations = Vec::new();
        let n = request.inputs.len();
        if n == 0 {
            violations.push(Violation::new("inputs", "at least one input", "none"));
        }
        if n > self.max_inputs {
            violations.push(Violation::new(
                "inputs",
                format!("at most {} inputs in one call", self.max_inputs),
                n.to_string(),
            ));
        }
        for (i, input) in request.inputs.iter().enumerate() {
            if input.is_empty() {
                violations.push(Violation::new(
                    format!("inputs[{i}]"),
                    "a non-empty text",
                    "an empty text",
                ));
            } else if let Some(max) = self.max_input_bytes.filter(|&max| input.len() > max) {
                violations.push(Violation::new(
                    format!("inputs[{i}]"),
                    format!("at most {max} bytes"),
                    format!("{} bytes", input.len()),
                ));
            }
        }
        match request.dimensions {
            Some(d) if !self.dimensions => violations.push(Violation::new(
                "dimensions",
                format!("not supported by {}", self.provider),
                d.to_string(),
            )),
            Some(0) => violations.push(Violation::new("dimensions", "at least 1", "0")),
            _ => {}
        }
        if let Some(kind) = request.kind.filter(|_| !self.input_kind) {
            violations.push(Violation::new(
                "kind",
                format!("not supported by {}", self.provider),
                kind.as_str(),
            ));
        }
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(self.provider, violations))
        }
    }
}

/// A provider that turns texts into vectors. Object safe, like [`Provider`](crate::Provider): a chain
/// holds its entries' embedders as `Arc<dyn Embedder>`.
///
/// Most embedders are providers too, so no method shares a name with one of [`Provider`](crate::Provider)'s:
/// with both traits in scope, `client.name()` and `client.validate(…)` stay unambiguous.
#[async_trait]
pub trait Embedder: Send + Sync + fmt::Debug {
    /// The provider's name, as [`Provider::name`](crate::Provider::name).
    fn embedder_name(&self) -> &str;

    /// Checks `request` against this provider's [`EmbedTable`] without sending anything; every violation at
    /// once as one `validation` error.
    fn validate_embed(&self, request: &EmbedRequest) -> Result<(), Error>;

    /// Sends `request` (in several requests when it has more inputs than one may carry) and returns one
    /// vector per input, in order. One failed request fails the call.
    async fn embed(&self, request: &EmbedRequest) -> Result<EmbedResponse, Error>;

    /// This embedder configured not to wait out a server that is not ready yet, as
    /// [`Provider::without_waiting`](crate::Provider::without_waiting).
    fn embed_without_waiting(&self) -> Option<Arc<dyn Embedder>> {
        None
    }
}

#[async_trait]
impl<E: Embedder + ?Sized> Embedder for Arc<E> {
    fn embedder_name(&self) -> &str {
        (**self).embedder_name()
    }

    fn validate_embed(&self, request: &EmbedRequest) -> Result<(), Error> {
        (**self).validate_embed(request)
    }

    async fn embed(&self, request: &EmbedRequest) -> Result<EmbedResponse, Error> {
        (**self).embed(request).await
    }

    fn embed_without_waiting(&self) -> Option<Arc<dyn Embedder>> {
        (**self).embed_without_waiting()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: EmbedTable = EmbedTable {
        provider: "example",
        max_batch: 2,
        max_inputs: 3,
        max_input_bytes: Some(5),
        dimensions: false,
        input_kind: false,
    };

    #[test]
    fn every_violation_is_reported_at_once() {
        let request = EmbedRequest::new("m", ["", "too long", "ok", "four"])
            .dimensions(8)
            .kind(InputKind::Query);
        let err = TABLE.validate(&request).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
        assert_eq!(
            params,
            ["inputs", "inputs[0]", "inputs[1]", "dimensions", "kind"]
        );
    }

    #[test]
    fn no_input_is_a_violation_and_a_fitting_request_passes() {
        let none = TABLE.validate(&EmbedRequest::new("m", Vec::<String>::new()));
        assert_eq!(none.unwrap_err().violations()[0].given, "none");
        assert!(TABLE.validate(&EmbedRequest::new("m", ["a", "b"])).is_ok());
        let dims = EmbedTable {
            dimensions: true,
            ..TABLE
        };
        let zero = dims.validate(&EmbedRequest::new("m", ["a"]).dimensions(0));
        assert_eq!(zero.unwrap_err().violations()[0].allowed, "at least 1");
    }

    #[test]
    fn widths_are_checked_and_batches_join_in_order() {
        let mut first = EmbedResponse::new("p", "m", vec![vec![1.0, 2.0]]);
        first.usage = Some(Usage {
            input_tokens: Some(2),
            ..Usage::default()
        });
        let mut second = EmbedResponse::new("p", "m", vec![vec![3.0, 4.0]]);
        second.usage = Some(Usage {
            input_tokens: Some(3),
            ..Usage::default()
        });
        first.append(second);
        assert_eq!(first.vectors, [[1.0, 2.0], [3.0, 4.0]]);
        assert_eq!(first.usage.unwrap().input_tokens, Some(5));
        assert!(first.check_width(None).is_ok());
        let err = first.check_width(Some(3)).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse);
        let ragged = EmbedResponse::new("p", "m", vec![vec![1.0], vec![1.0, 2.0]]);
        assert!(ragged.check_width(None).is_err());
        let empty = EmbedResponse::new("p", "m", vec![vec![]]);
        let err = empty.check_width(None).unwrap_err();
        assert_eq!(err.message(), "embedding 0 is empty");
    }
}
