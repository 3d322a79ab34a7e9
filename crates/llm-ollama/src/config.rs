//! Where the Ollama server is, how long it keeps a model loaded, and the time limits: [`OllamaConfig`].
//!
//! `OLLAMA_HOST` is read only by [`OllamaConfig::from_env`] and parsed by [`parse_host`], which accepts the
//! forms Ollama's own CLI accepts.

use std::time::Duration;

use llm_core::{Error, ErrorKind};
use llm_http::{FromEnv, HttpConfig};
use serde::{Serialize, Serializer};

/// The base URL used when nothing else is configured.
pub const DEFAULT_BASE_URL: &str = "http://localhost:11434";

/// The port Ollama listens on by default.
pub const DEFAULT_PORT: u16 = 11434;

/// The environment variable [`OllamaConfig::from_env`] reads.
pub const HOST_VAR: &str = "OLLAMA_HOST";

/// The provider name used unless [`OllamaConfig::name`] sets another.
pub const DEFAULT_NAME: &str = "ollama";

/// How long Ollama keeps the model in memory after a request (the request's `keep_alive` field).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAlive {
    /// Keep it loaded this long after the request; zero unloads it as soon as the answer is done.
    For(Duration),
    /// Never unload it (sent as `-1`).
    Forever,
}

impl Serialize for KeepAlive {
    /// Ollama reads a number as seconds (negative: forever); whole seconds are sent as integers.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match *self {
            KeepAlive::Forever => serializer.serialize_i64(-1),
            KeepAlive::For(d) if d.subsec_nanos() == 0 => serializer.serialize_u64(d.as_secs()),
            KeepAlive::For(d) => serializer.serialize_f64(d.as_secs_f64()),
        }
    }
}

/// Configuration of an [`Ollama`](crate::Ollama) client.
///
/// `Default` is `http://localhost:11434`, no `keep_alive` (the server's default, 5 minutes), default time
/// limits, provider name `ollama`, no key (a key, when set, is sent as `Authorization: Bearer`, for servers
/// behind an authenticating proxy); it never reads the environment.
///
/// ```
/// use std::time::Duration;
/// use llm_ollama::{KeepAlive, OllamaConfig};
///
/// let config = OllamaConfig::default()
///     .base_url("http://127.0.0.1:11434/")
///     .keep_alive(KeepAlive::For(Duration::from_secs(600)));
/// assert_eq!(config.http().base_url, "http://127.0.0.1:11434");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct OllamaConfig {
    /// Name, base URL (`scheme://host:port[/path]`, without a trailing slash; `/api/chat` is appended),
    /// optional key, limits, extra headers and a caller's client.
    pub http: HttpConfig,
    /// How long the server keeps the model loaded after a request; `None` leaves it to the server.
    pub keep_alive: Option<KeepAlive>,
}

impl Default for OllamaConfig {
    fn default() -> Self {
        OllamaConfig {
            http: HttpConfig::new(DEFAULT_NAME, DEFAULT_BASE_URL),
            keep_alive: None,
        }
    }
}

impl FromEnv for OllamaConfig {
    fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let mut config = OllamaConfig::default();
        if let Some(value) = lookup(HOST_VAR).filter(|v| !trim_value(v).is_empty()) {
            config.http.base_url = parse_host(&value).map_err(|reason| {
                Error::new(
                    ErrorKind::Validation,
                    format!("{HOST_VAR}={value:?} is not a server address: {reason}"),
                )
                .with_provider(DEFAULT_NAME)
            })?;
        }
        Ok(config)
    }
}

impl llm_http::HasHttpConfig for OllamaConfig {
    fn http_mut(&mut self) -> &mut HttpConfig {
        &mut self.http
    }
}

impl OllamaConfig {
    llm_http::http_config_builders!();

    /// The default configuration with the base URL taken from `OLLAMA_HOST` when it is set and not empty
    /// (see [`parse_host`]). A value that cannot be a server address is a `validation` error naming the
    /// variable.
    pub fn from_env() -> Result<Self, Error> {
        <Self as FromEnv>::from_env()
    }

    /// [`OllamaConfig::from_env`] with the environment given as a lookup function (for tests and for callers
    /// that keep their settings elsewhere).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        <Self as FromEnv>::from_lookup(&lookup)
    }

    /// Sets `keep_alive`.
    #[must_use]
    pub fn keep_alive(mut self, keep_alive: KeepAlive) -> Self {
        self.keep_alive = Some(keep_alive);
        self
    }

    /// `{base_url}/api/chat`.
    pub fn chat_url(&self) -> String {
        self.http.url("api/chat")
    }

    /// `{base_url}/api/tags` (the health probe: it lists local models and loads none).
    pub fn tags_url(&self) -> String {
        self.http.url("api/tags")
    }
}

/// Spaces and one pair of surrounding quotes are ignored, as Ollama does.
fn trim_value(value: &str) -> &str {
    value.trim().trim_matches(|c| c == '"' || c == '\'').trim()
}

