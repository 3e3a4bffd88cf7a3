//! The frame layer: a 4-byte big-endian length, then that many bytes of request.
//!
//! Every length is checked against `socket.request.max.bytes` before a byte of the body is
//! buffered, and the body's memory is reserved from a broker-wide pool first (Kafka's
//! `queued.max.request.bytes`), so many connections sending big frames at once wait instead of
//! exhausting memory.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The smallest request: api key, api version and correlation id.
pub const MIN_REQUEST_LEN: usize = 8;

/// How much of a frame's body is reserved and read at a time.
const READ_PIECE: usize = 1 << 20;

/// Why a frame could not be read. Each ends the connection: after a bad length the stream has
/// no reliable frame boundary left.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    #[error("request of {len} bytes is larger than socket.request.max.bytes ({max})")]
    TooLarge { len: u64, max: usize },
    #[error("request of {len} bytes is shorter than a request header")]
    TooShort { len: i64 },
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error("reading from the socket")]
    Io(#[source] std::io::Error),
}

/// Bytes of request bodies the broker holds at once, over all connections.
#[derive(Debug, Clone)]
pub struct MemoryPool {
    permits: Arc<Semaphore>,
    capacity: usize,
}

impl MemoryPool {
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.clamp(1, Semaphore::MAX_PERMITS);
        MemoryPool {
            permits: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes not reserved right now.
    pub fn available(&self) -> usize {
        self.permits.available_permits()
    }

    pub(crate) async fn reserve(&self, bytes: usize) -> OwnedSemaphorePermit {
        let n = bytes.clamp(1, self.capacity.min(u32::MAX as usize)) as u32;
        // The semaphore is never closed, so acquiring only waits.
        match self.permits.clone().acquire_many_owned(n).await {
            Ok(p) => p,
            Err(_) => unreachable!("the memory pool's semaphore is never closed"),
        }
    }
}

/// A request body and the pool reservation that accounts for it; the reservation is returned
/// when the frame (and every `Bytes` cut from it) is dropped by the handler.
#[derive(Debug)]
pub struct Frame {
    pub bytes: Bytes,
    pub _reservation: OwnedSemaphorePermit,
}

/// Reads one frame. `Ok(None)` is a clean end of stream between frames.
pub async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max_len: usize,
    pool: &MemoryPool,
) -> Result<Option<Frame>, FrameError> {
    let mut len_buf = [0u8; 4];
    match reader.read(&mut len_buf[..1]).await {
        Ok(0) => return Ok(None),
        Ok(_) => {}
        Err(e) => return Err(FrameError::Io(e)),
    }
    read_exact(reader, &mut len_buf[1..]).await?;
    let len = i32::from_be_bytes(len_buf);
    if len < MIN_REQUEST_LEN as i32 {
        return Err(FrameError::TooShort { len: len.into() });
    }
    let len = len as usize;
    if len > max_len {
        return Err(FrameError::TooLarge {
            len: len as u64,
            max: max_len,
        });
    }
    // The body is read in pieces, each reserved from the pool as it arrives: a frame that
    // announces 100 MiB and sends 10 bytes holds 10 bytes, not 100 MiB, so slow or lying
    // clients cannot starve everyone else of the pool.
    let mut reservation = pool.reserve(len.min(READ_PIECE)).await;
    let mut reserved = len.min(READ_PIECE);
    let mut buf = BytesMut::with_capacity(len.min(READ_PIECE));
    while buf.len() < len {
        if buf.len() == reserved {
            let more = (len - reserved).min(READ_PIECE);
            reservation.merge(pool.reserve(more).await);
            reserved += more;
        }
        buf.reserve(reserved - buf.len());
        let mut piece = (&mut *reader).take((reserved - buf.len()) as u64);
        match piece.read_buf(&mut buf).await {
            Ok(0) => return Err(FrameError::Truncated),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                return Err(FrameError::Truncated);
            }
            Err(e) => return Err(FrameError::Io(e)),
        }
    }
    Ok(Some(Frame {
        bytes: buf.freeze(),
        _reservation: reservation,
    }))
}

