//! What shape the answer takes ([`ResponseFormat`]) and how hard the model thinks first ([`Reasoning`]), and
//! the typed helpers that ask for JSON and read it back ([`parse_json`], and with the `schema` feature
//! [`ResponseFormat::of`] and [`chat_json`]).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, ErrorKind, ProviderDetail};
use crate::response::ChatResponse;

/// The shape the answer must take.
///
/// ```
/// use llm_core::{ChatRequest, ResponseFormat};
/// use serde_json::json;
/// let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]});
/// let req = ChatRequest::new("m").user("Pick a number").response_format(
///     ResponseFormat::json_schema("pick", schema).strict(true),
/// );
/// assert!(matches!(req.response_format, Some(ResponseFormat::JsonSchema(_))));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text (every provider's default; sending it changes nothing).
    Text,
    /// Any JSON object (OpenAI's `json_object`, Ollama's `format: "json"`).
    JsonObject,
    /// JSON that matches a schema.
    JsonSchema(JsonSchema),
}

impl ResponseFormat {
    /// JSON matching `schema` (a JSON Schema object), named `name` for providers that want a name.
    pub fn json_schema(name: impl Into<String>, schema: Value) -> JsonSchema {
        JsonSchema {
            name: name.into(),
            schema,
            strict: None,
        }
    }

    /// The schema, for [`ResponseFormat::JsonSchema`].
    pub fn schema(&self) -> Option<&JsonSchema> {
        match self {
            ResponseFormat::JsonSchema(s) => Some(s),
            _ => None,
        }
    }

    /// JSON matching the schema `schemars` derives for `T`, named after the type.
    ///
    /// ```
    /// # #[cfg(feature = "schema")] {
    /// use llm_core::ResponseFormat;
    /// #[derive(schemars::JsonSchema, serde::Deserialize)]
    /// struct City { name: String, population: u64 }
    /// let format = ResponseFormat::of::<City>();
    /// let schema = format.schema().unwrap();
    /// assert_eq!(schema.name, "City");
    /// assert_eq!(schema.schema["properties"]["population"]["type"], "integer");
    /// # }
    /// ```
    #[cfg(feature = "schema")]
    pub fn of<T: schemars::JsonSchema>() -> ResponseFormat {
        let mut schema = serde_json::to_value(schemars::schema_for!(T)).unwrap_or(Value::Null);
        if let Some(object) = schema.as_object_mut() {
            // Providers take the schema itself; the meta-schema URI and title are schemars' bookkeeping.
            object.remove("$schema");
            object.remove("title");
        }
        ResponseFormat::JsonSchema(JsonSchema {
            name: JsonSchema::name_from(&T::schema_name()),
            schema,
            strict: None,
        })
    }
}

impl From<JsonSchema> for ResponseFormat {
    fn from(schema: JsonSchema) -> Self {
        ResponseFormat::JsonSchema(schema)
    }
}

/// A JSON Schema the answer must match.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchema {
    /// A name for the schema (OpenAI requires one: letters, digits, `_` and `-`).
    pub name: String,
    /// The JSON Schema object.
    pub schema: Value,
    /// Whether the provider must hold the answer to the schema exactly, where it can choose (OpenAI
    /// `strict`); `None` leaves the provider's default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

impl JsonSchema {
    /// A schema name providers accept, made from `text` (a type or file name): letters, digits, `_` and
    /// `-` kept, anything else `_`; `answer` when nothing is left.
    ///
    /// ```
    /// assert_eq!(llm_core::JsonSchema::name_from("city list.v2"), "city_list_v2");
    /// assert_eq!(llm_core::JsonSchema::name_from(""), "answer");
    /// ```
    pub fn name_from(text: &str) -> String {
        if text.is_empty() {
            return "answer".to_owned();
        }
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// Sets whether the provider must hold the answer to the schema exactly.
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = Some(strict);
        self
    }
}

/// How much the model reasons before it answers: an effort, or a budget of thinking tokens.
///
/// Each provider takes what it can: OpenAI `reasoning_effort` (an effort), Claude `thinking` (a budget as
/// `enabled` with `budget_tokens`, an effort as `adaptive` with `output_config.effort`), Ollama `think`. A
/// setting the provider cannot express is a `validation` error.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reasoning {
    /// An effort level.
    Effort(Effort),
    /// At most this many tokens of thinking.
    Budget(u32),
}

impl Reasoning {
    /// An effort's name ([`Effort::parse`]), or a number of tokens.
    ///
    /// ```
    /// use llm_core::{Effort, Reasoning};
    /// assert_eq!(Reasoning::parse("high"), Some(Reasoning::Effort(Effort::High)));
    /// assert_eq!(Reasoning::parse("xhigh"), Some(Reasoning::Effort(Effort::XHigh)));
    /// assert_eq!(Reasoning::parse("2048"), Some(Reasoning::Budget(2048)));
    /// assert_eq!(Reasoning::parse("lots"), None);
    /// ```
    pub fn parse(text: &str) -> Option<Reasoning> {
        let text = text.trim();
        match Effort::parse(text) {
            Some(effort) => Some(Reasoning::Effort(effort)),
            None => text.parse().ok().map(Reasoning::Budget),
        }
    }
}

