//! Fuzzes llm-openai's Responses API stream decoder (`ResponsesDecoder`) as the driver runs it on a
//! response body: arbitrary bytes in arbitrary chunkings and size limits; no panic, the stream contract
//! holds, chunking changes nothing.
#![no_main]

mod decode;
mod drive;
mod input;

use decode::{Item, check_all};
use input::Input;
use libfuzzer_sys::fuzz_target;
use llm_openai::{ResponseMeta, responses_decoding};

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let limits = input.limits;
    check_all(input.stream, &input.chunks, |chunks| {
        let decoding = responses_decoding(ResponseMeta::new("openai-responses", "m"), limits);
        drive::drive(decoding, chunks).iter().map(Item::of).collect()
    });
});