async fn read_exact<R: AsyncRead + Unpin>(
    reader: &mut R,
    buf: &mut [u8],
) -> Result<(), FrameError> {
    match reader.read_exact(buf).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(FrameError::Truncated),
        Err(e) => Err(FrameError::Io(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(bytes: &[u8], max: usize) -> Result<Option<Frame>, FrameError> {
        let mut r = bytes;
        read_frame(&mut r, max, &MemoryPool::new(1 << 20)).await
    }

    #[tokio::test]
    async fn reads_frames_and_clean_eof() {
        let mut wire = Vec::new();
        for body in [&b"12345678"[..], b"abcdefghij"] {
            wire.extend_from_slice(&(body.len() as i32).to_be_bytes());
            wire.extend_from_slice(body);
        }
        let pool = MemoryPool::new(1 << 20);
        let mut r = &wire[..];
        let a = read_frame(&mut r, 100, &pool).await.unwrap().unwrap();
        assert_eq!(&a.bytes[..], b"12345678");
        let b = read_frame(&mut r, 100, &pool).await.unwrap().unwrap();
        assert_eq!(&b.bytes[..], b"abcdefghij");
        assert!(read_frame(&mut r, 100, &pool).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn rejects_bad_lengths_before_reading_bodies() {
        assert!(matches!(
            read(&0x7fff_ffffi32.to_be_bytes(), 1000).await,
            Err(FrameError::TooLarge { .. })
        ));
        assert!(matches!(
            read(&(-5i32).to_be_bytes(), 1000).await,
            Err(FrameError::TooShort { .. })
        ));
        assert!(matches!(
            read(&3i32.to_be_bytes(), 1000).await,
            Err(FrameError::TooShort { .. })
        ));
        assert!(matches!(
            read(&[0, 0], 1000).await,
            Err(FrameError::Truncated)
        ));
        let mut short = 20i32.to_be_bytes().to_vec();
        short.extend_from_slice(b"only ten b");
        assert!(matches!(
            read(&short, 1000).await,
            Err(FrameError::Truncated)
        ));
    }

    #[tokio::test]
    async fn a_frame_holds_only_what_has_arrived() {
        let pool = MemoryPool::new(8 << 20);
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        let reader = {
            let pool = pool.clone();
            tokio::spawn(async move { read_frame(&mut server, 64 << 20, &pool).await })
        };
        use tokio::io::AsyncWriteExt;
        client
            .write_all(&(50i32 << 20).to_be_bytes())
            .await
            .unwrap();
        client.write_all(&[7u8; 100]).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        // A 50 MiB frame with 100 bytes sent holds one piece, not 50 MiB.
        assert!(
            pool.available() >= (8 << 20) - READ_PIECE,
            "{}",
            pool.available()
        );
        drop(client);
        assert!(matches!(reader.await.unwrap(), Err(FrameError::Truncated)));
        assert_eq!(pool.available(), 8 << 20);
    }

    #[tokio::test]
    async fn frames_larger_than_a_piece_are_read_whole() {
        let pool = MemoryPool::new(16 << 20);
        let body: Vec<u8> = (0..3 * READ_PIECE + 17).map(|i| i as u8).collect();
        let mut wire = (body.len() as i32).to_be_bytes().to_vec();
        wire.extend_from_slice(&body);
        let mut r = &wire[..];
        let f = read_frame(&mut r, 64 << 20, &pool).await.unwrap().unwrap();
        assert_eq!(&f.bytes[..], &body[..]);
        assert_eq!(pool.available(), (16 << 20) - body.len());
    }

    #[tokio::test]
    async fn reservations_return_to_the_pool() {
        let pool = MemoryPool::new(100);
        let mut wire = 40i32.to_be_bytes().to_vec();
        wire.extend_from_slice(&[0u8; 40]);
        let mut r = &wire[..];
        let f = read_frame(&mut r, 100, &pool).await.unwrap().unwrap();
        assert_eq!(pool.available(), 60);
        drop(f);
        assert_eq!(pool.available(), 100);
    }
}