/// A reasoning effort.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effort {
    /// The least reasoning a model does (OpenAI's and Gemini's `minimal`).
    Minimal,
    /// Little reasoning, fast answers.
    Low,
    /// The usual balance.
    Medium,
    /// Deep reasoning.
    High,
    /// Deeper than high (OpenAI's and Claude's `xhigh`).
    XHigh,
    /// The most a model does (Claude's `max`).
    Max,
}

impl Effort {
    /// Every level, least first.
    pub const ALL: &[Effort] = &[
        Effort::Minimal,
        Effort::Low,
        Effort::Medium,
        Effort::High,
        Effort::XHigh,
        Effort::Max,
    ];

    /// `minimal`, `low`, `medium`, `high`, `xhigh` or `max`, as the providers spell them.
    pub const fn as_str(self) -> &'static str {
        match self {
            Effort::Minimal => "minimal",
            Effort::Low => "low",
            Effort::Medium => "medium",
            Effort::High => "high",
            Effort::XHigh => "xhigh",
            Effort::Max => "max",
        }
    }

    /// The level named `name` ([`Effort::as_str`]).
    pub fn parse(name: &str) -> Option<Effort> {
        Effort::ALL.iter().copied().find(|e| e.as_str() == name)
    }

    /// A violation of `reasoning` when a provider takes only the `accepted` levels (`None` when it takes
    /// this one).
    ///
    /// ```
    /// use llm_core::Effort;
    /// let claude = [Effort::Low, Effort::Medium, Effort::High, Effort::XHigh, Effort::Max];
    /// assert!(Effort::Max.check(&claude).is_none());
    /// let v = Effort::Minimal.check(&claude).unwrap();
    /// assert_eq!(v.param, "reasoning");
    /// assert_eq!(v.to_string(), "reasoning: expected an effort of low, medium, high, xhigh, max, given `minimal`");
    /// ```
    pub fn check(self, accepted: &[Effort]) -> Option<crate::Violation> {
        if accepted.contains(&self) {
            return None;
        }
        let names: Vec<&str> = accepted.iter().map(|e| e.as_str()).collect();
        Some(crate::Violation::new(
            "reasoning",
            format!("an effort of {}", names.join(", ")),
            format!("`{}`", self.as_str()),
        ))
    }
}

/// The answer's text parsed as `T`. Text that is not JSON of that shape is an `invalid_response` error
/// whose [`detail`](Error::detail) message is the text as the model wrote it.
///
/// ```
/// use llm_core::{ChatResponse, ErrorKind, parse_json};
/// #[derive(Debug, serde::Deserialize)]
/// struct Pick { n: i64 }
/// let good = ChatResponse::new("p", "m", r#"{"n": 7}"#);
/// assert_eq!(parse_json::<Pick>(&good).unwrap().n, 7);
/// let bad = ChatResponse::new("p", "m", "seven");
/// let err = parse_json::<Pick>(&bad).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::InvalidResponse);
/// assert_eq!(err.detail().unwrap().message.as_deref(), Some("seven"));
/// ```
pub fn parse_json<T: DeserializeOwned>(response: &ChatResponse) -> Result<T, Error> {
    serde_json::from_str(response.text.trim()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidResponse,
            format!(
                "the answer does not match the requested {}: {e}",
                std::any::type_name::<T>()
                    .rsplit("::")
                    .next()
                    .unwrap_or("type")
            ),
        )
        .with_provider(response.provider.clone())
        .with_request_id_opt(response.request_id.clone())
        .with_detail(ProviderDetail::message(response.text.clone()))
        .with_attempts(response.attempts.clone())
    })
}

/// Asks `provider` for an answer shaped as `T` (the schema `schemars` derives, sent natively by each
/// provider) and parses it: [`ResponseFormat::of`] then [`parse_json`].
///
/// ```no_run
/// # async fn run(provider: &dyn llm_core::Provider) -> llm_core::Result<()> {
/// #[derive(schemars::JsonSchema, serde::Deserialize)]
/// struct City { name: String, population: u64 }
/// let request = llm_core::ChatRequest::for_chain().user("The largest city in France, as JSON");
/// let city: City = llm_core::chat_json(provider, request).await?;
/// # let _ = city; Ok(()) }
/// ```
#[cfg(feature = "schema")]
pub async fn chat_json<T, P>(provider: &P, request: crate::ChatRequest) -> Result<T, Error>
where
    T: schemars::JsonSchema + DeserializeOwned,
    P: crate::Provider + ?Sized,
{
    let request = crate::ChatRequest {
        response_format: Some(ResponseFormat::of::<T>()),
        ..request
    };
    let response = provider.chat(&request).await?;
    parse_json(&response)
}
