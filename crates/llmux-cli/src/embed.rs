//! `llmux embed`: read the texts (arguments, or one per line of stdin), build the embeddings chain, print
//! one vector per input.
//!
//! `--json` prints exactly one line per input, `{"type":"embedding","index":0,"dims":576,"vector":[…]}`, in
//! input order (keys in that order: other programs read these lines), then one `usage` line as `chat`
//! prints it (token counts, `cost_usd`: the call's cost or `null` when unknown, `cost_estimated`); a
//! failure is one `error` line, as `chat` prints it. Text mode prints each input's index, width and first values on stdout; failed attempts
//! (a fallback's reasons) and errors go to stderr.

use std::io::{self, BufRead, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use llmux::chain::AttemptObserver;

use llmux::{EmbedRequest, Embedder, Error, InputKind};

use crate::args::{EmbedArgs, KindArg};
use crate::build::{self, Options};
use crate::env::Env;
use crate::exit;
use crate::output::{Event, Mode, Output};
use crate::spec::{self, ConfigError};

/// How many leading values text mode prints.
const SHOWN: usize = 5;

/// The texts: the arguments, else one per line of `stdin` (line ends removed; an empty line is an input
/// like any other, which validation refuses, so none is dropped).
pub fn texts(args: &[String], stdin: &mut dyn BufRead) -> Result<Vec<String>, ConfigError> {
    if !args.is_empty() {
        return Ok(args.to_vec());
    }
    let mut out = Vec::new();
    for line in stdin.lines() {
        let line =
            line.map_err(|e| ConfigError(format!("cannot read the texts from stdin: {e}")))?;
        out.push(line.strip_suffix('\r').unwrap_or(&line).to_owned());
    }
    if out.is_empty() {
        return Err(ConfigError(
            "no text: pass texts as arguments or one per line on stdin".to_owned(),
        ));
    }
    Ok(out)
}

/// One `--json` line for the vector of input `index`, keys in the documented order. A non-finite value
/// (never sent by a sane server) prints as `null`, as JSON has no NaN.
pub fn json_line(out: &mut dyn Write, index: usize, vector: &[f32]) -> io::Result<()> {
    write!(
        out,
        r#"{{"type":"embedding","index":{index},"dims":{},"vector":"#,
        vector.len()
    )?;
    serde_json::to_writer(&mut *out, vector).map_err(io::Error::other)?;
    out.write_all(b"}\n")
}

/// One text-mode line: index, width, the first values.
pub fn text_line(out: &mut dyn Write, index: usize, vector: &[f32]) -> io::Result<()> {
    let shown: Vec<String> = vector
        .iter()
        .take(SHOWN)
        .map(|x| format!("{x:.6}"))
        .collect();
    let more = if vector.len() > SHOWN { ", …" } else { "" };
    writeln!(
        out,
        "{index}: {} dims [{}{more}]",
        vector.len(),
        shown.join(", ")
    )
}

/// Runs `llmux embed` and returns the exit code.
pub async fn run<O, E>(
    args: &EmbedArgs,
    env: &Env,
    stdin: &mut dyn BufRead,
    output: Output<O, E>,
) -> u8
where
    O: Write + Send + 'static,
    E: Write + Send + 'static,
{
    let mode = output.mode();
    let output = Arc::new(Mutex::new(output));
    // Text mode notes a failed attempt on stderr, as `chat` does; `--json` prints nothing but the vectors
    // (or the error), one line per input.
    let observer: Option<AttemptObserver> = (mode == Mode::Text).then(|| {
        let output = Arc::clone(&output);
        Arc::new(move |attempt: &llmux::Attempt| {
            let _ = lock(&output).event(Event::Attempt(attempt));
        }) as AttemptObserver
    });
    let (chain, request) = match prepare(args, env, stdin, observer) {
        Ok(ready) => ready,
        Err(e) => {
            let _ = lock(&output).finish();
            eprintln!("llmux: {e}");
            return exit::CONFIG;
        }
    };
    let result = chain.embed(&request).await;
    let mut output = lock(&output);
    let code = match result {
        Ok(answer) => {
            let written = output.with_stdout(|out| {
                for (index, vector) in answer.vectors.iter().enumerate() {
                    match mode {
                        Mode::Json => json_line(out, index, vector)?,
                        Mode::Text => text_line(out, index, vector)?,
                    }
                }
                out.flush()
            });
            let usage = answer.usage.unwrap_or_default();
            let written = written.and_then(|()| output.event(Event::Usage(&usage)));
            for attempt in &answer.attempts {
                let _ = output.unpriced(attempt);
            }
            if written.is_ok() {
                exit::OK
            } else {
                exit::OTHER
            }
        }
        Err(e) => report(&mut output, &e),
    };
    let _ = output.finish();
    code
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Output only appends to writers: a panic while holding it leaves nothing half-updated worth refusing.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn report<O: Write, E: Write>(output: &mut Output<O, E>, error: &Error) -> u8 {
    let _ = output.event(Event::Error(error));
    exit::for_kind(error.kind())
}

fn prepare(
    args: &EmbedArgs,
    env: &Env,
    stdin: &mut dyn BufRead,
    observer: Option<AttemptObserver>,
) -> Result<(llmux::chain::Chain, EmbedRequest), ConfigError> {
    let spec = spec::resolve_embed(&args.select, env)?
        .with_prices_file(args.prices.prices_file.as_deref())?;
    let inputs = texts(&args.texts, stdin)?;
    let options = Options::from_limits(&args.limits);
    let chain = build::embed_chain(&spec, options, observer)?;
    // The chain sends each entry its own model; this one names the request in errors and spans.
    let model = chain
        .entries()
        .find_map(|e| e.embed_model().map(str::to_owned))
        .unwrap_or_default();
    let mut request = EmbedRequest::new(model, inputs);
    if let Some(n) = args.dimensions {
        request = request.dimensions(n);
    }
    if let Some(kind) = args.kind {
        request = request.kind(match kind {
            KindArg::Query => InputKind::Query,
            KindArg::Document => InputKind::Document,
        });
    }
    Ok((chain, request))
}
