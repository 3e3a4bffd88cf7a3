//! When a seccomp filter denies io_uring (as Docker's default profile does), `auto` falls back to
//! the std engine and `uring` reports a clear error; nothing panics.
#![allow(unsafe_code)]

mod common;

use common::*;
use hotlog::{Engine, EngineConfig, EngineKind, HotlogError, Log};

/// Makes io_uring_setup, io_uring_enter and io_uring_register (425-427 on x86_64 and aarch64)
/// fail with EPERM in the calling thread and the threads it spawns afterwards.
fn deny_io_uring_in_this_thread() {
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K
    let ins = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut filter = [
        ins(LD_W_ABS, 0, 0, 0), // seccomp_data.nr
        ins(JEQ_K, 3, 0, 425),
        ins(JEQ_K, 2, 0, 426),
        ins(JEQ_K, 1, 0, 427),
        ins(RET_K, 0, 0, libc::SECCOMP_RET_ALLOW),
        ins(RET_K, 0, 0, libc::SECCOMP_RET_ERRNO | libc::EPERM as u32),
    ];
    let prog = libc::sock_fprog {
        len: filter.len() as u16,
        filter: filter.as_mut_ptr(),
    };
    // SAFETY: prctl with a valid, fully initialised filter program that outlives the call; the
    // filter only affects this thread (no TSYNC) and its future children.
    unsafe {
        assert_eq!(libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
        assert_eq!(
            libc::prctl(
                libc::PR_SET_SECCOMP,
                libc::SECCOMP_MODE_FILTER,
                &prog as *const libc::sock_fprog
            ),
            0,
            "installing the seccomp filter: {}",
            std::io::Error::last_os_error()
        );
    }
}

#[test]
fn auto_falls_back_to_std_and_uring_reports_the_refusal() {
    std::thread::spawn(|| {
        deny_io_uring_in_this_thread();
        let probe = hotlog::probe_uring().expect_err("io_uring is denied");
        assert_eq!(probe.raw_os_error(), Some(libc::EPERM));

        match Engine::start(&EngineConfig::with_kind(EngineKind::Uring)) {
            Err(HotlogError::EngineUnavailable {
                engine: "uring",
                source,
            }) => {
                assert_eq!(source.raw_os_error(), Some(libc::EPERM));
            }
            other => panic!("forcing uring must fail clearly, got {other:?}"),
        }

        let engine =
            Engine::start(&EngineConfig::with_kind(EngineKind::Auto)).expect("auto starts");
        assert_eq!(engine.kind(), EngineKind::Std);
        let dir = tempfile::tempdir().expect("tempdir");
        let log = Log::open(dir.path(), small_config(), &engine).expect("open");
        let b = append(&log, build(&vec![(100, 1)], 1), 0);
        block_on(log.wait_written(1)).expect("written");
        assert_eq!(read_all(&log, 0, 1 << 20), b.bytes);
        engine.shutdown();
    })
    .join()
    .expect("no panic");
}

#[test]
fn auto_picks_uring_where_it_is_allowed() {
    if skip_uring() {
        return;
    }
    let engine = Engine::start(&EngineConfig::default()).expect("auto starts");
    assert_eq!(engine.kind(), EngineKind::Uring);
}
