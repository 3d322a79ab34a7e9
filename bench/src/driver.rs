//! The scenarios, run the same way for every client library, and the result line `cargo xtask bench` reads.
//!
//! A client binary is `fn main() { driver::main::<MyClient>() }`. Its command line:
//!
//! ```text
//! client-X SCENARIO --base http://127.0.0.1:PORT [--format openai|anthropic|ollama] [--mode spawn|main]
//!          [--tokens N] [--token-bytes T] [--pace MS] [--repeat R] [--streams K] [--requests N]
//! ```
//!
//! Scenarios: `stream` (R streams of N tokens, one after another; consumed in a spawned task or on the
//! runtime's `block_on` thread as `#[tokio::main]` does), `short` (K streams of N tokens one after another,
//! counting the connections the server accepted), `chat` (N sequential whole answers: latency quantiles),
//! `concurrent` (K streams of N tokens at once, optionally paced: memory per open stream), `fallback`
//! (llmux only). The process prints one line, `result key=value …`; `result unsupported=1` when the client
//! does not speak the format or the scenario; it exits non-zero only when something broke.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::measure;
use crate::wire::{Format, Spec};

/// One client library under test.
pub trait Client: Send + Sync + Sized + 'static {
    /// Builds the client for the server at `base` (`http://127.0.0.1:PORT`, no path).
    fn new(base: &str) -> Result<Self, String>;

    /// Whether this client speaks `format`.
    fn supports(&self, format: Format) -> bool;

    /// Streams one answer for `model` and returns the number of content tokens received.
    fn stream(
        &self,
        format: Format,
        model: String,
    ) -> impl Future<Output = Result<u64, String>> + Send;

    /// Gets one whole answer for `model` and returns the length of its text in bytes.
    fn chat(
        &self,
        format: Format,
        model: String,
    ) -> impl Future<Output = Result<u64, String>> + Send;

    /// The `fallback` scenario, for clients that have a fallback chain: result fields, or `None`.
    fn fallback(
        &self,
        _args: &Args,
    ) -> impl Future<Output = Result<Option<Fields>, String>> + Send {
        async { Ok(None) }
    }
}

