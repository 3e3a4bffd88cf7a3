//! The `uring` engine: a whole round in as few `io_uring_enter` calls as the ring allows.
//!
//! Each group becomes a chain: one `WRITEV` per 1024 buffers, linked (`IO_LINK`) to the next and
//! finally to an `FSYNC(DATASYNC)` when the group asks for it. Chains of different files run in
//! parallel in the kernel, so the fdatasyncs of many partitions overlap instead of queueing.
//! A short write breaks its chain (the kernel cancels the rest); such a group, and any that saw
//! `EINTR`/`EAGAIN`, is finished with the std path, which rewrites the same bytes at the same
//! positions and fsyncs.
#![allow(unsafe_code)]

use std::io;
use std::os::fd::AsRawFd;

use io_uring::{IoUring, opcode, squeue, types};

use super::std_io::{IOV_MAX, write_and_sync, write_group};
use super::writer::{Backend, Group};

const FSYNC_PART: u64 = u32::MAX as u64;

/// `io_uring_enter` errors after which the same call is simply made again.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EINTR | libc::EAGAIN | libc::EBUSY)
    )
}

pub(crate) struct UringBackend {
    ring: IoUring,
    /// Set when the ring itself failed; every later round then fails, so logs stop accepting
    /// appends instead of writing through a ring in an unknown state.
    broken: Option<String>,
    /// When the current round began (fdatasync latency is measured from it).
    round_started: std::time::Instant,
}

struct GroupState {
    /// Expected byte count of each writev of the chain.
    expected: Vec<usize>,
    error: Option<io::Error>,
    redo: bool,
}

impl UringBackend {
    pub(crate) fn new(entries: u32) -> io::Result<Self> {
        Ok(UringBackend {
            ring: IoUring::new(entries)?,
            broken: None,
            round_started: std::time::Instant::now(),
        })
    }

    /// Submits what is queued and reaps completions until nothing is in flight.
    fn drain(&mut self, inflight: &mut usize, states: &mut [GroupState]) -> io::Result<()> {
        while *inflight > 0 {
            match self.ring.submit_and_wait(1) {
                Err(e) if !is_transient(&e) => return Err(e),
                _ => {}
            }
            for cqe in self.ring.completion() {
                *inflight -= 1;
                let gi = (cqe.user_data() >> 32) as usize;
                let part = cqe.user_data() & 0xffff_ffff;
                let Some(state) = states.get_mut(gi) else {
                    continue;
                };
                let res = cqe.result();
                if res < 0 {
                    match -res {
                        libc::ECANCELED | libc::EINTR | libc::EAGAIN => state.redo = true,
                        code => {
                            state
                                .error
                                .get_or_insert(io::Error::from_raw_os_error(code));
                        }
                    }
                } else if part == FSYNC_PART {
                    crate::metrics::fsynced("uring", self.round_started.elapsed());
                } else if (res as usize) < state.expected.get(part as usize).copied().unwrap_or(0) {
                    state.redo = true;
                }
            }
        }
        Ok(())
    }
}

