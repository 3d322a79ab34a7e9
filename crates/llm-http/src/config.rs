//! The one config shape of every HTTP provider: [`HttpConfig`] (name, base URL, key, timeouts, extra headers,
//! a caller's `reqwest::Client`), the builder methods every provider config gets from
//! [`http_config_builders!`](crate::http_config_builders), and the shared `from_env()` helpers.

use std::borrow::Cow;
use std::fmt;

use http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use llm_core::{ApiKey, Error, ErrorKind, Timeouts};

/// What every HTTP provider's configuration holds, whatever its wire format. A provider config embeds one
/// as its `http` field and gets the same builder methods (`name`, `base_url`, `api_key`, `timeouts`,
/// `header`, `http_client`) from [`http_config_builders!`](crate::http_config_builders).
///
/// `Debug` shows header names only and never the key.
#[non_exhaustive]
#[derive(Clone)]
pub struct HttpConfig {
    /// The provider name used in errors, attempts and stream starts.
    pub name: Cow<'static, str>,
    /// The base URL the provider's paths are joined to (a trailing slash is tolerated).
    pub base_url: String,
    /// The key; `None` sends none.
    pub api_key: Option<ApiKey>,
    /// Per-phase time limits.
    pub timeouts: Timeouts,
    /// Extra headers sent with every request (e.g. a gateway's own authentication).
    pub headers: Vec<(String, String)>,
    /// A caller-supplied client used instead of a new pooled one (its own connect limit then applies).
    pub http_client: Option<reqwest::Client>,
    /// The most embeddings batches of one call in flight at once (default
    /// [`DEFAULT_EMBED_CONCURRENCY`]).
    pub embed_concurrency: usize,
}

/// How many embeddings batches of one call are in flight at once by default.
pub const DEFAULT_EMBED_CONCURRENCY: usize = 4;

impl fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let header_names: Vec<&str> = self.headers.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("HttpConfig")
            .field("name", &self.name)
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key)
            .field("timeouts", &self.timeouts)
            .field("headers", &header_names)
            .field("custom_http_client", &self.http_client.is_some())
            .field("embed_concurrency", &self.embed_concurrency)
            .finish()
    }
}

impl HttpConfig {
    /// A configuration for `name` at `base_url`, without a key, with default limits.
    pub fn new(name: impl Into<Cow<'static, str>>, base_url: impl Into<String>) -> Self {
        HttpConfig {
            name: name.into(),
            base_url: base_url.into(),
            api_key: None,
            timeouts: Timeouts::default(),
            headers: Vec::new(),
            http_client: None,
            embed_concurrency: DEFAULT_EMBED_CONCURRENCY,
        }
    }

    /// `{base_url}/{path}`, with one slash between them.
    pub fn url(&self, path: &str) -> String {
        let base = self.base_url.trim_end_matches('/');
        let path = path.trim_start_matches('/');
        format!("{base}/{path}")
    }

    /// The configured extra headers as a map, after `reserved` (names the provider writes itself, lowercase)
    /// are checked: an invalid header or one that would replace a reserved one is a `validation` error naming
    /// the header (never its value, which may be a secret).
    ///
    /// # Errors
    /// `validation`, as above.
    pub fn header_map(&self, reserved: &[&str]) -> Result<HeaderMap, Error> {
        let mut headers = HeaderMap::new();
        for (name, value) in &self.headers {
            if reserved.iter().any(|r| name.eq_ignore_ascii_case(r)) {
                return Err(Error::new(
                    ErrorKind::Validation,
                    format!("header `{name}` is written by llmux and cannot be replaced"),
                )
                .with_provider(self.name.clone()));
            }
            insert_header(&mut headers, &self.name, name, value)?;
        }
        Ok(headers)
    }

    /// `Authorization: Bearer {key}` (marked sensitive) when a key is set.
    ///
    /// # Errors
    /// `auth` when the key is not a valid header value.
    pub fn bearer(&self, headers: &mut HeaderMap) -> Result<(), Error> {
        match &self.api_key {
            Some(key) => insert_bearer_value(headers, &self.name, key),
            None => Ok(()),
        }
    }
}

/// Gives a bearer token for each request (an Entra ID token for Azure OpenAI, an OAuth access token for
/// Vertex AI), which the caller refreshes in the background. Called on every request, so it should answer
/// from a cache; an `Err` fails that request (make it `auth`). The token is sent as a secret header and never
/// printed.
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// The current token.
    ///
    /// # Errors
    /// The error that fails the request (`auth` when no token can be had).
    fn token(&self) -> Result<ApiKey, Error>;
}

/// Inserts `Authorization: Bearer {token}` (marked sensitive) into `headers`, with a fresh token from
/// `tokens`: what a provider that takes a [`TokenSource`] does for each request.
///
/// # Errors
/// The token source's error, as it gives it; `auth` when the token is not a valid header value.
pub fn insert_bearer(
    headers: &mut HeaderMap,
    provider: &str,
    tokens: &dyn TokenSource,
) -> Result<(), Error> {
    insert_bearer_value(headers, provider, &tokens.token()?)
}

/// `Authorization: Bearer {token}`, the one way a key or a token becomes that header.
fn insert_bearer_value(
    headers: &mut HeaderMap,
    provider: &str,
    token: &ApiKey,
) -> Result<(), Error> {
    let value = secret_value(provider, &format!("Bearer {}", token.expose()))?;
    headers.insert(AUTHORIZATION, value);
    Ok(())
}

