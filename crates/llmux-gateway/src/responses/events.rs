//! Writing a Responses stream: the named events in the documented order, each with a rising
//! `sequence_number`, items opened and closed as the chain's events come.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use llmux::{FinishReason, StreamEvent, Usage};
use serde_json::{Map, Value, json};

use super::{
    ClientTool, Names, REDACTED, RESPONSES, call_item, ending, envelope, message_item,
    reasoning_item, usage, wants_encrypted,
};
use crate::dialect::{Dialect as _, Encode, Parsed, Reply};
use crate::error::ApiError;
use crate::openai;
use crate::wire::{self, Quoted};

/// An output item being streamed.
#[derive(Debug)]
enum Open {
    Message {
        index: usize,
        id: String,
        text: String,
    },
    Reasoning {
        index: usize,
        id: String,
        text: String,
    },
}

/// A call being streamed, by the chain's call index.
#[derive(Debug)]
struct Call {
    index: usize,
    id: String,
    call_id: String,
    tool: ClientTool,
    arguments: String,
    /// Whether argument pieces were streamed (else the whole arguments go out at completion).
    streamed: bool,
    done: bool,
}

/// Writes the Responses event sequence.
#[derive(Debug)]
pub struct Events {
    reply: Reply,
    echo: Arc<Map<String, Value>>,
    names: Names,
    encrypted: bool,
    created: u64,
    seq: u64,
    /// The finished items, by output index.
    output: Vec<Value>,
    open: Option<Open>,
    calls: BTreeMap<usize, Call>,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
}

impl Events {
    /// A stream sent as `reply`, answering `parsed`.
    pub fn new(reply: Reply, parsed: &Parsed) -> Events {
        Events {
            names: Names::of(parsed.echo.get("tools")),
            encrypted: wants_encrypted(&parsed.echo),
            echo: Arc::clone(&parsed.echo),
            reply,
            created: openai::now(),
            seq: 0,
            output: Vec::new(),
            open: None,
            calls: BTreeMap::new(),
            usage: None,
            finish: None,
        }
    }

    /// One event: `body` gets its `type` and the next `sequence_number`.
    fn emit(&mut self, out: &mut String, kind: &str, mut body: Value) {
        body["type"] = json!(kind);
        body["sequence_number"] = json!(self.seq);
        self.seq += 1;
        wire::sse(out, Some(kind), &body);
    }

    /// A per-token delta event, written as text rather than built as a JSON tree.
    fn delta(
        &mut self,
        out: &mut String,
        kind: &str,
        item_id: &str,
        index: usize,
        fields: &str,
        delta: &str,
    ) {
        let _ = write!(
            out,
            "event: {kind}\ndata: {{\"type\":\"{kind}\",\"sequence_number\":{},\"item_id\":{},\
             \"output_index\":{index}{fields},\"delta\":{}}}\n\n",
            self.seq,
            Quoted(item_id),
            Quoted(delta),
        );
        self.seq += 1;
    }

    /// A new item's output index (its slot filled when it is done).
    fn slot(&mut self) -> usize {
        self.output.push(Value::Null);
        self.output.len() - 1
    }

    fn state(&self, status: &str) -> Value {
        envelope(&self.reply, &self.echo, self.created, status)
    }

