//! Pure stream decoding: `streamGenerateContent?alt=sse` sends one whole `GenerateContentResponse` per SSE
//! event; [`GenerateDecoder`] turns each into llmux [`StreamEvent`]s (the same decoding state as [`response::decode`](crate::response::decode)
//! a whole answer goes through) and performs no IO. [`decode_chunks`] drives it over recorded bytes exactly
//! as llm-http's driver does, for tests and fuzz targets.
//!
//! - The first event gives [`StreamEvent::Start`] (its `modelVersion` and `responseId`, the request id from
//!   the `x-request-id` header when present); parts give text, reasoning, signature and tool-call events
//!   (each call whole: [`StreamEvent::ToolCallStart`] then [`StreamEvent::ToolCall`]).
//! - Gemini ends a stream with no terminator: the last event carries `finishReason` and the usage. Once
//!   usage has arrived with or after the finish reason the answer is complete: [`StreamEvent::Usage`] and [`StreamEvent::Finish`] are given
//!   and the rest of the body is ignored. A finish reason without usage is held back until usage arrives
//!   or the body ends. A body that ends without any finish or block reason is a `network` error, never a
//!   silently short answer.
//! - An event holding `{"error":{…}}` (a `google.rpc.Status`, e.g. `UNAVAILABLE` mid-answer) ends the
//!   stream with that error, classified by its code and status.

use std::collections::VecDeque;

use llm_core::{Error, ErrorKind, StreamEvent};
use llm_http::{Decoding, Frame, Framing};

use crate::response::Turn;

/// The decoding state of one Gemini stream.
#[derive(Debug, Clone)]
pub struct GenerateDecoder {
    turn: Turn,
    failed: bool,
    done: bool,
}

impl GenerateDecoder {
    /// A decoder for an answer from `provider` to a request for `model`, whose response carried
    /// `request_id`.
    pub fn new(provider: &str, model: &str, request_id: Option<String>) -> Self {
        GenerateDecoder {
            turn: Turn::new(provider, model, request_id),
            failed: false,
            done: false,
        }
    }

    /// Decodes one SSE event's data.
    ///
    /// # Errors
    /// A mid-stream error object (classified), or `invalid_response` for data that is not a response.
    pub fn decode(&mut self, data: &str, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        if self.failed || self.done {
            return Ok(());
        }
        if data.trim().is_empty() {
            return Ok(());
        }
        let result = self.turn.payload(data, out);
        if result.is_err() {
            self.failed = true;
        } else if self.turn.is_complete() {
            self.done = self.turn.finish(out).is_some();
        }
        result
    }
}

impl llm_http::StreamDecoder for GenerateDecoder {
    type Event = StreamEvent;

    fn frame(&mut self, frame: Frame<'_>, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        match frame {
            Frame::Event { data, .. } | Frame::Line(data) => self.decode(data, out),
        }
    }

    fn is_done(&self) -> bool {
        self.done
    }

    fn end(&mut self, _truncated: bool, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        if self.failed || self.done || self.turn.finish(out).is_some() {
            return Ok(());
        }
        Err(
            Error::new(ErrorKind::Network, "stream ended before a finish reason")
                .with_provider(self.turn.provider().to_owned())
                .with_request_id_opt(self.turn.request_id().map(str::to_owned)),
        )
    }

    fn attach(&self, error: Error) -> Error {
        self.turn.attach(error)
    }
}

/// Decodes a recorded stream given as byte chunks exactly as the driver does (llm-http's [`Decoding`]
/// around `decoder`): every event and error in order, and the decoder's final state.
pub fn decode_chunks<'a>(
    decoder: GenerateDecoder,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> (Vec<Result<StreamEvent, Error>>, GenerateDecoder) {
    let provider = decoder.turn.provider().to_owned();
    Decoding::new(provider, Framing::Sse, decoder).run(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(body: &str) -> Vec<Result<StreamEvent, Error>> {
        decode_chunks(GenerateDecoder::new("gemini", "m", None), [body.as_bytes()]).0
    }

    #[test]
    fn the_finish_waits_for_the_end_and_a_cut_stream_is_an_error() {
        let events = run(concat!(
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]},\"finishReason\":\"STOP\"}]}\n\n",
            "data: {\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":1}}\n\n",
        ));
        let kinds: Vec<String> = events
            .iter()
            .map(|e| match e.as_ref().unwrap() {
                StreamEvent::Start(_) => "start".to_owned(),
                StreamEvent::TextDelta(t) => format!("text {t}"),
                StreamEvent::Usage(u) => format!("usage {:?}", u.total_tokens),
                StreamEvent::Finish(r) => format!("finish {r}"),
                other => format!("{other:?}"),
            })
            .collect();
        assert_eq!(kinds, ["start", "text Hi", "usage Some(4)", "finish stop"]);

        let cut = run("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}]}\n\n");
        let err = cut.last().unwrap().as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Network);
        assert_eq!(err.delivered_bytes(), Some(2));
    }

    #[test]
    fn usage_before_the_finish_does_not_complete_the_answer() {
        let events = run(concat!(
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}],",
            "\"usageMetadata\":{\"promptTokenCount\":3}}\n\n",
            "data: {\"candidates\":[{\"content\":{\"parts\":[]},\"finishReason\":\"STOP\"}]}\n\n",
            "data: {\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":1,\"totalTokenCount\":4}}\n\n",
        ));
        let usage: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                Ok(StreamEvent::Usage(u)) => Some(u.total_tokens),
                _ => None,
            })
            .collect();
        assert_eq!(usage, [Some(4)], "{events:?}");
    }

    #[test]
    fn finish_and_usage_together_complete_the_answer_and_the_rest_is_ignored() {
        let events = run(concat!(
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]},\"finishReason\":\"STOP\"}],",
            "\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":1}}\n\n",
            "data: not json at all\n\n",
        ));
        assert!(events.iter().all(Result::is_ok), "{events:?}");
        assert!(matches!(events.last(), Some(Ok(StreamEvent::Finish(_)))));
    }

    #[test]
    fn an_error_event_ends_the_stream_classified() {
        let events = run(concat!(
            "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hi\"}]}}]}\n\n",
            "data: {\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":\"UNAVAILABLE\"}}\n\n",
        ));
        let err = events.last().unwrap().as_ref().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Overloaded);
        assert!(err.is_retryable());
        let not_json = run("data: {oops\n\n");
        assert_eq!(
            not_json.last().unwrap().as_ref().unwrap_err().kind(),
            ErrorKind::InvalidResponse
        );
    }
}
