//! The command line, as clap parses it.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::duration::parse_duration;

/// llmux: chat with an LLM through one provider or a fallback chain.
///
/// With neither --provider nor --chain, the chain is every provider configured in the environment
/// (OPENAI_API_KEY, ANTHROPIC_API_KEY, OPENROUTER_API_KEY, OLLAMA_HOST, LLAMA_SERVER_URL) followed by a local
/// llama-server running SmolLM2-135M-Instruct, started on demand (`cargo xtask demo` provisions it).
#[derive(Debug, Parser)]
#[command(name = "llmux", version, propagate_version = true)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
// Parsed once per process: boxing the chat arguments would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Ask for an answer and print it as it arrives.
    Chat(ChatArgs),
    /// Turn texts into embedding vectors (the texts as arguments, or one per line of stdin).
    Embed(EmbedArgs),
    /// Check that each configured provider is reachable, without spending tokens.
    Health(SelectArgs),
    /// List the configured providers and where each setting came from (never a key).
    Providers(SelectArgs),
    /// List the prices in force (USD per million tokens), with where and when each was read.
    Prices(PricesArgs),
    /// Serve the chain over HTTP as an OpenAI- and Anthropic-compatible API (gateway keys from
    /// LLMUX_GATEWAY_KEYS, comma-separated; without one, only a loopback address is accepted).
    Serve(ServeArgs),
}

pub use crate::providers::ProviderName;

/// Which providers: one (`--provider`), a chain file (`--chain`), or the default chain.
#[derive(Debug, Clone, Default, Args)]
pub struct SelectArgs {
    /// Use only this provider (its key or server from the environment).
    #[arg(long, value_enum, conflicts_with = "chain")]
    pub provider: Option<ProviderName>,
    /// Use the fallback chain described in this TOML file.
    #[arg(long, value_name = "FILE")]
    pub chain: Option<PathBuf>,
    /// The model (with --provider; each provider has a default).
    #[arg(long, requires = "provider")]
    pub model: Option<String>,
    /// Replaces the provider's default base URL, as its crate documents it: `http://host/v1` for OpenAI,
    /// `http://host/api/v1` for OpenRouter, `http://host` for Claude, Ollama and llama.cpp (with --provider).
    #[arg(long, value_name = "URL", requires = "provider")]
    pub base_url: Option<String>,
}

/// `llmux chat`.
#[derive(Debug, Clone, Default, Args)]
pub struct ChatArgs {
    /// The prompt; read from stdin when absent.
    pub prompt: Option<String>,
    /// Which providers.
    #[command(flatten)]
    pub select: SelectArgs,
    /// Prices over the shipped ones (`--prices FILE`).
    #[command(flatten)]
    pub prices: PricesArg,
    /// A system message.
    #[arg(long)]
    pub system: Option<String>,
    /// A parameter, `key=value`; the value is read as JSON when it parses, else as a string
    /// (`--param stop=END`, `--param 'stop=["a","b"]'`, `--param temperature=0.2`). Repeatable.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<String>,
    /// Tools the model may call: a JSON array of `{"name", "description", "parameters"}` (parameters: a
    /// JSON Schema).
    #[arg(long, value_name = "FILE")]
    pub tools: Option<PathBuf>,
    /// Whether and which tool the model must call: auto, none, required, or a tool's name.
    #[arg(long, value_name = "auto|none|required|NAME")]
    pub tool_choice: Option<String>,
    /// A whole conversation as JSON (`system`, `messages` with tool calls and results, `tools`,
    /// `tool_choice`); a PROMPT given too is appended as a last user message, and stdin is not read.
    #[arg(long, value_name = "FILE")]
    pub request: Option<PathBuf>,
    /// The answer must be JSON matching this JSON Schema (sent natively to each provider); plain mode prints
    /// the JSON answer, and an answer that does not match exits 1 with `invalid_response`.
    #[arg(long, value_name = "FILE")]
    pub schema: Option<PathBuf>,
    /// An image for the prompt: a file (png, jpeg, gif, webp) or an http(s) URL. Repeatable.
    #[arg(long, value_name = "PATH|URL")]
    pub image: Vec<String>,
    /// A PDF document for the prompt. Repeatable.
    #[arg(long, value_name = "PATH")]
    pub file: Vec<PathBuf>,
    /// How much the model reasons first: an effort (minimal, low, medium, high, xhigh, max: each
    /// provider takes its own; one it does not is a validation error) or a budget of thinking tokens.
    #[arg(long, value_name = "EFFORT|TOKENS")]
    pub reasoning: Option<String>,
    /// Wait for the whole answer instead of streaming it.
    #[arg(long)]
    pub no_stream: bool,
    /// Print JSON lines on stdout instead of text (attempt, start, delta, reasoning, usage, finish, error).
    #[arg(long)]
    pub json: bool,
    /// Retries and time limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// What the inputs of `llmux embed` are for, where the provider distinguishes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KindArg {
    /// Search queries.
    Query,
    /// Documents (passages to be searched).
    Document,
}

