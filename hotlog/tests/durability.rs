//! Written versus durable offsets under each flush policy, and what a failed write does.
#![allow(unsafe_code)]

#[macro_use]
mod common;

use common::*;
use hotlog::{EngineKind, FlushPolicy, HotlogError, Log};

fn os_policy_is_durable_only_after_a_flush(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = small_config();
    config.segment_bytes = 1 << 20; // no roll, which would fsync
    let log = Log::open(dir.path(), config, &engine).expect("open");
    for i in 0..20 {
        append(&log, build(&vec![(500, i)], i as u64), 0);
    }
    let p = block_on(log.wait_written(20)).expect("written");
    assert_eq!(p.durable, 0, "nothing was fsynced");
    let covers = log.flush().expect("flush");
    assert_eq!(covers, 20);
    let p = block_on(log.wait_durable(20)).expect("durable");
    assert_eq!((p.written, p.durable), (20, 20));
}

fn os_policy_roll_makes_the_sealed_segments_durable(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small_config(), &engine).expect("open");
    for i in 0..30 {
        append(&log, build(&vec![(500, i)], i as u64), 0);
    }
    let segments = log.segments();
    assert!(segments.len() >= 3);
    let sealed_end = segments[segments.len() - 1].base_offset;
    let p = block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            log.wait_durable(sealed_end),
        )
        .await
    })
    .expect("a roll makes the sealed segments durable")
    .expect("no failure");
    assert!(
        p.durable >= sealed_end && p.durable < 30,
        "the active segment is not fsynced"
    );
}

fn fsync_policy_reports_appends_durable(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = small_config();
    config.flush = FlushPolicy::Fsync;
    let log = Log::open(dir.path(), config, &engine).expect("open");
    let mut last = 0;
    for i in 0..50u64 {
        last = append(&log, build(&vec![(300, 1)], i), 0).last;
    }
    let p = block_on(log.wait_durable(last + 1)).expect("durable");
    assert_eq!(p.durable, 50);
    assert!(p.written >= p.durable);
}

fn fsync_group_commit_across_partitions(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = small_config();
    config.flush = FlushPolicy::Fsync;
    config.segment_bytes = 1 << 20;
    let logs: Vec<Log> = (0..24)
        .map(|p| {
            Log::open(dir.path().join(format!("t-{p}")), config.clone(), &engine).expect("open")
        })
        .collect();
    // Many partitions' appends queue together, so rounds carry several files to fdatasync.
    let mut expected = vec![Vec::new(); logs.len()];
    for round in 0..20u64 {
        for (p, log) in logs.iter().enumerate() {
            expected[p].push(append(log, build(&vec![(200, 1)], round), 0));
        }
    }
    for (log, batches) in logs.iter().zip(&expected) {
        let p = block_on(log.wait_durable(20)).expect("durable");
        assert_eq!(p.durable, 20);
        assert_eq!(read_all(log, 0, 1 << 20), concat(batches));
    }
}

fn stopped_engine_fails_appends_instead_of_hanging(kind: EngineKind) {
    let engine = engine(kind);
    let dir = tempfile::tempdir().expect("tempdir");
    let log = Log::open(dir.path(), small_config(), &engine).expect("open");
    append(&log, build(&vec![(10, 1)], 1), 0);
    engine.shutdown();
    assert_eq!(
        block_on(log.wait_written(1))
            .expect("queued ops finish first")
            .written,
        1
    );
    assert!(matches!(
        log.append(build(&vec![(10, 1)], 2), 0),
        Err(HotlogError::Closed)
    ));
}

/// Runs in a child process (one per engine) because it lowers the file-size limit of the whole
/// process: writes past it fail with EFBIG, like a full disk fails with ENOSPC.
fn child_write_failure_poisons_the_log(kind: EngineKind) {
    let engine = engine(kind);
    let dir = std::path::PathBuf::from(std::env::var("HOTLOG_FAILURE_DIR").expect("dir"));
    let mut config = small_config();
    config.segment_bytes = 1 << 20;
    // Under fsync the uring engine writes through the ring; otherwise writes are inline.
    if std::env::var("HOTLOG_FAILURE_POLICY").is_ok_and(|p| p == "fsync") {
        config.flush = FlushPolicy::Fsync;
    }
    let log = Log::open(&dir, config.clone(), &engine).expect("open");
    let mut acked = Vec::new();
    let first = append(&log, build(&vec![(1000, 1)], 0), 0);
    block_on(log.wait_written(first.last + 1)).expect("written");
    acked.push(first);
    // SAFETY: ignoring SIGXFSZ turns the signal into an EFBIG error; the limit applies to this
    // child process only.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
        let limit = libc::rlimit {
            rlim_cur: 8192,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &limit), 0);
    }
    let mut failed_at = None;
    for i in 1..100u64 {
        let b =
            try_append(&log, build(&vec![(1000, 1)], i), 0).expect("accepted before any failure");
        match block_on(log.wait_written(b.last + 1)) {
            Ok(_) => acked.push(b),
            Err(e) => {
                assert!(matches!(e, HotlogError::Failed { .. }), "{e}");
                failed_at = Some(b.base);
                break;
            }
        }
    }
    let failed_at = failed_at.expect("a write failed");
    assert!(log.progress().failed);
    assert!(matches!(
        log.append(build(&vec![(10, 1)], 1), 0),
        Err(HotlogError::Failed { .. })
    ));
    assert_eq!(
        log.progress().written,
        failed_at,
        "offsets stop at the failed write"
    );
    assert!(
        log.read(0, 1 << 20, None).is_ok(),
        "acknowledged data stays readable"
    );
    // SAFETY: restores the limit for the reopen below.
    unsafe {
        let unlimited = libc::rlimit {
            rlim_cur: libc::RLIM_INFINITY,
            rlim_max: libc::RLIM_INFINITY,
        };
        assert_eq!(libc::setrlimit(libc::RLIMIT_FSIZE, &unlimited), 0);
    }
    crash(log);
    let log = Log::open(&dir, config, &engine).expect("reopen");
    assert_eq!(
        log.log_end_offset(),
        failed_at,
        "every acknowledged batch is there, nothing after"
    );
    assert_eq!(read_all(&log, 0, 1 << 20), concat(&acked));
}

fn write_failure_poisons_the_log(kind: EngineKind) {
    if std::env::var("HOTLOG_FAILURE_DIR").is_ok() {
        return child_write_failure_poisons_the_log(kind);
    }
    for policy in ["os", "fsync"] {
        let dir = tempfile::tempdir().expect("tempdir");
        let name = format!("{}_engine::write_failure_poisons_the_log", kind);
        let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args(["--exact", &name, "--nocapture", "--test-threads=1"])
            .env("HOTLOG_FAILURE_DIR", dir.path())
            .env("HOTLOG_FAILURE_POLICY", policy)
            .output()
            .expect("child runs");
        assert!(
            out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
            "child ({policy}) failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

for_each_engine!(
    os_policy_is_durable_only_after_a_flush,
    os_policy_roll_makes_the_sealed_segments_durable,
    fsync_policy_reports_appends_durable,
    fsync_group_commit_across_partitions,
    stopped_engine_fails_appends_instead_of_hanging,
    write_failure_poisons_the_log,
);
