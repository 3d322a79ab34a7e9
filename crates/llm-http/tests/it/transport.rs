//! The transport against real local servers: classified statuses, refused connections, each time limit,
//! bounded bodies, and key scrubbing.

use std::time::{Duration, Instant};

use futures::StreamExt;
use llm_core::{ApiKey, ErrorKind, Timeouts};
use llm_http::Transport;
use llmux_e2e::net::{RawServer, closed_port};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn transport(timeouts: Timeouts) -> Transport {
    Transport::new("test", timeouts, None).unwrap()
}

/// A server that answers every connection with the head of a chunked event stream, then `chunks` one by
/// one, then keeps the connection open without sending more until the client goes away.
async fn stalling_server(chunks: &'static [&'static str]) -> RawServer {
    RawServer::start(move |mut conn| async move {
        let _ = conn.start_chunked(200, "text/event-stream").await;
        for c in chunks {
            let _ = conn.chunk(c.as_bytes()).await;
        }
        conn.closed_by_peer().await;
    })
    .await
}

#[tokio::test]
async fn error_status_is_classified_with_request_id_and_key_scrubbed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/x"))
        .respond_with(
            ResponseTemplate::new(401)
                .insert_header("x-request-id", "req_abc")
                .set_body_string(
                    r#"{"error":{"message":"Incorrect API key provided: sk-secret-987654321","type":"invalid_request_error","code":"invalid_api_key"}}"#,
                ),
        )
        .expect(1)
        .mount(&server)
        .await;
    let t = transport(Timeouts::default()).with_secret(Some(ApiKey::new("sk-secret-987654321")));
    let err = t
        .send(t.post(&format!("{}/v1/x", server.uri())).body("{}"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert_eq!(err.status(), Some(401));
    assert_eq!(err.request_id(), Some("req_abc"));
    assert_eq!(
        err.detail().unwrap().code.as_deref(),
        Some("invalid_api_key")
    );
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("sk-secret-987654321"), "{shown}");
}

#[tokio::test]
async fn refused_connection_is_network_at_once() {
    let port = closed_port();
    let t = transport(Timeouts::default());
    let started = Instant::now();
    let err = t
        .send(t.get(&format!("http://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.is_retryable());
    assert!(err.is_connect(), "the request never reached a server");
    assert!(err.to_string().contains("could not connect"), "{err}");
    assert!(std::error::Error::source(&err).is_some());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn slow_headers_hit_the_first_byte_limit() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(10)))
        .mount(&server)
        .await;
    let t = transport(Timeouts::default().first_byte(Duration::from_millis(200)));
    let started = Instant::now();
    let err = t.send(t.get(&server.uri())).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("first byte"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn stalled_body_hits_the_idle_limit() {
    let server = stalling_server(&["data: a\n\n"]).await;
    let t = transport(Timeouts::default().idle(Duration::from_millis(200)));
    let started = Instant::now();
    let mut body = t.send(t.get(&server.base_url())).await.unwrap().into_body();
    assert_eq!(body.next().await.unwrap().unwrap(), "data: a\n\n");
    let err = body.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("idle"), "{err}");
    assert!(body.next().await.is_none());
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_trickling_body_moves_the_idle_limit_on_then_hits_it_when_it_stalls() {
    // One chunk every 50 ms for 1 s, then silence: the idle timer fires early several times while chunks
    // keep coming (and is re-armed from the last chunk), the body being polled by one task throughout.
    let server = RawServer::start(|mut conn| async move {
        let _ = conn.start_chunked(200, "text/event-stream").await;
        let every = Duration::from_millis(50);
        if !conn
            .drip_until_closed(b"x\n", every, Duration::from_secs(1))
            .await
        {
            conn.closed_by_peer().await;
        }
    })
    .await;
    let idle = Duration::from_millis(300);
    let t = transport(Timeouts::default().idle(idle));
    let started = Instant::now();
    let mut body = t.send(t.get(&server.base_url())).await.unwrap().into_body();
    let read = async {
        let mut chunks = 0;
        loop {
            match body.next().await.unwrap() {
                Ok(_) => chunks += 1,
                Err(e) => break (chunks, e),
            }
        }
    };
    let (chunks, err) = tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("the idle limit ends the body");
    assert!(chunks > 0);
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("idle"), "{err}");
    // The drip alone lasts 1 s: an idle timer that was not moved on would have ended the body at ~300 ms.
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn headers_without_body_hit_the_first_byte_limit() {
    let server = stalling_server(&[]).await;
    let t = transport(Timeouts::default().first_byte(Duration::from_millis(200)));
    let mut body = t.send(t.get(&server.base_url())).await.unwrap().into_body();
    let err = body.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("first byte"), "{err}");
}

#[tokio::test]
async fn total_limit_ends_a_trickling_body() {
    let server = RawServer::start(|mut conn| async move {
        let _ = conn.start_chunked(200, "text/event-stream").await;
        // One small chunk every 50 ms for up to 10 s: never idle, but never done.
        let every = Duration::from_millis(50);
        let _closed = conn
            .drip_until_closed(b"x\n", every, Duration::from_secs(10))
            .await;
    })
    .await;
    let t = transport(
        Timeouts::default()
            .idle(Duration::from_millis(500))
            .total(Duration::from_millis(400)),
    );
    let started = Instant::now();
    let mut body = t.send(t.get(&server.base_url())).await.unwrap().into_body();
    let mut chunks = 0;
    let err = loop {
        match body.next().await.unwrap() {
            Ok(_) => chunks += 1,
            Err(e) => break e,
        }
    };
    assert!(chunks > 0);
    assert_eq!(err.kind(), ErrorKind::Timeout);
    assert!(err.message().contains("total"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn oversized_body_is_invalid_response() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(vec![b'x'; 100_000]))
        .mount(&server)
        .await;
    let t = transport(Timeouts::default());
    let err = t
        .send(t.get(&server.uri()))
        .await
        .unwrap()
        .bytes(10_000)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
    let ok = t
        .send(t.get(&server.uri()))
        .await
        .unwrap()
        .bytes(100_000)
        .await
        .unwrap();
    assert_eq!(ok.len(), 100_000);
}

#[tokio::test]
async fn cut_connection_mid_body_is_network() {
    let server = RawServer::start(|mut conn| async move {
        let _ = conn.start_chunked(200, "text/event-stream").await;
        let _ = conn.chunk(b"data: a\n\n").await;
        // Dropped here: the chunked body never ends.
    })
    .await;
    let t = transport(Timeouts::default());
    let mut body = t.send(t.get(&server.base_url())).await.unwrap().into_body();
    assert!(body.next().await.unwrap().is_ok());
    let err = body.next().await.unwrap().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network, "{err}");
    assert!(!err.is_connect(), "the request had reached the server");
}