/// Turns an `OLLAMA_HOST` value into a base URL, the way Ollama's CLI reads it:
///
/// | value | base URL |
/// | --- | --- |
/// | `host` | `http://host:11434` |
/// | `host:port` | `http://host:port` |
/// | `:port` | `http://127.0.0.1:port` |
/// | `http://host` / `https://host` | port 80 / 443 (an explicit scheme means URL rules) |
/// | `http(s)://host:port/path` | kept, path included (for reverse proxies) |
/// | `::1`, `[::1]:port` | IPv6 literals, bracketed in the URL |
///
/// Differences from Ollama, on purpose: the unspecified addresses `0.0.0.0` and `::` (a server's "listen
/// everywhere" setting, often shared with clients through the same variable) become the loopback address
/// of their family, and an invalid port or a scheme other than http/https is an error instead of being
/// silently replaced by a default.
///
/// ```
/// use llm_ollama::parse_host;
/// assert_eq!(parse_host("example.com").unwrap(), "http://example.com:11434");
/// assert_eq!(parse_host(":8080").unwrap(), "http://127.0.0.1:8080");
/// assert_eq!(parse_host("https://ollama.example.com/proxy/").unwrap(), "https://ollama.example.com:443/proxy");
/// ```
pub fn parse_host(value: &str) -> Result<String, String> {
    let value = trim_value(value);
    let (scheme, rest, default_port) = match value.split_once("://") {
        None => ("http", value, DEFAULT_PORT),
        Some((scheme, rest)) => match scheme.to_ascii_lowercase().as_str() {
            "http" => ("http", rest, 80),
            "https" => ("https", rest, 443),
            _ => return Err(format!("unsupported scheme `{scheme}` (use http or https)")),
        },
    };
    let (hostport, path) = match rest.split_once('/') {
        Some((hp, path)) => (hp, path.trim_end_matches('/')),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(hostport)?;
    let port = match port {
        None => default_port,
        Some(p) => p
            .parse::<u16>()
            .map_err(|_| format!("invalid port `{p}`"))?,
    };
    let host = match host {
        "" | "0.0.0.0" => "127.0.0.1",
        "::" => "::1",
        h => h,
    };
    if host.chars().any(|c| c.is_whitespace() || c == '@') {
        return Err(format!("invalid host `{host}`"));
    }
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    let mut url = format!("{scheme}://{host}:{port}");
    if !path.is_empty() {
        url.push('/');
        url.push_str(path);
    }
    Ok(url)
}

/// Splits `host:port`, `[v6]:port`, `[v6]`, a bare IPv6 literal, or a bare host.
fn split_host_port(hostport: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(inner) = hostport.strip_prefix('[') {
        let (host, after) = inner
            .split_once(']')
            .ok_or_else(|| format!("unclosed `[` in `{hostport}`"))?;
        return match after {
            "" => Ok((host, None)),
            _ => match after.strip_prefix(':') {
                Some(port) => Ok((host, Some(port))),
                None => Err(format!("unexpected `{after}` after `]`")),
            },
        };
    }
    match hostport.matches(':').count() {
        0 => Ok((hostport, None)),
        1 => {
            let (host, port) = hostport.split_once(':').unwrap_or((hostport, ""));
            Ok((host, Some(port)))
        }
        // Several colons and no brackets: a bare IPv6 literal.
        _ => Ok((hostport, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_forms_like_the_ollama_cli() {
        let cases = [
            ("localhost", "http://localhost:11434"),
            ("example.com:1234", "http://example.com:1234"),
            (":8080", "http://127.0.0.1:8080"),
            ("0.0.0.0", "http://127.0.0.1:11434"),
            ("0.0.0.0:9000", "http://127.0.0.1:9000"),
            ("10.0.0.5", "http://10.0.0.5:11434"),
            ("http://example.com", "http://example.com:80"),
            ("https://example.com", "https://example.com:443"),
            ("http://example.com:11434", "http://example.com:11434"),
            (
                "HTTPS://example.com:8443/ollama/",
                "https://example.com:8443/ollama",
            ),
            ("::1", "http://[::1]:11434"),
            ("[::1]", "http://[::1]:11434"),
            ("[::1]:9999", "http://[::1]:9999"),
            ("::", "http://[::1]:11434"),
            ("  \"example.com\" ", "http://example.com:11434"),
            ("'example.com:5'", "http://example.com:5"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_host(input).as_deref(), Ok(want), "{input}");
        }
    }

    #[test]
    fn bad_hosts_are_errors() {
        for input in [
            "ftp://example.com",
            "example.com:notaport",
            "example.com:99999",
            "[::1",
            "[::1]x",
            "user@host",
        ] {
            assert!(parse_host(input).is_err(), "{input}");
        }
    }

    #[test]
    fn from_lookup_reads_only_ollama_host() {
        let unset = OllamaConfig::from_lookup(|_| None).unwrap();
        assert_eq!(
            format!("{unset:?}"),
            format!("{:?}", OllamaConfig::default())
        );
        let empty = OllamaConfig::from_lookup(|_| Some("  ".into())).unwrap();
        assert_eq!(empty.http.base_url, DEFAULT_BASE_URL);
        let set =
            OllamaConfig::from_lookup(|k| (k == HOST_VAR).then(|| "gpu-box:7000".into())).unwrap();
        assert_eq!(set.http.base_url, "http://gpu-box:7000");
        assert_eq!(set.chat_url(), "http://gpu-box:7000/api/chat");
        let err = OllamaConfig::from_lookup(|_| Some("gpu-box:x".into())).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        assert!(err.to_string().contains(HOST_VAR), "{err}");
    }

    #[test]
    fn keep_alive_is_seconds_or_minus_one() {
        let json = |k: KeepAlive| serde_json::to_string(&k).unwrap();
        assert_eq!(json(KeepAlive::Forever), "-1");
        assert_eq!(json(KeepAlive::For(Duration::from_secs(300))), "300");
        assert_eq!(json(KeepAlive::For(Duration::ZERO)), "0");
        assert_eq!(json(KeepAlive::For(Duration::from_millis(1500))), "1.5");
    }

    #[test]
    fn base_url_setter_trims_slashes() {
        let c = OllamaConfig::default().base_url("http://h:1//");
        assert_eq!(c.tags_url(), "http://h:1/api/tags");
    }
}