/// A provider configuration built on [`HttpConfig`]: what lets one generic path (a CLI, a config file
/// loader) set the base URL, key, limits and headers of any provider.
pub trait HasHttpConfig {
    /// The transport settings, to change.
    fn http_mut(&mut self) -> &mut HttpConfig;
}

/// A sensitive header value holding a secret; `auth` when it is not a valid header value (the value is never
/// printed).
///
/// # Errors
/// `auth`, as above.
pub fn secret_value(provider: &str, value: &str) -> Result<HeaderValue, Error> {
    let mut value = HeaderValue::from_str(value).map_err(|_| {
        Error::new(ErrorKind::Auth, "api key is not a valid header value")
            .with_provider(provider.to_owned())
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// `text` as one URL path segment (a model, a deployment, a project in a provider's URL): RFC 3986's
/// unreserved characters kept, every other byte percent-encoded, so no `/`, `?` or `#` in it changes the URL.
///
/// ```
/// assert_eq!(llm_http::path_segment("prod gpt-4o/1"), "prod%20gpt-4o%2F1");
/// ```
pub fn path_segment(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Inserts header `name: value` into `headers`, or returns a `validation` error naming the header (never its
/// value).
///
/// # Errors
/// `validation`, as above.
pub fn insert_header(
    headers: &mut HeaderMap,
    provider: &str,
    name: &str,
    value: &str,
) -> Result<(), Error> {
    let bad = |what: &str| {
        Error::new(
            ErrorKind::Validation,
            format!("invalid header {what}: `{name}`"),
        )
        .with_provider(provider.to_owned())
    };
    let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| bad("name"))?;
    let mut value = HeaderValue::from_str(value).map_err(|_| bad("value for"))?;
    value.set_sensitive(name == AUTHORIZATION);
    headers.append(name, value);
    Ok(())
}

/// Reads the environment variables of a provider's `from_env()`, the same way for every provider: a value
/// that is empty or only white space counts as unset, and a missing required variable is an `auth` error
/// naming it.
#[derive(Clone, Copy)]
pub struct Env<'a> {
    provider: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl fmt::Debug for Env<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Env")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

impl<'a> Env<'a> {
    /// Variables of `provider` read through `lookup` (`|name| std::env::var(name).ok()` for the process
    /// environment).
    pub fn new(provider: &'a str, lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env { provider, lookup }
    }

    /// The value of `variable`, trimmed; `None` when unset or blank.
    pub fn optional(&self, variable: &str) -> Option<String> {
        (self.lookup)(variable)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// The key in `variable`.
    ///
    /// # Errors
    /// `auth` naming the variable when it is unset or empty.
    pub fn key(&self, variable: &str) -> Result<ApiKey, Error> {
        match (self.lookup)(variable) {
            Some(key) if !key.trim().is_empty() => Ok(ApiKey::new(key.trim())),
            Some(_) => Err(self.missing(variable, "is empty")),
            None => Err(self.missing(variable, "is not set")),
        }
    }

    /// The key in the first of `variables` that is set.
    ///
    /// # Errors
    /// `auth` naming every variable when none is set.
    pub fn first_key(&self, variables: &[&str]) -> Result<ApiKey, Error> {
        for variable in variables {
            if let Some(key) = self.optional(variable) {
                return Ok(ApiKey::new(key));
            }
        }
        Err(self.missing(&variables.join(" or "), "is not set"))
    }

    fn missing(&self, variable: &str, why: &str) -> Error {
        Error::new(
            ErrorKind::Auth,
            format!("environment variable {variable} {why}"),
        )
        .with_provider(self.provider.to_owned())
    }
}

/// The builder methods every HTTP provider configuration has, writing its `http:` [`HttpConfig`] field:
/// `name`, `base_url`, `api_key`, `timeouts`, `header` and `http_client`, with the same names and meaning for
/// every provider.
#[macro_export]
macro_rules! http_config_builders {
    () => {
        /// Sets the provider name used in errors, attempts and stream starts.
        #[must_use]
        pub fn name(mut self, name: impl Into<::std::borrow::Cow<'static, str>>) -> Self {
            self.http.name = name.into();
            self
        }

        /// Sets the base URL (a trailing slash is tolerated).
        #[must_use]
        pub fn base_url(mut self, url: impl Into<String>) -> Self {
            self.http.base_url = url.into().trim_end_matches('/').to_owned();
            self
        }

        /// Sets the key.
        #[must_use]
        pub fn api_key(mut self, key: impl Into<$crate::__private::ApiKey>) -> Self {
            self.http.api_key = Some(key.into());
            self
        }

        /// Sets the per-phase time limits.
        #[must_use]
        pub fn timeouts(mut self, timeouts: $crate::__private::Timeouts) -> Self {
            self.http.timeouts = timeouts;
            self
        }

        /// Adds a header sent with every request.
        #[must_use]
        pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            self.http.headers.push((name.into(), value.into()));
            self
        }

        /// Sends through `client` instead of a new pooled client (its own connect limit then applies).
        #[must_use]
        pub fn http_client(mut self, client: $crate::__private::Client) -> Self {
            self.http.http_client = Some(client);
            self
        }

        /// Sets how many embeddings batches of one call are in flight at once (at least 1).
        #[must_use]
        pub fn embed_concurrency(mut self, n: usize) -> Self {
            self.http.embed_concurrency = n.max(1);
            self
        }

        /// The transport settings: name, base URL, key, limits, headers, client.
        pub fn http(&self) -> &$crate::HttpConfig {
            &self.http
        }
    };
}
