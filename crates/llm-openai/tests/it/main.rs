//! The integration tests of `llm-openai`, as one test binary (one link instead of one per file); each
//! module is what was a test file, with the same tests under the same names.

mod azure;
mod common;
mod connection_reuse;
mod e2e_katan;
mod e2e_llama;
mod http_chat;
mod http_embed;
mod http_errors;
mod request_body;
mod request_media;
mod responses_decode;
mod responses_http;
mod responses_request;
mod responses_stream;
mod spans;
mod stream_fixtures;
