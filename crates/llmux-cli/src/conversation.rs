//! The CLI's own JSON formats for tools (`--tools FILE`) and whole conversations (`--request FILE`), turned
//! into the library's request. These are contracts other programs write against; the library's serde form
//! may differ.
//!
//! ```json
//! {"system": "...",
//!  "messages": [
//!    {"role": "user", "content": "..."},
//!    {"role": "assistant", "content": "...",
//!     "tool_calls": [{"id": "call_A", "name": "get_weather", "arguments": {"city": "Paris"}}]},
//!    {"role": "tool", "tool_call_id": "call_A", "content": "18 C"}],
//!  "tools": [{"name": "get_weather", "description": "...", "parameters": {"type": "object"}}],
//!  "tool_choice": "auto"}
//! ```
//!
//! A user message's `content` may also be a list of parts: `{"type": "text", "text"}`, `{"type": "image",
//! "path"}` or `{"type": "image", "url"}`, and `{"type": "document", "path"}` (a PDF); paths are relative to
//! the request file.

use std::fs;
use std::path::Path;

use llmux::{ChatRequest, Message, Role, Tool, ToolCall, ToolChoice, ToolOutput};
use serde::Deserialize;
use serde_json::Value;

use crate::spec::ConfigError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTool {
    name: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default = "empty_object")]
    parameters: Value,
}