/// Result fields, printed as `key=value`.
pub type Fields = Vec<(&'static str, String)>;

/// The parsed command line of a client process.
#[derive(Debug, Clone)]
pub struct Args {
    /// The scenario to run.
    pub scenario: String,
    /// The server, `http://127.0.0.1:PORT`.
    pub base: String,
    /// The wire format.
    pub format: Format,
    /// `spawn` (consume in a spawned task) or `main` (on the `block_on` thread).
    pub on_main: bool,
    /// Tokens per stream (or per whole answer).
    pub tokens: u32,
    /// Bytes per token.
    pub token_bytes: u32,
    /// Milliseconds between tokens.
    pub pace_ms: u32,
    /// Streams measured one after another in `stream`.
    pub repeat: u32,
    /// Streams in `short` and `concurrent`.
    pub streams: u32,
    /// Requests in `chat` and `fallback`.
    pub requests: u32,
}

impl Args {
    /// Parses `std::env::args()`.
    pub fn parse() -> Result<Args, String> {
        let mut raw = std::env::args().skip(1);
        let scenario = raw.next().ok_or("missing scenario")?;
        let mut args = Args {
            scenario,
            base: String::new(),
            format: Format::OpenAi,
            on_main: false,
            tokens: 1000,
            token_bytes: 4,
            pace_ms: 0,
            repeat: 1,
            streams: 1,
            requests: 100,
        };
        while let Some(flag) = raw.next() {
            let value = raw.next().ok_or_else(|| format!("{flag} needs a value"))?;
            let number = || {
                value
                    .parse::<u32>()
                    .map_err(|_| format!("{flag}: not a number: {value}"))
            };
            match flag.as_str() {
                "--base" => args.base = value.clone(),
                "--format" => {
                    args.format =
                        Format::parse(&value).ok_or_else(|| format!("unknown format {value}"))?
                }
                "--mode" => args.on_main = value == "main",
                "--tokens" => args.tokens = number()?,
                "--token-bytes" => args.token_bytes = number()?,
                "--pace" => args.pace_ms = number()?,
                "--repeat" => args.repeat = number()?.max(1),
                "--streams" => args.streams = number()?.max(1),
                "--requests" => args.requests = number()?.max(1),
                other => return Err(format!("unknown flag {other}")),
            }
        }
        if args.base.is_empty() {
            return Err("missing --base".into());
        }
        Ok(args)
    }

    /// The model name that asks the server for this run's answers.
    pub fn model(&self) -> String {
        Spec {
            tokens: self.tokens,
            token_bytes: self.token_bytes,
            pace_ms: self.pace_ms,
        }
        .model()
    }
}

/// Runs the scenario named on the command line with client `C` and prints its result line.
pub fn main<C: Client>() {
    let args = match Args::parse() {
        Ok(args) => args,
        Err(e) => fail(&e),
    };
    measure::raise_nofile_limit();
    // What #[tokio::main] builds: a multi-thread runtime, one worker per core, `block_on` on this thread.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("cannot start the runtime: {e}")));
    match runtime.block_on(run::<C>(args)) {
        Ok(fields) => {
            let line: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
            println!("result {}", line.join(" "));
        }
        Err(e) => fail(&e),
    }
}

async fn run<C: Client>(args: Args) -> Result<Fields, String> {
    let client = Arc::new(C::new(&args.base)?);
    let unsupported = || Ok(vec![("unsupported", "1".to_string())]);
    if args.scenario == "fallback" {
        return match client.fallback(&args).await? {
            Some(fields) => Ok(fields),
            None => unsupported(),
        };
    }
    if !client.supports(args.format) {
        return unsupported();
    }
    match args.scenario.as_str() {
        "stream" => stream(client, &args).await,
        "short" => short(client, &args).await,
        "chat" => chat(client, &args).await,
        "concurrent" => concurrent(client, &args).await,
        other => Err(format!("unknown scenario {other}")),
    }
}

/// Streams one answer in a task of its own (or, with `on_main`, right here) and checks its length.
async fn one_stream<C: Client>(
    client: &Arc<C>,
    args: &Args,
    model: &str,
    on_main: bool,
) -> Result<u64, String> {
    let tokens = if on_main {
        client.stream(args.format, model.to_string()).await?
    } else {
        let c = Arc::clone(client);
        let (format, model) = (args.format, model.to_string());
        tokio::spawn(async move { c.stream(format, model).await })
            .await
            .map_err(|e| format!("stream task failed: {e}"))??
    };
    let expected = Spec::from_model(model).map_or(0, |s| u64::from(s.tokens));
    if tokens != expected {
        return Err(format!(
            "stream of {model} gave {tokens} tokens, expected {expected}"
        ));
    }
    Ok(tokens)
}

fn warmup_model(args: &Args) -> String {
    Spec {
        tokens: 50,
        token_bytes: args.token_bytes,
        pace_ms: 0,
    }
    .model()
}

async fn stream<C: Client>(client: Arc<C>, args: &Args) -> Result<Fields, String> {
    one_stream(&client, args, &warmup_model(args), args.on_main).await?;
    let model = args.model();
    let (cpu, wall) = (measure::cpu_time(), Instant::now());
    let mut tokens = 0;
    for _ in 0..args.repeat {
        tokens += one_stream(&client, args, &model, args.on_main).await?;
    }
    let (cpu, wall) = (measure::cpu_time() - cpu, wall.elapsed());
    Ok(vec![
        ("tokens", tokens.to_string()),
        ("cpu_ns_per_token", per(cpu, tokens, 1e9)),
        ("wall_ns_per_token", per(wall, tokens, 1e9)),
        ("peak_rss_kib", measure::peak_rss_kib().to_string()),
    ])
}

async fn short<C: Client>(client: Arc<C>, args: &Args) -> Result<Fields, String> {
    let model = args.model();
    let before = server_stats(&args.base).await?;
    let (cpu, wall) = (measure::cpu_time(), Instant::now());
    for _ in 0..args.streams {
        one_stream(&client, args, &model, args.on_main).await?;
    }
    let (cpu, wall) = (measure::cpu_time() - cpu, wall.elapsed());
    let after = server_stats(&args.base).await?;
    let streams = u64::from(args.streams);
    Ok(vec![
        ("streams", streams.to_string()),
        ("connections", (after.0 - before.0).to_string()),
        ("wall_us_per_stream", per(wall, streams, 1e6)),
        ("cpu_us_per_stream", per(cpu, streams, 1e6)),
    ])
}

async fn chat<C: Client>(client: Arc<C>, args: &Args) -> Result<Fields, String> {
    let model = args.model();
    let expected = u64::from(args.tokens * args.token_bytes);
    let c = Arc::clone(&client);
    let (format, requests) = (args.format, args.requests);
    tokio::spawn(async move {
        for _ in 0..requests.min(50) {
            c.chat(format, model.clone()).await?;
        }
        let mut latencies = Vec::with_capacity(requests as usize);
        let (cpu, wall) = (measure::cpu_time(), Instant::now());
        for _ in 0..requests {
            let t = Instant::now();
            let len = c.chat(format, model.clone()).await?;
            latencies.push(t.elapsed().as_secs_f64() * 1e6);
            // genai trims the answer's leading space (every token starts with one): allow that byte.
            if len != expected && len + 1 != expected {
                return Err(format!("answer of {len} bytes, expected {expected}"));
            }
        }
        let (cpu, wall) = (measure::cpu_time() - cpu, wall.elapsed());
        let n = u64::from(requests);
        Ok(vec![
            ("requests", n.to_string()),
            (
                "p50_us",
                format!("{:.1}", measure::quantile(&mut latencies, 0.5)),
            ),
            (
                "p99_us",
                format!("{:.1}", measure::quantile(&mut latencies, 0.99)),
            ),
            ("cpu_us_per_request", per(cpu, n, 1e6)),
            ("wall_us_per_request", per(wall, n, 1e6)),
        ])
    })
    .await
    .map_err(|e| format!("chat task failed: {e}"))?
}

async fn concurrent<C: Client>(client: Arc<C>, args: &Args) -> Result<Fields, String> {
    one_stream(&client, args, &warmup_model(args), false).await?;
    let model = args.model();
    let base_rss = measure::current_rss_kib();
    let (cpu, wall) = (measure::cpu_time(), Instant::now());
    let mut tasks = Vec::with_capacity(args.streams as usize);
    for _ in 0..args.streams {
        let c = Arc::clone(&client);
        let (format, model) = (args.format, model.clone());
        tasks.push(tokio::spawn(async move { c.stream(format, model).await }));
    }
    let (mut completed, mut tokens, mut first_error) = (0u64, 0u64, None);
    for task in tasks {
        match task.await {
            Ok(Ok(n)) if n == u64::from(args.tokens) => {
                completed += 1;
                tokens += n;
            }
            Ok(Ok(n)) => first_error = first_error.or(Some(format!("short stream: {n} tokens"))),
            Ok(Err(e)) => first_error = first_error.or(Some(e)),
            Err(e) => first_error = first_error.or(Some(format!("task failed: {e}"))),
        }
    }
    let (cpu, wall) = (measure::cpu_time() - cpu, wall.elapsed());
    let peak = measure::peak_rss_kib();
    let streams = u64::from(args.streams);
    let mut fields = vec![
        ("streams", streams.to_string()),
        ("completed", completed.to_string()),
        ("cpu_ns_per_token", per(cpu, tokens.max(1), 1e9)),
        ("cpu_us_per_stream", per(cpu, streams, 1e6)),
        ("wall_ms", format!("{:.1}", wall.as_secs_f64() * 1e3)),
        ("base_rss_kib", base_rss.to_string()),
        ("peak_rss_kib", peak.to_string()),
        (
            "kib_per_stream",
            format!(
                "{:.2}",
                peak.saturating_sub(base_rss) as f64 / streams as f64
            ),
        ),
    ];
    if let Some(e) = first_error {
        fields.push(("first_error", e.replace(char::is_whitespace, "_")));
    }
    Ok(fields)
}

/// `d` per `n`, in units where one second is `scale`, with one decimal.
fn per(d: Duration, n: u64, scale: f64) -> String {
    format!("{:.1}", d.as_secs_f64() * scale / n.max(1) as f64)
}

/// The server's counts (connections, requests), read over a connection of its own so the client's pool is
/// untouched.
pub async fn server_stats(base: &str) -> Result<(u64, u64), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://").trim_end_matches('/');
    let mut socket = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("cannot reach the server for stats: {e}"))?;
    socket
        .write_all(b"GET /stats HTTP/1.1\r\nhost: bench\r\nconnection: close\r\n\r\n")
        .await
        .map_err(|e| format!("stats request: {e}"))?;
    let mut text = String::new();
    socket
        .read_to_string(&mut text)
        .await
        .map_err(|e| format!("stats answer: {e}"))?;
    let number = |key: &str| -> Result<u64, String> {
        let at = text
            .find(key)
            .ok_or_else(|| format!("no {key} in stats: {text}"))?
            + key.len();
        let digits: String = text[at..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        digits.parse().map_err(|_| format!("bad stats: {text}"))
    };
    Ok((number("\"connections\":")?, number("\"requests\":")?))
}

/// Prints `message` and exits with status 1.
pub fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1)
}
