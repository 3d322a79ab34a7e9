//! Pure request mapping: a [`ChatRequest`] becomes a `generateContent` body.
//!
//! - System messages (text only) become `systemInstruction` (one text part each); user messages are role
//!   `user`, assistant messages role `model`; tool results are `functionResponse` parts of a `user` turn.
//!   Consecutive messages of the same wire role are merged into one content (Gemini wants the results of
//!   parallel calls together).
//! - Parts: text; images and documents as `inlineData` (base64 with its media type: PDFs included).
//!   A URL source is a `validation` error: Gemini's `fileData` takes only files uploaded to Google (Files
//!   API, Cloud Storage), not a web URL, so nothing is sent that the API would refuse.
//! - Tool calls are `functionCall` parts (`name`, `args`, and `id` unless the id is one this crate made up,
//!   see [`crate::response`]); a tool result is a `functionResponse` named by its `name`, else by the call
//!   with its id earlier in the history (an unknown id is a `validation` error); its `response` is the
//!   tool's JSON object, else `{"result": …}` (`{"error": …}` for a failed tool).
//! - Reasoning parts go back where they came from: signed thought text as a `thought` part with its
//!   `thoughtSignature`; a signature Gemini put on a `functionCall` or text part back on that part
//!   ([`Anchor`]). Unsigned reasoning (another provider's) and redacted reasoning are not sent, and cache
//!   breakpoints have no field (Gemini caches prefixes by itself): the documented exceptions.
//! - `generationConfig`: temperature (0..=2), topP, topK, maxOutputTokens, stopSequences (at most 5), seed,
//!   presencePenalty, frequencyPenalty; a JSON object format is `responseMimeType: application/json`, a
//!   JSON Schema format adds `responseJsonSchema` (JSON Schema as written, not the OpenAPI subset of
//!   `responseSchema`); a reasoning budget is `thinkingConfig.thinkingBudget`, an effort
//!   `thinkingConfig.thinkingLevel`, both with `includeThoughts: true`.
//! - Tools are one `functionDeclarations` tool; `tool_choice` is `toolConfig.functionCallingConfig.mode`
//!   (`AUTO`, `NONE`, `ANY`, and `ANY` with `allowedFunctionNames` for one tool). Gemini has no switch
//!   for parallel calls or strict schemas: `parallel_tool_calls: false` and `strict: true` are
//!   `validation` errors.
//! - [`ChatRequest::extra`] is merged at the top level (`safetySettings`, `cachedContent`, …); a key this
//!   crate writes is a `validation` error.

use std::collections::HashMap;

use llm_core::{
    CallNames, ChatRequest, ContentPart, Effort, Error, Message, Param, ParamTable, Range,
    Reasoning, ResponseFormat, Role, Source, ToolChoice, ToolOutput, Violation,
};
use serde_json::{Map, Value, json};

use crate::response::{Anchor, GENERATED_ID_PREFIX};

/// `generateContent`'s parameters and ranges: temperature 0..=2, topP 0..=1, topK ≥ 1, maxOutputTokens
/// ≥ 1, up to five stop sequences, any seed, presence and frequency penalties in -2..=2; no repeat
/// penalty.
pub const PARAMS: ParamTable = ParamTable {
    provider: crate::config::DEFAULT_NAME,
    rules: &[
        (Param::Temperature, Range::float(0.0, 2.0)),
        (Param::TopP, Range::float(0.0, 1.0)),
        (Param::TopK, Range::int_min(1)),
        (Param::MaxTokens, Range::int_min(1)),
        (Param::Stop, Range::List { max: Some(5) }),
        (Param::Seed, Range::ANY_INT),
        (Param::PresencePenalty, Range::float(-2.0, 2.0)),
        (Param::FrequencyPenalty, Range::float(-2.0, 2.0)),
    ],
    requires_max_tokens: false,
};

/// Top-level keys this crate writes; [`ChatRequest::extra`] may not replace them.
pub const RESERVED_KEYS: &[&str] = &[
    "contents",
    "systemInstruction",
    "generationConfig",
    "tools",
    "toolConfig",
];

