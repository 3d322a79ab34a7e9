//! Hostile local servers: raw HTTP on 127.0.0.1 that cuts, stalls, or sends what no sane server would.
//! Every case runs for each wire format (OpenAI SSE, Anthropic SSE, Ollama NDJSON, OpenAI Responses SSE, Gemini SSE) inside a guarded task
//! (a hang or a panic fails the test with the format named) and must end in a typed error of the right
//! kind. The memory-bound cases (a 100 MiB line, a huge body) are in `memory.rs`, a binary of their own
//! with a counting allocator.

use std::time::{Duration, Instant};

use llm_core::{Error, ErrorKind, Timeouts};
use llmux_e2e::net::{Conn, RawServer};
use llmux_reliability::guard::{Guarded, guarded};
use llmux_reliability::wire::{Answer, Wire, call, request};

const WIRES: [Wire; 5] = [
    Wire::OpenAi,
    Wire::Anthropic,
    Wire::Ollama,
    Wire::OpenAiResponses,
    Wire::Gemini,
];
const KEY: &str = "sk-hostile-test-key";
/// Far beyond every limit used here: reaching it means the client hung.
const HANG: Duration = Duration::from_secs(30);

fn timeouts() -> Timeouts {
    Timeouts::default()
        .first_byte(Duration::from_secs(5))
        .idle(Duration::from_secs(5))
        .total(Duration::from_secs(20))
}

async fn run(
    wire: Wire,
    server: &RawServer,
    stream: bool,
    timeouts: Timeouts,
) -> Result<Answer, Error> {
    let provider = wire.provider(&server.base_url(), KEY, timeouts);
    match guarded(HANG, call(provider, request("m"), stream)).await {
        Guarded::Done(result) => result,
        Guarded::Hung => panic!("{wire:?} (stream: {stream}) hung"),
        Guarded::Panicked => panic!("{wire:?} (stream: {stream}) panicked"),
    }
}

fn expect_kind(wire: Wire, what: &str, result: Result<Answer, Error>, kind: ErrorKind) -> Error {
    match result {
        Ok(answer) => panic!("{wire:?} {what}: expected {kind}, got an answer {answer:?}"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "{wire:?} {what}: {e:?}");
            e
        }
    }
}

