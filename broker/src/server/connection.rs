//! One client connection: read a frame, decode it, handle it, write the response, in order.
//!
//! Requests of one connection are handled one at a time, as Kafka does (it mutes a channel
//! until the response is sent): responses go out in request order and a producer's requests
//! to a partition are appended in the order they were sent.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::BufReader;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::broker::Broker;
use crate::handlers::{self, Reply, Request};
use crate::metrics;
use crate::protocol::decode::{DecodeError, decode_request};
use crate::protocol::frame::{FrameError, MemoryPool, read_frame};

use super::sendfile::write_outgoing;

/// Serves a connection until the client closes it, a frame is malformed, or shutdown.
pub(super) async fn serve(
    broker: Arc<Broker>,
    stream: TcpStream,
    peer: SocketAddr,
    pool: MemoryPool,
    shutdown: CancellationToken,
) {
    let span = tracing::info_span!("broker.conn", %peer, client_id = tracing::field::Empty);
    let _open = metrics::ConnectionOpen::track();
    async move {
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "TCP_NODELAY");
        }
        let (read_half, mut write_half) = stream.into_split();
        let mut reader = BufReader::with_capacity(64 * 1024, read_half);
        let max = broker.config.network.request_max_bytes as usize;
        let zero_copy = broker.config.network.sendfile;
        let mut client_known = false;
        loop {
            let frame = tokio::select! {
                _ = shutdown.cancelled() => break,
                f = read_frame(&mut reader, max, &pool) => f,
            };
            let frame = match frame {
                Ok(Some(f)) => f,
                Ok(None) => break,
                Err(FrameError::Io(e)) => {
                    // Resets and the like are how clients often leave; not a protocol error.
                    tracing::debug!(error = %e, "connection closed by the peer");
                    break;
                }
                Err(e) => {
                    tracing::info!(error = %e, "closing connection: bad frame");
                    metrics::request_error("frame");
                    break;
                }
            };
            let bytes = frame.bytes.clone();
            let started = std::time::Instant::now();
            let (response, span, api) = match decode_request(bytes.clone()) {
                Ok(decoded) => {
                    if !client_known {
                        if let Some(id) = &decoded.client_id {
                            tracing::Span::current().record("client_id", id.as_str());
                        }
                        client_known = true;
                    }
                    let api = decoded.api_key;
                    // A root span per request (not a child of the connection's), so each
                    // request is a trace of its own when exported.
                    let span = tracing::info_span!(
                        parent: None,
                        "request",
                        api = ?api,
                        api_version = decoded.api_version,
                        correlation_id = decoded.correlation_id,
                        client_id = decoded.client_id.as_deref().unwrap_or(""),
                        %peer,
                        bytes = bytes.len(),
                        topics = tracing::field::Empty,
                    );
                    let request = Request {
                        decoded,
                        frame: bytes,
                        peer,
                    };
                    let r = handlers::handle(&broker, request)
                        .instrument(span.clone())
                        .await;
                    (r, span, Some(api))
                }
                Err(DecodeError::UnsupportedVersion {
                    api_key,
                    api_version,
                    correlation_id,
                }) => {
                    tracing::info!(api = ?api_key, version = api_version, "unsupported api version");
                    let r = handlers::unsupported(api_key, api_version, correlation_id, &bytes);
                    (r, tracing::Span::none(), None)
                }
                Err(e) => {
                    // Nothing sensible can be answered to bytes that are not a request.
                    tracing::info!(error = %e, "closing connection: undecodable request");
                    metrics::request_error("decode");
                    break;
                }
            };
            // The frame's memory reservation lasts until its request is fully handled.
            drop(frame);
            let keep_open = match response {
                Ok(Reply::Send(out)) => {
                    match write_outgoing(&mut write_half, &out, zero_copy)
                        .instrument(span)
                        .await
                    {
                        Ok(()) => true,
                        Err(e) => {
                            tracing::debug!(error = %e, "closing connection: write failed");
                            false
                        }
                    }
                }
                Ok(Reply::Nothing) => true,
                Ok(Reply::Close(why)) => {
                    tracing::info!(reason = why, "closing connection");
                    false
                }
                Err(e) => {
                    tracing::info!(error = %e, "closing connection: no response can be encoded");
                    false
                }
            };
            // Like Kafka's request total time: from the request read to the response sent.
            if let Some(api) = api {
                metrics::request_done(api, started.elapsed());
            }
            if !keep_open {
                break;
            }
        }
    }
    .instrument(span)
    .await
}
