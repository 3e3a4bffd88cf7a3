//! The `std` engine: pwritev + fdatasync, one call after another on the writer thread.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;

use super::writer::{Backend, Group};

/// Most iovecs one pwritev/writev takes (Linux's IOV_MAX).
pub(crate) const IOV_MAX: usize = 1024;

#[derive(Debug)]
pub(crate) struct StdBackend;

impl Backend for StdBackend {
    fn name(&self) -> &'static str {
        "std"
    }

    fn run(&mut self, groups: &[Group]) -> Vec<io::Result<()>> {
        let to_sync: Vec<usize> = (0..groups.len()).filter(|&i| groups[i].sync).collect();
        let mut results: Vec<Option<io::Result<()>>> = (0..groups.len()).map(|_| None).collect();
        if to_sync.len() <= 1 {
            for (i, g) in groups.iter().enumerate() {
                results[i] = Some(write_and_sync(g));
            }
        } else {
            // Several files to fdatasync: each one's write + fdatasync runs on a worker thread,
            // so the fsyncs overlap (the file system commits their journal transactions
            // together, as io_uring's kernel workers make it do for the uring engine) while
            // this thread writes the groups that need no fsync.
            let next = AtomicUsize::new(0);
            let workers = to_sync.len().min(MAX_SYNC_THREADS);
            std::thread::scope(|scope| {
                let handles: Vec<_> = (0..workers)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut done = Vec::new();
                            while let Some(&i) = to_sync.get(next.fetch_add(1, Ordering::Relaxed)) {
                                done.push((i, write_and_sync(&groups[i])));
                            }
                            done
                        })
                    })
                    .collect();
                for (i, g) in groups.iter().enumerate() {
                    if !g.sync {
                        results[i] = Some(write_group(g));
                    }
                }
                for h in handles {
                    if let Ok(done) = h.join() {
                        for (i, r) in done {
                            results[i] = Some(r);
                        }
                    }
                }
            });
        }
        results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(io::Error::other("fdatasync worker thread panicked"))))
            .collect()
    }
}

/// Most threads one round's fdatasyncs are spread over.
const MAX_SYNC_THREADS: usize = 32;

/// Writes a group, then fdatasyncs its file if the group asks for it.
pub(crate) fn write_and_sync(g: &Group) -> io::Result<()> {
    write_group(g)?;
    if g.sync {
        let started = std::time::Instant::now();
        g.file.sync_data()?;
        crate::metrics::fsynced("std", started.elapsed());
    }
    Ok(())
}

/// Writes all of a group's buffers at its position, resuming after short writes.
pub(crate) fn write_group(g: &Group) -> io::Result<()> {
    pwritev_all(g.file.as_raw_fd(), g.pos, &g.bufs)
}

fn pwritev_all(fd: i32, mut pos: u64, bufs: &[Bytes]) -> io::Result<()> {
    let mut idx = 0;
    let mut skip = 0usize;
    while idx < bufs.len() {
        if bufs[idx].len() == skip {
            idx += 1;
            skip = 0;
            continue;
        }
        let iov: Vec<libc::iovec> = bufs[idx..]
            .iter()
            .take(IOV_MAX)
            .enumerate()
            .map(|(i, b)| {
                let s = if i == 0 { &b[skip..] } else { &b[..] };
                libc::iovec {
                    iov_base: s.as_ptr() as *mut libc::c_void,
                    iov_len: s.len(),
                }
            })
            .collect();
        let offset = libc::off_t::try_from(pos).map_err(|_| {
            io::Error::new(io::ErrorKind::InvalidInput, "file position overflows off_t")
        })?;
        // SAFETY: every iovec points into a `Bytes` borrowed from `bufs` for the whole call, with
        // its exact length; pwritev only reads them. `fd` is an open file owned by the group.
        let n = unsafe { libc::pwritev(fd, iov.as_ptr(), iov.len() as libc::c_int, offset) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "pwritev wrote nothing",
            ));
        }
        let mut n = n as usize;
        pos += n as u64;
        while n > 0 && idx < bufs.len() {
            let rem = bufs[idx].len() - skip;
            if n >= rem {
                n -= rem;
                idx += 1;
                skip = 0;
            } else {
                skip += n;
                n = 0;
            }
        }
    }
    Ok(())
}
