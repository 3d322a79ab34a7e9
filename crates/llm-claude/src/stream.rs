//! Pure stream decoding: the Messages API's SSE events become llmux [`StreamEvent`]s.
//!
//! [`MessagesDecoder`] is a small state machine that takes one SSE event at a time (its `event:` name and its
//! data) and performs no IO; llm-http's driver feeds it, and [`decode_chunks`] drives it over recorded bytes
//! exactly as the driver does, for tests and fuzz targets.
//!
//! The events, as the Messages API sends them:
//! - `message_start` gives [`StreamEvent::Start`] (the model and message id from the event, the request id
//!   from the `request-id` response header) and the first usage counters;
//! - `content_block_start` / `content_block_delta` / `content_block_stop`, by `index`: `text_delta` gives
//!   [`StreamEvent::TextDelta`], `thinking_delta` gives [`StreamEvent::ReasoningDelta`]; a `tool_use` block
//!   gives [`StreamEvent::ToolCallStart`], each `input_json_delta` a [`StreamEvent::ToolCallDelta`], and its
//!   `content_block_stop` the [`StreamEvent::ToolCall`] with the parsed input (also kept in
//!   [`MessagesDecoder::tool_inputs`]); a thinking block's `signature_delta`s are assembled and given as one
//!   [`StreamEvent::ReasoningSignature`] at its `content_block_stop`; a `redacted_thinking` block gives
//!   [`StreamEvent::RedactedReasoning`]; other deltas (`citations_delta`, …) are skipped;
//! - `message_delta` carries the stop reason and cumulative usage: every one gives a [`StreamEvent::Usage`]
//!   with the latest counters (never a sum);
//! - `message_stop` gives [`StreamEvent::Finish`] and ends the stream;
//! - `ping` and unknown event types are ignored;
//! - `error` ends the stream with the classified error (e.g. `overloaded_error` → `overloaded`, retryable).
//!
//! A stream that ends before `message_stop` is a `network` error, never a silently short answer.

use std::borrow::Cow;
use std::collections::VecDeque;

use llm_core::{Error, ErrorKind, FinishReason, Fragment, StreamEvent, StreamStart, ToolCall};
use llm_http::{Decoding, Frame, Framing, JsonStr};
use serde::Deserialize;

use crate::error;
use crate::response::UsageCounts;

/// The most bytes of tool input JSON one stream may collect (16 MiB); more is `invalid_response`.
pub const MAX_TOOL_INPUT_BYTES: usize = 16 << 20;

/// A `tool_use` content block's input as streamed so far, kept for tool calling.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ToolInput {
    /// The content block index.
    pub index: u64,
    /// The tool call id (`toolu_…`).
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The concatenated `partial_json` pieces (a JSON object once the block has stopped).
    pub input_json: String,
    /// The call's position among this answer's tool calls (`StreamEvent::ToolCall*` index), for `tool_use`
    /// blocks; `None` for server-side tools (`server_tool_use`), which the client does not run.
    pub call: Option<usize>,
    /// Whether the block has stopped (its `ToolCall` event was given).
    pub done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Open,
    Stopped,
    Failed,
}

/// The decoding state of one Messages stream. Feed it each SSE event with [`MessagesDecoder::decode`]; call
/// [`MessagesDecoder::end`] when the input ends.
#[derive(Debug, Clone)]
pub struct MessagesDecoder {
    provider: String,
    model: String,
    request_id: Option<String>,
    started: bool,
    phase: Phase,
    stop_reason: Option<FinishReason>,
    usage: UsageCounts,
    usage_sent: bool,
    tools: Vec<ToolInput>,
    tool_bytes: usize,
    calls: usize,
    /// Thinking blocks being streamed: their index and their signature so far.
    signatures: Vec<(u64, String)>,
}

#[derive(Deserialize)]
struct Typed<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
}

#[derive(Deserialize)]
struct MessageStart<'a> {
    #[serde(borrow)]
    message: StartMessage<'a>,
}

#[derive(Deserialize)]
struct StartMessage<'a> {
    #[serde(borrow, default)]
    id: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    model: Option<JsonStr<'a>>,
    #[serde(default)]
    usage: Option<UsageCounts>,
}

