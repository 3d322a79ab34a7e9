//! Fuzzes llm-ollama's `OllamaStream` (NDJSON parser and `ChatDecoder`, as the client composes them)
//! over arbitrary bytes in arbitrary chunkings; no panic, the stream contract holds, chunking changes
//! nothing.
#![no_main]

mod decode;
// These targets run the client's own stream adapter, which has no limits to set: the limit byte of the
// shared input layout is unused here (it still varies the inputs).
#[allow(dead_code)]
mod input;

use decode::{Item, check_all};
use futures::StreamExt;
use input::Input;
use libfuzzer_sys::fuzz_target;
use llm_core::{Error, StreamStart};
use llm_ollama::OllamaStream;

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    check_all(input.stream, &input.chunks, |chunks| {
        let body = futures::stream::iter(chunks.into_iter().map(Ok::<&[u8], Error>));
        let stream = OllamaStream::new(body, StreamStart::new("ollama", "m"));
        // Every chunk is ready at once, so this never waits.
        futures::executor::block_on(stream.map(|i| Item::of(&i)).collect())
    });
});
