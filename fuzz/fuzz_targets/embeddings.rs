//! Fuzzes the embeddings decoders on arbitrary bodies: llm-openai's `/embeddings` answer (float and base64
//! vectors, indices, error objects) and llm-ollama's `/api/embed` answer. The first byte says how many
//! inputs the batch had. No panic, and an answer that decodes holds exactly one vector per input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use llm_openai::{ResponseMeta, decode_embeddings};

fuzz_target!(|data: &[u8]| {
    let Some((&count, body)) = data.split_first() else {
        return;
    };
    let inputs = usize::from(count % 8);
    let meta = ResponseMeta::new("openai", "m");
    if let Ok(answer) = decode_embeddings(body, &meta, inputs) {
        assert_eq!(answer.vectors.len(), inputs);
    }
    if let Ok(answer) = llm_ollama::decode_embed("ollama".into(), body, inputs, None) {
        assert_eq!(answer.vectors.len(), inputs);
    }
});
