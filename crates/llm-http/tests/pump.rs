//! A body polled on the `block_on` thread of a multi-thread runtime (as in a `#[tokio::main]` function) is
//! read by a pump task and handed over in joined batches: it must deliver exactly the same bytes, in order,
//! keep the limits and error mapping, and close the connection when dropped.

use std::time::Duration;

use futures::StreamExt;
use llm_core::{ErrorKind, Timeouts};
use llm_http::Transport;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::runtime::Runtime;
use tokio::sync::oneshot;

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

/// Serves one connection: the head, `events` as one HTTP chunk each, then (when `end`) the last chunk;
/// then reports on `closed` whether the client closed its side.
async fn server(events: usize, end: bool) -> (String, oneshot::Receiver<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (closed_tx, closed_rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = socket.read(&mut buf).await;
        let mut out = CHUNKED_HEAD.as_bytes().to_vec();
        for i in 0..events {
            let e = event(i);
            out.extend_from_slice(format!("{:x}\r\n{e}\r\n", e.len()).as_bytes());
        }
        if end {
            out.extend_from_slice(b"0\r\n\r\n");
        }
        socket.write_all(&out).await.unwrap();
        let closed = matches!(socket.read(&mut buf).await, Ok(0) | Err(_));
        let _ = closed_tx.send(closed);
    });
    (format!("http://{addr}/"), closed_rx)
}

#[test]
fn body_read_on_the_block_on_thread_is_whole_and_in_order() {
    let rt = runtime();
    rt.block_on(async {
        let (url, _closed) = server(5_000, true).await;
        let t = Transport::new("test", Timeouts::default(), None).unwrap();
        let mut body = t.send(t.get(&url)).await.unwrap().into_body();
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
        let (url, closed) = server(3, false).await;
        let t = Transport::new("test", Timeouts::default(), None).unwrap();
        let mut body = t.send(t.get(&url)).await.unwrap().into_body();
        assert!(body.next().await.unwrap().is_ok());
        drop(body);
        let closed = tokio::time::timeout(Duration::from_secs(10), closed)
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 4096];
            let _ = socket.read(&mut buf).await;
            socket.write_all(CHUNKED_HEAD.as_bytes()).await.unwrap();
            socket.write_all(b"9\r\ndata: a\n\n\r\n").await.unwrap();
            // Dropped here: the chunked body never ends.
        });
        let t = Transport::new("test", Timeouts::default(), None).unwrap();
        let mut body = t
            .send(t.get(&format!("http://{addr}/")))
            .await
            .unwrap()
            .into_body();
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
        let (url, _closed) = server(1, false).await;
        let timeouts = Timeouts::default().idle(Duration::from_millis(200));
        let t = Transport::new("test", timeouts, None).unwrap();
        let mut body = t.send(t.get(&url)).await.unwrap().into_body();
        assert!(body.next().await.unwrap().is_ok());
        let err = body.next().await.unwrap().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
    });
}
