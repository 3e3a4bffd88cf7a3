//! The Kafka listener: accepts connections (up to a limit) and serves each on its own task.

mod connection;
mod sendfile;

use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::broker::Broker;
use crate::protocol::frame::MemoryPool;

/// How long connections may take to finish their request after shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Serves `listener` until `shutdown` is cancelled, then lets connections finish the request
/// they are handling (up to a grace period) and closes them.
pub async fn run(broker: Arc<Broker>, listener: TcpListener, shutdown: CancellationToken) {
    let pool = MemoryPool::new(broker.config.network.queued_max_request_bytes as usize);
    let slots = Arc::new(Semaphore::new(
        broker.config.network.max_connections as usize,
    ));
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let Ok(slot) = slots.clone().try_acquire_owned() else {
                        tracing::warn!(%peer, "closing a new connection: max_connections reached");
                        continue;
                    };
                    let (b, p, s) = (broker.clone(), pool.clone(), shutdown.clone());
                    tasks.spawn(async move {
                        connection::serve(b, stream, peer, p, s).await;
                        drop(slot);
                    });
                }
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            open = tasks.len(),
            "closing connections still busy after the grace period"
        );
        tasks.abort_all();
    }
}

/// Total and available bytes of the filesystem holding `path`.
pub fn disk_space(path: &std::path::Path) -> Option<(i64, i64)> {
    sendfile::statvfs(path)
}
