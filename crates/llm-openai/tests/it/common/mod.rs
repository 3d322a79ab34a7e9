//! Helpers shared by the integration tests: readable transcripts of stream items.

#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset of these helpers

use llm_core::{Error, StreamEvent};

/// One line per item, e.g. `text Hello`, `finish stop`, `error network`.
pub fn line(item: &Result<StreamEvent, Error>) -> String {
    match item {
        Ok(StreamEvent::Start(s)) => format!(
            "start {} model={} req={} resp={}",
            s.provider,
            s.model,
            s.request_id.as_deref().unwrap_or("-"),
            s.response_id.as_deref().unwrap_or("-")
        ),
        Ok(StreamEvent::TextDelta(t)) => format!("text {t}"),
        Ok(StreamEvent::ReasoningDelta(t)) => format!("reasoning {t}"),
        Ok(StreamEvent::Usage(u)) => format!(
            "usage in={} out={} total={} cached={}",
            show(u.input_tokens),
            show(u.output_tokens),
            show(u.total_tokens),
            show(u.cached_input_tokens)
        ),
        Ok(StreamEvent::Finish(f)) => format!("finish {f}"),
        Ok(StreamEvent::ToolCallStart { index, id, name }) => {
            format!("call_start {index} {id} {name}")
        }
        Ok(StreamEvent::ToolCallDelta { index, arguments }) => {
            format!("call_delta {index} {arguments}")
        }
        Ok(StreamEvent::ToolCall { index, call }) => {
            format!("call {index} {} {} {}", call.id, call.name, call.arguments)
        }
        Ok(other) => format!("other {other:?}"),
        Err(e) => format!("error {}", e.kind()),
    }
}

fn show(v: Option<u64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// The transcript of a whole list of items.
pub fn transcript(items: &[Result<StreamEvent, Error>]) -> Vec<String> {
    items.iter().map(line).collect()
}
