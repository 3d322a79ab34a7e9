//! What the CLI prints: JSON lines (`--json`) or text, to any writer.
//!
//! In JSON mode stdout carries only JSON objects, one per line, with `null` for absent values. In text mode
//! the answer's text goes to stdout as it arrives (flushed per delta) and everything else (fallback notes,
//! errors) to stderr.

use std::io::{self, Write};

use llmux::chain::Skipped;
use std::collections::HashSet;

use llmux::{Attempt, Cost, Error, FinishReason, StreamStart, ToolCall, Usage};
use serde_json::{Value, json};

use crate::spinner::Spinner;

/// One thing to report.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// An attempt ended (one HTTP request).
    Attempt(&'a Attempt),
    /// An entry (or a deployment of it) was passed over without a request.
    Skip(&'a Skipped),
    /// The answering response started.
    Start(&'a StreamStart),
    /// A piece of text.
    Delta(&'a str),
    /// A piece of reasoning.
    Reasoning(&'a str),
    /// Token counts.
    Usage(&'a Usage),
    /// A finished tool call, with its position in the answer.
    ToolCall(usize, &'a ToolCall),
    /// Why generation ended.
    Finish(&'a FinishReason),
    /// The command failed; always the last event.
    Error(&'a Error),
}

/// The JSON object for `event`, exactly as `--json` prints it.
pub fn event_json(event: Event<'_>) -> Value {
    match event {
        Event::Attempt(a) => json!({
            "type": "attempt",
            "entry": a.entry,
            "provider": a.provider,
            "model": a.model,
            "retry": a.retry,
            "outcome": a.outcome_str(),
            "cost_usd": cost_usd(a.cost),
        }),
        Event::Skip(s) => json!({
            "type": "skip",
            "entry": s.entry,
            "provider": s.provider,
            "reason": s.reason.as_str(),
        }),
        Event::Start(s) => json!({
            "type": "start",
            "provider": s.provider,
            "model": s.model,
            "request_id": s.request_id,
        }),
        Event::Delta(text) => json!({"type": "delta", "text": text}),
        Event::Reasoning(text) => json!({"type": "reasoning", "text": text}),
        Event::Usage(u) => json!({
            "type": "usage",
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "total_tokens": u.total(),
            "cache_read_input_tokens": u.cached_input_tokens,
            "cache_write_input_tokens": u.cache_write_input_tokens,
            "reasoning_tokens": u.reasoning_tokens,
            "cost_usd": cost_usd(u.cost),
            "cost_estimated": u.cost.is_some_and(|c| c.estimated),
        }),
        Event::ToolCall(index, call) => json!({
            "type": "tool_call",
            "index": index,
            "id": call.id,
            "name": call.name,
            "arguments": call.arguments,
        }),
        Event::Finish(reason) => json!({"type": "finish", "reason": reason.as_str()}),
        Event::Error(e) => json!({
            "type": "error",
            "kind": e.kind().as_str(),
            "retryable": e.is_retryable(),
            "retry_after_ms": e.retry_after().map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
            "provider": e.provider(),
            "status": e.status(),
            "request_id": e.request_id(),
            "message": e.message(),
            "violations": e.violations().iter().map(|v| json!({
                "param": v.param,
                "allowed": v.allowed,
                "given": v.given,
            })).collect::<Vec<_>>(),
        }),
    }
}

/// A cost as the JSON lines give it: dollars, or `null` when unknown.
pub fn cost_usd(cost: Option<Cost>) -> Value {
    cost.map_or(Value::Null, |c| json!(c.usd.as_dollars()))
}

/// How to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Text for people.
    Text,
    /// JSON lines for programs.
    Json,
}

/// The CLI's printer over a stdout and a stderr writer.
#[derive(Debug)]
pub struct Output<O: Write, E: Write> {
    mode: Mode,
    out: O,
    err: E,
    spinner: Option<Spinner>,
    /// Whether the text printed so far ends with a newline (or nothing was printed).
    at_line_start: bool,
    /// Whether any answer text was printed.
    printed_text: bool,
    /// The (provider, model) pairs already said to have no known price.
    unpriced: HashSet<(String, String)>,
}

impl<O: Write, E: Write> Output<O, E> {
    /// A printer in `mode`; `spinner` (text on stderr until the first token) only when stderr is a terminal.
    pub fn new(mode: Mode, out: O, err: E, spinner: Option<Spinner>) -> Self {
        Output {
            mode,
            out,
            err,
            spinner,
            at_line_start: true,
            printed_text: false,
            unpriced: HashSet::new(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Says on the spinner which provider is being tried.
    pub fn trying(&mut self, provider: &str, model: &str) {
        if let Some(s) = &self.spinner {
            s.set_label(format!("asking {provider} ({model})"));
        }
    }

    /// Writes a note line on stderr (fallback reasons), above the spinner.
    pub fn note(&mut self, text: &str) -> io::Result<()> {
        match &self.spinner {
            Some(s) => s.print_above(text),
            None => writeln!(self.err, "llmux: {text}"),
        }
    }

    fn stop_spinner(&mut self) {
        if let Some(s) = self.spinner.take() {
            s.stop();
        }
    }

    fn json_line(&mut self, event: Event<'_>) -> io::Result<()> {
        let mut line = serde_json::to_vec(&event_json(event)).map_err(io::Error::other)?;
        line.push(b'\n');
        self.out.write_all(&line)?;
        self.out.flush()
    }

    /// Says once per provider and model, on stderr, that an attempt's cost is unknown: its model has no
    /// price.
    pub fn unpriced(&mut self, attempt: &Attempt) -> io::Result<()> {
        let key = (attempt.provider.clone(), attempt.model.clone());
        if attempt.cost.is_some() || !self.unpriced.insert(key) {
            return Ok(());
        }
        self.note(&format!(
            "no price is known for {} model `{}`: its cost is unknown (add a [[price]] row to the chain \
             file or give --prices FILE; `llmux prices` lists the known ones)",
            attempt.provider, attempt.model
        ))
    }

    /// Reports `event`.
    pub fn event(&mut self, event: Event<'_>) -> io::Result<()> {
        if !matches!(event, Event::Attempt(_) | Event::Skip(_)) {
            self.stop_spinner();
        }
        if let Event::Attempt(a) = event {
            self.unpriced(a)?;
        }
        if self.mode == Mode::Json {
            return self.json_line(event);
        }
        match event {
            Event::Attempt(a) => {
                if let Some(message) = &a.message {
                    let model = &a.model;
                    self.note(&format!("{} ({model}) failed: {message}", a.provider))?;
                }
                Ok(())
            }
            Event::Skip(s) => self.note(&format!(
                "{} ({}) skipped without a request: {}",
                s.provider,
                s.model,
                s.reason.as_str().replace('_', " ")
            )),
            Event::Delta(text) => {
                if text.is_empty() {
                    return Ok(());
                }
                self.out.write_all(text.as_bytes())?;
                self.out.flush()?;
                self.printed_text = true;
                self.at_line_start = text.ends_with('\n');
                Ok(())
            }
            Event::ToolCall(_, call) => {
                self.end_line()?;
                writeln!(
                    self.out,
                    "tool call {} {}({})",
                    call.id, call.name, call.arguments
                )?;
                self.out.flush()?;
                self.printed_text = true;
                Ok(())
            }
            Event::Finish(_) => self.end_line(),
            Event::Error(e) => {
                self.end_line()?;
                writeln!(self.err, "error: {e}")?;
                for a in e.attempts() {
                    writeln!(self.err, "  attempt: {a}")?;
                }
                if let Some(bytes) = e.delivered_bytes() {
                    writeln!(
                        self.err,
                        "  the answer above is incomplete: {bytes} bytes were delivered"
                    )?;
                }
                self.err.flush()
            }
            Event::Start(_) | Event::Reasoning(_) | Event::Usage(_) => Ok(()),
        }
    }

    /// Stops the spinner and lends stdout to `write` (for output that is not an [`Event`], such as
    /// `llmux embed`'s vectors).
    pub fn with_stdout<T>(
        &mut self,
        write: impl FnOnce(&mut dyn Write) -> io::Result<T>,
    ) -> io::Result<T> {
        self.stop_spinner();
        write(&mut self.out)
    }

    /// Ends the answer's last line in text mode.
    pub fn end_line(&mut self) -> io::Result<()> {
        if self.mode == Mode::Text && !self.at_line_start {
            self.out.write_all(b"\n")?;
            self.out.flush()?;
            self.at_line_start = true;
        }
        Ok(())
    }

    /// Whether answer text was printed (text mode).
    pub fn printed_text(&self) -> bool {
        self.printed_text
    }

    /// Stops the spinner and flushes both writers.
    pub fn finish(&mut self) -> io::Result<()> {
        self.stop_spinner();
        self.out.flush()?;
        self.err.flush()
    }

    /// The writers back.
    pub fn into_inner(mut self) -> (O, E) {
        self.stop_spinner();
        (self.out, self.err)
    }
}

#[cfg(test)]
#[path = "output_tests.rs"]
mod tests;
