//! The chain as an [`Embedder`]: the run loop with the `Embed` operation, over the entries of the chain's
//! vector space, with the retries, breakers, health and attempts of chat.

use async_trait::async_trait;
use llm_core::{EmbedRequest, EmbedResponse, Embedder, Error, ErrorKind, Violation};

use crate::chain::Chain;
use crate::operation::{Embed, Operation};
use crate::telemetry;

impl Chain {
    fn no_embedder(&self) -> Error {
        Error::new(ErrorKind::Validation, "no entry of the chain embeds")
            .with_provider(self.inner.name.clone())
    }
}

#[async_trait]
impl Embedder for Chain {
    fn embedder_name(&self) -> &str {
        &self.inner.name
    }

    /// `Ok` when at least one entry of the space accepts the request (with its embedding model); else one
    /// `validation` error listing every entry's violations, prefixed `provider[entry].`.
    fn validate_embed(&self, request: &EmbedRequest) -> Result<(), Error> {
        let mut violations = Vec::new();
        for (i, slot) in self.inner.entries.iter().enumerate() {
            let (Some(embedder), Some(model)) = (slot.entry.embedder(), slot.entry.embed_model())
            else {
                continue;
            };
            let name = slot.entry.provider().name();
            match embedder.validate_embed(&request.with_model(model)) {
                Ok(()) => return Ok(()),
                Err(e) => violations.extend(e.violations().iter().map(|v| {
                    Violation::new(
                        format!("{name}[{i}].{}", v.param),
                        v.allowed.clone(),
                        v.given.clone(),
                    )
                })),
            }
        }
        if self.inner.space.is_none() {
            return Err(self.no_embedder());
        }
        Err(
            Error::new(ErrorKind::Validation, "no entry accepts the request")
                .with_provider(self.inner.name.clone())
                .with_violations(violations),
        )
    }

    async fn embed(&self, request: &EmbedRequest) -> Result<EmbedResponse, Error> {
        let Some(space) = self.inner.space.as_deref() else {
            return Err(self.no_embedder());
        };
        let op = Embed {
            request,
            space,
            width: &self.inner.embed_width,
        };
        let span = telemetry::call_span(&self.inner, op.name());
        let (winner, attempts) = self.call(&op, &span, self.deadline()).await?;
        let mut response = winner.output;
        telemetry::embeddings(&span, &response);
        response.usage = crate::provider::with_total(response.usage, &attempts);
        response.attempts = attempts;
        Ok(response)
    }
}