    /// Closes the open text or reasoning item.
    fn close(&mut self, out: &mut String) {
        match self.open.take() {
            None => {}
            Some(Open::Message { index, id, text }) => {
                let part =
                    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
                self.emit(
                    out,
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index,
                    "content_index": 0, "text": text, "logprobs": []}),
                );
                self.emit(
                    out,
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index,
                    "content_index": 0, "part": part}),
                );
                let item = message_item(&id, &text, "completed");
                self.output[index] = item.clone();
                self.emit(
                    out,
                    "response.output_item.done",
                    json!({"output_index": index, "item": item}),
                );
            }
            Some(Open::Reasoning { index, id, text }) => {
                self.close_reasoning(out, index, &id, &text, None)
            }
        }
    }

    fn close_reasoning(
        &mut self,
        out: &mut String,
        index: usize,
        id: &str,
        text: &str,
        signature: Option<String>,
    ) {
        if !text.is_empty() {
            self.emit(
                out,
                "response.reasoning_summary_text.done",
                json!({"item_id": id,
                "output_index": index, "summary_index": 0, "text": text}),
            );
            self.emit(out, "response.reasoning_summary_part.done", json!({"item_id": id,
                "output_index": index, "summary_index": 0, "part": {"type": "summary_text", "text": text}}));
        }
        let item = reasoning_item(id, text, signature.filter(|_| self.encrypted));
        self.output[index] = item.clone();
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
    }

    fn open_reasoning(&mut self, out: &mut String) {
        if matches!(self.open, Some(Open::Reasoning { .. })) {
            return;
        }
        self.close(out);
        let index = self.slot();
        let id = format!("rs_{}_{index}", self.reply.id);
        self.emit(
            out,
            "response.output_item.added",
            json!({"output_index": index,
            "item": reasoning_item(&id, "", None)}),
        );
        self.open = Some(Open::Reasoning {
            index,
            id,
            text: String::new(),
        });
    }

    fn finish_call(&mut self, out: &mut String, index: usize) {
        let Some(call) = self.calls.get_mut(&index).filter(|c| !c.done) else {
            return;
        };
        call.done = true;
        let (output_index, id, arguments) = (call.index, call.id.clone(), call.arguments.clone());
        let item = call_item(&id, &call.call_id, &call.tool, &arguments, "completed");
        if call.tool.custom {
            let input = item["input"].clone();
            self.emit(
                out,
                "response.custom_tool_call_input.done",
                json!({"item_id": id,
                "output_index": output_index, "input": input}),
            );
        } else {
            self.emit(
                out,
                "response.function_call_arguments.done",
                json!({"item_id": id,
                "output_index": output_index, "arguments": arguments}),
            );
        }
        self.output[output_index] = item.clone();
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": output_index, "item": item}),
        );
    }

    fn start_call(&mut self, out: &mut String, index: usize, call_id: &str, name: &str) {
        if self.calls.contains_key(&index) {
            return;
        }
        self.close(out);
        let output_index = self.slot();
        let id = format!("fc_{}_{output_index}", self.reply.id);
        let tool = self.names.client(name);
        let item = call_item(&id, call_id, &tool, "", "in_progress");
        self.emit(
            out,
            "response.output_item.added",
            json!({"output_index": output_index, "item": item}),
        );
        self.calls.insert(
            index,
            Call {
                index: output_index,
                id,
                call_id: call_id.to_owned(),
                tool,
                arguments: String::new(),
                streamed: false,
                done: false,
            },
        );
    }
}