/// Every reason `request` cannot be sent to Gemini (empty when it can).
pub fn violations(request: &ChatRequest) -> Vec<Violation> {
    let mut out = PARAMS.violations(request);
    if let Some(Reasoning::Effort(effort)) = request.reasoning {
        out.extend(effort.check(&[Effort::Minimal, Effort::Low, Effort::Medium, Effort::High]));
    }
    if !request.messages.iter().any(|m| m.role != Role::System) {
        out.push(Violation::new(
            "messages",
            "at least one user message",
            "none",
        ));
    }
    let mut earlier = CallNames::default();
    for (i, message) in request.messages.iter().enumerate() {
        for (j, part) in message.content.iter().enumerate() {
            let at = format!("messages[{i}].content[{j}]");
            if let Some(v) = part_violation(&earlier, message, part, at) {
                out.push(v);
            }
        }
        earlier.add(message);
    }
    for (i, tool) in request.tools.iter().enumerate() {
        if tool.strict == Some(true) {
            out.push(Violation::new(
                format!("tools[{i}].strict"),
                "not supported by gemini (no strict schemas)",
                "true",
            ));
        }
    }
    if request.parallel_tool_calls == Some(false) {
        out.push(Violation::new(
            "parallel_tool_calls",
            "not supported by gemini (no switch for parallel calls)",
            "false",
        ));
    }
    if let Some(ToolChoice::Tool(name)) = &request.tool_choice
        && !request.tools.iter().any(|t| &t.name == name)
    {
        out.push(Violation::new(
            "tool_choice",
            "the name of a tool in the request",
            name.clone(),
        ));
    }
    if let Some(Reasoning::Budget(budget)) = request.reasoning
        && i32::try_from(budget).is_err()
    {
        out.push(Violation::new(
            "reasoning",
            "a thinking budget that fits an int32",
            budget.to_string(),
        ));
    }
    for key in RESERVED_KEYS {
        if request.extra.contains_key(*key) {
            out.push(Violation::new(
                format!("extra.{key}"),
                "a key llmux does not write itself",
                format!("`{key}`"),
            ));
        }
    }
    out
}

fn part_violation(
    earlier: &CallNames<'_>,
    message: &Message,
    part: &ContentPart,
    at: String,
) -> Option<Violation> {
    let role = message.role;
    let wrong = || {
        Violation::new(
            at.clone(),
            "system: text; user: text, images, documents, tool results; assistant: text, tool \
             calls, reasoning; tool: tool results",
            format!("a {} part in a {} message", part.kind(), role.as_str()),
        )
    };
    match part {
        ContentPart::Text { .. } if role != Role::Tool => None,
        ContentPart::ToolCall(_) if role == Role::Assistant => None,
        ContentPart::ToolResult { call_id, name, .. }
            if matches!(role, Role::Tool | Role::User) =>
        {
            (name.is_empty() && earlier.name(call_id).is_none()).then(|| {
                Violation::new(
                    at,
                    "a tool result with a name, or the id of a tool call earlier in the conversation",
                    format!("call id `{call_id}`, which no earlier call has"),
                )
            })
        }
        ContentPart::Image { source } | ContentPart::Document { source, .. }
            if role == Role::User =>
        {
            match source {
                Source::Url { .. } => Some(Violation::new(
                    at,
                    "inline bytes (Gemini's fileData takes only files uploaded to Google, not web URLs)",
                    "a URL",
                )),
                _ if matches!(part, ContentPart::Image { .. })
                    && !source.media_type().is_some_and(|m| m.starts_with("image/")) =>
                {
                    Some(Violation::new(
                        at,
                        "an image media type (image/…)",
                        source.media_type().unwrap_or("none").to_owned(),
                    ))
                }
                _ => None,
            }
        }
        ContentPart::Reasoning { .. } | ContentPart::RedactedReasoning { .. }
            if role == Role::Assistant =>
        {
            None
        }
        ContentPart::CacheBreakpoint => None,
        _ => Some(wrong()),
    }
}

/// The `generateContent` body for `request`. Call [`violations`] first: this assumes they are empty.
///
/// # Errors
/// `validation` when a part cannot be encoded (a violation [`violations`] reports).
pub fn body(provider: &str, request: &ChatRequest) -> Result<Vec<u8>, Error> {
    let value = body_value(request)
        .map_err(|violation| Error::validation(provider.to_owned(), vec![violation]))?;
    serde_json::to_vec(&value).map_err(|e| {
        Error::new(
            llm_core::ErrorKind::Validation,
            "request is not serializable",
        )
        .with_provider(provider.to_owned())
        .with_source(e)
    })
}