#[derive(Deserialize)]
struct BlockStart<'a> {
    index: u64,
    #[serde(borrow)]
    content_block: Block<'a>,
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    thinking: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    signature: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    data: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    id: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    name: Option<JsonStr<'a>>,
}

#[derive(Deserialize)]
struct BlockStop {
    #[serde(default)]
    index: Option<u64>,
}

#[derive(Deserialize)]
struct BlockDelta<'a> {
    index: u64,
    #[serde(borrow)]
    delta: Delta<'a>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    thinking: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    signature: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    partial_json: Option<JsonStr<'a>>,
}

#[derive(Deserialize)]
struct MessageDelta<'a> {
    #[serde(borrow, default)]
    delta: Option<MessageDeltaBody<'a>>,
    #[serde(default)]
    usage: Option<UsageCounts>,
}

#[derive(Deserialize)]
struct MessageDeltaBody<'a> {
    #[serde(borrow, default)]
    stop_reason: Option<JsonStr<'a>>,
}

impl MessagesDecoder {
    /// A decoder for a stream from `provider`, asked for `model` (reported until `message_start` names the
    /// model), whose response carried `request_id`.
    pub fn new(
        provider: impl Into<String>,
        model: impl Into<String>,
        request_id: Option<String>,
    ) -> Self {
        MessagesDecoder {
            provider: provider.into(),
            model: model.into(),
            request_id,
            started: false,
            phase: Phase::Open,
            stop_reason: None,
            usage: UsageCounts::default(),
            usage_sent: false,
            tools: Vec::new(),
            tool_bytes: 0,
            calls: 0,
            signatures: Vec::new(),
        }
    }

