//! Whether io_uring can run here: creating a ring, probing the opcodes the engine uses, and one
//! no-op round trip (a seccomp filter may allow `io_uring_setup` but deny `io_uring_enter`).

use std::io;

use io_uring::{IoUring, Probe, opcode};

/// Returns why the uring engine cannot run here, if it cannot: `EPERM` (seccomp, or
/// `kernel.io_uring_disabled`), `ENOSYS` (an old kernel), or a missing opcode.
pub fn probe_uring() -> io::Result<()> {
    let mut ring = IoUring::new(8)?;
    let mut probe = Probe::new();
    ring.submitter().register_probe(&mut probe)?;
    for (code, name) in [
        (opcode::Writev::CODE, "writev"),
        (opcode::Fsync::CODE, "fsync"),
        (opcode::Nop::CODE, "nop"),
    ] {
        if !probe.is_supported(code) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("io_uring opcode {name} is not supported by this kernel"),
            ));
        }
    }
    let nop = opcode::Nop::new().build().user_data(7);
    // SAFETY: a nop references no memory.
    #[allow(unsafe_code)]
    unsafe {
        ring.submission()
            .push(&nop)
            .map_err(|_| io::Error::other("io_uring submission queue full"))?;
    }
    ring.submit_and_wait(1)?;
    match ring.completion().next() {
        Some(cqe) if cqe.result() >= 0 => Ok(()),
        Some(cqe) => Err(io::Error::from_raw_os_error(-cqe.result())),
        None => Err(io::Error::other(
            "io_uring returned no completion for a nop",
        )),
    }
}
