//! A small async Kafka-protocol client for broker-to-broker calls (replica fetches,
//! OffsetForLeaderEpoch, ListOffsets): one connection, one request at a time, correlation ids
//! checked, response frames capped in size, every call bounded by a timeout. It reconnects on
//! the next call after any failure; the caller backs off.

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Why a call failed. Every variant drops the connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("i/o with {addr}: {source}")]
    Io {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{addr} did not answer within {0:?}", .timeout)]
    TimedOut { addr: String, timeout: Duration },
    #[error("response frame of {size} bytes from {addr} exceeds {max}")]
    FrameTooLarge { addr: String, size: i64, max: usize },
    #[error("response from {addr} has correlation id {got}, expected {expected}")]
    Correlation {
        addr: String,
        got: i32,
        expected: i32,
    },
    #[error("encoding or decoding {api:?}: {message}")]
    Codec { api: ApiKey, message: String },
}

/// One connection to a broker's Kafka listener.
#[derive(Debug)]
pub struct Client {
    addr: String,
    client_id: StrBytes,
    max_frame: usize,
    stream: Option<TcpStream>,
    next_correlation: i32,
}

impl Client {
    /// A client for `addr` (`host:port`); connects on the first call.
    pub fn new(addr: String, client_id: &str, max_frame: usize) -> Client {
        Client {
            addr,
            client_id: StrBytes::from_string(client_id.to_owned()),
            max_frame,
            stream: None,
            next_correlation: 1,
        }
    }

    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Drops the connection (the next call reconnects).
    pub fn disconnect(&mut self) {
        self.stream = None;
    }

    /// Sends `req` as `api` v`version` and decodes the answer, within `timeout` (connection
    /// included). Not cancel-safe: a dropped call leaves the connection in an unknown state, so
    /// it is dropped on the next call (the stream is taken for the call's duration).
    pub async fn call<Req, Resp>(
        &mut self,
        api: ApiKey,
        version: i16,
        req: &Req,
        timeout: Duration,
    ) -> Result<Resp, ClientError>
    where
        Req: Encodable + HeaderVersion,
        Resp: Decodable + HeaderVersion,
    {
        let addr = self.addr.clone();
        match tokio::time::timeout(timeout, self.call_inner(api, version, req)).await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => {
                self.stream = None;
                Err(e)
            }
            Err(_) => {
                self.stream = None;
                Err(ClientError::TimedOut { addr, timeout })
            }
        }
    }

    async fn call_inner<Req, Resp>(
        &mut self,
        api: ApiKey,
        version: i16,
        req: &Req,
    ) -> Result<Resp, ClientError>
    where
        Req: Encodable + HeaderVersion,
        Resp: Decodable + HeaderVersion,
    {
        let codec = |e: anyhow::Error| ClientError::Codec {
            api,
            message: e.to_string(),
        };
        let mut stream = match self.stream.take() {
            Some(s) => s,
            None => {
                let s = TcpStream::connect(&self.addr).await.map_err(|source| {
                    ClientError::Connect {
                        addr: self.addr.clone(),
                        source,
                    }
                })?;
                let _ = s.set_nodelay(true);
                s
            }
        };
        let id = self.next_correlation;
        self.next_correlation = self.next_correlation.wrapping_add(1);
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(id)
            .with_client_id(Some(self.client_id.clone()));
        let mut buf = BytesMut::with_capacity(256);
        buf.put_i32(0);
        header
            .encode(&mut buf, Req::header_version(version))
            .map_err(codec)?;
        req.encode(&mut buf, version).map_err(codec)?;
        let len = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        let io = |source| ClientError::Io {
            addr: self.addr.clone(),
            source,
        };
        stream.write_all(&buf).await.map_err(io)?;
        let size = stream.read_i32().await.map_err(io)?;
        if size < 0 || size as usize > self.max_frame {
            return Err(ClientError::FrameTooLarge {
                addr: self.addr.clone(),
                size: i64::from(size),
                max: self.max_frame,
            });
        }
        let mut frame = vec![0u8; size as usize];
        stream.read_exact(&mut frame).await.map_err(io)?;
        let mut frame = Bytes::from(frame);
        let rh =
            ResponseHeader::decode(&mut frame, Resp::header_version(version)).map_err(codec)?;
        if rh.correlation_id != id {
            return Err(ClientError::Correlation {
                addr: self.addr.clone(),
                got: rh.correlation_id,
                expected: id,
            });
        }
        let resp = Resp::decode(&mut frame, version).map_err(codec)?;
        if frame.has_remaining() {
            tracing::debug!(api = ?api, trailing = frame.remaining(), "trailing bytes in a response");
        }
        self.stream = Some(stream);
        Ok(resp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ApiVersionsRequest, ApiVersionsResponse};
    use tokio::net::TcpListener;

    /// A fake broker that answers with a wrong correlation id, then with an oversized frame.
    #[tokio::test]
    async fn bad_answers_are_errors_and_drop_the_connection() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            for answer in [0i32, 1] {
                let (mut s, _) = listener.accept().await.unwrap();
                let len = s.read_i32().await.unwrap();
                let mut req = vec![0u8; len as usize];
                s.read_exact(&mut req).await.unwrap();
                if answer == 0 {
                    let mut out = BytesMut::new();
                    out.put_i32(4);
                    out.put_i32(999);
                    s.write_all(&out).await.unwrap();
                } else {
                    s.write_all(&(1i32 << 30).to_be_bytes()).await.unwrap();
                }
            }
        });
        let mut c = Client::new(addr, "test", 1 << 20);
        let t = Duration::from_secs(5);
        let e = c
            .call::<_, ApiVersionsResponse>(
                ApiKey::ApiVersions,
                0,
                &ApiVersionsRequest::default(),
                t,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(e, ClientError::Correlation { got: 999, .. }),
            "{e}"
        );
        let e = c
            .call::<_, ApiVersionsResponse>(
                ApiKey::ApiVersions,
                0,
                &ApiVersionsRequest::default(),
                t,
            )
            .await
            .unwrap_err();
        assert!(matches!(e, ClientError::FrameTooLarge { .. }), "{e}");
    }
}
