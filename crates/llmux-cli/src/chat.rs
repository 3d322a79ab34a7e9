//! `llmux chat`: build the request and the chain, stream (or wait for) the answer, report it.

use std::io::{Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use futures_util::StreamExt;
use llmux::chain::{AttemptObserver, SkipObserver};
use llmux::{
    ChatRequest, Error, ErrorKind, FinishReason, Params, Provider, StreamEvent, StreamStart, Usage,
    Violation,
};
use serde_json::Value;

use crate::args::ChatArgs;
use crate::build::{self, Options};
use crate::conversation;
use crate::env::Env;
use crate::exit;
use crate::output::{Event, Output};
use crate::spec::{self, ConfigError};

/// The printer shared with the chain's attempt observer.
type Shared<O, E> = Arc<Mutex<Output<O, E>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Output only appends to writers: a panic while holding it leaves nothing half-updated worth refusing.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Parses `--param key=value` arguments: the value is JSON when it parses as JSON, else a string. Returns
/// the parameters and every violation (unknown names, wrong types); a missing `=` is a usage error.
pub fn parse_params(raw: &[String]) -> Result<(Params, Vec<Violation>), ConfigError> {
    let mut params = Params::default();
    let mut violations = Vec::new();
    for item in raw {
        let Some((name, value)) = item.split_once('=') else {
            return Err(ConfigError(format!(
                "--param `{item}`: expected KEY=VALUE (e.g. temperature=0.2)"
            )));
        };
        let value = serde_json::from_str::<Value>(value)
            .unwrap_or_else(|_| Value::String(value.to_owned()));
        if let Err(v) = params.set(name.trim(), &value) {
            violations.push(v);
        }
    }
    Ok((params, violations))
}

/// Reads the prompt: the argument, else all of `stdin` (one trailing newline removed).
pub fn prompt(arg: Option<&str>, stdin: &mut dyn Read) -> Result<String, ConfigError> {
    let text = match arg {
        Some(p) => p.to_owned(),
        None => {
            let mut s = String::new();
            stdin
                .read_to_string(&mut s)
                .map_err(|e| ConfigError(format!("cannot read the prompt from stdin: {e}")))?;
            let trimmed = s.strip_suffix('\n').unwrap_or(&s);
            trimmed.strip_suffix('\r').unwrap_or(trimmed).to_owned()
        }
    };
    if text.trim().is_empty() {
        return Err(ConfigError(
            "no prompt: pass it as an argument or on stdin".to_owned(),
        ));
    }
    Ok(text)
}

/// Runs `llmux chat` and returns the exit code.
pub async fn run<O, E>(args: &ChatArgs, env: &Env, stdin: &mut dyn Read, output: Output<O, E>) -> u8
where
    O: Write + Send + 'static,
    E: Write + Send + 'static,
{
    let output = Arc::new(Mutex::new(output));
    let code = match prepare(args, env, stdin, &output) {
        Err(e) => {
            let mut out = lock(&output);
            let _ = out.finish();
            drop(out);
            eprintln!("llmux: {e}");
            return exit::CONFIG;
        }
        Ok(Prepared::Invalid(error)) => report_error(&output, &error),
        Ok(Prepared::Ready(chain, request, schema)) => {
            let answer = if args.no_stream {
                whole(&chain, &request, &output).await
            } else {
                streamed(&chain, &request, &output).await
            };
            // A short-lived process hands its outcomes to the shared state before it exits.
            chain.flush_state().await;
            match (answer, schema) {
                (Err(code), _) => code,
                (Ok(_), None) => exit::OK,
                (Ok(text), Some(schema)) => match schema.check(&text) {
                    Ok(()) => exit::OK,
                    Err(e) => report_error(&output, &e),
                },
            }
        }
    };
    let _ = lock(&output).finish();
    code
}

enum Prepared {
    Ready(llmux::chain::Chain, Box<ChatRequest>, Option<Schema>),
    Invalid(Error),
}

/// `--schema`: the schema sent to the provider, and its validator for the answer.
struct Schema {
    validator: jsonschema::Validator,
}

impl Schema {
    /// Reads `path`: a JSON Schema named after the file.
    fn load(path: &std::path::Path) -> Result<(Schema, llmux::ResponseFormat), ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!(
                "cannot read the schema file {}: {e}",
                path.display()
            ))
        })?;
        let schema: Value = serde_json::from_str(&text)
            .map_err(|e| ConfigError(format!("invalid schema file {}: {e}", path.display())))?;
        let validator = jsonschema::validator_for(&schema)
            .map_err(|e| ConfigError(format!("invalid schema file {}: {e}", path.display())))?;
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let name = llmux::JsonSchema::name_from(&stem);
        Ok((
            Schema { validator },
            llmux::ResponseFormat::json_schema(name, schema).into(),
        ))
    }

    /// The answer's text as JSON matching the schema, else an `invalid_response` error carrying the text.
    fn check(&self, text: &str) -> Result<(), Error> {
        let invalid = |why: String| {
            Error::new(
                ErrorKind::InvalidResponse,
                format!("the answer does not match the schema: {why}"),
            )
            .with_detail(llmux::ProviderDetail::message(text))
        };
        let value: Value =
            serde_json::from_str(text.trim()).map_err(|e| invalid(format!("not JSON ({e})")))?;
        match self.validator.iter_errors(&value).next() {
            None => Ok(()),
            Some(e) => Err(invalid(format!("{e} at `{}`", e.instance_path()))),
        }
    }
}

