//! The `generateContent` codec: [`GeminiCodec`] is the wire format as pure code, built once from a
//! [`GeminiConfig`]; llm-http's [`HttpProvider`] drives it. [`Gemini`] is the provider.

use std::time::SystemTime;

use http::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use llm_core::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, EmbedTable, Error, Pricing, Violation,
    classify,
};
use llm_http::{
    Codec, DefaultConfig, EmbedCodec, Framing, HttpConfig, HttpProvider, IntoCodec, WireRequest,
    insert_bearer, secret_value,
};

use crate::config::GeminiConfig;
use crate::stream::GenerateDecoder;
use crate::{embed, error, request, response};

/// The header the Gemini API takes its key in.
pub const API_KEY_HEADER: &str = "x-goog-api-key";

/// The Gemini provider: `generateContent` and `streamGenerateContent?alt=sse` on the Gemini API or Vertex
/// AI, and (Gemini API) `embedContent` / `batchEmbedContents`, through llm-http's driver. Cheap to clone:
/// clones share the connection pool and the prepared headers. See [`request`](crate::request) and
/// [`response`](crate::response) for the mapping.
///
/// `health()` is a `GET` of the model list (Vertex AI: of a publisher model): it checks reachability and
/// credentials and costs no tokens.
pub type Gemini = HttpProvider<GeminiCodec>;

/// The Gemini wire format for one configuration.
#[derive(Debug, Clone)]
pub struct GeminiCodec {
    config: GeminiConfig,
    headers: HeaderMap,
    health_url: String,
}

impl GeminiCodec {
    /// The codec for `config`.
    ///
    /// # Errors
    /// `validation` when a configured header is not valid HTTP or replaces one this crate writes, or the
    /// configuration lacks a base URL (Vertex AI: a project or location); `auth` when the key is not a
    /// valid header value.
    pub fn new(config: GeminiConfig) -> Result<Self, Error> {
        config.check()?;
        let http = &config.http;
        // `authorization` is this crate's only where it sends a bearer token (Vertex AI, a token source);
        // on the Gemini API a gateway in front may take its own.
        let bearer = config.is_vertex() || config.tokens.is_some();
        let reserved: &[&str] = if bearer {
            &[API_KEY_HEADER, "authorization", "content-type"]
        } else {
            &[API_KEY_HEADER, "content-type"]
        };
        let mut headers = http.header_map(reserved)?;
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if config.is_vertex() {
            http.bearer(&mut headers)?;
        } else if let Some(key) = &http.api_key {
            headers.insert(
                HeaderName::from_static(API_KEY_HEADER),
                secret_value(&http.name, key.expose())?,
            );
        }
        Ok(GeminiCodec {
            headers,
            health_url: config.health_url(),
            config,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &GeminiConfig {
        &self.config
    }

    /// The URL a request for `model` goes to (`stream`: `streamGenerateContent?alt=sse`).
    pub fn chat_url(&self, model: &str, stream: bool) -> String {
        if stream {
            format!(
                "{}?alt=sse",
                self.config.model_url(model, "streamGenerateContent")
            )
        } else {
            self.config.model_url(model, "generateContent")
        }
    }

    /// The JSON body a chat would send for `request` (the same streamed or not: the URL differs).
    ///
    /// # Errors
    /// The `validation` error the request would get.
    pub fn request_body(&self, request: &ChatRequest) -> Result<Vec<u8>, Error> {
        self.validate(request)?;
        request::body(&self.config.http.name, request)
    }

    /// The headers of one request: the fixed ones, and a fresh bearer token when a source gives them.
    fn request_headers(&self) -> Result<HeaderMap, Error> {
        let mut headers = self.headers.clone();
        if let Some(tokens) = &self.config.tokens {
            let name = &self.config.http.name;
            insert_bearer(&mut headers, name, tokens.as_ref())
                .map_err(|e| e.with_provider(name.clone()))?;
        }
        Ok(headers)
    }
}

impl Codec for GeminiCodec {
    type Decoder = GenerateDecoder;

    fn name(&self) -> &str {
        &self.config.http.name
    }

    /// Google's prices, on the Gemini API and Vertex AI alike.
    fn pricing(&self) -> Pricing {
        Pricing::Table(crate::prices::prices(), crate::prices::PROVIDER)
    }

    fn http(&self) -> &HttpConfig {
        &self.config.http
    }

    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        let violations = request::violations(request);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(self.config.http.name.clone(), violations))
        }
    }

    fn encode(&self, request: &ChatRequest, stream: bool) -> Result<WireRequest, Error> {
        let body = request::body(&self.config.http.name, request)?;
        Ok(WireRequest::post(
            self.chat_url(&request.model, stream),
            self.request_headers()?,
            body,
        ))
    }

