//! Reading one `chat.completion.chunk` in place, for [`ChunkDecoder::push`](super::ChunkDecoder::push):
//! choice 0's text and call pieces become events while the JSON is read, so no choice, delta or list of
//! calls is built, moved or allocated on the way. (serde's derived structs move each value through every
//! level it returns from, and allocate each list: with them that was most of the decoder's cost beside
//! the JSON scanning itself; see `BENCHMARKS.md`.)

use std::collections::VecDeque;
use std::fmt;

use llm_core::{Error, StreamEvent};
use llm_http::JsonStr;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::ChunkDecoder;
use crate::response::{WireCallFunction, WireUsage};

/// What one chunk said besides the events appended to `out` while reading it.
pub(super) struct Read<'de> {
    /// The reading: an `Err` when the payload is not a chunk (or `failed` stopped it).
    pub(super) read: Result<(), serde_json::Error>,
    /// `id` and `model`, read only while the stream has not started (servers repeat them on every chunk).
    pub(super) id: Option<JsonStr<'de>>,
    pub(super) model: Option<JsonStr<'de>>,
    /// The chunk has an `error` key.
    pub(super) error_key: bool,
    /// The chunk has a choice 0.
    pub(super) choice: bool,
    /// Choice 0's finish reason.
    pub(super) finish: Option<JsonStr<'de>>,
    pub(super) usage: Option<WireUsage>,
    /// The error a call piece raised (its arguments grew too large): the reading stopped there.
    pub(super) failed: Option<Error>,
}

/// Reads `data`, appending choice 0's events to `out` as they come.
pub(super) fn read<'de>(
    decoder: &mut ChunkDecoder,
    data: &'de str,
    out: &mut VecDeque<StreamEvent>,
) -> Read<'de> {
    let mut scan = Scan {
        want_meta: !decoder.started,
        decoder,
        out,
        id: None,
        model: None,
        error_key: false,
        choice: false,
        finish: None,
        usage: None,
        failed: None,
    };
    let mut de = serde_json::Deserializer::from_str(data);
    let read = ChunkSeed(&mut scan)
        .deserialize(&mut de)
        .and_then(|()| de.end());
    Read {
        read,
        id: scan.id,
        model: scan.model,
        error_key: scan.error_key,
        choice: scan.choice,
        finish: scan.finish,
        usage: scan.usage,
        failed: scan.failed,
    }
}

/// The reading's state, lent to every level of it.
struct Scan<'s, 'de> {
    decoder: &'s mut ChunkDecoder,
    out: &'s mut VecDeque<StreamEvent>,
    /// `id` and `model` are read from the first chunk only (servers repeat them on every chunk).
    want_meta: bool,
    id: Option<JsonStr<'de>>,
    model: Option<JsonStr<'de>>,
    /// The chunk has an `error` key.
    error_key: bool,
    /// Choice 0 was read (the only one llmux reads; later choices with index 0 are skipped).
    choice: bool,
    finish: Option<JsonStr<'de>>,
    usage: Option<WireUsage>,
    /// The error a call piece raised (its arguments grew too large): the reading stopped there.
    failed: Option<Error>,
}

impl Scan<'_, '_> {
    /// One piece of a tool call; an error (arguments too large) is kept and stops the reading.
    fn call<E: serde::de::Error>(&mut self, call: DeltaCall<'_>) -> Result<(), E> {
        match self.decoder.call_delta(call, self.out) {
            Ok(()) => Ok(()),
            Err(e) => {
                self.failed = Some(e);
                Err(E::custom("tool call pieces stopped"))
            }
        }
    }

    fn text_and_reasoning(
        &mut self,
        content: &mut Option<JsonStr<'_>>,
        reasoning: &mut Option<JsonStr<'_>>,
    ) {
        if let Some(r) = reasoning.take().filter(|r| !r.is_empty()) {
            self.out.push_back(StreamEvent::ReasoningDelta(r.into()));
        }
        if let Some(t) = content.take().filter(|t| !t.is_empty()) {
            self.out.push_back(StreamEvent::TextDelta(t.into()));
        }
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ChunkKey {
    Id,
    Model,
    Error,
    Choices,
    Usage,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum ChoiceKey {
    Index,
    Delta,
    FinishReason,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "snake_case")]
enum DeltaKey {
    Content,
    ReasoningContent,
    Reasoning,
    ToolCalls,
    #[serde(other)]
    Other,
}

/// A delta read before its choice's `index`.
#[derive(Deserialize)]
struct HeldDelta<'a> {
    #[serde(borrow, default)]
    content: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    reasoning_content: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    reasoning: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<DeltaCall<'a>>>,
}

/// `null` (or nothing), or what the seed inside reads.
struct OrNull<S>(S);

impl<'de, S: DeserializeSeed<'de, Value = ()>> DeserializeSeed<'de> for OrNull<S> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de, Value = ()>> Visitor<'de> for OrNull<S> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value or null")
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        self.0.deserialize(d)
    }
}

/// The chunk object.
struct ChunkSeed<'a, 's, 'de>(&'a mut Scan<'s, 'de>);

