//! The integration tests of `llmux-cli`, as one test binary (one link instead of one per file); each
//! module is what was a test file, with the same tests under the same names.

mod cli_config;
mod cli_embed;
mod cli_fleet;
mod cli_gemini;
mod cli_katan;
mod cli_local;
mod cli_media;
mod cli_openai;
mod cli_responses;
mod serve_agents;
mod serve_async_openai;
mod serve_embeddings;
mod serve_fleet;
mod serve_limits;
mod serve_responses;
mod serve_routes;
mod serve_sdk;
mod serve_usage;
mod support;
