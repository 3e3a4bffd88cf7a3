//! Writing responses to a socket: memory chunks with write, file regions with sendfile(2).
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;

use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;

use crate::protocol::response::{Chunk, Outgoing};

/// Largest single sendfile call (Linux caps one call near 2 GiB anyway).
const MAX_SENDFILE: u64 = 1 << 30;

/// Writes a whole response. With `zero_copy` false, file regions are read into memory first
/// (the path TLS connections will take).
pub(super) async fn write_outgoing(
    out: &mut OwnedWriteHalf,
    response: &Outgoing,
    zero_copy: bool,
) -> io::Result<()> {
    for chunk in &response.chunks {
        match chunk {
            Chunk::Bytes(b) => out.write_all(b).await?,
            Chunk::File(slice) if zero_copy => {
                send_file(out.as_ref(), slice.file.as_ref(), slice.position, slice.len).await?
            }
            Chunk::File(slice) => {
                let bytes = slice.read_to_vec()?;
                out.write_all(&bytes).await?;
            }
        }
    }
    Ok(())
}

/// Sends `len` bytes of `file` from `position` to the socket without copying them through
/// user space. A file shorter than expected (truncated under us) is an error: the response
/// length is already on the wire, so the connection must close.
async fn send_file(
    socket: &TcpStream,
    file: &std::fs::File,
    mut position: u64,
    mut len: u64,
) -> io::Result<()> {
    let socket_fd = socket.as_raw_fd();
    let file_fd = file.as_raw_fd();
    while len > 0 {
        socket.writable().await?;
        let sent = socket.try_io(Interest::WRITABLE, || {
            let mut offset = position as libc::off_t;
            let count = len.min(MAX_SENDFILE) as usize;
            // SAFETY: both descriptors are open for the duration of the call (the socket is
            // borrowed, the file is kept alive by the caller's Arc); `offset` is a valid local
            // the kernel updates; sendfile does not touch user memory otherwise.
            let n = unsafe { libc::sendfile(socket_fd, file_fd, &mut offset, count) };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as u64)
            }
        });
        match sent {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "segment file ended before the region being sent",
                ));
            }
            Ok(n) => {
                position += n;
                len -= n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Total and available bytes of the filesystem holding `path` (statvfs(3)).
pub(super) fn statvfs(path: &std::path::Path) -> Option<(i64, i64)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::zeroed();
    // SAFETY: `c` is a valid NUL-terminated path and `st` points to writable memory of the
    // right type; on success statvfs fills it completely.
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so the struct is initialised.
    let st = unsafe { st.assume_init() };
    let frsize = st.f_frsize as i64;
    Some((st.f_blocks as i64 * frsize, st.f_bavail as i64 * frsize))
}