impl Backend for UringBackend {
    fn name(&self) -> &'static str {
        "uring"
    }

    fn run(&mut self, groups: &[Group]) -> Vec<io::Result<()>> {
        self.round_started = std::time::Instant::now();
        if let Some(reason) = &self.broken {
            return groups
                .iter()
                .map(|_| {
                    Err(io::Error::other(format!(
                        "io_uring failed earlier: {reason}"
                    )))
                })
                .collect();
        }
        // The iovecs must stay where they are until every completion is reaped: they are built
        // here, never touched again, and dropped at the end of this function.
        let iovecs: Vec<Vec<libc::iovec>> = groups
            .iter()
            .map(|g| {
                g.bufs
                    .iter()
                    .filter(|b| !b.is_empty())
                    .map(|b| libc::iovec {
                        iov_base: b.as_ptr() as *mut libc::c_void,
                        iov_len: b.len(),
                    })
                    .collect()
            })
            .collect();
        let sq_cap = self.ring.params().sq_entries() as usize;
        let cq_cap = self.ring.params().cq_entries() as usize;
        let mut states: Vec<GroupState> = iovecs
            .iter()
            .map(|iov| GroupState {
                expected: iov
                    .chunks(IOV_MAX)
                    .map(|c| c.iter().map(|v| v.iov_len).sum())
                    .collect(),
                error: None,
                redo: false,
            })
            .collect();
        let mut inflight = 0usize;
        let mut queued = 0usize;
        let mut failure: Option<io::Error> = None;
        // Groups without an fsync are written inline while the kernel runs the others' chains:
        // on ext4 a buffered io_uring write is handed to a kernel worker thread anyway, so the
        // ring only adds a thread hop to page-cache copies (measured in docs/benchmarks).
        let mut inline: Vec<usize> = Vec::new();
        for (gi, g) in groups.iter().enumerate() {
            let chunks: Vec<&[libc::iovec]> = iovecs[gi].chunks(IOV_MAX).collect();
            let chain = chunks.len() + usize::from(g.sync);
            if chain == 0 {
                continue;
            }
            if chain > sq_cap {
                states[gi].redo = true;
                continue;
            }
            if !g.sync {
                inline.push(gi);
                continue;
            }
            if queued + chain > sq_cap || inflight + chain > cq_cap {
                if let Err(e) = self.drain(&mut inflight, &mut states) {
                    failure = Some(e);
                    break;
                }
                queued = 0;
            }
            let fd = types::Fd(g.file.as_raw_fd());
            let mut pos = g.pos;
            let mut entries = Vec::with_capacity(chain);
            for (ci, chunk) in chunks.iter().enumerate() {
                let len: usize = chunk.iter().map(|v| v.iov_len).sum();
                let mut e = opcode::Writev::new(fd, chunk.as_ptr(), chunk.len() as u32)
                    .offset(pos)
                    .build()
                    .user_data(((gi as u64) << 32) | ci as u64);
                if ci + 1 < chain {
                    e = e.flags(squeue::Flags::IO_LINK);
                }
                entries.push(e);
                pos += len as u64;
            }
            if g.sync {
                entries.push(
                    opcode::Fsync::new(fd)
                        .flags(types::FsyncFlags::DATASYNC)
                        .build()
                        .user_data(((gi as u64) << 32) | FSYNC_PART),
                );
            }
            // SAFETY: each entry points at iovecs in `iovecs`, which point into `Bytes` held by
            // `groups`; both outlive this call, and `drain` below reaps every completion before
            // the function returns. The file descriptors are kept open by the groups' `Arc<File>`.
            // The queue has room: `queued + chain <= sq_cap` was ensured above.
            let pushed = unsafe { self.ring.submission().push_multiple(&entries) };
            if pushed.is_err() {
                states[gi].redo = true;
                continue;
            }
            queued += chain;
            inflight += chain;
        }
        // Start the queued chains now; `drain` waits for them after the inline writes.
        if failure.is_none()
            && inflight > 0
            && let Err(e) = self.ring.submit()
            && !is_transient(&e)
        {
            failure = Some(e);
        }
        let mut inline_results: Vec<(usize, io::Result<()>)> = Vec::with_capacity(inline.len());
        for gi in inline {
            inline_results.push((gi, write_group(&groups[gi])));
        }
        if failure.is_none()
            && let Err(e) = self.drain(&mut inflight, &mut states)
        {
            failure = Some(e);
        }
        if let Some(e) = failure {
            tracing::error!(error = %e, "io_uring submission failed; the uring engine stops writing");
            self.broken = Some(e.to_string());
            // Ops may still be in flight in the kernel; the buffers they read are leaked on
            // purpose so the kernel never reads freed memory.
            std::mem::forget(iovecs);
            for g in groups {
                std::mem::forget(g.bufs.clone());
            }
            return groups
                .iter()
                .map(|_| Err(io::Error::other(format!("io_uring failed: {e}"))))
                .collect();
        }
        for (gi, r) in inline_results {
            if let Err(e) = r {
                states[gi].error = Some(e);
            }
        }
        groups
            .iter()
            .zip(states)
            .map(|(g, s)| {
                if let Some(e) = s.error {
                    return Err(e);
                }
                if s.redo {
                    return write_and_sync(g);
                }
                Ok(())
            })
            .collect()
    }
}