/// `llmux embed`.
///
/// With neither --provider nor --chain, the first provider configured in the environment that embeds
/// (OpenAI, Ollama, llama.cpp, Gemini) is used, else a local llama-server started with `--embeddings --pooling
/// mean`: different providers' models give vectors of different spaces, so the default never falls back
/// between them.
#[derive(Debug, Clone, Default, Args)]
pub struct EmbedArgs {
    /// The texts, one vector each; read from stdin (one text per line) when absent.
    pub texts: Vec<String>,
    /// Which providers (a chain file's entries fall back only within one vector space).
    #[command(flatten)]
    pub select: SelectArgs,
    /// Prices over the shipped ones (`--prices FILE`).
    #[command(flatten)]
    pub prices: PricesArg,
    /// The width of the vectors asked for, where the provider can shorten them (OpenAI's
    /// `text-embedding-3` models); a provider that cannot is a validation error.
    #[arg(long, value_name = "N")]
    pub dimensions: Option<u32>,
    /// What the texts are for, where the provider distinguishes queries from documents; a provider that
    /// does not is a validation error.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// Print one JSON line per input: `{"type":"embedding","index":0,"dims":576,"vector":[…]}`.
    #[arg(long)]
    pub json: bool,
    /// Retries and time limits.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// `llmux serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Which providers serve every request (every model name a client sends is served by this chain).
    #[command(flatten)]
    pub select: SelectArgs,
    /// Prices over the shipped ones (`--prices FILE`).
    #[command(flatten)]
    pub prices: PricesArg,
    /// Serve the model name NAME with the chain in FILE instead (repeatable); other names go to the main
    /// chain. `GET /v1/models` lists every NAME.
    #[arg(long = "route", value_name = "NAME=FILE")]
    pub routes: Vec<String>,
    /// Requests per minute each gateway key may make (over it: 429 with retry-after); without gateway
    /// keys, the limit is shared by every client.
    #[arg(long, value_name = "N")]
    pub key_rpm: Option<u32>,
    /// The address to listen on, `HOST:PORT` (port 0: any free port, printed on stderr).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: String,
    /// The largest request body accepted, in bytes (larger: 413).
    #[arg(long, value_name = "BYTES", default_value_t = 32 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// How many streamed answers may be open at once (more: 503, or 529 in the Anthropic dialect).
    #[arg(long, value_name = "N", default_value_t = 256)]
    pub max_streams: usize,
    /// How many whole (unstreamed) answers may be in preparation at once (more: 503, or 529 in the
    /// Anthropic dialect).
    #[arg(long, value_name = "N", default_value_t = 1024)]
    pub max_requests: usize,
    /// How long a streamed answer may stay silent before a keep-alive goes out (Anthropic's `ping` event,
    /// an SSE comment for OpenAI clients); `0s` sends none.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "15s")]
    pub keepalive: Duration,
    /// A hosted tool in a Responses request (`web_search`, `code_interpreter`, …) goes to an
    /// `openai-responses` entry, which runs it; when another provider answers: `remove` (the answer names it
    /// in `x-llmux-removed-tools`) or `refuse` (400, when no entry of the chain runs it).
    #[arg(long, value_name = "POLICY", value_enum, default_value_t = HostedToolsArg::Remove)]
    pub hosted_tools: HostedToolsArg,
    /// The most messages (input items) one request may carry (more: 400 naming the cap).
    #[arg(long, value_name = "N", default_value_t = 20_000)]
    pub max_messages: usize,
    /// The most content parts one request may carry, all its messages together.
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    pub max_parts: usize,
    /// The most tool definitions one request may carry.
    #[arg(long, value_name = "N", default_value_t = 2_048)]
    pub max_tools: usize,
    /// How many connections may be open at once; one more is closed at once.
    #[arg(long, value_name = "N", default_value_t = 4096)]
    pub max_connections: usize,
    /// How long a request's head may take to arrive (a client trickling it is cut off).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive once its head has (then 408).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub body_timeout: Duration,
    /// How long writing an answer may make no progress before the connection is closed (a client that
    /// stopped reading; its stream frees its slot and its upstream request is cancelled).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60s")]
    pub stall_timeout: Duration,
    /// After ctrl-c or SIGTERM, how long open requests may take to finish before the server exits.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub shutdown_timeout: Duration,
    /// Retries and time limits, for each request served.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// `--hosted-tools`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HostedToolsArg {
    /// Take the tool out and name it in `x-llmux-removed-tools`.
    Remove,
    /// Answer 400 naming the tool.
    Refuse,
}

/// Retries and time limits, the same flags on `chat`, `embed` and `serve` (for `serve`, each request
/// served is one command).
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct LimitArgs {
    /// Retries per chain entry for retryable failures (0: an entry's first failure is final; later entries
    /// are still tried); over a chain file's `[chain] max_retries`.
    #[arg(long, value_name = "N")]
    pub max_retries: Option<u32>,
    /// Limit for establishing a connection to a provider (e.g. 500ms, 5s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub connect_timeout: Option<Duration>,
    /// Limit from sending a request to a provider until the first byte of its response body.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub first_byte_timeout: Option<Duration>,
    /// Limit between two chunks of a provider's response body.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Limit for the whole command: every attempt, retry and fallback (also each request's total limit);
    /// over a chain file's `[chain] deadline`.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

/// `--prices FILE`: prices over the shipped ones.
#[derive(Debug, Clone, Default, Args)]
pub struct PricesArg {
    /// A TOML file of `[[price]]` tables (USD per million tokens: provider, model, input, output,
    /// cache_read, cache_write) whose rows win over the shipped prices; a chain file's `[[price]]` rows win
    /// over both. `llmux prices` shows the table in force.
    #[arg(long = "prices", value_name = "FILE")]
    pub prices_file: Option<PathBuf>,
}

/// `llmux prices`: the price table in force.
#[derive(Debug, Clone, Default, Args)]
pub struct PricesArgs {
    /// Show only the rows that price these models (exact names, or dated snapshots of them).
    pub models: Vec<String>,
    /// The prices a chain file's `[[price]]` tables add.
    #[arg(long, value_name = "FILE")]
    pub chain: Option<PathBuf>,
    /// Prices over the shipped ones (`--prices FILE`).
    #[command(flatten)]
    pub prices: PricesArg,
    /// Print JSON lines, one row each.
    #[arg(long)]
    pub json: bool,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
