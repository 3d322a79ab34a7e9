//! Fuzzes llm-openai's `SseDecoder` (what the client runs on a response body): arbitrary bytes in
//! arbitrary chunkings and size limits; no panic, the stream contract holds, chunking changes nothing.
#![no_main]

mod decode;
mod input;

use decode::{Item, check_all};
use input::Input;
use libfuzzer_sys::fuzz_target;
use llm_openai::{ResponseMeta, SseDecoder};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let limits = input.limits;
    check_all(input.stream, &input.chunks, |chunks| {
        let mut decoder = SseDecoder::with_limits(ResponseMeta::new("openai", "m"), limits);
        let mut out = Vec::new();
        for chunk in chunks {
            decoder.feed(chunk);
            out.extend(std::iter::from_fn(|| decoder.next_item()).map(|i| Item::of(&i)));
        }
        decoder.end();
        out.extend(std::iter::from_fn(|| decoder.next_item()).map(|i| Item::of(&i)));
        out
    });
});
