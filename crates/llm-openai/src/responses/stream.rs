//! Pure stream decoding: the Responses API's named SSE events to llmux [`StreamEvent`]s, as a small state
//! machine that needs no IO.
//!
//! The rules (each event's `type`, which its SSE `event:` name repeats):
//! - `response.created` (or `response.in_progress`, `response.queued`) gives `Start`, with the model the
//!   server reports and the response id; an error before it is an `Err` without a `Start`.
//! - `response.output_text.delta` (and `response.refusal.delta`) is text;
//!   `response.reasoning_summary_text.delta` (and `response.reasoning_text.delta`) is reasoning, a blank
//!   line between two summary parts of an item.
//! - `response.output_item.added` with a `function_call` item starts a call (`ToolCallStart`, its
//!   `call_id` as the id); `response.function_call_arguments.delta` pieces are `ToolCallDelta`s;
//!   `.done` gives the whole arguments; `response.output_item.done` completes the call (`ToolCall`, the
//!   arguments parsed). Calls are numbered 0, 1, … in the order they start.
//! - `response.output_item.done` with a `reasoning` item gives its signature (`ReasoningSignature`: the
//!   item's id and `encrypted_content`, which only the done item carries in full), after its summary.
//!   A message or reasoning item whose text came with no deltas gives that text then.
//! - `response.completed` gives `Usage` and `Finish` (`tool_calls` when a tool was called, else `stop`);
//!   `response.incomplete` the same with the reason from `incomplete_details.reason` (`max_output_tokens`
//!   → `length`, `content_filter`); either ends the stream. `response.failed` is the classified error of
//!   its `response.error`; an `error` event is the classified error it carries, as if it had come as a
//!   status. After an error nothing more is decoded.
//! - Events llmux does not model (content parts added or done, annotations, hosted tools' progress) are
//!   ignored. A payload that is not JSON is `invalid_response`; input that ends before `completed`,
//!   `incomplete` or `failed` is a `network` error, never a silently short answer.

use std::collections::VecDeque;

use llm_core::{Error, ErrorKind, Fragment, StreamEvent, StreamStart};
use llm_http::{Decoding, Frame, Framing, JsonStr, StreamDecoder};
use llm_stream::Limits;
use serde::Deserialize;
use serde_json::Value;

use crate::error::invalid;
use crate::response::{ResponseMeta, WireUsage, parse_arguments};
use crate::responses::response::{IncompleteDetails, WireItem, classify_error, incomplete_reason};
use crate::stream::{count_argument_bytes, undecodable};

/// One event. The fields every delta carries are borrowed from the payload: a text piece becomes its
/// event's `Fragment` with no copy in between.
#[derive(Deserialize)]
struct Event<'a> {
    #[serde(borrow, rename = "type", default)]
    kind: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    response: Option<EventResponse<'a>>,
    #[serde(default)]
    item: Option<WireItem>,
    #[serde(borrow, default)]
    item_id: Option<JsonStr<'a>>,
    #[serde(default)]
    summary_index: Option<u64>,
    #[serde(borrow, default)]
    delta: Option<JsonStr<'a>>,
    #[serde(default)]
    arguments: Option<String>,
}

/// The `response` of a lifecycle event, as far as the stream reads it: not its `output`, whose items all
/// came as events of their own (`response.completed` repeats every one of them).
#[derive(Default, Deserialize)]
struct EventResponse<'a> {
    #[serde(borrow, default)]
    id: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    model: Option<JsonStr<'a>>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(default)]
    incomplete_details: Option<IncompleteDetails>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

/// A function call being streamed.
#[derive(Debug)]
struct PendingCall {
    item_id: Option<String>,
    id: String,
    name: String,
    arguments: String,
    done: bool,
}

/// Where a [`ResponsesDecoder`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Done,
    Failed,
}

