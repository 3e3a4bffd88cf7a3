//! Frames of the controller RPC protocol: a 4-byte big-endian length, then that many bytes of
//! serde_json. A length above [`MAX_FRAME`] is refused before anything is allocated for it.

use std::io;

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The largest frame either side accepts. Raft messages carry at most a batch of log entries or
/// one snapshot chunk, far below this.
pub(crate) const MAX_FRAME: u32 = 64 * 1024 * 1024;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    /// The peer closed the connection between frames.
    #[error("connection closed")]
    Closed,
    #[error("frame of {0} bytes exceeds the limit of {MAX_FRAME} bytes")]
    TooLarge(u32),
    #[error("malformed frame: {0}")]
    Malformed(#[from] serde_json::Error),
    #[error("{0}")]
    Io(#[from] io::Error),
}

/// Writes `msg` as one frame and flushes.
pub(crate) async fn write_frame<W, T>(w: &mut W, msg: &T) -> Result<(), FrameError>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let body = serde_json::to_vec(msg)?;
    let len = u32::try_from(body.len())
        .ok()
        .filter(|&n| n <= MAX_FRAME)
        .ok_or(FrameError::TooLarge(u32::MAX))?;
    let mut buf = Vec::with_capacity(4 + body.len());
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&body);
    w.write_all(&buf).await?;
    w.flush().await?;
    Ok(())
}

/// Reads one frame and decodes it. Cancel-safe only between frames: a caller that drops the
/// future mid-frame must drop the connection too.
pub(crate) async fn read_frame<R, T>(r: &mut R) -> Result<T, FrameError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    read_frame_within(r, None).await
}

/// [`read_frame`], with the body (once its length has arrived) due within `body_timeout`: a
/// peer that stalls mid-frame cannot hold the connection forever.
pub(crate) async fn read_frame_within<R, T>(
    r: &mut R,
    body_timeout: Option<std::time::Duration>,
) -> Result<T, FrameError>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    let mut head = [0u8; 4];
    match r.read_exact(&mut head).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Err(FrameError::Closed),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(head);
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = vec![0u8; len as usize];
    match body_timeout {
        Some(t) => match tokio::time::timeout(t, r.read_exact(&mut body)).await {
            Ok(read) => read.map(drop)?,
            Err(_) => {
                return Err(FrameError::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "frame body timed out",
                )));
            }
        },
        None => r.read_exact(&mut body).await.map(drop)?,
    }
    Ok(serde_json::from_slice(&body)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_limits() {
        let mut buf = Vec::new();
        write_frame(&mut buf, &vec![1u32, 2, 3])
            .await
            .expect("write");
        let back: Vec<u32> = read_frame(&mut buf.as_slice()).await.expect("read");
        assert_eq!(back, vec![1, 2, 3]);

        // Nothing more: closed between frames.
        let mut empty: &[u8] = &[];
        assert!(matches!(
            read_frame::<_, u32>(&mut empty).await,
            Err(FrameError::Closed)
        ));
        // Oversized: refused from the header alone.
        let mut big: &[u8] = &[0xff, 0xff, 0xff, 0xff];
        assert!(matches!(
            read_frame::<_, u32>(&mut big).await,
            Err(FrameError::TooLarge(u32::MAX))
        ));
        // Not JSON.
        let mut bad: &[u8] = &[0, 0, 0, 2, b'{', b'x'];
        assert!(matches!(
            read_frame::<_, u32>(&mut bad).await,
            Err(FrameError::Malformed(_))
        ));
        // Torn body.
        let mut torn: &[u8] = &[0, 0, 0, 9, b'1'];
        assert!(matches!(
            read_frame::<_, u32>(&mut torn).await,
            Err(FrameError::Io(_))
        ));
    }
}
