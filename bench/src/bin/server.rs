//! `bench-server`: a canned-response HTTP/1.1 server for the whole-client benchmarks.
//!
//! Serves OpenAI (`POST /v1/chat/completions`), Anthropic (`POST /v1/messages`) and Ollama (`POST /api/chat`)
//! answers, whole or streamed, as the request's model name asks (see `llmux_bench::wire`); streams go as fast
//! as the socket allows unless the model name asks for a pace. Keep-alive as HTTP/1.1 defines it.
//! `GET /stats` answers `{"connections":C,"requests":R}`: connections that carried at least one chat request,
//! and chat requests; the same line is printed when the server exits on its stdin closing.
//!
//! Usage: `bench-server [--port P] [--threads N]`. Prints `listening 127.0.0.1:PORT` once bound.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use llmux_bench::measure;
use llmux_bench::wire::{self, Format, Spec};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A stream rendered once: the chunked-encoded body and where each HTTP chunk ends in it.
struct Prepared {
    body: Vec<u8>,
    /// End offset in `body` of each chunk (the last one includes the terminating zero chunk).
    ends: Vec<usize>,
    token_range: std::ops::Range<usize>,
}

/// Rendered answers by format and spec.
type Cache<T> = Mutex<HashMap<(Format, Spec), Arc<T>>>;

#[derive(Default)]
struct State {
    connections: AtomicU64,
    requests: AtomicU64,
    streams: Cache<Prepared>,
    wholes: Cache<Vec<u8>>,
}

impl State {
    fn stats(&self) -> String {
        format!(
            "{{\"connections\":{},\"requests\":{}}}",
            self.connections.load(Ordering::Relaxed),
            self.requests.load(Ordering::Relaxed)
        )
    }

    fn stream(&self, format: Format, spec: Spec, model: &str) -> Arc<Prepared> {
        let mut cache = self.streams.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(cache.entry((format, spec)).or_insert_with(|| {
            let rendered = wire::render_stream(format, spec, model);
            let mut body = Vec::new();
            let mut ends = Vec::with_capacity(rendered.chunks.len());
            for chunk in &rendered.chunks {
                // Writing to a Vec cannot fail.
                let _ = write!(body, "{:x}\r\n", chunk.len());
                body.extend_from_slice(chunk);
                body.extend_from_slice(b"\r\n");
                ends.push(body.len());
            }
            body.extend_from_slice(b"0\r\n\r\n");
            if let Some(last) = ends.last_mut() {
                *last = body.len();
            }
            Arc::new(Prepared {
                body,
                ends,
                token_range: rendered.token_range,
            })
        }))
    }

    fn whole(&self, format: Format, spec: Spec, model: &str) -> Arc<Vec<u8>> {
        let mut cache = self.wholes.lock().unwrap_or_else(|e| e.into_inner());
        Arc::clone(
            cache
                .entry((format, spec))
                .or_insert_with(|| Arc::new(wire::render_whole(format, spec, model))),
        )
    }
}

fn main() {
    let mut port = 0u16;
    let mut threads = 1usize;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = args.next().unwrap_or_default();
        match arg.as_str() {
            "--port" => port = value.parse().unwrap_or_else(|_| usage()),
            "--threads" => threads = value.parse().unwrap_or_else(|_| usage()),
            _ => usage(),
        }
    }
    measure::raise_nofile_limit();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(&format!("cannot start the runtime: {e}")));
    runtime.block_on(serve(port));
}

async fn serve(port: u16) {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap_or_else(|e| fail(&format!("cannot bind 127.0.0.1:{port}: {e}")));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| fail(&format!("no local address: {e}")));
    println!("listening {addr}");
    let _ = std::io::stdout().flush();
    let state = Arc::new(State::default());
    // The server ends when its stdin closes (its parent went away), printing its counts.
    let stats = Arc::clone(&state);
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
        println!("stats {}", stats.stats());
        let _ = std::io::stdout().flush();
        std::process::exit(0);
    });
    loop {
        match listener.accept().await {
            Ok((socket, _)) => {
                let _ = socket.set_nodelay(true);
                tokio::spawn(connection(socket, Arc::clone(&state)));
            }
            // Out of file descriptors or similar: let some connections finish, then go on.
            Err(_) => tokio::time::sleep(Duration::from_millis(5)).await,
        }
    }
}

