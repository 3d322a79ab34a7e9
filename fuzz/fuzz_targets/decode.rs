//! What the provider decoder targets share: a transcript of one decoded stream, the stream contract every
//! transcript must keep, and the check that chunking never changes the result.

use llm_core::{Error, StreamEvent};

/// One yielded item: an event's `Debug`, or an error's kind and text.
#[derive(Debug, PartialEq)]
pub enum Item {
    Event(String),
    Start,
    Finish(String),
    Error(&'static str, String),
}

impl Item {
    pub fn of(item: &Result<StreamEvent, Error>) -> Item {
        match item {
            Ok(StreamEvent::Start(_)) => Item::Start,
            Ok(StreamEvent::Finish(reason)) => Item::Finish(format!("{reason:?}")),
            Ok(event) => Item::Event(format!("{event:?}")),
            Err(e) => Item::Error(e.kind().as_str(), e.to_string()),
        }
    }
}

/// The contract of a provider stream: `Start` only first, at most one `Finish` and nothing after it,
/// nothing after an error.
pub fn check_contract(items: &[Item]) {
    for (i, item) in items.iter().enumerate() {
        match item {
            Item::Start => assert_eq!(i, 0, "Start only first: {items:?}"),
            Item::Finish(_) | Item::Error(..) => {
                assert_eq!(
                    i,
                    items.len() - 1,
                    "nothing after Finish or an error: {items:?}"
                )
            }
            Item::Event(_) => {}
        }
    }
}

/// Runs `decode` on the whole input, the fuzzer's chunks and single bytes: same transcript each time,
/// and it keeps the contract.
pub fn check_all<'a>(
    stream: &'a [u8],
    chunks: &[&'a [u8]],
    decode: impl Fn(Vec<&'a [u8]>) -> Vec<Item>,
) {
    let whole = decode(vec![stream]);
    check_contract(&whole);
    let chunked = decode(chunks.to_vec());
    assert_eq!(whole, chunked, "chunking changed the result");
    let bytewise = decode(stream.chunks(1).collect());
    assert_eq!(whole, bytewise, "one byte at a time changed the result");
}
