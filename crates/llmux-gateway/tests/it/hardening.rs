//! What one careless or hostile client can do to the gateway, over real TCP on 127.0.0.1: bodies are
//! admitted within a budget before they are read, and unknown fields are refused before their values are
//! built.

use std::sync::Arc;
use std::time::Duration;

use llmux::chain::{Chain, Entry};
use llmux::testing::{Reply, ScriptedProvider};
use llmux_gateway::Gateway;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// A gateway over a scripted provider answering `hello`, on a free loopback port.
async fn start(
    configure: impl FnOnce(llmux_gateway::GatewayBuilder) -> llmux_gateway::GatewayBuilder,
) -> String {
    let provider =
        ScriptedProvider::new("scripted").replies((0..100).map(|_| Reply::text("hello")));
    let chain = Chain::builder()
        .entry(Entry::new(Arc::new(provider), "m"))
        .build()
        .expect("a chain");
    let gateway = configure(Gateway::builder().chain(chain)).build();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(gateway.serve(listener, std::future::pending()));
    addr.to_string()
}

/// Sends `head` (request line and headers, without the blank line), then `body`, and reads the status.
async fn send(addr: &str, head: &str, body: &[u8]) -> (u16, String) {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(format!("{head}\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    tcp.write_all(body).await.expect("write");
    read_answer(&mut tcp).await
}

/// Reads one answer: its head, then as many body bytes as its `content-length` says (a server that
/// refuses a body before reading it need not close the connection).
async fn read_answer(tcp: &mut TcpStream) -> (u16, String) {
    let mut answer = Vec::new();
    let mut chunk = [0u8; 8192];
    let read = async {
        loop {
            let text = String::from_utf8_lossy(&answer).to_ascii_lowercase();
            if let Some(end) = text.find("\r\n\r\n") {
                let length = text[..end]
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|n| n.trim().parse::<usize>().ok())
                    .unwrap_or(0);
                if answer.len() >= end + 4 + length {
                    break;
                }
            }
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(30), read).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_field_of_millions_of_values_is_refused_by_name() {
    let addr = start(|b| b).await;
    let mut body = br#"{"model":"m","messages":[{"role":"user","content":"hi"}],"x":["#.to_vec();
    for _ in 0..8_000_000 {
        body.extend_from_slice(b"0,");
    }
    body.extend_from_slice(b"0]}");
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}",
        body.len()
    );
    let (status, text) = send(&addr, &head, &body).await;
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("`x` is not supported"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_admitted_within_a_budget_before_they_are_read() {
    let addr = start(|b| b.max_body(1 << 20).body_budget(1 << 20)).await;
    let body = format!(
        r#"{{"model":"m","messages":[{{"role":"user","content":"{}"}}]}}"#,
        "x".repeat(600 << 10)
    );
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    // A slow client: its headers, then half its body, then nothing for now.
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    slow.write_all(head.as_bytes()).await.expect("write");
    slow.write_all(&body.as_bytes()[..body.len() / 2])
        .await
        .expect("write");
    // Its body holds 600 KiB of the 1 MiB budget: another of the same size is refused at once, before a
    // byte of it is read, as the gateway being busy.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let request_head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}",
        body.len()
    );
    let (status, text) = send(&addr, &request_head, b"").await;
    assert_eq!(status, 503, "{text}");
    assert!(text.to_ascii_lowercase().contains("retry-after"), "{text}");
    // The slow client finishes: it is answered, and the budget is whole again.
    slow.write_all(&body.as_bytes()[body.len() / 2..])
        .await
        .expect("write");
    let (status, text) = read_answer(&mut slow).await;
    assert_eq!(status, 200, "{text}");
    let (status, text) = send(&addr, &request_head, body.as_bytes()).await;
    assert_eq!(status, 200, "{text}");
}

/// Whether the gateway closed `tcp` (or answered and closed) within `bound`.
async fn closed_within(tcp: &mut TcpStream, bound: Duration) -> bool {
    let mut sink = [0u8; 65536];
    let until = tokio::time::Instant::now() + bound;
    loop {
        match tokio::time::timeout_at(until, tcp.read(&mut sink)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slowloris_head_and_a_trickled_body_are_cut_off() {
    let addr = start(|b| {
        b.header_timeout(Duration::from_secs(1))
            .body_timeout(Duration::from_secs(1))
    })
    .await;
    // A head trickled a byte every 200 ms never completes: the connection is closed.
    let mut loris = TcpStream::connect(&addr).await.expect("connect");
    let trickle = async {
        for byte in b"POST /v1/chat/completions HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaa" {
            if loris.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(20), trickle).await;
    assert!(
        closed_within(&mut loris, Duration::from_secs(10)).await,
        "a trickled head kept its connection"
    );
    // A body that stops half way: 408 once the body limit passes.
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"model\":"
    );
    let mut slow = TcpStream::connect(&addr).await.expect("connect");
    slow.write_all(head.as_bytes()).await.expect("write");
    let (status, text) = read_answer(&mut slow).await;
    assert_eq!(status, 408, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_and_a_freed_slot_is_reused() {
    let addr = start(|b| b.max_connections(2)).await;
    let mut first = TcpStream::connect(&addr).await.expect("connect");
    let second = TcpStream::connect(&addr).await.expect("connect");
    // Let the gateway take both before the third arrives.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut third = TcpStream::connect(&addr).await.expect("connect");
    assert!(
        closed_within(&mut third, Duration::from_secs(10)).await,
        "a third connection was kept"
    );
    drop(second);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (status, text) = send(&addr, "GET /health HTTP/1.1", b"").await;
    assert_eq!(status, 200, "{text}");
    // The first is still served.
    first
        .write_all(format!("GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let (status, text) = read_answer(&mut first).await;
    assert_eq!(status, 200, "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_frees_its_stream_slot() {
    use llmux::testing::StreamItem;
    // Each answer: a start, then a thousand 64 KiB pieces, far more than the kernel buffers hold.
    let piece = "y".repeat(64 << 10);
    let provider = ScriptedProvider::new("scripted").replies((0..4).map(|_| {
        Reply::stream(
            std::iter::once(StreamItem::start())
                .chain((0..1000).map(|_| StreamItem::text(piece.clone())))
                .chain(std::iter::once(StreamItem::finish(
                    llmux::FinishReason::Stop,
                ))),
        )
    }));
    let chain = Chain::builder()
        .entry(Entry::new(Arc::new(provider), "m"))
        .build()
        .expect("a chain");
    let gateway = Gateway::builder()
        .chain(chain)
        .max_streams(1)
        .stall_timeout(Duration::from_secs(1))
        .build();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(gateway.serve(listener, std::future::pending()));
    let body = r#"{"model":"m","stream":true,"messages":[{"role":"user","content":"hi"}]}"#;
    let head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    // The first client asks for a stream and never reads it.
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    idle.write_all(head.as_bytes()).await.expect("write");
    // Until the stall limit passes, the one slot is taken; then it is free again.
    let request_head = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}",
        body.len()
    );
    let mut statuses = Vec::new();
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < until {
        let mut tcp = TcpStream::connect(&addr).await.expect("connect");
        tcp.write_all(format!("{request_head}\r\nHost: {addr}\r\n\r\n{body}").as_bytes())
            .await
            .expect("write");
        // The head is enough: 200 or 503.
        let mut head = [0u8; 12];
        let _ = tokio::time::timeout(Duration::from_secs(10), tcp.read_exact(&mut head)).await;
        let status: u16 = String::from_utf8_lossy(&head[9..12]).parse().unwrap_or(0);
        statuses.push(status);
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(
        statuses.first(),
        Some(&503),
        "the slot was taken at first: {statuses:?}"
    );
    assert_eq!(
        statuses.last(),
        Some(&200),
        "the slot was never freed: {statuses:?}"
    );
    drop(idle);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_over_a_cap_is_refused_naming_it() {
    let addr = start(|b| {
        b.caps(llmux_gateway::Caps {
            messages: 50,
            parts: 100,
            tools: 3,
        })
    })
    .await;
    let message = r#"{"role":"user","content":"hi"}"#;
    let part = r#"{"type":"text","text":"x"}"#;
    let tool = r#"{"type":"function","function":{"name":"f","parameters":{"type":"object"}}}"#;
    for (body, says) in [
        (
            format!(
                r#"{{"model":"m","messages":[{}]}}"#,
                vec![message; 51].join(",")
            ),
            "51 messages; this gateway takes at most 50",
        ),
        (
            format!(
                r#"{{"model":"m","messages":[{{"role":"user","content":[{}]}}]}}"#,
                vec![part; 101].join(",")
            ),
            "101 content parts",
        ),
        (
            format!(
                r#"{{"model":"m","messages":[{message}],"tools":[{}]}}"#,
                [tool; 4].join(",")
            ),
            "4 tools",
        ),
    ] {
        let head = format!(
            "POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: {}",
            body.len()
        );
        let (status, text) = send(&addr, &head, body.as_bytes()).await;
        assert_eq!(status, 400, "{text}");
        assert!(text.contains(says), "{says}: {text}");
    }
}
