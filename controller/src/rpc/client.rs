//! Calls to other members: a small pool of idle connections per address; every call has a
//! deadline covering connect, send and answer.

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;
use std::time::Duration;

use tokio::net::TcpStream;

use super::frame::{FrameError, read_frame, write_frame};
use super::message::{Request, Response};

/// Idle connections kept per address.
const MAX_IDLE: usize = 4;
/// The most a connect may take (within the call's own deadline): an unreachable member is
/// given up on quickly, so callers can try the next leader.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    /// No connection could be made: the request was not sent.
    #[error("connect to {addr}: {source}")]
    Connect { addr: String, source: io::Error },
    /// The connection failed during the call: the request may or may not have been served.
    #[error("call to {addr}: {source}")]
    Io { addr: String, source: FrameError },
    #[error("call to {addr} timed out")]
    Timeout { addr: String },
}

/// Connections to the other members, reused between calls.
#[derive(Debug, Default)]
pub(crate) struct Pool {
    idle: Mutex<HashMap<String, Vec<TcpStream>>>,
}

impl Pool {
    /// Sends `req` to `addr` and waits for the answer, all within `timeout`.
    pub(crate) async fn call(
        &self,
        addr: &str,
        req: &Request,
        timeout: Duration,
    ) -> Result<Response, CallError> {
        match tokio::time::timeout(timeout, self.call_inner(addr, req)).await {
            Ok(result) => result,
            // The connection is dropped with the future: a late answer cannot be misread.
            Err(_) => Err(CallError::Timeout { addr: addr.into() }),
        }
    }

    async fn call_inner(&self, addr: &str, req: &Request) -> Result<Response, CallError> {
        let pooled = self.take(addr);
        let reused = pooled.is_some();
        let mut stream = match pooled {
            Some(s) => s,
            None => connect(addr).await?,
        };
        let io_err = |source| CallError::Io {
            addr: addr.into(),
            source,
        };
        // A pooled connection the peer closed in the meantime fails on its first write or
        // read with nothing served (EOF before any answer): retry once on a fresh one.
        let first = exchange(&mut stream, req).await;
        let resp = match first {
            Err(FrameError::Closed) if reused => {
                stream = connect(addr).await?;
                exchange(&mut stream, req).await.map_err(io_err)?
            }
            Err(FrameError::Io(e)) if reused && e.kind() == io::ErrorKind::BrokenPipe => {
                stream = connect(addr).await?;
                exchange(&mut stream, req).await.map_err(io_err)?
            }
            other => other.map_err(io_err)?,
        };
        self.put(addr, stream);
        Ok(resp)
    }

    fn take(&self, addr: &str) -> Option<TcpStream> {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.get_mut(addr).and_then(Vec::pop)
    }

    fn put(&self, addr: &str, stream: TcpStream) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        let list = idle.entry(addr.to_string()).or_default();
        if list.len() < MAX_IDLE {
            list.push(stream);
        }
    }

    /// Drops every idle connection.
    pub(crate) fn clear(&self) {
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

async fn connect(addr: &str) -> Result<TcpStream, CallError> {
    let connecting = tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr));
    let stream = match connecting.await {
        Ok(connected) => connected,
        Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "connect timed out")),
    }
    .map_err(|source| CallError::Connect {
        addr: addr.into(),
        source,
    })?;
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

async fn exchange(stream: &mut TcpStream, req: &Request) -> Result<Response, FrameError> {
    write_frame(stream, req).await?;
    read_frame(stream).await
}
