//! Pure request encoding: a [`ChatRequest`] to a Chat Completions JSON body, and the checks that must pass
//! before one is sent (parameter table, message content, `extra` keys that collide with written fields).

use std::borrow::Cow;

use llm_core::{ChatRequest, ContentPart, Error, ErrorKind, Message, ParamTable, Violation};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::config::{TokenLimit, WireConfig};

/// Every top-level body field this crate writes itself. A [`ChatRequest::extra`] key among these is a
/// `validation` error: typed parameters go through the parameter table, never around it.
pub(crate) const WRITTEN_FIELDS: [&str; 14] = [
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "repeat_penalty",
];

/// Turns requests into bodies for one server: the token limit field, whether to ask for stream usage, the
/// configuration's body extras, and the parameter table checked by [`Encoder::validate`].
#[derive(Debug, Clone)]
pub struct Encoder {
    provider: Cow<'static, str>,
    table: ParamTable,
    token_limit: TokenLimit,
    stream_usage: bool,
    extras: Map<String, Value>,
}

impl Encoder {
    /// An encoder for the server `config` describes.
    pub fn new(config: &dyn WireConfig) -> Self {
        Encoder {
            provider: config.http().name.clone(),
            table: config.param_table(),
            token_limit: config.token_limit(),
            stream_usage: config.stream_usage(),
            extras: config.body_extras(),
        }
    }

    /// The fields the configuration merges into every body.
    pub fn extras(&self) -> &Map<String, Value> {
        &self.extras
    }

    /// Every reason `request` cannot be sent: the parameter table's violations, message content this wire
    /// format cannot carry, and `extra` keys colliding with a field the encoder writes or the configuration's extras.
    pub fn violations(&self, request: &ChatRequest) -> Vec<Violation> {
        let mut out = self.table.violations(request);
        for (i, message) in request.messages.iter().enumerate() {
            if message_text(message).is_none() {
                out.push(Violation::new(
                    format!("messages[{i}].content"),
                    "text parts only",
                    "a part this provider cannot send",
                ));
            }
        }
        for key in request.extra.keys() {
            if WRITTEN_FIELDS.contains(&key.as_str()) {
                out.push(Violation::new(
                    key.clone(),
                    "a field llmux does not write itself (use the typed parameter)",
                    "an extra field",
                ));
            } else if self.extras.contains_key(key) {
                out.push(Violation::new(
                    key.clone(),
                    format!("a field the {} configuration does not set", self.provider),
                    "an extra field",
                ));
            }
        }
        out
    }

    /// `Ok` when [`Encoder::violations`] finds nothing, else one `validation` error listing them all.
    pub fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        let violations = self.violations(request);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(self.provider.clone(), violations))
        }
    }

    /// The JSON body for `request` (`stream` selects streaming, which also asks for usage when configured).
    /// Call [`Encoder::validate`] first: this does not check ranges.
    pub fn encode(&self, request: &ChatRequest, stream: bool) -> Result<Vec<u8>, Error> {
        let p = &request.params;
        let (max_tokens, max_completion_tokens) = match self.token_limit {
            TokenLimit::MaxCompletionTokens => (None, p.max_tokens),
            TokenLimit::MaxTokens => (p.max_tokens, None),
        };
        let messages = request
            .messages
            .iter()
            .map(|m| {
                Ok(WireMessage {
                    role: m.role.as_str(),
                    content: message_text(m).ok_or_else(|| {
                        Error::new(ErrorKind::Validation, "message content is not text")
                            .with_provider(self.provider.clone())
                    })?,
                })
            })
            .collect::<Result<Vec<_>, Error>>()?;
        let body = Body {
            model: &request.model,
            messages,
            temperature: p.temperature,
            top_p: p.top_p,
            top_k: p.top_k,
            max_tokens,
            max_completion_tokens,
            stop: &p.stop,
            seed: p.seed,
            frequency_penalty: p.frequency_penalty,
            presence_penalty: p.presence_penalty,
            repeat_penalty: p.repeat_penalty,
            stream,
            stream_options: (stream && self.stream_usage).then_some(StreamOptions {
                include_usage: true,
            }),
            extras: Extras([&self.extras, &request.extra]),
        };
        serde_json::to_vec(&body).map_err(|e| {
            Error::new(ErrorKind::Validation, "request cannot be encoded as json")
                .with_provider(self.provider.clone())
                .with_source(e)
        })
    }
}

/// The text of `message`, borrowed when it is one part; `None` when a part is not text.
fn message_text(message: &Message) -> Option<Cow<'_, str>> {
    match message.content.as_slice() {
        [ContentPart::Text { text }] => Some(Cow::Borrowed(text)),
        _ => message.text().map(Cow::Owned),
    }
}

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<i64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repeat_penalty: Option<f64>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(flatten)]
    extras: Extras<'a>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: Cow<'a, str>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// The configuration's extras, then the request's, as top-level fields (validation keeps them disjoint).
struct Extras<'a>([&'a Map<String, Value>; 2]);

impl Serialize for Extras<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in self.0.iter().flat_map(|m| m.iter()) {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}
