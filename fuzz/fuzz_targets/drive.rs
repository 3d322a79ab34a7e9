//! Drives a provider's stream decoder over chunks exactly as llm-http's driver does: the shared
//! `Decoding` (framing parser on its borrowed path, the driver's ordering and end rules) fed chunk by chunk.

use llm_core::Error;
use llm_http::{Decoding, StreamDecoder};

/// Every item `decoding` yields for `chunks` followed by the end of the body.
pub fn drive<D: StreamDecoder>(
    decoding: Decoding<D>,
    chunks: Vec<&[u8]>,
) -> Vec<Result<D::Event, Error>> {
    decoding.run(chunks).0
}
