//! A body polled on the `block_on` thread of a multi-thread runtime (as in a `#[tokio::main]` function) is
//! read by a pump task and handed over in joined batches: it must deliver exactly the same bytes, in order,
//! keep the limits and error mapping, and close the connection when dropped.

use std::time::Duration;

use futures::StreamExt;
use llm_core::{ErrorKind, Timeouts};
use llm_http::Transport;
use llmux_e2e::net::RawServer;
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

const CHUNKED_HEAD: &str =
    "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn event(i: usize) -> String {
    format!("data: {{\"n\":{i}}}\n\n")
}

/// Serves each connection: the head and `events` as one HTTP chunk each, then (when `end`) the last chunk,
/// all in one write; then reports on `closed` whether the client closed its side.
async fn event_server(events: usize, end: bool) -> (RawServer, mpsc::UnboundedReceiver<bool>) {
    let (closed_tx, closed_rx) = mpsc::unbounded_channel();
    let server = RawServer::start(move |mut conn| {
        let closed_tx = closed_tx.clone();
        async move {
            let mut out = CHUNKED_HEAD.as_bytes().to_vec();
            for i in 0..events {
                let e = event(i);
                out.extend_from_slice(format!("{:x}\r\n{e}\r\n", e.len()).as_bytes());
            }
            if end {
                out.extend_from_slice(b"0\r\n\r\n");
            }
            if conn.write(&out).await.is_err() {
                return;
            }
            let mut buf = [0u8; 4096];
            let closed = matches!(conn.read(&mut buf).await, Ok(0) | Err(_));
            let _ = closed_tx.send(closed);
        }
    })
    .await;
    (server, closed_rx)
}

#[test]
fn body_read_on_the_block_on_thread_is_whole_and_in_order() {
    let rt = runtime();
    rt.block_on(async {
        let (server, _closed) = event_server(5_000, true).await;
        let t = Transport::new("test", Timeouts::default(), None).unwrap();
        let mut body = t.send(t.get(&server.base_url())).await.unwrap().into_body();
        let mut got = Vec::new();
        while let Some(chunk) = body.next().await {
            got.extend_from_slice(&chunk.unwrap());
        }
        let expected: String = (0..5_000).map(event).collect();
        assert_eq!(String::from_utf8(got).unwrap(), expected);
    });
}

#[test]
fn dropping_a_pumped_body_closes_the_connection() {
    let rt = runtime();
    rt.block_on(async {
        let (server, mut closed) = event_server(3, false).await;
        let t = Transport::new("test", Timeouts::default(), None).unwrap();
        let mut body = t.send(t.get(&server.base_url())).await.unwrap().into_body();
        assert!(body.next().await.unwrap().is_ok());
        drop(body);
        let closed = tokio::time::timeout(Duration::from_secs(10), closed.recv())
            .await
            .expect("the server saw the connection close within 10 s")
            .unwrap();
        assert!(closed);
    });
}

#[test]
fn cut_connection_while_pumped_is_network_after_the_data() {
    let rt = runtime();
    rt.block_on(async {
        let server = RawServer::start(|mut conn| async move {
            let _ = conn.write(CHUNKED_HEAD.as_bytes()).await;
            let _ = conn.write(b"9\r\ndata: a\n\n\r\n").await;
            // Dropped here: the chunked body never ends.
        })
        .await;
        let t = Transport::new("test", Timeouts::default(), None).unwrap();
        let mut body = t.send(t.get(&server.base_url())).await.unwrap().into_body();
        let mut data = Vec::new();
        let err = loop {
            match body.next().await.expect("an error before the end") {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(e) => break e,
            }
        };
        assert_eq!(data, b"data: a\n\n");
        assert_eq!(err.kind(), ErrorKind::Network, "{err}");
        assert!(body.next().await.is_none());
    });
}

#[test]
fn idle_limit_still_applies_while_pumped() {
    let rt = runtime();
    rt.block_on(async {
        let (server, _closed) = event_server(1, false).await;
        let timeouts = Timeouts::default().idle(Duration::from_millis(200));
        let t = Transport::new("test", timeouts, None).unwrap();
        let mut body = t.send(t.get(&server.base_url())).await.unwrap().into_body();
        assert!(body.next().await.unwrap().is_ok());
        let err = body.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    });
}