fn body_value(request: &ChatRequest) -> Result<Value, Violation> {
    let mut system = Vec::new();
    let mut contents: Vec<(&'static str, Vec<Value>)> = Vec::new();
    let mut earlier = CallNames::default();
    for message in &request.messages {
        if message.role == Role::System {
            for part in &message.content {
                if let ContentPart::Text { text } = part {
                    system.push(json!({ "text": text }));
                }
            }
            continue;
        }
        let role = if message.role == Role::Assistant {
            "model"
        } else {
            "user"
        };
        let parts = parts(&earlier, message)?;
        earlier.add(message);
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some((last, existing)) if *last == role => existing.extend(parts),
            _ => contents.push((role, parts)),
        }
    }
    let mut body = Map::new();
    body.insert(
        "contents".into(),
        Value::Array(
            contents
                .into_iter()
                .map(|(role, parts)| json!({ "role": role, "parts": parts }))
                .collect(),
        ),
    );
    if !system.is_empty() {
        body.insert("systemInstruction".into(), json!({ "parts": system }));
    }
    let config = generation_config(request);
    if !config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(config));
    }
    if !request.tools.is_empty() {
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                let mut d = Map::new();
                d.insert("name".into(), Value::from(t.name.clone()));
                if let Some(description) = &t.description {
                    d.insert("description".into(), Value::from(description.clone()));
                }
                d.insert("parameters".into(), t.parameters.clone());
                Value::Object(d)
            })
            .collect();
        body.insert(
            "tools".into(),
            json!([{ "functionDeclarations": declarations }]),
        );
    }
    if let Some(choice) = &request.tool_choice {
        let config = match choice {
            ToolChoice::None => json!({ "mode": "NONE" }),
            ToolChoice::Required => json!({ "mode": "ANY" }),
            ToolChoice::Tool(name) => json!({ "mode": "ANY", "allowedFunctionNames": [name] }),
            _ => json!({ "mode": "AUTO" }),
        };
        body.insert(
            "toolConfig".into(),
            json!({ "functionCallingConfig": config }),
        );
    }
    for (key, value) in &request.extra {
        body.insert(key.clone(), value.clone());
    }
    Ok(Value::Object(body))
}

fn generation_config(request: &ChatRequest) -> Map<String, Value> {
    let p = &request.params;
    let mut c = Map::new();
    let mut put = |key: &str, value: Option<Value>| {
        if let Some(value) = value {
            c.insert(key.to_owned(), value);
        }
    };
    put("temperature", p.temperature.map(Value::from));
    put("topP", p.top_p.map(Value::from));
    put("topK", p.top_k.map(Value::from));
    put("maxOutputTokens", p.max_tokens.map(Value::from));
    put(
        "stopSequences",
        (!p.stop.is_empty()).then(|| Value::from(p.stop.clone())),
    );
    put("seed", p.seed.map(Value::from));
    put("presencePenalty", p.presence_penalty.map(Value::from));
    put("frequencyPenalty", p.frequency_penalty.map(Value::from));
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => {
            put("responseMimeType", Some(Value::from("application/json")));
        }
        Some(ResponseFormat::JsonSchema(schema)) => {
            put("responseMimeType", Some(Value::from("application/json")));
            put("responseJsonSchema", Some(schema.schema.clone()));
        }
        _ => {}
    }
    match request.reasoning {
        Some(Reasoning::Budget(budget)) => put(
            "thinkingConfig",
            Some(json!({ "thinkingBudget": budget, "includeThoughts": true })),
        ),
        Some(Reasoning::Effort(effort)) => put(
            "thinkingConfig",
            Some(json!({ "thinkingLevel": effort.as_str(), "includeThoughts": true })),
        ),
        _ => {}
    }
    c
}

/// The signatures of an assistant message's reasoning parts, by where they go back.
#[derive(Default)]
struct Signatures<'a> {
    calls: HashMap<&'a str, &'a str>,
    text: Option<&'a str>,
}

