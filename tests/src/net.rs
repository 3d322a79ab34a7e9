//! Raw test servers on 127.0.0.1 for what wiremock cannot do: chosen chunk boundaries, cut, stalled or
//! reset connections, and counting the TCP connections a client opens.
//!
//! - [`RawServer`]: a raw HTTP/1.1 server. It parses each request head (and a `content-length` body), then
//!   hands the connection to the test's handler as a [`Conn`], which writes raw bytes: whole responses,
//!   chunked bodies chunk by chunk, stalls, a clean close or a reset. The helpers' responses say
//!   `connection: close`; a handler that wants keep-alive writes its own head and reads the next request
//!   with [`Conn::next_request`].
//! - [`CountingProxy`]: a TCP proxy in front of any server (wiremock, a peer) that counts the connections
//!   it accepts, for "N requests use one pooled connection" tests.
//! - [`closed_port`]: a loopback port nothing listens on, for "connection refused" tests.
//!
//! Unlike the peer harness this module is async: it needs a tokio runtime (any flavour) to run in.
//!
//! ```no_run
//! # async fn demo() {
//! use llmux_e2e::net::RawServer;
//!
//! let server = RawServer::start(|mut conn| async move {
//!     let _ = conn.start_chunked(200, "text/event-stream").await;
//!     let _ = conn.chunk(b"data: a").await;
//!     let _ = conn.chunk(b"\n\n").await;
//!     let _ = conn.end_chunked().await;
//! })
//! .await;
//! let url = format!("{}/v1/chat/completions", server.base_url());
//! # let _ = url;
//! # }
//! ```

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The largest request head the server reads.
const MAX_HEAD: usize = 64 << 10;

/// A running raw server; it stops accepting when dropped (connections already accepted run on).
#[derive(Debug)]
pub struct RawServer {
    listening: Listening,
}

/// A loopback listener whose accept loop counts connections and serves each in its own task; the loop
/// stops when this is dropped (connections already accepted run on).
#[derive(Debug)]
struct Listening {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Listening {
    async fn start<F, Fut>(serve: F) -> Listening
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("cannot read the bound address: {e}"));
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = Arc::clone(&accepted);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream));
            }
        });
        Listening {
            addr,
            accepted,
            task,
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One parsed request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `POST`, `GET`, …
    pub method: String,
    /// The request target, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Header names (lowercased) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body, as long as `content-length` said.
    pub body: Vec<u8>,
}

impl Request {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The API key the client sent (`Authorization: Bearer …` or `x-api-key`), if any.
    pub fn api_key(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .or_else(|| self.header("x-api-key"))
    }
}

/// One accepted connection whose request has been read.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    /// The request the client sent.
    pub request: Request,
}

impl RawServer {
    /// Binds a free loopback port and serves every connection with `handler` in its own task, once its
    /// first request has been read. Nagle is off on every connection, so each write leaves at once and
    /// the client's reads see the boundaries the handler chose as far as the kernel allows.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start<F, Fut>(handler: F) -> RawServer
    where
        F: Fn(Conn) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let listening = Listening::start(move |mut stream| {
            let handler = Arc::clone(&handler);
            async move {
                // Only a latency setting: if it cannot be set, the bytes still arrive.
                let _ = stream.set_nodelay(true);
                if let Ok(request) = read_request(&mut stream).await {
                    handler(Conn { stream, request }).await;
                }
            }
        })
        .await;
        RawServer { listening }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.listening.base_url()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.listening.addr
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.listening.accepted()
    }
}

async fn read_request(stream: &mut TcpStream) -> io::Result<Request> {
    let mut buf = Vec::with_capacity(4096);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(io::Error::other("request head too large"));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_owned();
    let path = first.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
        .unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let mut chunk = vec![0u8; (length - body.len()).min(64 << 10)];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Ok(Request {
        method,
        path,
        headers,
        body,
    })
}

impl Conn {
    /// Reads the next request on this keep-alive connection into [`Conn::request`]; an error when the
    /// client closed (or sent no complete request) first.
    pub async fn next_request(&mut self) -> io::Result<&Request> {
        self.request = read_request(&mut self.stream).await?;
        Ok(&self.request)
    }