/// Serves the requests of one connection until the client closes it.
async fn connection(mut socket: TcpStream, state: Arc<State>) {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut counted = false;
    loop {
        let Some((head_len, body_len)) = read_request(&mut socket, &mut buf).await else {
            return;
        };
        let head = String::from_utf8_lossy(&buf[..head_len]).into_owned();
        let body = buf[head_len..head_len + body_len].to_vec();
        buf.drain(..head_len + body_len);
        let mut words = head.split_whitespace();
        let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let closes = head.to_ascii_lowercase().contains("\r\nconnection: close");
        let written = match (method, Format::from_path(path)) {
            ("GET", _) if path == "/stats" => {
                let stats = state.stats();
                respond(&mut socket, "200 OK", "application/json", stats.as_bytes()).await
            }
            ("POST", Some(format)) => {
                if !counted {
                    counted = true;
                    state.connections.fetch_add(1, Ordering::Relaxed);
                }
                state.requests.fetch_add(1, Ordering::Relaxed);
                answer(&mut socket, &state, format, &body).await
            }
            _ => respond(&mut socket, "404 Not Found", "text/plain", b"not found").await,
        };
        if written.is_err() || closes {
            return;
        }
    }
}

/// Reads one request into `buf`: returns the length of its head (with the blank line) and of its body.
async fn read_request(socket: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(usize, usize)> {
    let head_len = loop {
        if let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") {
            break end + 4;
        }
        if buf.len() > 1 << 20 || read_more(socket, buf).await? == 0 {
            return None;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_len]).to_ascii_lowercase();
    let body_len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    while buf.len() < head_len + body_len {
        if read_more(socket, buf).await? == 0 {
            return None;
        }
    }
    Some((head_len, body_len))
}

async fn read_more(socket: &mut TcpStream, buf: &mut Vec<u8>) -> Option<usize> {
    let mut chunk = [0u8; 8192];
    let n = socket.read(&mut chunk).await.ok()?;
    buf.extend_from_slice(&chunk[..n]);
    Some(n)
}

async fn respond(
    socket: &mut TcpStream,
    status: &str,
    media_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {media_type}\r\ncontent-length: {}\r\nx-request-id: req_bench\r\nrequest-id: req_bench\r\n\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    socket.write_all(&out).await
}

async fn answer(
    socket: &mut TcpStream,
    state: &State,
    format: Format,
    body: &[u8],
) -> std::io::Result<()> {
    let model = wire::model_in_body(body).unwrap_or("");
    let Some(spec) = Spec::from_model(model) else {
        let error = b"{\"error\":{\"message\":\"model must be bench-nN-tT-pP\",\"type\":\"invalid_request_error\"}}";
        return respond(socket, "400 Bad Request", "application/json", error).await;
    };
    if !wire::wants_stream(format, body) {
        let whole = state.whole(format, spec, model);
        return respond(socket, "200 OK", "application/json", &whole).await;
    }
    let prepared = state.stream(format, spec, model);
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {}\r\ntransfer-encoding: chunked\r\nx-request-id: req_bench\r\nrequest-id: req_bench\r\n\r\n",
        format.stream_media_type()
    );
    socket.write_all(head.as_bytes()).await?;
    if spec.pace_ms == 0 {
        return socket.write_all(&prepared.body).await;
    }
    let pace = Duration::from_millis(u64::from(spec.pace_ms));
    let mut start = 0;
    for (i, &end) in prepared.ends.iter().enumerate() {
        if prepared.token_range.contains(&i) {
            tokio::time::sleep(pace).await;
        }
        socket.write_all(&prepared.body[start..end]).await?;
        start = end;
    }
    Ok(())
}

fn usage() -> ! {
    fail("usage: bench-server [--port P] [--threads N]")
}

fn fail(message: &str) -> ! {
    eprintln!("bench-server: {message}");
    std::process::exit(2)
}
