//! moto's S3 server as a child process, for tests and benchmarks.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use super::config::StoreConfig;
use super::error::StoreError;

/// How long `start` waits for moto to answer HTTP.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How many ports `start` tries (another process may take the free port first).
const PORT_ATTEMPTS: usize = 3;

/// A running `moto_server` (moto's S3-compatible HTTP server) on a free port of 127.0.0.1, with
/// one bucket created. The server is killed, and waited for, when this value is dropped, also
/// when a test panics; should the test process die without dropping it, a small watchdog shell
/// that reads our end of a pipe kills the server when the pipe closes.
///
/// `moto_server` comes from the venv at `${STRATA_VENV:-$HOME/.cache/strata/venv}`, or from
/// `PATH`; `scripts/install-deps.sh` installs it. [`MotoServer::start`] blocks (up to a minute,
/// usually one or two seconds), so async tests call it from `spawn_blocking` or before their
/// runtime starts.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    watchdog: Option<(Child, ChildStdin)>,
    port: u16,
    bucket: String,
    log_path: PathBuf,
}

impl MotoServer {
    /// The bucket [`MotoServer::start`] creates.
    pub const BUCKET: &'static str = "strata-test";

    /// Starts moto and creates the bucket [`MotoServer::BUCKET`].
    pub fn start() -> Result<MotoServer, StoreError> {
        Self::start_with_bucket(Self::BUCKET)
    }

    /// Starts moto and creates `bucket`.
    pub fn start_with_bucket(bucket: &str) -> Result<MotoServer, StoreError> {
        let binary = moto_binary()?;
        let mut last_error = None;
        for _ in 0..PORT_ATTEMPTS {
            match Self::start_once(&binary, bucket) {
                Ok(server) => return Ok(server),
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| moto_error("could not start", None)))
    }

    fn start_once(binary: &Path, bucket: &str) -> Result<MotoServer, StoreError> {
        let port = free_port()?;
        let log_path =
            std::env::temp_dir().join(format!("strata-moto-{}-{port}.log", std::process::id()));
        let log = std::fs::File::create(&log_path)
            .map_err(|e| moto_error(&format!("cannot create {}", log_path.display()), Some(e)))?;
        let log_err = log
            .try_clone()
            .map_err(|e| moto_error("cannot clone the log file handle", Some(e)))?;
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| moto_error(&format!("cannot run {}", binary.display()), Some(e)))?;
        let watchdog = spawn_watchdog(child.id());
        let mut server = MotoServer {
            child,
            watchdog,
            port,
            bucket: bucket.to_string(),
            log_path,
        };
        server.wait_ready()?;
        server.create_bucket()?;
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port moto listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The bucket that was created.
    pub fn bucket(&self) -> &str {
        &self.bucket
    }

    /// The server's log file (kept after a panic, removed on a clean drop).
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// A configuration for `s3://BUCKET/prefix` on this server: region us-east-1, dummy
    /// credentials `testing`, plain HTTP allowed.
    pub fn store_config(&self, prefix: &str) -> StoreConfig {
        let prefix = prefix.trim_matches('/');
        let url = if prefix.is_empty() {
            format!("s3://{}", self.bucket)
        } else {
            format!("s3://{}/{prefix}", self.bucket)
        };
        StoreConfig {
            url,
            endpoint: Some(self.endpoint()),
            region: Some("us-east-1".into()),
            access_key_id: Some("testing".into()),
            secret_access_key: Some("testing".into()),
            session_token: None,
            allow_http: true,
            disable_bulk_delete: false,
            request_timeout_ms: 30_000,
        }
    }

    fn wait_ready(&mut self) -> Result<(), StoreError> {
        let start = Instant::now();
        while start.elapsed() < READY_TIMEOUT {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(moto_error(
                    &format!(
                        "moto_server exited with {status} before answering; {}",
                        self.log_tail()
                    ),
                    None,
                ));
            }
            if let Ok(response) = self.http("GET", "/")
                && response.starts_with("HTTP/1.")
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(moto_error(
            &format!(
                "moto_server did not answer on {} within {READY_TIMEOUT:?}; {}",
                self.endpoint(),
                self.log_tail()
            ),
            None,
        ))
    }

    fn create_bucket(&self) -> Result<(), StoreError> {
        let path = format!("/{}", self.bucket);
        let response = self
            .http("PUT", &path)
            .map_err(|e| moto_error(&format!("cannot create bucket {}", self.bucket), Some(e)))?;
        let status = response.lines().next().unwrap_or_default();
        if status.split_whitespace().nth(1) == Some("200") {
            return Ok(());
        }
        Err(moto_error(
            &format!("creating bucket {} answered {status:?}", self.bucket),
            None,
        ))
    }

    /// One HTTP/1.1 request without a body; returns the whole response.
    fn http(&self, method: &str, path: &str) -> std::io::Result<String> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )?;
        let mut response = Vec::new();
        stream.take(1 << 20).read_to_end(&mut response)?;
        Ok(String::from_utf8_lossy(&response).into_owned())
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        format!("log {}:\n{}", self.log_path.display(), tail.join("\n"))
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // The watchdog first, so it never signals a pid that the kernel has reused.
        if let Some((mut watchdog, stdin)) = self.watchdog.take() {
            let _ = watchdog.kill();
            let _ = watchdog.wait();
            drop(stdin);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log_path);
        }
    }
}

fn moto_error(what: &str, source: Option<std::io::Error>) -> StoreError {
    StoreError::Moto {
        what: what.to_string(),
        source,
    }
}

/// `moto_server` from the venv, else from `PATH`.
fn moto_binary() -> Result<PathBuf, StoreError> {
    let venv = match std::env::var_os("STRATA_VENV") {
        Some(venv) if !venv.is_empty() => PathBuf::from(venv),
        _ => {
            let home = std::env::var_os("HOME")
                .map(PathBuf::from)
                .unwrap_or_else(|| "/root".into());
            home.join(".cache/strata/venv")
        }
    };
    let in_venv = venv.join("bin/moto_server");
    if in_venv.is_file() {
        return Ok(in_venv);
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|candidate| candidate.is_file())
    });
    on_path.ok_or(StoreError::MotoNotInstalled { searched: in_venv })
}

/// A port that was free a moment ago (the listener is closed before moto binds it; `start`
/// retries should another process take it in between).
fn free_port() -> Result<u16, StoreError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| moto_error("cannot bind 127.0.0.1:0 to find a free port", Some(e)))?;
    let port = listener
        .local_addr()
        .map_err(|e| moto_error("cannot read the free port", Some(e)))?
        .port();
    Ok(port)
}

/// A shell that kills `pid` once its stdin (our pipe) closes: when the server is dropped, or
/// when this process dies without dropping it. `None` if no shell could be started; the server
/// is then only killed on drop.
fn spawn_watchdog(pid: u32) -> Option<(Child, ChildStdin)> {
    let mut child = Command::new("sh")
        .args([
            "-c",
            "read _ignored; kill \"$0\" 2>/dev/null",
            &pid.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let stdin = child.stdin.take()?;
    Some((child, stdin))
}