    /// Reads whatever the client sends next into `buf` (0: the client closed its side).
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf).await
    }

    /// Writes raw bytes.
    pub async fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes).await?;
        self.stream.flush().await
    }

    /// A whole response with `content-length` and `connection: close`, plus `extra` header lines.
    pub async fn respond(
        &mut self,
        status: u16,
        content_type: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n",
            body.len()
        );
        for (n, v) in extra {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        head.push_str("\r\n");
        self.write(head.as_bytes()).await?;
        self.write(body).await
    }

    /// The head of a chunked response (`transfer-encoding: chunked`, `connection: close`).
    pub async fn start_chunked(&mut self, status: u16, content_type: &str) -> io::Result<()> {
        let head = format!(
            "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n"
        );
        self.write(head.as_bytes()).await
    }

    /// One chunk of a chunked body (an empty `bytes` writes nothing: it would end the body).
    pub async fn chunk(&mut self, bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.stream
            .write_all(format!("{:x}\r\n", bytes.len()).as_bytes())
            .await?;
        self.stream.write_all(bytes).await?;
        self.write(b"\r\n").await
    }

    /// A whole chunked response: the head, each of `pieces` as a chunk of its own (empty ones skipped),
    /// and the last chunk.
    pub async fn send_chunked<P: AsRef<[u8]>>(
        &mut self,
        status: u16,
        content_type: &str,
        pieces: &[P],
    ) -> io::Result<()> {
        self.start_chunked(status, content_type).await?;
        for piece in pieces {
            self.chunk(piece.as_ref()).await?;
        }
        self.end_chunked().await
    }

    /// The last chunk: the body ends well.
    pub async fn end_chunked(&mut self) -> io::Result<()> {
        self.write(b"0\r\n\r\n").await
    }

    /// Resets the connection (RST, not a clean close): the body is cut mid-transfer.
    pub fn reset(self) {
        // A zero linger turns the close into a reset; if it cannot be set, a plain close still cuts the body.
        let _ = self.stream.set_zero_linger();
        drop(self.stream);
    }

    /// Writes `chunk` (chunked framing) every `every` until the client closes its side or `max` passes;
    /// returns true when the client closed (a read saw EOF or a write failed).
    pub async fn drip_until_closed(
        &mut self,
        chunk: &[u8],
        every: Duration,
        max: Duration,
    ) -> bool {
        let deadline = Instant::now() + max;
        let mut scratch = [0u8; 1024];
        while Instant::now() < deadline {
            tokio::select! {
                read = self.stream.read(&mut scratch) => {
                    if matches!(read, Ok(0) | Err(_)) {
                        return true;
                    }
                }
                () = tokio::time::sleep(every) => {
                    if self.chunk(chunk).await.is_err() {
                        return true;
                    }
                }
            }
        }
        false
    }

    /// Waits until the client closes its side (EOF or an error on read) and returns; anything the client
    /// sends meanwhile is discarded.
    pub async fn closed_by_peer(&mut self) {
        let mut scratch = [0u8; 1024];
        loop {
            match self.stream.read(&mut scratch).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }
}

/// A TCP proxy on 127.0.0.1 in front of an upstream server that counts the connections it accepts; it
/// stops accepting when dropped.
#[derive(Debug)]
pub struct CountingProxy {
    listening: Listening,
}

impl CountingProxy {
    /// Binds a free loopback port and forwards every accepted connection to `upstream`, byte for byte,
    /// until either side closes.
    ///
    /// # Panics
    /// When no loopback port can be bound.
    pub async fn start(upstream: SocketAddr) -> CountingProxy {
        let listening = Listening::start(move |mut inbound| async move {
            if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                // The copy ends when either side closes; its result does not matter to the count.
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            }
        })
        .await;
        CountingProxy { listening }
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.listening.base_url()
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.listening.accepted()
    }
}

/// A loopback port nothing listens on (bound, then released), for "connection refused" tests.
///
/// # Panics
/// When no loopback port can be bound.
pub fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap_or_else(|e| panic!("cannot bind a loopback port: {e}"));
    listener
        .local_addr()
        .unwrap_or_else(|e| panic!("cannot read the bound address: {e}"))
        .port()
}
