//! A real `redis-server` per test on a free loopback port, nothing persisted (`shared/peers.md`, section 4).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::free_port;

/// How long redis-server may take to answer `PING`.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How often `PING` is tried while waiting.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// A running `redis-server --port PORT --bind 127.0.0.1 --save "" --appendonly no`; killed (by its process id)
/// and reaped on drop.
#[derive(Debug)]
pub struct RedisServer {
    child: Option<Child>,
    port: u16,
    /// With TLS: the TLS port and the folder of its certificates (removed on drop).
    tls: Option<(u16, PathBuf)>,
}

impl RedisServer {
    /// The `redis-server` binary: `$LLMUX_REDIS_SERVER`, else `redis-server` on `PATH`. Panics with the
    /// provisioning command when it is missing.
    pub fn binary_path() -> PathBuf {
        if let Some(p) = std::env::var_os("LLMUX_REDIS_SERVER") {
            return PathBuf::from(p);
        }
        let path = std::env::var_os("PATH").unwrap_or_default();
        std::env::split_paths(&path)
            .map(|d| d.join("redis-server"))
            .find(|p| p.is_file())
            .unwrap_or_else(|| {
                panic!("redis-server is not installed: run `cargo xtask peers` first (it installs Debian's redis-server)")
            })
    }

    /// Starts one on a free loopback port and waits until it answers `PING`.
    ///
    /// # Panics
    /// When redis-server is missing, exits early or does not answer within 20 s.
    pub fn start() -> RedisServer {
        let port = free_port();
        let mut server = RedisServer {
            child: None,
            port,
            tls: None,
        };
        server.restart();
        server
    }

    /// Starts one that also serves TLS on a second free loopback port, with a certificate for
    /// `127.0.0.1` signed by a certificate authority made for it (with `openssl`, which `cargo xtask
    /// peers` installs); the plain port stays for [`RedisServer::command`].
    ///
    /// # Panics
    /// As [`RedisServer::start`], and when `openssl` is missing or fails.
    pub fn start_tls() -> RedisServer {
        let (port, tls_port) = (free_port(), free_port());
        let dir =
            std::env::temp_dir().join(format!("llmux-redis-tls-{}-{tls_port}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
        let openssl = |args: &[&str]| {
            let out = Command::new("openssl")
                .args(args)
                .current_dir(&dir)
                .stdin(Stdio::null())
                .output()
                .unwrap_or_else(|e| panic!("cannot run openssl (run `cargo xtask peers`): {e}"));
            assert!(
                out.status.success(),
                "openssl {args:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        std::fs::write(
            dir.join("leaf.ext"),
            "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
        )
        .unwrap_or_else(|e| panic!("cannot write leaf.ext: {e}"));
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "1",
            "-subj",
            "/CN=llmux test CA",
        ]);
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "1",
            "-extfile",
            "leaf.ext",
        ]);
        let mut server = RedisServer {
            child: None,
            port,
            tls: Some((tls_port, dir)),
        };
        server.restart();
        server
    }

    /// `rediss://127.0.0.1:TLS_PORT`, when the server serves TLS.
    pub fn tls_url(&self) -> Option<String> {
        self.tls
            .as_ref()
            .map(|(port, _)| format!("rediss://127.0.0.1:{port}"))
    }

    /// The PEM of the certificate authority the TLS port's certificate chains to.
    pub fn tls_ca(&self) -> Option<Vec<u8>> {
        let (_, dir) = self.tls.as_ref()?;
        std::fs::read(dir.join("ca.pem")).ok()
    }

    /// `redis://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// The loopback port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server is running.
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the server (SIGKILL, by its process id), as a crash would; its state is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (after [`RedisServer::kill`]), empty, and waits for `PING`.
    pub fn restart(&mut self) {
        self.kill();
        let mut command = Command::new(Self::binary_path());
        command.args(["--port", &self.port.to_string()]).args([
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]);
        if let Some((tls_port, dir)) = &self.tls {
            let file = |name: &str| dir.join(name).to_string_lossy().into_owned();
            command
                .args(["--tls-port", &tls_port.to_string()])
                .args(["--tls-cert-file", &file("server.pem")])
                .args(["--tls-key-file", &file("server.key")])
                .args(["--tls-ca-cert-file", &file("ca.pem")])
                .args(["--tls-auth-clients", "no"]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start redis-server: {e}"));
        self.child = Some(child);
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!(
                    "redis-server exited ({status}) before answering PING on port {}",
                    self.port
                );
            }
            if self.ping() {
                return;
            }
            if Instant::now() >= deadline {
                panic!(
                    "redis-server did not answer PING within {READY_TIMEOUT:?} on port {}",
                    self.port
                );
            }
            // Polling a starting server at a short interval, bounded by the deadline above.
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Whether the server answers `PING` with `PONG` now.
    pub fn ping(&self) -> bool {
        self.command(&["PING"])
            .is_some_and(|r| r.starts_with("+PONG"))
    }

    /// Sends one command (RESP array of bulk strings) and returns the raw first reply, for assertions.
    pub fn command(&self, args: &[&str]) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let mut request = format!("*{}\r\n", args.len());
        for a in args {
            request.push_str(&format!("${}\r\n{a}\r\n", a.len()));
        }
        stream.write_all(request.as_bytes()).ok()?;
        let mut buf = [0u8; 4096];
        let n = stream.read(&mut buf).ok()?;
        Some(String::from_utf8_lossy(&buf[..n]).into_owned())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        if let Some((_, dir)) = &self.tls {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
