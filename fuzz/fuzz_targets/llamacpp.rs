//! Fuzzes llm-llamacpp's `CompletionStream` (native `/completion` SSE: parser and `CompletionDecoder`, as
//! the client composes them) over arbitrary bytes in arbitrary chunkings; no panic, nothing after the
//! end or an error, chunking changes nothing.
#![no_main]

// These targets run the client's own stream adapter, which has no limits to set: the limit byte of the
// shared input layout is unused here (it still varies the inputs).
#[allow(dead_code)]
mod input;

use futures::StreamExt;
use input::Input;
use libfuzzer_sys::fuzz_target;
use llm_core::Error;
use llm_llamacpp::{CompletionEvent, CompletionStream};

fn decode(chunks: Vec<&[u8]>) -> Vec<Result<String, (&'static str, String)>> {
    let body = futures::stream::iter(chunks.into_iter().map(Ok::<&[u8], Error>));
    let stream = CompletionStream::new(body, "llamacpp");
    // Every chunk is ready at once, so this never waits.
    let items: Vec<Result<CompletionEvent, Error>> = futures::executor::block_on(stream.collect());
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
    let whole = decode(vec![input.stream]);
    assert_eq!(
        whole,
        decode(input.chunks.clone()),
        "chunking changed the result"
    );
    assert_eq!(
        whole,
        decode(input.stream.chunks(1).collect()),
        "one byte at a time changed the result"
    );
});