/// Head, prelude and `deltas` text events of a stream.
async fn stream_start(conn: &mut Conn, wire: Wire, deltas: usize) -> std::io::Result<()> {
    conn.start_chunked(200, wire.stream_content_type()).await?;
    conn.chunk(wire.stream_prelude()).await?;
    for i in 0..deltas {
        conn.chunk(&wire.stream_delta(&format!("tok{i} "))).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_good_stream_from_the_raw_server_succeeds() {
    // The control: the same framing with a proper end is a complete answer, so the failures below are
    // caused by the fault each injects and nothing else.
    for wire in WIRES {
        let server = RawServer::start(move |mut conn| async move {
            let _ = stream_start(&mut conn, wire, 3).await;
            let _ = conn.chunk(wire.stream_end()).await;
            let _ = conn.end_chunked().await;
        })
        .await;
        let answer = run(wire, &server, true, timeouts()).await.unwrap();
        assert_eq!(answer.text, "tok0 tok1 tok2 ", "{wire:?}");
        let body = wire.whole_body(b"whole");
        let server = RawServer::start(move |mut conn| {
            let body = body.clone();
            async move {
                let _ = conn.respond(200, "application/json", &[], &body).await;
            }
        })
        .await;
        let answer = run(wire, &server, false, timeouts()).await.unwrap();
        assert_eq!(answer.text, "whole", "{wire:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_reset_mid_stream_is_network() {
    for wire in WIRES {
        let server = RawServer::start(move |mut conn| async move {
            let _ = stream_start(&mut conn, wire, 3).await;
            conn.reset();
        })
        .await;
        let e = expect_kind(
            wire,
            "reset",
            run(wire, &server, true, timeouts()).await,
            ErrorKind::Network,
        );
        assert!(e.is_retryable());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_closed_cleanly_before_its_end_is_network() {
    for wire in WIRES {
        let server = RawServer::start(move |mut conn| async move {
            let _ = stream_start(&mut conn, wire, 3).await;
            let _ = conn.end_chunked().await;
        })
        .await;
        let e = expect_kind(
            wire,
            "early end",
            run(wire, &server, true, timeouts()).await,
            ErrorKind::Network,
        );
        assert!(
            e.to_string().contains("stream ended before"),
            "{wire:?}: {e}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_stops_sending_is_ended_by_the_idle_limit() {
    let idle = Duration::from_millis(400);
    for wire in WIRES {
        let server = RawServer::start(move |mut conn| async move {
            let _ = stream_start(&mut conn, wire, 2).await;
            // Silent, but the connection stays open until the client gives up.
            conn.closed_by_peer().await;
        })
        .await;
        let started = Instant::now();
        let result = run(wire, &server, true, timeouts().idle(idle)).await;
        let took = started.elapsed();
        let e = expect_kind(wire, "stall", result, ErrorKind::Timeout);
        assert!(e.to_string().contains("idle"), "{wire:?}: {e}");
        // Only a generous bound: it proves the stall cannot hang, not how precise the timer is.
        assert!(
            took < idle * 3,
            "{wire:?}: the idle limit of {idle:?} took {took:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_json_in_a_stream_event_is_invalid_response() {
    for wire in WIRES {
        let server = RawServer::start(move |mut conn| async move {
            let _ = stream_start(&mut conn, wire, 1).await;
            let event = [
                wire.payload_prefix(),
                b"{not json at all]",
                wire.payload_suffix(),
            ]
            .concat();
            let _ = conn.chunk(&event).await;
            let _ = conn.chunk(wire.stream_end()).await;
            let _ = conn.end_chunked().await;
        })
        .await;
        expect_kind(
            wire,
            "garbage",
            run(wire, &server, true, timeouts()).await,
            ErrorKind::InvalidResponse,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_a_stream_payload_is_invalid_response() {
    for wire in WIRES {
        let server = RawServer::start(move |mut conn| async move {
            let _ = stream_start(&mut conn, wire, 1).await;
            let event = [
                wire.payload_prefix(),
                b"{\"x\":\xff\xfe}",
                wire.payload_suffix(),
            ]
            .concat();
            let _ = conn.chunk(&event).await;
            let _ = conn.chunk(wire.stream_end()).await;
            let _ = conn.end_chunked().await;
        })
        .await;
        expect_kind(
            wire,
            "invalid utf-8",
            run(wire, &server, true, timeouts()).await,
            ErrorKind::InvalidResponse,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_inside_streamed_text_follows_each_format_s_rule() {
    // SSE is defined as UTF-8 decoded with replacement (WHATWG "Interpreting an event stream"), so an
    // invalid byte inside a JSON string becomes U+FFFD and the answer stands; NDJSON has no such rule and
    // llm-stream rejects the line.
    for wire in WIRES {
        let server = RawServer::start(move |mut conn| async move {
            let _ = conn.start_chunked(200, wire.stream_content_type()).await;
            let _ = conn.chunk(wire.stream_prelude()).await;
            let mut delta = wire.stream_delta("a#b");
            let at = delta.iter().position(|b| *b == b'#').unwrap_or(0);
            delta[at] = 0xff;
            let _ = conn.chunk(&delta).await;
            let _ = conn.chunk(wire.stream_end()).await;
            let _ = conn.end_chunked().await;
        })
        .await;
        let result = run(wire, &server, true, timeouts()).await;
        if wire == Wire::Ollama {
            expect_kind(wire, "utf-8 in text", result, ErrorKind::InvalidResponse);
        } else {
            assert_eq!(result.unwrap().text, "a\u{fffd}b", "{wire:?}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_utf8_in_a_whole_body_is_invalid_response() {
    for wire in WIRES {
        let body = wire.whole_body(b"a\xff\xfeb");
        let server = RawServer::start(move |mut conn| {
            let body = body.clone();
            async move {
                let _ = conn.respond(200, "application/json", &[], &body).await;
            }
        })
        .await;
        expect_kind(
            wire,
            "utf-8 body",
            run(wire, &server, false, timeouts()).await,
            ErrorKind::InvalidResponse,
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_html_page_with_status_200_is_invalid_response() {
    let page: &[u8] = b"<!doctype html><html><body><h1>502 Bad Gateway</h1>nginx</body></html>\n";
    for wire in WIRES {
        let server = RawServer::start(move |mut conn| async move {
            let _ = conn
                .respond(200, "text/html; charset=utf-8", &[], page)
                .await;
        })
        .await;
        for stream in [false, true] {
            let what = format!("html (stream: {stream})");
            expect_kind(
                wire,
                &what,
                run(wire, &server, stream, timeouts()).await,
                ErrorKind::InvalidResponse,
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_echoes_the_key_everywhere_never_leaks_it() {
    // The key comes back in an error body, in a mid-stream error event, and in the request-id header;
    // no error's Debug or Display may show it.
    for wire in [
        Wire::OpenAi,
        Wire::Anthropic,
        Wire::OpenAiResponses,
        Wire::Gemini,
    ] {
        for stream in [false, true] {
            let server = RawServer::start(move |mut conn| async move {
                let key = conn.request.api_key().unwrap_or("none").to_owned();
                let message = format!("Incorrect API key provided: {key}");
                if !stream {
                    let body = format!(
                        r#"{{"type":"error","error":{{"type":"authentication_error","message":"{message}","code":"{key}"}}}}"#
                    );
                    let id = format!("req-{key}");
                    let _ = conn
                        .respond(401, "application/json", &[("x-request-id", &id), ("request-id", &id)], body.as_bytes())
                        .await;
                    return;
                }
                let _ = stream_start(&mut conn, wire, 1).await;
                let event = match wire {
                    Wire::Anthropic => format!(
                        "event: error\ndata: {{\"type\":\"error\",\"error\":{{\"type\":\"overloaded_error\",\"message\":\"{message}\"}}}}\n\n"
                    ),
                    Wire::OpenAiResponses => format!(
                        "event: error\ndata: {{\"type\":\"error\",\"code\":\"{key}\",\"message\":\"{message}\",\"param\":null}}\n\n"
                    ),
                    _ => format!("data: {{\"error\":{{\"message\":\"{message}\",\"type\":\"server_error\",\"code\":\"{key}\"}}}}\n\n"),
                };
                let _ = conn.chunk(event.as_bytes()).await;
                let _ = conn.end_chunked().await;
            })
            .await;
            let e = run(wire, &server, stream, timeouts())
                .await
                .expect_err("an error");
            let shown = format!("{e:?}\n{e}");
            assert!(
                !shown.contains(KEY),
                "{wire:?} (stream: {stream}) leaked the key:\n{shown}"
            );
            assert!(
                shown.contains("[redacted]"),
                "{wire:?} (stream: {stream}): {shown}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redirect_is_not_followed_and_no_key_reaches_the_second_host() {
    // The host a 307 points to: it must never be asked anything (reqwest would strip only
    // `Authorization`, so `x-api-key`, `x-goog-api-key` or `api-key` would reach it with the key).
    let elsewhere = RawServer::start(|mut conn| async move {
        let _ = conn.respond(200, "application/json", &[], b"{}").await;
    })
    .await;
    let location = format!("{}/v1/chat/completions?token=secret", elsewhere.base_url());
    for wire in WIRES {
        let location = location.clone();
        let server = RawServer::start(move |mut conn| {
            let location = location.clone();
            async move {
                let _ = conn
                    .respond(307, "text/plain", &[("location", &location)], b"moved")
                    .await;
            }
        })
        .await;
        for stream in [false, true] {
            let what = format!("a 307 (stream: {stream})");
            let e = expect_kind(
                wire,
                &what,
                run(wire, &server, stream, timeouts()).await,
                ErrorKind::NotFound,
            );
            let shown = e.to_string();
            assert!(shown.contains("redirect"), "{wire:?}: {shown}");
            assert!(
                !shown.contains("secret"),
                "{wire:?}: the query is not shown: {shown}"
            );
            assert_eq!(e.status(), Some(307), "{wire:?}");
        }
    }
    assert_eq!(elsewhere.accepted(), 0, "the second host was contacted");
}
