//! The writer-thread loop shared by both engines: gather a round of ops, coalesce each file's
//! contiguous writes into one group, let the backend run the groups, then complete the ops in
//! submission order (running jobs at their place in that order, and handing background ops to
//! the shard's background thread).

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::Instant;

use bytes::Bytes;

use super::{Done, Job, Op};
use crate::metrics;

/// Ops taken into one round at most, whatever their size.
const MAX_ROUND_OPS: usize = 8192;

/// Contiguous writes to one file, and whether the file is fdatasynced after them.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) file: Arc<File>,
    pub(crate) pos: u64,
    pub(crate) bufs: Vec<Bytes>,
    pub(crate) len: u64,
    pub(crate) sync: bool,
}

/// What executes a round's groups: io_uring or plain syscalls.
pub(crate) trait Backend: Send {
    fn name(&self) -> &'static str;
    /// Writes every group's buffers at its position, then fdatasyncs the groups that ask for it.
    /// Returns one result per group, in order.
    fn run(&mut self, groups: &[Group]) -> Vec<io::Result<()>>;
}

enum Slot {
    Group(usize),
    Job(Job),
    Background(Job),
}

/// Copies an io error for the several ops that share one group's result.
pub(crate) fn dup_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// The writer loop of one shard. Background ops are forwarded to `background` when their round
/// completes, so they run after every op queued before them, off the writer thread.
pub(crate) fn run(
    rx: Receiver<Op>,
    mut backend: Box<dyn Backend>,
    max_round_bytes: usize,
    background: Sender<(Job, Done)>,
) {
    let engine = backend.name();
    let mut stop = false;
    while !stop {
        let Ok(first) = rx.recv() else { break };
        let mut ops = vec![first];
        let mut bytes = 0usize;
        while ops.len() < MAX_ROUND_OPS && bytes < max_round_bytes {
            match rx.try_recv() {
                Ok(op) => {
                    if let Op::Write { data, .. } = &op {
                        bytes += data.len();
                    }
                    ops.push(op);
                }
                Err(_) => break,
            }
        }
        let started = Instant::now();
        let mut groups: Vec<Group> = Vec::new();
        let mut last_group: HashMap<RawFd, usize> = HashMap::new();
        let mut slots: Vec<(Slot, Done)> = Vec::with_capacity(ops.len());
        for op in ops {
            match op {
                Op::Write {
                    file,
                    pos,
                    data,
                    sync,
                    done,
                } => {
                    let fd = file.as_raw_fd();
                    let gi = match last_group.get(&fd) {
                        Some(&g) if groups[g].pos + groups[g].len == pos => g,
                        _ => {
                            groups.push(Group {
                                file,
                                pos,
                                bufs: Vec::new(),
                                len: 0,
                                sync: false,
                            });
                            last_group.insert(fd, groups.len() - 1);
                            groups.len() - 1
                        }
                    };
                    let g = &mut groups[gi];
                    g.len += data.len() as u64;
                    g.bufs.push(data);
                    g.sync |= sync;
                    slots.push((Slot::Group(gi), done));
                }
                Op::Sync { file, done } => {
                    let fd = file.as_raw_fd();
                    let gi = match last_group.get(&fd) {
                        Some(&g) => g,
                        None => {
                            groups.push(Group {
                                file,
                                pos: 0,
                                bufs: Vec::new(),
                                len: 0,
                                sync: true,
                            });
                            last_group.insert(fd, groups.len() - 1);
                            groups.len() - 1
                        }
                    };
                    groups[gi].sync = true;
                    slots.push((Slot::Group(gi), done));
                }
                Op::Job { job, done } => slots.push((Slot::Job(job), done)),
                Op::Background { job, done } => slots.push((Slot::Background(job), done)),
                Op::Stop => stop = true,
            }
        }
        let results = if groups.is_empty() {
            Vec::new()
        } else {
            backend.run(&groups)
        };
        metrics::round(engine, &groups, started.elapsed());
        for (slot, done) in slots {
            let result = match slot {
                Slot::Group(g) => match &results[g] {
                    Ok(()) => Ok(()),
                    Err(e) => Err(dup_error(e)),
                },
                Slot::Job(job) => job(),
                Slot::Background(job) => {
                    // If the background thread is gone, dropping the op completes it with an
                    // error.
                    let _ = background.send((job, done));
                    continue;
                }
            };
            done.complete(result);
        }
    }
}

/// The background thread of one shard: runs what the writer forwards, one after another, until
/// the writer ends.
pub(crate) fn run_background(rx: Receiver<(Job, Done)>) {
    while let Ok((job, done)) = rx.recv() {
        done.complete(job());
    }
}