fn prepare<O, E>(
    args: &ChatArgs,
    env: &Env,
    stdin: &mut dyn Read,
    output: &Shared<O, E>,
) -> Result<Prepared, ConfigError>
where
    O: Write + Send + 'static,
    E: Write + Send + 'static,
{
    let (params, mut violations) = parse_params(&args.params)?;
    let spec =
        spec::resolve(&args.select, env)?.with_prices_file(args.prices.prices_file.as_deref())?;
    // With a whole conversation from a file, a prompt is optional and stdin is not read.
    let mut request = match &args.request {
        Some(path) => conversation::load_request(path)?,
        None => ChatRequest::for_chain(),
    };
    let prompt = match (&args.request, args.prompt.as_deref()) {
        (Some(_), None) => None,
        (_, arg) => Some(prompt(arg, stdin)?),
    };
    let options = Options::from_limits(&args.limits);
    let observer: AttemptObserver = {
        let output = Arc::clone(output);
        let entries: Vec<(String, String)> = spec
            .entries
            .iter()
            .map(|e| (e.backend.name().to_owned(), e.model.value.clone()))
            .collect();
        Arc::new(move |attempt| {
            let mut out = lock(&output);
            let _ = out.event(Event::Attempt(attempt));
            // Best guess for the spinner: a failed entry is followed by a retry or the next entry.
            let next = if attempt.outcome.is_some() {
                entries
                    .get(attempt.entry + 1)
                    .or(entries.get(attempt.entry))
            } else {
                None
            };
            if let Some((p, m)) = next {
                out.trying(p, m);
            }
        })
    };
    if let Some(first) = spec.entries.first() {
        lock(output).trying(first.backend.name(), &first.model.value);
    }
    let skip_observer: SkipObserver = {
        let output = Arc::clone(output);
        Arc::new(move |skipped| {
            let _ = lock(&output).event(Event::Skip(skipped));
        })
    };
    let chain = build::chain(&spec, options, Some(observer), Some(skip_observer))?;
    if let Some(system) = &args.system {
        request
            .messages
            .insert(0, llmux::Message::system(system.clone()));
    }
    if let Some(prompt) = prompt {
        request = request.user(prompt);
    }
    if request.messages.is_empty() {
        return Err(ConfigError(
            "the request file holds no messages and no prompt was given".to_owned(),
        ));
    }
    if let Some(path) = &args.tools {
        request.tools.extend(conversation::load_tools(path)?);
    }
    if let Some(choice) = &args.tool_choice {
        request.tool_choice = Some(llmux::ToolChoice::parse(choice));
    }
    let schema = match &args.schema {
        Some(path) => {
            let (schema, format) = Schema::load(path)?;
            request.response_format = Some(format);
            Some(schema)
        }
        None => None,
    };
    if let Some(reasoning) = &args.reasoning {
        request.reasoning = Some(llmux::Reasoning::parse(reasoning).ok_or_else(|| {
            ConfigError(format!(
                "--reasoning `{reasoning}`: expected minimal, low, medium, high, xhigh, max or a number of tokens"
            ))
        })?);
    }
    if !args.image.is_empty() || !args.file.is_empty() {
        let mut parts = Vec::new();
        for image in &args.image {
            parts.push(crate::media::image(image, None)?);
        }
        for file in &args.file {
            parts.push(crate::media::document(&file.to_string_lossy(), None)?);
        }
        // Media go with the last user message: the prompt, or the request file's last user turn.
        match request
            .messages
            .iter_mut()
            .rev()
            .find(|m| m.role == llmux::Role::User)
        {
            Some(turn) => turn.content.extend(parts),
            None => {
                return Err(ConfigError(
                    "--image and --file need a user message (a prompt) to go with".to_owned(),
                ));
            }
        }
    }
    let request = request.params(params);
    if !violations.is_empty() {
        // Report the range violations of the parameters that did parse, too: every problem at once.
        if let Err(e) = chain.validate(&request) {
            violations.extend(e.violations().iter().cloned());
        }
        let message = match violations.len() {
            1 => "1 invalid parameter".to_owned(),
            n => format!("{n} invalid parameters"),
        };
        return Ok(Prepared::Invalid(
            Error::new(ErrorKind::Validation, message).with_violations(violations),
        ));
    }
    Ok(Prepared::Ready(chain, Box::new(request), schema))
}

