//! Fuzzes llm-ollama's `ChatDecoder` as the driver runs it on a response body (NDJSON): arbitrary bytes in
//! arbitrary chunkings and size limits; no panic, the stream contract holds, chunking changes nothing.
#![no_main]

mod decode;
mod drive;
mod input;

use decode::{Item, check_all};
use input::Input;
use libfuzzer_sys::fuzz_target;
use llm_core::StreamStart;
use llm_http::{Decoding, Framing};
use llm_ollama::ChatDecoder;

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let limits = input.limits;
    check_all(input.stream, &input.chunks, |chunks| {
        let decoder = ChatDecoder::new(StreamStart::new("ollama", "m"));
        let decoding = Decoding::with_limits("ollama", Framing::Ndjson, decoder, limits);
        drive::drive(decoding, chunks).iter().map(Item::of).collect()
    });
});
