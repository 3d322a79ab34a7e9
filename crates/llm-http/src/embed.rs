//! Embeddings over HTTP: what a provider crate writes ([`EmbedCodec`], its embeddings wire format as pure
//! code) and the one driver ([`HttpProvider`] implements [`Embedder`] for every such codec).
//!
//! The driver splits a call's inputs into batches of the codec's [`EmbedTable::max_batch`], sends them with
//! at most [`HttpConfig::embed_concurrency`](crate::HttpConfig::embed_concurrency) in flight, and joins the
//! answers in input order; the first failed batch fails the call (the others are cancelled). It checks that
//! each batch answered one vector per input, and that every vector of the call has one width (the one asked
//! for, when the request names dimensions). Written once here, for every codec.

use async_trait::async_trait;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use http::HeaderMap;
use llm_core::{EmbedRequest, EmbedResponse, EmbedTable, Embedder, Error, ErrorKind};
use tracing::Instrument as _;

use crate::codec::{Codec, WireRequest};
use crate::provider::HttpProvider;
use crate::transport::DEFAULT_MAX_BODY;

/// The body bound of one batch's answer, per input: room for a 4,096-wide vector as JSON floats.
const BODY_PER_INPUT: usize = 128 << 10;

/// A provider's embeddings wire format, beside its chat [`Codec`]: the table its inputs are checked
/// against, a batch encoded as a request, an answer decoded. Errors are classified with the codec's own
/// table ([`Codec::error`]). Pure: no IO.
pub trait EmbedCodec: Codec {
    /// What the endpoint takes: batch size, input bounds, optional settings.
    fn embed_table(&self) -> EmbedTable;

    /// Every reason `request` cannot be sent (default: [`EmbedTable::validate`] of [`EmbedCodec::embed_table`],
    /// the error naming the configured provider).
    ///
    /// # Errors
    /// `validation`, listing every violation.
    fn validate_embed(&self, request: &EmbedRequest) -> Result<(), Error> {
        self.embed_table()
            .validate(request)
            .map_err(|e| e.with_provider(self.http().name.clone()))
    }

    /// The request for `inputs`, one batch of `request` (at most [`EmbedTable::max_batch`] of its inputs).
    ///
    /// # Errors
    /// `validation` when the request cannot be encoded.
    fn encode_embed(&self, request: &EmbedRequest, inputs: &[String])
    -> Result<WireRequest, Error>;

    /// Decodes a success body answering a batch of `inputs` inputs: the vectors in input order.
    ///
    /// # Errors
    /// The error an HTTP-200 body carries, or `invalid_response`.
    fn decode_embed(
        &self,
        request: &EmbedRequest,
        inputs: usize,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<EmbedResponse, Error>;
}

impl<C: EmbedCodec> HttpProvider<C> {
    async fn embed_batch(
        &self,
        request: &EmbedRequest,
        inputs: &[String],
    ) -> Result<EmbedResponse, Error> {
        let codec = self.codec();
        let wire = codec.encode_embed(request, inputs)?;
        let response = self.send(wire, false).await?;
        let headers = response.headers().clone();
        let limit = DEFAULT_MAX_BODY.max(inputs.len().saturating_mul(BODY_PER_INPUT));
        let body = response.bytes(limit).await?;
        let transport = self.transport();
        let mut answer = codec
            .decode_embed(request, inputs.len(), &headers, &body)
            .map_err(|e| transport.finish(e))?;
        // Each batch is priced on its own, so the joined answer's cost is the sum of its batches'.
        let pricing = codec.pricing();
        let price = pricing
            .price(&request.model)
            .or_else(|| pricing.price(&answer.model));
        if let Some(usage) = &mut answer.usage {
            usage.cost = price.and_then(|p| p.cost(usage));
        }
        if answer.vectors.len() != inputs.len() {
            return Err(transport
                .error(
                    ErrorKind::InvalidResponse,
                    format!(
                        "{} embeddings answered {} inputs",
                        answer.vectors.len(),
                        inputs.len()
                    ),
                )
                .with_request_id_opt(answer.request_id));
        }
        Ok(answer)
    }

    async fn embed_all(&self, request: &EmbedRequest) -> Result<EmbedResponse, Error> {
        let codec = self.codec();
        codec.validate_embed(request)?;
        let batch = codec.embed_table().max_batch.max(1);
        let concurrency = codec.http().embed_concurrency.max(1);
        // `buffered` runs up to `concurrency` batches at once and yields their answers in input order; the
        // first error ends the call and drops (cancels) the batches still in flight.
        // Collected first (an async fn's future does nothing until polled): a lazy `map` here would hold a
        // closure the `Send` check of the boxed future cannot see through.
        let pending: Vec<_> = request
            .inputs
            .chunks(batch)
            .map(|inputs| self.embed_batch(request, inputs))
            .collect();
        let mut answers = stream::iter(pending).buffered(concurrency);
        let mut joined: Option<EmbedResponse> = None;
        while let Some(answer) = answers.try_next().await? {
            match &mut joined {
                Some(joined) => joined.append(answer),
                None => {
                    let mut first = answer;
                    first
                        .vectors
                        .reserve(request.inputs.len() - first.vectors.len());
                    joined = Some(first);
                }
            }
        }
        let answer = joined
            .unwrap_or_else(|| EmbedResponse::new(codec.name(), request.model.clone(), Vec::new()));
        let width = request.dimensions.map(|d| d as usize);
        answer.check_width(width).map_err(|e| {
            self.transport()
                .finish(e.with_request_id_opt(answer.request_id.clone()))
        })?;
        Ok(answer)
    }
}

#[async_trait]
impl<C: EmbedCodec> Embedder for HttpProvider<C> {
    fn embedder_name(&self) -> &str {
        self.codec().name()
    }

    fn validate_embed(&self, request: &EmbedRequest) -> Result<(), Error> {
        self.codec().validate_embed(request)
    }

    async fn embed(&self, request: &EmbedRequest) -> Result<EmbedResponse, Error> {
        let span = crate::span::request("embeddings", self.codec().name(), &request.model);
        let result = self.embed_all(request).instrument(span.clone()).await;
        crate::span::record_embeddings(&span, &result);
        result
    }
}