impl Encode for Events {
    fn event(&mut self, event: StreamEvent, out: &mut String) {
        match event {
            StreamEvent::Start(_) => {
                let state = self.state("in_progress");
                self.emit(out, "response.created", json!({"response": state.clone()}));
                self.emit(out, "response.in_progress", json!({"response": state}));
            }
            StreamEvent::TextDelta(text) => {
                if !matches!(self.open, Some(Open::Message { .. })) {
                    self.close(out);
                    let index = self.slot();
                    let id = format!("msg_{}", self.reply.id);
                    let id = if index == 0 {
                        id
                    } else {
                        format!("{id}_{index}")
                    };
                    let mut item = message_item(&id, "", "in_progress");
                    item["content"] = json!([]);
                    self.emit(
                        out,
                        "response.output_item.added",
                        json!({"output_index": index, "item": item}),
                    );
                    self.emit(out, "response.content_part.added", json!({"item_id": id, "output_index": index,
                        "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}}));
                    self.open = Some(Open::Message {
                        index,
                        id,
                        text: String::new(),
                    });
                }
                let Some(Open::Message {
                    index,
                    id,
                    text: all,
                }) = &mut self.open
                else {
                    return;
                };
                all.push_str(&text);
                let (index, id) = (*index, id.clone());
                self.delta(
                    out,
                    "response.output_text.delta",
                    &id,
                    index,
                    ",\"content_index\":0,\"logprobs\":[]",
                    &text,
                );
            }
            StreamEvent::ReasoningDelta(text) => {
                self.open_reasoning(out);
                let Some(Open::Reasoning {
                    index,
                    id,
                    text: all,
                }) = &mut self.open
                else {
                    return;
                };
                let first = all.is_empty();
                all.push_str(&text);
                let (index, id) = (*index, id.clone());
                if first {
                    self.emit(out, "response.reasoning_summary_part.added", json!({"item_id": id,
                        "output_index": index, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}));
                }
                self.delta(
                    out,
                    "response.reasoning_summary_text.delta",
                    &id,
                    index,
                    ",\"summary_index\":0",
                    &text,
                );
            }
            StreamEvent::ReasoningSignature(signature) => {
                self.open_reasoning(out);
                if let Some(Open::Reasoning { index, id, text }) = self.open.take() {
                    self.close_reasoning(out, index, &id, &text, Some(signature));
                }
            }
            StreamEvent::RedactedReasoning(data) => {
                self.close(out);
                self.open_reasoning(out);
                if let Some(Open::Reasoning { index, id, text }) = self.open.take() {
                    self.close_reasoning(out, index, &id, &text, Some(format!("{REDACTED}{data}")));
                }
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.start_call(out, index, &id, &name)
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                let Some(call) = self.calls.get_mut(&index).filter(|c| !c.done) else {
                    return;
                };
                call.streamed = true;
                call.arguments.push_str(&arguments);
                // A custom tool's input is a string inside the arguments' JSON: it goes out whole at the end.
                if call.tool.custom {
                    return;
                }
                let (output_index, id) = (call.index, call.id.clone());
                self.delta(
                    out,
                    "response.function_call_arguments.delta",
                    &id,
                    output_index,
                    "",
                    &arguments,
                );
            }
            StreamEvent::ToolCall { index, call } => {
                self.start_call(out, index, &call.id, &call.name);
                let whole = wire::arguments_text(&call.arguments);
                if let Some(c) = self.calls.get_mut(&index) {
                    let send = !c.streamed && !c.tool.custom;
                    c.arguments = whole.clone();
                    if send {
                        let (output_index, id) = (c.index, c.id.clone());
                        self.delta(
                            out,
                            "response.function_call_arguments.delta",
                            &id,
                            output_index,
                            "",
                            &whole,
                        );
                    }
                }
                self.finish_call(out, index);
            }
            StreamEvent::Usage(u) => self.usage = Some(u),
            StreamEvent::Finish(reason) => self.finish = Some(reason),
            _ => {}
        }
    }

    fn end(&mut self, out: &mut String) {
        self.close(out);
        let open: Vec<usize> = self
            .calls
            .iter()
            .filter(|(_, c)| !c.done)
            .map(|(i, _)| *i)
            .collect();
        for index in open {
            self.finish_call(out, index);
        }
        let (status, incomplete) = ending(self.finish.as_ref());
        let mut state = self.state(status);
        state["incomplete_details"] = incomplete;
        state["output"] = Value::Array(self.output.clone());
        state["usage"] = usage(self.usage.as_ref());
        let kind = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        self.emit(out, kind, json!({"response": state}));
    }

    fn fail(&mut self, error: &ApiError, out: &mut String) {
        let (kind, code) = RESPONSES.error_type(error.problem);
        let mut state = self.state("failed");
        state["error"] = json!({"code": code.unwrap_or(kind), "message": error.message});
        state["output"] = Value::Array(
            self.output
                .iter()
                .filter(|v| !v.is_null())
                .cloned()
                .collect(),
        );
        if self.usage.is_some() {
            state["usage"] = usage(self.usage.as_ref());
        }
        self.emit(out, "response.failed", json!({"response": state}));
    }
}
