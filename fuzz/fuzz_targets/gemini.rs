//! Fuzzes llm-gemini's `GenerateDecoder` as the driver runs it on a `streamGenerateContent?alt=sse` body:
//! arbitrary bytes in arbitrary chunkings and size limits; no panic, the stream contract holds, chunking
//! changes nothing.
#![no_main]

mod decode;
mod drive;
mod input;

use decode::{Item, check_all};
use input::Input;
use libfuzzer_sys::fuzz_target;
use llm_gemini::GenerateDecoder;
use llm_http::{Decoding, Framing};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let limits = input.limits;
    check_all(input.stream, &input.chunks, |chunks| {
        let decoder = GenerateDecoder::new("gemini", "m", None);
        let decoding = Decoding::with_limits("gemini", Framing::Sse, decoder, limits);
        drive::drive(decoding, chunks).iter().map(Item::of).collect()
    });
});