    /// True once `message_stop` arrived: the answer is complete.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Stopped
    }

    /// The tool inputs streamed so far, in block order.
    pub fn tool_inputs(&self) -> &[ToolInput] {
        &self.tools
    }

    /// Decodes one SSE event (`event` is its type, `"message"` when it had no `event:` line) and appends the
    /// resulting stream events to `out`. Events after `message_stop` or after an error are ignored.
    ///
    /// # Errors
    /// The classified error of an `error` event, or `invalid_response` for data that cannot be decoded. The
    /// decoder is then done.
    pub fn decode(
        &mut self,
        event: &str,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), Error> {
        if self.phase != Phase::Open {
            return Ok(());
        }
        let result = self.decode_open(event, data, out);
        if let Err(e) = result {
            self.phase = Phase::Failed;
            return Err(e.with_request_id_opt(self.request_id.clone()));
        }
        Ok(())
    }

    /// Says the input ended.
    ///
    /// # Errors
    /// A `network` error when `message_stop` never arrived (and no error ended the stream before).
    pub fn end(&mut self) -> Result<(), Error> {
        if self.phase != Phase::Open {
            return Ok(());
        }
        self.phase = Phase::Failed;
        Err(
            Error::new(ErrorKind::Network, "stream ended before message_stop")
                .with_provider(self.provider.clone())
                .with_request_id_opt(self.request_id.clone()),
        )
    }

    fn decode_open(
        &mut self,
        event: &str,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), Error> {
        let typed;
        let kind = match event {
            "" | "message" => {
                typed = self.parse::<Typed<'_>>(event, data)?;
                typed.kind.as_ref()
            }
            named => named,
        };
        match kind {
            "ping" => Ok(()),
            "content_block_stop" => {
                let stop: BlockStop = self.parse(kind, data)?;
                match stop.index {
                    Some(index) => {
                        if let Some(at) = self.signatures.iter().position(|(i, _)| *i == index) {
                            let (_, signature) = self.signatures.swap_remove(at);
                            if !signature.is_empty() {
                                out.push_back(StreamEvent::ReasoningSignature(signature));
                            }
                        }
                        self.finish_tool(index, out)
                    }
                    None => Ok(()),
                }
            }
            "error" => Err(error::from_stream_data(&self.provider, data)),
            "message_start" => {
                let start: MessageStart<'_> = self.parse(kind, data)?;
                if let Some(usage) = &start.message.usage {
                    self.usage.update(usage);
                }
                if !self.started {
                    self.started = true;
                    let model = start.message.model.as_deref().unwrap_or(&self.model);
                    let mut s = StreamStart::new(self.provider.clone(), model);
                    s.request_id = self.request_id.clone();
                    s.response_id = start.message.id.map(JsonStr::into_owned);
                    out.push_back(StreamEvent::Start(s));
                }
                Ok(())
            }
            "content_block_start" => {
                let start: BlockStart<'_> = self.parse(kind, data)?;
                self.ensure_started(out);
                let block = start.content_block;
                match block.kind.as_ref() {
                    "text" => push_text(out, block.text, StreamEvent::TextDelta),
                    "thinking" => {
                        push_text(out, block.thinking, StreamEvent::ReasoningDelta);
                        let signature =
                            block.signature.map(JsonStr::into_owned).unwrap_or_default();
                        self.signatures.push((start.index, signature));
                    }
                    "redacted_thinking" => out.push_back(StreamEvent::RedactedReasoning(
                        block.data.map(JsonStr::into_owned).unwrap_or_default(),
                    )),
                    kind @ ("tool_use" | "server_tool_use") => {
                        let mut tool = ToolInput {
                            index: start.index,
                            ..ToolInput::default()
                        };
                        tool.id = block.id.map(JsonStr::into_owned).unwrap_or_default();
                        tool.name = block.name.map(JsonStr::into_owned).unwrap_or_default();
                        if kind == "tool_use" {
                            let call = self.calls;
                            self.calls += 1;
                            tool.call = Some(call);
                            out.push_back(StreamEvent::ToolCallStart {
                                index: call,
                                id: tool.id.clone(),
                                name: tool.name.clone(),
                            });
                        }
                        self.tools.push(tool);
                    }
                    _ => {}
                }
                Ok(())
            }
            "content_block_delta" => {
                let delta: BlockDelta<'_> = self.parse(kind, data)?;
                self.ensure_started(out);
                let d = delta.delta;
                match d.kind.as_ref() {
                    "text_delta" => push_text(out, d.text, StreamEvent::TextDelta),
                    "thinking_delta" => push_text(out, d.thinking, StreamEvent::ReasoningDelta),
                    "signature_delta" => {
                        let piece = d.signature.as_deref().unwrap_or_default();
                        self.tool_bytes = self.tool_bytes.saturating_add(piece.len());
                        if self.tool_bytes > MAX_TOOL_INPUT_BYTES {
                            return Err(error::invalid(
                                &self.provider,
                                format!(
                                    "thinking signatures larger than {MAX_TOOL_INPUT_BYTES} bytes"
                                ),
                            ));
                        }
                        match self.signatures.iter_mut().find(|(i, _)| *i == delta.index) {
                            Some((_, signature)) => signature.push_str(piece),
                            None => self.signatures.push((delta.index, piece.to_owned())),
                        }
                    }
                    "input_json_delta" => {
                        let piece = d.partial_json.as_deref().unwrap_or_default();
                        self.tool_bytes = self.tool_bytes.saturating_add(piece.len());
                        if self.tool_bytes > MAX_TOOL_INPUT_BYTES {
                            return Err(error::invalid(
                                &self.provider,
                                format!("tool input larger than {MAX_TOOL_INPUT_BYTES} bytes"),
                            ));
                        }
                        match self.tools.iter_mut().rev().find(|t| t.index == delta.index) {
                            Some(tool) => {
                                tool.input_json.push_str(piece);
                                if let Some(call) = tool.call.filter(|_| !piece.is_empty()) {
                                    out.push_back(StreamEvent::ToolCallDelta {
                                        index: call,
                                        arguments: piece.into(),
                                    });
                                }
                            }
                            None => {
                                // A delta for a block whose start was not seen: keep it anyway.
                                let mut tool = ToolInput {
                                    index: delta.index,
                                    ..ToolInput::default()
                                };
                                tool.input_json.push_str(piece);
                                self.tools.push(tool);
                            }
                        }
                    }
                    _ => {}
                }
                Ok(())
            }
            "message_delta" => {
                let delta: MessageDelta<'_> = self.parse(kind, data)?;
                self.ensure_started(out);
                if let Some(reason) = delta.delta.and_then(|d| d.stop_reason) {
                    self.stop_reason = Some(error::finish_reason(&reason));
                }
                if let Some(usage) = &delta.usage {
                    self.usage.update(usage);
                }
                if !self.usage.is_empty() {
                    self.usage_sent = true;
                    out.push_back(StreamEvent::Usage(self.usage.to_usage()));
                }
                Ok(())
            }
            "message_stop" => {
                self.ensure_started(out);
                if !self.usage_sent && !self.usage.is_empty() {
                    self.usage_sent = true;
                    out.push_back(StreamEvent::Usage(self.usage.to_usage()));
                }
                let reason = self
                    .stop_reason
                    .take()
                    .unwrap_or_else(|| FinishReason::Other("unknown".to_owned()));
                out.push_back(StreamEvent::Finish(reason));
                self.phase = Phase::Stopped;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A block stopped: a `tool_use` block's input is complete and its call is given, parsed (empty input
    /// means `{}`); input that is not JSON is `invalid_response` naming the call.
    fn finish_tool(&mut self, block: u64, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        let Some(tool) = self
            .tools
            .iter_mut()
            .rev()
            .find(|t| t.index == block && !t.done)
        else {
            return Ok(());
        };
        tool.done = true;
        let Some(call) = tool.call else {
            return Ok(());
        };
        let arguments = if tool.input_json.trim().is_empty() {
            serde_json::Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_str(&tool.input_json).map_err(|e| {
                error::invalid(
                    &self.provider,
                    format!(
                        "tool call `{}` ({}) has input that is not valid json",
                        tool.id, tool.name
                    ),
                )
                .with_source(e)
            })?
        };
        out.push_back(StreamEvent::ToolCall {
            index: call,
            call: ToolCall::new(tool.id.clone(), tool.name.clone(), arguments),
        });
        Ok(())
    }

    fn ensure_started(&mut self, out: &mut VecDeque<StreamEvent>) {
        if !self.started {
            self.started = true;
            let mut s = StreamStart::new(self.provider.clone(), self.model.clone());
            s.request_id = self.request_id.clone();
            out.push_back(StreamEvent::Start(s));
        }
    }

    fn parse<'a, T: Deserialize<'a>>(&self, kind: &str, data: &'a str) -> Result<T, Error> {
        serde_json::from_str(data).map_err(|e| {
            error::invalid(&self.provider, format!("undecodable {kind} event")).with_source(e)
        })
    }
}

fn push_text(
    out: &mut VecDeque<StreamEvent>,
    text: Option<JsonStr<'_>>,
    event: fn(Fragment) -> StreamEvent,
) {
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        out.push_back(event(text.into()));
    }
}

impl llm_http::StreamDecoder for MessagesDecoder {
    type Event = StreamEvent;

    fn frame(&mut self, frame: Frame<'_>, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        match frame {
            Frame::Event { event, data } => self.decode(event, data, out),
            Frame::Line(data) => self.decode("message", data, out),
        }
    }

    fn is_done(&self) -> bool {
        self.is_finished()
    }

    fn end(&mut self, _truncated: bool, _out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        MessagesDecoder::end(self)
    }

    fn attach(&self, error: Error) -> Error {
        error.with_request_id_opt(self.request_id.clone())
    }
}

/// Decodes a recorded Messages stream given as byte chunks exactly as the driver does (llm-http's
/// [`Decoding`] around `decoder`): every event and error in order, and the decoder's final state (for its
/// [`MessagesDecoder::tool_inputs`]). For tests, fixtures and fuzz targets.
pub fn decode_chunks<'a>(
    decoder: MessagesDecoder,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Result<StreamEvent, Error>>, MessagesDecoder) {
    let provider = decoder.provider.clone();
    Decoding::new(provider, Framing::Sse, decoder).run(chunks)
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;