impl<'de> DeserializeSeed<'de> for ChunkSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChunkSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a chat.completion.chunk object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let scan = self.0;
        while let Some(key) = map.next_key::<ChunkKey>()? {
            match key {
                ChunkKey::Id if scan.want_meta => scan.id = map.next_value()?,
                ChunkKey::Model if scan.want_meta => scan.model = map.next_value()?,
                // Only its presence matters here: the error is read from the payload again by
                // [`error_in_json`].
                ChunkKey::Error => {
                    scan.error_key |= map.next_value::<Option<IgnoredAny>>()?.is_some();
                }
                ChunkKey::Choices => map.next_value_seed(OrNull(ChoicesSeed(&mut *scan)))?,
                ChunkKey::Usage => scan.usage = map.next_value()?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `choices`: an array (`null` is taken by [`OrNull`]).
struct ChoicesSeed<'a, 's, 'de>(&'a mut Scan<'s, 'de>);

impl<'de> DeserializeSeed<'de> for ChoicesSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ChoicesSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of choices")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let scan = self.0;
        while seq.next_element_seed(ChoiceSeed(&mut *scan))?.is_some() {}
        Ok(())
    }
}

/// One choice. Its delta is decoded in place when its `index` is known to be 0 by then (OpenAI and every
/// compatible server seen send `index` first); a delta that comes before the index (a server writing its
/// keys sorted) is decoded whole into a [`HeldDelta`] and given once the choice is known to be choice 0.
struct ChoiceSeed<'a, 's, 'de>(&'a mut Scan<'s, 'de>);

impl<'de> DeserializeSeed<'de> for ChoiceSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ChoiceSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a choice object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let scan = self.0;
        let mut index: Option<u64> = None;
        let mut held: Option<Box<HeldDelta<'de>>> = None;
        let mut finish: Option<JsonStr<'de>> = None;
        while let Some(key) = map.next_key::<ChoiceKey>()? {
            match key {
                ChoiceKey::Index => index = map.next_value()?,
                ChoiceKey::Delta if scan.choice => {
                    map.next_value::<IgnoredAny>()?;
                }
                ChoiceKey::Delta => match index {
                    Some(0) => map.next_value_seed(OrNull(DeltaSeed(&mut *scan)))?,
                    Some(_) => {
                        map.next_value::<IgnoredAny>()?;
                    }
                    None => held = map.next_value()?,
                },
                ChoiceKey::FinishReason => finish = map.next_value()?,
                ChoiceKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if scan.choice || index.unwrap_or(0) != 0 {
            return Ok(());
        }
        if let Some(delta) = held {
            let HeldDelta {
                mut content,
                reasoning_content,
                reasoning,
                tool_calls,
            } = *delta;
            scan.text_and_reasoning(&mut content, &mut reasoning_content.or(reasoning));
            for call in tool_calls.into_iter().flatten() {
                scan.call(call)?;
            }
        }
        scan.choice = true;
        scan.finish = finish;
        Ok(())
    }
}

/// Choice 0's delta: its text, reasoning and call pieces become events as they are read (text and
/// reasoning before the calls that follow them).
struct DeltaSeed<'a, 's, 'de>(&'a mut Scan<'s, 'de>);

impl<'de> DeserializeSeed<'de> for DeltaSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for DeltaSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a delta object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let scan = self.0;
        let mut content: Option<JsonStr<'de>> = None;
        // `reasoning_content` (llama.cpp, DeepSeek, vLLM) stands over `reasoning` (OpenRouter).
        let mut reasoning_content: Option<JsonStr<'de>> = None;
        let mut reasoning: Option<JsonStr<'de>> = None;
        while let Some(key) = map.next_key::<DeltaKey>()? {
            match key {
                DeltaKey::Content => content = map.next_value()?,
                DeltaKey::ReasoningContent => reasoning_content = map.next_value()?,
                DeltaKey::Reasoning => reasoning = map.next_value()?,
                DeltaKey::ToolCalls => {
                    let mut r = reasoning_content.take().or(reasoning.take());
                    scan.text_and_reasoning(&mut content, &mut r);
                    map.next_value_seed(OrNull(CallsSeed(&mut *scan)))?;
                }
                DeltaKey::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let mut r = reasoning_content.or(reasoning);
        scan.text_and_reasoning(&mut content, &mut r);
        Ok(())
    }
}

/// `tool_calls`: each piece goes to its call as it is read.
struct CallsSeed<'a, 's, 'de>(&'a mut Scan<'s, 'de>);

impl<'de> DeserializeSeed<'de> for CallsSeed<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for CallsSeed<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of tool calls")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let scan = self.0;
        while let Some(call) = seq.next_element::<DeltaCall<'de>>()? {
            scan.call(call)?;
        }
        Ok(())
    }
}

#[derive(Deserialize)]
pub(super) struct DeltaCall<'a> {
    #[serde(default)]
    pub(super) index: Option<u64>,
    #[serde(borrow, default)]
    pub(super) id: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    pub(super) function: Option<WireCallFunction<'a>>,
}