fn empty_object() -> Value {
    Value::Object(serde_json::Map::new())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileCall {
    id: String,
    name: String,
    #[serde(default = "empty_object")]
    arguments: Value,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileMessage {
    role: String,
    #[serde(default)]
    content: Option<Value>,
    #[serde(default)]
    tool_calls: Vec<FileCall>,
    #[serde(default)]
    tool_call_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRequest {
    #[serde(default)]
    system: Option<String>,
    #[serde(default)]
    messages: Vec<FileMessage>,
    #[serde(default)]
    tools: Vec<FileTool>,
    #[serde(default)]
    tool_choice: Option<String>,
}

fn read(path: &Path, what: &str) -> Result<String, ConfigError> {
    fs::read_to_string(path).map_err(|e| {
        ConfigError(format!(
            "cannot read the {what} file {}: {e}",
            path.display()
        ))
    })
}

fn tool_of(t: FileTool) -> Tool {
    let mut tool = Tool::new(t.name, t.description.unwrap_or_default(), t.parameters);
    if tool.description.as_deref() == Some("") {
        tool.description = None;
    }
    tool
}

/// The tools of a `--tools` file: a JSON array of `{"name", "description", "parameters"}`.
pub fn load_tools(path: &Path) -> Result<Vec<Tool>, ConfigError> {
    parse_tools(&read(path, "tools")?)
        .map_err(|e| ConfigError(format!("invalid tools file {}: {e}", path.display())))
}

fn parse_tools(text: &str) -> Result<Vec<Tool>, String> {
    let tools: Vec<FileTool> = serde_json::from_str(text).map_err(|e| e.to_string())?;
    Ok(tools.into_iter().map(tool_of).collect())
}

/// The conversation of a `--request` file.
pub fn load_request(path: &Path) -> Result<ChatRequest, ConfigError> {
    parse_request_in(&read(path, "request")?, path.parent())
        .map_err(|e| ConfigError(format!("invalid request file {}: {e}", path.display())))
}

/// One part of a user message's `content` list.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
enum FilePart {
    Text {
        text: String,
    },
    Image {
        path: Option<String>,
        url: Option<String>,
    },
    Document {
        path: String,
    },
}

/// A user or system message's content: a string, or (user messages) a list of parts.
fn parts_of(
    content: Option<Value>,
    at: &str,
    base: Option<&Path>,
) -> Result<Vec<llmux::ContentPart>, String> {
    let Some(Value::Array(items)) = content else {
        return Ok(vec![llmux::ContentPart::text(text_of(content, at)?)]);
    };
    let mut parts = Vec::with_capacity(items.len());
    for (j, item) in items.into_iter().enumerate() {
        let part: FilePart =
            serde_json::from_value(item).map_err(|e| format!("{at}.content[{j}]: {e}"))?;
        let media = |r: Result<llmux::ContentPart, ConfigError>| {
            r.map_err(|e| format!("{at}.content[{j}]: {}", e.0))
        };
        parts.push(match part {
            FilePart::Text { text } => llmux::ContentPart::text(text),
            FilePart::Image {
                path: Some(p),
                url: None,
            } => media(crate::media::image(&p, base))?,
            FilePart::Image {
                path: None,
                url: Some(u),
            } => media(crate::media::image(&u, None))?,
            FilePart::Image { .. } => {
                return Err(format!("{at}.content[{j}]: an image needs `path` or `url`"));
            }
            FilePart::Document { path } => media(crate::media::document(&path, base))?,
        });
    }
    Ok(parts)
}

fn text_of(content: Option<Value>, at: &str) -> Result<String, String> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(format!("{at}.content: expected a string")),
    }
}

#[cfg(test)]
fn parse_request(text: &str) -> Result<ChatRequest, String> {
    parse_request_in(text, None)
}

fn parse_request_in(text: &str, base: Option<&Path>) -> Result<ChatRequest, String> {
    let file: FileRequest = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut request = ChatRequest::for_chain();
    if let Some(system) = file.system {
        request = request.system(system);
    }
    for (i, m) in file.messages.into_iter().enumerate() {
        let at = format!("messages[{i}]");
        let message = match m.role.as_str() {
            "system" | "user" => {
                if !m.tool_calls.is_empty() || m.tool_call_id.is_some() {
                    return Err(format!(
                        "{at}: tool calls and results belong to assistant and tool messages"
                    ));
                }
                if m.role == "system" {
                    Message::new(Role::System, text_of(m.content, &at)?)
                } else {
                    let mut message = Message::user("");
                    message.content = parts_of(m.content, &at, base)?;
                    message
                }
            }
            "assistant" => {
                let calls = m
                    .tool_calls
                    .into_iter()
                    .map(|c| ToolCall::new(c.id, c.name, c.arguments));
                Message::tool_calls(text_of(m.content, &at)?, calls)
            }
            "tool" => {
                let call_id = m
                    .tool_call_id
                    .ok_or_else(|| format!("{at}: a tool message needs `tool_call_id`"))?;
                let output = match m.content {
                    Some(Value::String(s)) => ToolOutput::Text(s),
                    Some(Value::Null) | None => ToolOutput::Text(String::new()),
                    Some(other) => ToolOutput::Json(other),
                };
                Message::tool_result(call_id, m.name.unwrap_or_default(), output)
            }
            other => {
                return Err(format!(
                    "{at}.role: expected system, user, assistant or tool, got `{other}`"
                ));
            }
        };
        request = request.message(message);
    }
    request.tools = file.tools.into_iter().map(tool_of).collect();
    request.tool_choice = file.tool_choice.as_deref().map(ToolChoice::parse);
    Ok(request)
}

#[cfg(test)]
mod tests {
    use llmux::ContentPart;
    use serde_json::json;

    use super::*;

    #[test]
    fn the_documented_request_shape_becomes_the_conversation() {
        let text = json!({
            "system": "Be brief.",
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": "Checking.",
                 "tool_calls": [{"id": "call_A", "name": "get_weather", "arguments": {"city": "Paris"}}]},
                {"role": "tool", "tool_call_id": "call_A", "content": "18 C"},
                {"role": "tool", "tool_call_id": "call_B", "content": {"temp": 18}}
            ],
            "tools": [{"name": "get_weather", "description": "Weather", "parameters": {"type": "object"}}],
            "tool_choice": "required"
        })
        .to_string();
        let request = parse_request(&text).unwrap();
        assert_eq!(request.messages.len(), 5);
        assert_eq!(request.messages[0].role, Role::System);
        let (said, calls) = request.messages[2].text_and_calls();
        assert_eq!(said, "Checking.");
        assert_eq!(calls[0].id, "call_A");
        assert_eq!(calls[0].arguments, json!({"city": "Paris"}));
        assert_eq!(request.messages[3].role, Role::Tool);
        assert!(matches!(&request.messages[3].content[0],
            ContentPart::ToolResult { call_id, content: ToolOutput::Text(t), .. } if call_id == "call_A" && t == "18 C"));
        assert!(matches!(&request.messages[4].content[0],
            ContentPart::ToolResult { content: ToolOutput::Json(v), .. } if v["temp"] == 18));
        assert_eq!(request.tools[0].name, "get_weather");
        assert_eq!(request.tool_choice, Some(ToolChoice::Required));
    }

    #[test]
    fn mistakes_say_where() {
        for (text, says) in [
            (
                r#"{"messages":[{"role":"robot","content":"x"}]}"#,
                "messages[0].role",
            ),
            (
                r#"{"messages":[{"role":"tool","content":"x"}]}"#,
                "tool_call_id",
            ),
            (
                r#"{"messages":[{"role":"user","content":5}]}"#,
                "messages[0].content",
            ),
            (r#"{"messages":[],"extra":1}"#, "unknown field"),
        ] {
            let err = parse_request(text).unwrap_err();
            assert!(err.contains(says), "{text}: {err}");
        }
        let tools = parse_tools(r#"[{"name":"t","parameters":{"type":"object"}}]"#).unwrap();
        assert_eq!(tools[0].description, None);
        assert!(parse_tools(r#"{"name":"t"}"#).is_err());
    }
}