/// Decodes the SSE events of a Responses API stream into [`StreamEvent`]s; see the module docs for the
/// rules.
///
/// ```
/// use std::collections::VecDeque;
/// use llm_core::{FinishReason, StreamEvent};
/// use llm_http::{Frame, StreamDecoder as _};
/// use llm_openai::{ResponseMeta, ResponsesDecoder};
///
/// let mut d = ResponsesDecoder::new(ResponseMeta::new("openai-responses", "gpt-5-mini"));
/// let mut events = VecDeque::new();
/// for data in [
///     r#"{"type":"response.created","response":{"id":"resp_1","model":"gpt-5-mini","status":"in_progress","output":[]}}"#,
///     r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#,
///     r#"{"type":"response.completed","response":{"id":"resp_1","status":"completed","output":[]}}"#,
/// ] {
///     d.frame(Frame::Event { event: "message", data }, &mut events).unwrap();
/// }
/// assert!(matches!(events[0], StreamEvent::Start(_)));
/// assert_eq!(events[1], StreamEvent::TextDelta("Hi".into()));
/// assert_eq!(events[2], StreamEvent::Finish(FinishReason::Stop));
/// assert!(d.is_done());
/// ```
#[derive(Debug)]
pub struct ResponsesDecoder {
    meta: ResponseMeta,
    state: State,
    started: bool,
    calls: Vec<PendingCall>,
    argument_bytes: usize,
    /// The reasoning item and summary part the last summary delta belonged to.
    summary_at: Option<(String, u64)>,
    /// Items (message or reasoning) whose text came as deltas.
    streamed_items: Vec<String>,
}

impl ResponsesDecoder {
    /// A decoder for one response.
    pub fn new(meta: ResponseMeta) -> Self {
        ResponsesDecoder {
            meta,
            state: State::Open,
            started: false,
            calls: Vec::new(),
            argument_bytes: 0,
            summary_at: None,
            streamed_items: Vec::new(),
        }
    }