fn parts(earlier: &CallNames<'_>, message: &Message) -> Result<Vec<Value>, Violation> {
    let mut signatures = Signatures::default();
    if message.role == Role::Assistant {
        for part in &message.content {
            if let ContentPart::Reasoning {
                signature: Some(signature),
                ..
            } = part
            {
                match Anchor::parse(signature) {
                    Some(Anchor::Call { id, signature }) => {
                        signatures.calls.insert(id, signature);
                    }
                    Some(Anchor::Text(signature)) => signatures.text = Some(signature),
                    Some(Anchor::Thought(_)) | None => {}
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut text_at = None;
    for part in &message.content {
        match part {
            ContentPart::Text { text } => {
                text_at = Some(out.len());
                out.push(json!({ "text": text }));
            }
            ContentPart::Image { source } | ContentPart::Document { source, .. } => {
                if let Source::Base64 { media_type, data } = source {
                    out.push(json!({ "inlineData": { "mimeType": media_type, "data": data } }));
                }
            }
            ContentPart::ToolCall(call) => {
                let mut fc = Map::new();
                if !call.id.starts_with(GENERATED_ID_PREFIX) {
                    fc.insert("id".into(), Value::from(call.id.clone()));
                }
                fc.insert("name".into(), Value::from(call.name.clone()));
                fc.insert("args".into(), call.arguments.clone());
                let mut wire = Map::new();
                wire.insert("functionCall".into(), Value::Object(fc));
                if let Some(signature) = signatures.calls.get(call.id.as_str()) {
                    wire.insert("thoughtSignature".into(), Value::from(*signature));
                }
                out.push(Value::Object(wire));
            }
            ContentPart::ToolResult {
                call_id,
                name,
                content,
                is_error,
            } => {
                let name = if name.is_empty() {
                    earlier.name(call_id).ok_or_else(|| {
                        Violation::new(
                            "messages",
                            "a tool result with a name, or the id of an earlier tool call",
                            format!("call id `{call_id}`"),
                        )
                    })?
                } else {
                    name.as_str()
                };
                let value = match content {
                    ToolOutput::Json(Value::Object(object)) if !is_error => {
                        Value::Object(object.clone())
                    }
                    ToolOutput::Json(value) => wrap(*is_error, value.clone()),
                    ToolOutput::Text(text) => wrap(*is_error, Value::from(text.clone())),
                    other => wrap(*is_error, Value::from(other.to_text())),
                };
                let mut fr = Map::new();
                if !call_id.starts_with(GENERATED_ID_PREFIX) && !call_id.is_empty() {
                    fr.insert("id".into(), Value::from(call_id.clone()));
                }
                fr.insert("name".into(), Value::from(name));
                fr.insert("response".into(), value);
                out.push(json!({ "functionResponse": fr }));
            }
            ContentPart::Reasoning { text, signature } => {
                let Some(signature) = signature else {
                    continue;
                };
                let anchor = Anchor::parse(signature);
                let own = match anchor {
                    Some(Anchor::Thought(signature)) => Some(signature),
                    _ => None,
                };
                // Another provider's reasoning is not Gemini's to read (its text was written for that
                // provider, its signature would be refused): like every codec, Gemini sends back its own.
                if anchor.is_none() {
                    continue;
                }
                // A signature of another part goes there; its thought text (if any) stays a thought.
                if text.is_empty() && own.is_none() {
                    continue;
                }
                let mut thought = Map::new();
                thought.insert("text".into(), Value::from(text.clone()));
                thought.insert("thought".into(), Value::Bool(true));
                if let Some(signature) = own {
                    thought.insert("thoughtSignature".into(), Value::from(signature));
                }
                out.push(Value::Object(thought));
            }
            _ => {}
        }
    }
    if let Some(signature) = signatures.text {
        match text_at {
            Some(at) => {
                out[at]["thoughtSignature"] = Value::from(signature);
            }
            None => out.push(json!({ "text": "", "thoughtSignature": signature })),
        }
    }
    Ok(out)
}

fn wrap(is_error: bool, value: Value) -> Value {
    if is_error {
        json!({ "error": value })
    } else {
        json!({ "result": value })
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