fn report_error<O: Write, E: Write>(output: &Mutex<Output<O, E>>, error: &Error) -> u8 {
    let _ = lock(output).event(Event::Error(error));
    exit::for_kind(error.kind())
}

/// Streams the answer to the output; `Ok` holds its text, `Err` the exit code of a failure.
async fn streamed<O: Write, E: Write>(
    chain: &llmux::chain::Chain,
    request: &ChatRequest,
    output: &Mutex<Output<O, E>>,
) -> Result<String, u8> {
    let mut stream = match chain.stream(request).await {
        Ok(s) => s,
        Err(e) => return Err(report_error(output, &e)),
    };
    let mut text = String::new();
    let mut usage: Option<Usage> = None;
    let mut finish: Option<FinishReason> = None;
    while let Some(item) = stream.next().await {
        let mut out = lock(output);
        let written = match &item {
            Ok(StreamEvent::Start(s)) => out.event(Event::Start(s)),
            Ok(StreamEvent::TextDelta(t)) => {
                text.push_str(t);
                out.event(Event::Delta(t))
            }
            Ok(StreamEvent::ReasoningDelta(t)) => out.event(Event::Reasoning(t)),
            Ok(StreamEvent::Usage(u)) => {
                usage = Some(*u);
                Ok(())
            }
            Ok(StreamEvent::Finish(r)) => {
                finish = Some(r.clone());
                Ok(())
            }
            Ok(StreamEvent::ToolCall { index, call }) => out.event(Event::ToolCall(*index, call)),
            Ok(_) => Ok(()),
            Err(e) => {
                drop(out);
                return Err(report_error(output, e));
            }
        };
        if written.is_err() {
            // stdout is gone (e.g. a closed pipe): stop asking for tokens nobody reads.
            return Err(exit::OTHER);
        }
    }
    let mut out = lock(output);
    let ended = usage
        .as_ref()
        .map_or(Ok(()), |u| out.event(Event::Usage(u)))
        .and_then(|()| match &finish {
            Some(r) => out.event(Event::Finish(r)),
            None => out.end_line(),
        });
    if ended.is_err() {
        Err(exit::OTHER)
    } else {
        Ok(text)
    }
}

/// Waits for the whole answer and prints it; `Ok` holds its text, `Err` the exit code of a failure.
async fn whole<O: Write, E: Write>(
    chain: &llmux::chain::Chain,
    request: &ChatRequest,
    output: &Mutex<Output<O, E>>,
) -> Result<String, u8> {
    let response = match chain.chat(request).await {
        Ok(r) => r,
        Err(e) => return Err(report_error(output, &e)),
    };
    let mut start = StreamStart::new(response.provider.as_str(), response.model.as_str());
    start.request_id.clone_from(&response.request_id);
    let mut out = lock(output);
    let mut written = out.event(Event::Start(&start));
    if let Some(r) = &response.reasoning {
        written = written.and_then(|()| out.event(Event::Reasoning(r)));
    }
    written = written.and_then(|()| out.event(Event::Delta(&response.text)));
    for (index, call) in response.tool_calls.iter().enumerate() {
        written = written.and_then(|()| out.event(Event::ToolCall(index, call)));
    }
    if let Some(u) = &response.usage {
        written = written.and_then(|()| out.event(Event::Usage(u)));
    }
    written = written.and_then(|()| match &response.finish_reason {
        Some(r) => out.event(Event::Finish(r)),
        None => out.end_line(),
    });
    if written.is_err() {
        Err(exit::OTHER)
    } else {
        Ok(response.text)
    }
}
