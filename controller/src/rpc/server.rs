//! The controller RPC listener: one task per connection, requests answered in order.

use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tracing::Instrument;

use super::frame::{FrameError, read_frame_within, write_frame};
use super::message::{Request, Response};

/// How long the rest of a frame may take once its length has arrived.
const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What serves the requests (the raft node).
#[async_trait::async_trait]
pub(crate) trait Handler: Send + Sync + 'static {
    async fn handle(&self, req: Request) -> Response;
}

/// Accepts connections until the returned future is dropped (aborting the task that runs it
/// drops every connection task with it).
pub(crate) async fn serve(listener: TcpListener, handler: Arc<dyn Handler>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let handler = Arc::clone(&handler);
                    let span = tracing::debug_span!("controller.rpc.connection", %peer);
                    connections.spawn(connection(stream, handler).instrument(span));
                }
                Err(e) => {
                    // Out of file descriptors and the like: wait a little rather than spin.
                    tracing::warn!(error = %e, "controller.rpc.accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn connection(mut stream: TcpStream, handler: Arc<dyn Handler>) {
    let _ = stream.set_nodelay(true);
    loop {
        let req: Request = match read_frame_within(&mut stream, Some(BODY_TIMEOUT)).await {
            Ok(req) => req,
            Err(FrameError::Closed) => return,
            Err(e) => {
                // A malformed or oversized frame ends this connection only.
                tracing::warn!(error = %e, "controller.rpc.bad_frame: closing the connection");
                return;
            }
        };
        let resp = handler.handle(req).await;
        if let Err(e) = write_frame(&mut stream, &resp).await {
            tracing::debug!(error = %e, "controller.rpc.reply failed");
            return;
        }
    }
}