    fn decode(
        &self,
        request: &ChatRequest,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<ChatResponse, Error> {
        response::decode(
            &self.config.http.name,
            &request.model,
            classify::request_id(headers),
            body,
        )
    }

    fn framing(&self) -> Framing {
        Framing::Sse
    }

    fn decoder(&self, request: &ChatRequest, headers: &HeaderMap) -> GenerateDecoder {
        GenerateDecoder::new(
            &self.config.http.name,
            &request.model,
            classify::request_id(headers),
        )
    }

    fn error(&self, status: u16, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Error {
        error::from_response(&self.config.http.name, status, headers, body, now)
    }

    fn rate_limit(&self, headers: &HeaderMap) -> Option<llm_core::RateLimit> {
        classify::rate_limit(headers, &error::ERRORS.rate_limits)
    }

    fn health(&self) -> WireRequest {
        let mut headers = self
            .request_headers()
            .unwrap_or_else(|_| self.headers.clone());
        headers.remove(CONTENT_TYPE);
        WireRequest::get(&self.health_url, headers)
    }
}

impl EmbedCodec for GeminiCodec {
    fn embed_table(&self) -> EmbedTable {
        embed::EMBED_TABLE
    }

    fn validate_embed(&self, request: &EmbedRequest) -> Result<(), Error> {
        if self.config.is_vertex() {
            return Err(Error::validation(
                self.config.http.name.clone(),
                vec![Violation::new(
                    "model",
                    "the Gemini API (Vertex AI embeds through :predict, which llmux does not speak)",
                    "a Vertex AI configuration",
                )],
            ));
        }
        self.embed_table()
            .validate(request)
            .map_err(|e| e.with_provider(self.config.http.name.clone()))
    }

    fn encode_embed(
        &self,
        request: &EmbedRequest,
        inputs: &[String],
    ) -> Result<WireRequest, Error> {
        let body = embed::embed_body(&self.config.http.name, request, inputs)?;
        Ok(WireRequest::post(
            self.config
                .model_url(&request.model, embed::embed_method(inputs.len())),
            self.request_headers()?,
            body,
        ))
    }

    fn decode_embed(
        &self,
        request: &EmbedRequest,
        inputs: usize,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<EmbedResponse, Error> {
        embed::decode_embed(
            &self.config.http.name,
            &request.model,
            body,
            inputs,
            classify::request_id(headers),
        )
    }
}

impl DefaultConfig for GeminiCodec {
    type Config = GeminiConfig;
}

impl IntoCodec for GeminiConfig {
    type Codec = GeminiCodec;

    fn into_codec(self) -> Result<GeminiCodec, Error> {
        GeminiCodec::new(self)
    }
}

#[cfg(test)]
mod tests {
    use http::header::AUTHORIZATION;
    use llm_core::ErrorKind;

    use super::*;
    use crate::request::PARAMS;

    #[test]
    fn the_key_goes_in_its_header_and_never_in_the_url() {
        let codec = GeminiCodec::new(GeminiConfig::new("AIza-k")).unwrap();
        let wire = codec
            .encode(&ChatRequest::new("gemini-2.5-flash").user("hi"), true)
            .unwrap();
        assert_eq!(
            wire.url,
            "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
        assert!(!wire.url.contains("key="));
        assert_eq!(wire.headers[API_KEY_HEADER], "AIza-k");
        assert!(wire.headers[API_KEY_HEADER].is_sensitive());
        assert!(wire.headers.get(AUTHORIZATION).is_none());
        let vertex =
            GeminiCodec::new(GeminiConfig::vertex("p", "us-central1").api_key("ya29.t")).unwrap();
        let wire = vertex
            .encode(&ChatRequest::new("m").user("hi"), false)
            .unwrap();
        assert_eq!(wire.headers[AUTHORIZATION], "Bearer ya29.t");
        assert!(wire.headers.get(API_KEY_HEADER).is_none());
    }

    #[test]
    fn reserved_headers_cannot_be_replaced_and_vertex_does_not_embed() {
        let err =
            GeminiCodec::new(GeminiConfig::new("k").header("X-Goog-Api-Key", "other")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        let gateway =
            GeminiCodec::new(GeminiConfig::new("k").header("authorization", "Bearer gw")).unwrap();
        let wire = gateway
            .encode(&ChatRequest::new("m").user("hi"), false)
            .unwrap();
        assert_eq!(wire.headers[AUTHORIZATION], "Bearer gw");
        let err = GeminiCodec::new(GeminiConfig::vertex("p", "l").header("authorization", "x"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        let vertex = GeminiCodec::new(GeminiConfig::vertex("p", "l")).unwrap();
        let e = vertex
            .validate_embed(&EmbedRequest::new("m", ["a"]))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Validation);
    }

    #[test]
    fn the_table_rejects_what_gemini_does_not_take() {
        let base = || ChatRequest::new("m").user("hi");
        assert!(
            PARAMS
                .validate(&base().temperature(2.0).seed(7).top_k(3))
                .is_ok()
        );
        for bad in [
            base().temperature(2.5),
            base().top_k(0),
            base().repeat_penalty(1.1),
        ] {
            assert_eq!(PARAMS.violations(&bad).len(), 1, "{bad:?}");
        }
    }
}
