//! Fuzzes llm-llamacpp's `CompletionDecoder` (native `/completion` SSE) as the driver runs it on a response
//! body: arbitrary bytes in arbitrary chunkings and size limits; no panic, nothing after the end or an
//! error, chunking changes nothing.
#![no_main]

mod drive;
mod input;

use input::Input;
use libfuzzer_sys::fuzz_target;
use llm_http::{Decoding, Framing};
use llm_llamacpp::{CompletionDecoder, CompletionEvent};
use llm_stream::Limits;

fn decode(chunks: Vec<&[u8]>, limits: Limits) -> Vec<Result<String, (&'static str, String)>> {
    let decoder = CompletionDecoder::new("llamacpp");
    let decoding = Decoding::with_limits("llamacpp", Framing::Sse, decoder, limits);
    let items = drive::drive(decoding, chunks);
    for (i, item) in items.iter().enumerate() {
        if matches!(item, Ok(CompletionEvent::End(_)) | Err(_)) {
            assert_eq!(i, items.len() - 1, "nothing after the end or an error");
        }
    }
    items
        .into_iter()
        .map(|i| {
            i.map(|e| format!("{e:?}"))
                .map_err(|e| (e.kind().as_str(), e.to_string()))
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let limits = input.limits;
    let whole = decode(vec![input.stream], limits);
    assert_eq!(
        whole,
        decode(input.chunks.clone(), limits),
        "chunking changed the result"
    );
    assert_eq!(
        whole,
        decode(input.stream.chunks(1).collect(), limits),
        "one byte at a time changed the result"
    );
});