    /// True once an error was returned.
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Decodes one event's data (`event` is its SSE type, used when the data names none), appending its
    /// events to `out`. An `Err` is the classified error the event carries (or `invalid_response`), after
    /// which the decoder ignores further input.
    pub fn push(
        &mut self,
        event: &str,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), Error> {
        if self.state != State::Open {
            return Ok(());
        }
        let data = data.trim();
        if data.is_empty() {
            return Ok(());
        }
        let mut parsed: Event<'_> = match serde_json::from_str(data) {
            Ok(e) => e,
            Err(e) => {
                let err = undecodable(&self.meta.provider, "event", data, e);
                return Err(self.fail(err));
            }
        };
        let kind = parsed.kind.take();
        let kind = kind.as_deref().unwrap_or(event);
        match self.event(kind, parsed, data, out) {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    fn event(
        &mut self,
        kind: &str,
        event: Event<'_>,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), Error> {
        match kind {
            "response.created" | "response.in_progress" | "response.queued" => {
                let r = event.response.unwrap_or_default();
                self.start(r.model.as_deref(), r.id.as_deref(), out);
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                self.start(None, None, out);
                if let Some(id) = event.item_id.as_deref() {
                    self.streamed(id);
                }
                if let Some(delta) = event.delta.filter(|d| !d.is_empty()) {
                    out.push_back(StreamEvent::TextDelta(delta.into()));
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                self.start(None, None, out);
                let item = event.item_id.as_deref().unwrap_or_default();
                let index = event.summary_index.unwrap_or(0);
                let delta = event.delta.unwrap_or_default();
                let at = self.summary_at.as_ref();
                let new_part = at.is_none_or(|(i, n)| (i.as_str(), *n) != (item, index));
                // A new summary part of the same item: a blank line between the two.
                let delta = if new_part && at.is_some_and(|(i, _)| i == item) {
                    Fragment::from(format!("\n\n{}", &*delta))
                } else {
                    delta.into()
                };
                if new_part {
                    self.summary_at = Some((item.to_owned(), index));
                }
                self.streamed(item);
                if !delta.is_empty() {
                    out.push_back(StreamEvent::ReasoningDelta(delta));
                }
            }
            "response.output_item.added" => {
                self.start(None, None, out);
                if let Some(item) = event.item.filter(|i| i.kind == "function_call") {
                    self.start_call(&item, out);
                    if let Some(args) = item.arguments.as_deref().filter(|a| !a.is_empty()) {
                        let index = self.calls.len() - 1;
                        self.add_arguments(index, args, out)?;
                    }
                }
            }
            "response.function_call_arguments.delta" => {
                let index = self.call_of(event.item_id.as_deref())?;
                let delta = event.delta.unwrap_or_default();
                self.add_arguments(index, &delta, out)?;
            }
            "response.function_call_arguments.done" => {
                let index = self.call_of(event.item_id.as_deref())?;
                if let Some(arguments) = event.arguments {
                    self.calls[index].arguments = arguments;
                }
            }
            "response.output_item.done" => {
                self.start(None, None, out);
                if let Some(item) = event.item {
                    self.item_done(item, out)?;
                }
            }
            "response.completed" | "response.incomplete" => {
                self.start(None, None, out);
                let r = event.response.unwrap_or_default();
                self.finish_calls(out)?;
                if let Some(usage) = &r.usage {
                    out.push_back(StreamEvent::Usage(WireUsage::to_usage(usage)));
                }
                let reason = if kind == "response.incomplete" {
                    incomplete_reason(
                        r.incomplete_details
                            .as_ref()
                            .and_then(|d| d.reason.as_deref()),
                    )
                } else if self.calls.is_empty() {
                    llm_core::FinishReason::Stop
                } else {
                    llm_core::FinishReason::ToolCalls
                };
                self.state = State::Done;
                out.push_back(StreamEvent::Finish(reason));
            }
            "response.failed" => {
                let r = event.response.unwrap_or_default();
                if let Some(id) = r.id.as_deref() {
                    self.meta.request_id = self.meta.request_id_or(Some(id));
                }
                return Err(classify_error(
                    &self.meta.provider,
                    r.error.as_ref().unwrap_or(&Value::Null),
                ));
            }
            "error" => {
                let value: Value = serde_json::from_str(data).unwrap_or(Value::Null);
                return Err(classify_error(&self.meta.provider, &value));
            }
            _ => {}
        }
        Ok(())
    }

    /// The input ended: `Ok` once the response completed (or was incomplete), else a `network` error.
    pub fn finish(&mut self) -> Result<(), Error> {
        match self.state {
            State::Done | State::Failed => Ok(()),
            State::Open => {
                let err = Error::new(ErrorKind::Network, "stream ended before response.completed")
                    .with_provider(self.meta.provider.clone());
                Err(self.fail(err))
            }
        }
    }

    /// Ends the stream with `error`: the decoder ignores further input and the error gets this
    /// response's request id.
    pub fn fail(&mut self, error: Error) -> Error {
        self.state = State::Failed;
        self.meta.attach(error, None)
    }

    fn start(&mut self, model: Option<&str>, id: Option<&str>, out: &mut VecDeque<StreamEvent>) {
        if self.started {
            return;
        }
        self.started = true;
        let mut start = StreamStart::new(
            self.meta.provider.clone(),
            model.unwrap_or(&self.meta.model),
        );
        start.request_id = self.meta.request_id.clone();
        start.response_id = id.map(str::to_owned);
        out.push_back(StreamEvent::Start(start));
    }

    fn streamed(&mut self, item: &str) {
        if !self.streamed_items.iter().any(|i| i == item) {
            self.streamed_items.push(item.to_owned());
        }
    }

    fn start_call(&mut self, item: &WireItem, out: &mut VecDeque<StreamEvent>) {
        let index = self.calls.len();
        let id = item.call_id(index);
        let name = item.name.clone().unwrap_or_default();
        out.push_back(StreamEvent::ToolCallStart {
            index,
            id: id.clone(),
            name: name.clone(),
        });
        self.calls.push(PendingCall {
            item_id: item.id.clone(),
            id,
            name,
            arguments: String::new(),
            done: false,
        });
    }

    /// The call whose item is `item_id`; `invalid_response` for arguments of a call that never started.
    fn call_of(&self, item_id: Option<&str>) -> Result<usize, Error> {
        self.calls
            .iter()
            .position(|c| !c.done && c.item_id.as_deref() == item_id)
            .ok_or_else(|| {
                invalid(
                    self.meta.provider.clone(),
                    format!(
                        "function call arguments for an item that did not start: {}",
                        item_id.unwrap_or("(no id)")
                    ),
                )
            })
    }

    fn add_arguments(
        &mut self,
        index: usize,
        piece: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), Error> {
        count_argument_bytes(&mut self.argument_bytes, piece, &self.meta.provider)?;
        if piece.is_empty() {
            return Ok(());
        }
        self.calls[index].arguments.push_str(piece);
        out.push_back(StreamEvent::ToolCallDelta {
            index,
            arguments: piece.into(),
        });
        Ok(())
    }

    fn item_done(&mut self, item: WireItem, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        let streamed = item
            .id
            .as_ref()
            .is_some_and(|id| self.streamed_items.contains(id));
        match item.kind.as_str() {
            "function_call" => {
                let index = match self.calls.iter().position(|c| {
                    !c.done && item.id.is_some() && c.item_id.as_deref() == item.id.as_deref()
                }) {
                    Some(index) => index,
                    None => {
                        self.start_call(&item, out);
                        self.calls.len() - 1
                    }
                };
                if let Some(arguments) = item.arguments {
                    self.calls[index].arguments = arguments;
                }
                self.complete_call(index, out)?;
            }
            "reasoning" => {
                if !streamed {
                    let text = item.summary_text();
                    if !text.is_empty() {
                        out.push_back(StreamEvent::ReasoningDelta(text.into()));
                    }
                }
                if let Some(signature) = item.signature() {
                    out.push_back(StreamEvent::ReasoningSignature(signature));
                }
            }
            "message" if !streamed => {
                let text = item.message_text();
                if !text.is_empty() {
                    out.push_back(StreamEvent::TextDelta(text.into()));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn complete_call(
        &mut self,
        index: usize,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), Error> {
        let call = &mut self.calls[index];
        call.done = true;
        let arguments =
            parse_arguments(&self.meta.provider, &call.id, &call.name, &call.arguments)?;
        out.push_back(StreamEvent::ToolCall {
            index,
            call: llm_core::ToolCall::new(call.id.clone(), call.name.clone(), arguments),
        });
        Ok(())
    }

    /// Calls that started but were not done when the response ended: completed from what came.
    fn finish_calls(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        for index in 0..self.calls.len() {
            if !self.calls[index].done {
                self.complete_call(index, out)?;
            }
        }
        Ok(())
    }
}

impl StreamDecoder for ResponsesDecoder {
    type Event = StreamEvent;

    fn frame(&mut self, frame: Frame<'_>, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        match frame {
            Frame::Event { event, data } => self.push(event, data, out),
            Frame::Line(data) => self.push("message", data, out),
        }
    }

    fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn end(&mut self, _truncated: bool, _out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        self.finish()
    }

    fn attach(&self, error: Error) -> Error {
        self.meta.attach(error, None)
    }
}

/// The body decoder of one streamed answer: llm-http's [`Decoding`] (the SSE parser and the driver's
/// rules) around a [`ResponsesDecoder`], exactly as the driver runs it.
pub fn responses_decoding(meta: ResponseMeta, limits: Limits) -> Decoding<ResponsesDecoder> {
    let provider = meta.provider.clone();
    Decoding::with_limits(provider, Framing::Sse, ResponsesDecoder::new(meta), limits)
}

/// Decodes a whole recorded stream given as byte chunks: every event and error in order, as a client
/// would yield them. For tests, fixtures and fuzz targets.
pub fn decode_responses_sse<'a>(
    meta: ResponseMeta,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Result<StreamEvent, Error>> {
    responses_decoding(meta, Limits::default()).run(chunks).0
}
