//! `strata-bench` against real `strata` broker processes on 127.0.0.1: every workload writes
//! its JSON with non-zero figures, `compare` writes both runs, Ctrl-C still writes results,
//! and an unreachable broker is a clear error.
//!
//! Needs the `strata` binary of the same target directory (`cargo build -p broker`, which
//! `cargo nextest run --workspace` does).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use benches::load::result::{Comparison, RunResult};

const BENCH: &str = env!("CARGO_BIN_EXE_strata-bench");

fn strata_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    // target/<profile>/deps/strata_bench-<hash> -> target/<profile>/strata
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|d| d.join("strata"))
        .expect("target directory");
    assert!(
        bin.exists(),
        "{} not found: run `cargo build -p broker` first",
        bin.display()
    );
    bin
}

/// A `strata` process with its own data directory and log file; killed on drop.
struct Broker {
    child: Child,
    log: PathBuf,
    bootstrap: String,
    /// `http://127.0.0.1:PORT/metrics` of its Prometheus endpoint.
    metrics: String,
    _dir: tempfile::TempDir,
}

impl Broker {
    fn start() -> Broker {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("strata.log");
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(strata_binary())
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.path().join("data"))
            .env("STRATA_METRICS_LISTEN", "127.0.0.1:0")
            .env("RUST_LOG", "info")
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start strata");
        let mut broker = Broker {
            child,
            log,
            bootstrap: String::new(),
            metrics: String::new(),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&broker.log).unwrap_or_default();
            if let Some(line) = text.lines().find(|l| l.contains("strata node started")) {
                broker.bootstrap = field(line, "listen=").expect("listen= in the start line");
                let metrics = field(line, "metrics=").expect("metrics= in the start line");
                broker.metrics = format!("http://{metrics}/metrics");
                return broker;
            }
            if let Ok(Some(status)) = broker.child.try_wait() {
                panic!("strata exited with {status} before starting");
            }
            assert!(Instant::now() < deadline, "strata did not start in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

fn field(line: &str, name: &str) -> Option<String> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name))
        .map(str::to_string)
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let text = std::fs::read_to_string(&self.log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            eprintln!("--- last lines of {} ---", self.log.display());
            for l in &lines[lines.len().saturating_sub(40)..] {
                eprintln!("{l}");
            }
        }
    }
}

fn bench(args: &[&str]) -> std::process::Output {
    let out = Command::new(BENCH)
        .args(args)
        .output()
        .expect("run strata-bench");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    out
}

fn read_run(path: &Path) -> RunResult {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("a RunResult")
}

fn assert_measured(r: &RunResult) {
    let p = r.produce.expect("produce figures");
    assert!(
        p.records > 0 && p.bytes > 0 && p.mb_per_s > 0.0,
        "{}",
        r.workload
    );
    assert!(
        r.produce_latency
            .as_ref()
            .is_some_and(|l| l.count > 0 && l.p99_ms > 0.0)
    );
    let c = r.consume.expect("consume figures");
    assert!(c.records > 0, "{}: nothing consumed", r.workload);
    if let Some(cu) = r.catch_up {
        assert_eq!(
            cu.records, p.records,
            "catch-up reads every acknowledged record"
        );
        assert!(cu.bytes > 0 && cu.mb_per_s > 0.0 && cu.first_record_ms > 0.0);
    } else {
        assert!(r.end_to_end_latency.as_ref().is_some_and(|l| l.count > 0));
        assert!(!r.timeline.is_empty());
    }
    assert!(!r.interrupted);
    assert!(r.environment.client.starts_with("librdkafka"));
    assert!(r.cpu.broker_s.is_some(), "broker CPU from --broker-pid");
}

#[test]
fn every_workload_writes_its_result() {
    let broker = Broker::start();
    let out = tempfile::tempdir().expect("tempdir");
    let pid = broker.pid().to_string();
    let o = bench(&[
        "run",
        "--bootstrap",
        &broker.bootstrap,
        "--workload",
        "all",
        "--duration",
        "2s",
        "--warmup",
        "0s",
        "--catch-up-bytes",
        "20000000",
        "--settle",
        "1s",
        "--broker-pid",
        &pid,
        "--out",
        out.path().to_str().expect("utf-8 path"),
    ]);
    assert!(o.status.success(), "strata-bench failed: {}", o.status);
    assert!(out.path().join("summary.md").exists());
    for w in benches::load::workload::WORKLOADS {
        let r = read_run(&out.path().join(format!("{}.json", w.name)));
        assert_eq!(r.workload, w.name);
        assert_measured(&r);
        let file = |suffix: &str| out.path().join(format!("{}{suffix}", w.name));
        assert!(file(".md").exists(), "{}.md", w.name);
        if !w.is_catch_up() {
            for png in ["-latency.png", "-throughput.png"] {
                let bytes = std::fs::read(file(png)).unwrap_or_default();
                assert!(bytes.starts_with(b"\x89PNG"), "{}{png} is a PNG", w.name);
            }
        }
        if w.is_catch_up() {
            assert_eq!(
                r.spec["catch_up"]["tiered_topic_configs"], true,
                "strata accepts the tiered-storage topic configs"
            );
        }
    }
}

#[test]
fn compare_runs_both_brokers() {
    let (a, b) = (Broker::start(), Broker::start());
    let out = tempfile::tempdir().expect("tempdir");
    // a's CPU from its pid, b's from its Prometheus endpoint (process_cpu_seconds_total).
    let a_pid = a.pid().to_string();
    let o = bench(&[
        "compare",
        "--a-pid",
        &a_pid,
        "--b-metrics",
        &b.metrics,
        "--a",
        &a.bootstrap,
        "--b",
        &b.bootstrap,
        "--a-label",
        "one",
        "--b-label",
        "two",
        "--workload",
        "latency-1t16p-1k",
        "--duration",
        "2s",
        "--warmup",
        "0s",
        "--rate",
        "2000",
        "--out",
        out.path().to_str().expect("utf-8 path"),
    ]);
    assert!(
        o.status.success(),
        "strata-bench compare failed: {}",
        o.status
    );
    let path = out.path().join("compare-latency-1t16p-1k.json");
    let text = std::fs::read_to_string(&path).expect("compare JSON");
    let c: Comparison = serde_json::from_str(&text).expect("a Comparison");
    assert_eq!((c.a.label.as_str(), c.b.label.as_str()), ("one", "two"));
    assert_eq!(c.a.bootstrap, a.bootstrap);
    assert_eq!(c.b.bootstrap, b.bootstrap);
    for r in [&c.a, &c.b] {
        assert!(r.produce.is_some_and(|p| p.records > 0));
        assert!(r.consume.is_some_and(|p| p.records > 0));
        assert!(r.cpu.broker_s.is_some_and(|s| s > 0.0), "{:?}", r.cpu);
    }
}

#[test]
fn ctrl_c_ends_the_run_and_still_writes_results() {
    let broker = Broker::start();
    let out = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(BENCH)
        .args([
            "run",
            "--bootstrap",
            &broker.bootstrap,
            "--workload",
            "latency-1t16p-1k",
        ])
        .args([
            "--duration",
            "120s",
            "--warmup",
            "0s",
            "--rate",
            "1000",
            "--out",
        ])
        .arg(out.path())
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run strata-bench");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut lines = BufReader::new(stderr).lines();
    // Wait for the second progress line of the measured phase.
    let mut seen = 0;
    for line in lines.by_ref() {
        let line = line.expect("stderr line");
        eprintln!("{line}");
        if line.contains(" run ") {
            seen += 1;
            if seen == 2 {
                break;
            }
        }
    }
    assert_eq!(seen, 2, "strata-bench ended before its measured phase");
    let t0 = Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(kill.success());
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let rest = rest.join("\n");
    let status = child.wait().expect("wait for strata-bench");
    assert!(
        status.success(),
        "exit status {status} after one Ctrl-C: {rest}"
    );
    assert!(t0.elapsed() < Duration::from_secs(30));
    let r = read_run(&out.path().join("latency-1t16p-1k.json"));
    assert!(r.interrupted);
    assert!(r.duration_s < 60.0, "{}", r.duration_s);
    assert!(r.produce.is_some_and(|p| p.records > 0));
}

#[test]
fn an_unreachable_broker_is_a_clear_error() {
    // A port nothing listens on: bind one, then close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let out = tempfile::tempdir().expect("tempdir");
    let o = bench(&[
        "run",
        "--bootstrap",
        &format!("127.0.0.1:{port}"),
        "--workload",
        "max-1t1p-1k",
        "--out",
        out.path().to_str().expect("utf-8 path"),
    ]);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(stderr.contains("no Kafka broker reachable"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
