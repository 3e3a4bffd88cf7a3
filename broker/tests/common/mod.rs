//! The harness shared by the client integration tests: real `strata` processes on 127.0.0.1,
//! one log file per node, and real Kafka clients (kcat, the venv's Python clients) run as
//! subprocesses with a timeout.
//!
//! Every node and every client is bounded in time; a node is killed when its [`Broker`] drops,
//! even when the test panics, and then the tail of its log is printed.
#![allow(dead_code, unreachable_pub)]

pub mod cluster;
pub mod disk;
pub mod otlp;
pub mod raw;
pub mod scrape;
pub mod tiered;

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a node may take from spawn to its `strata node started` line.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a node may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of a node's log printed when a test panics.
const LOG_TAIL_LINES: usize = 80;

/// How to start a node.
#[derive(Debug, Clone, Default)]
pub struct BrokerOpts {
    /// A name for the log file and messages (default `node`).
    pub name: Option<String>,
    /// Environment overrides, e.g. `("STRATA_TOPICS_DEFAULT_PARTITIONS", "3")`.
    pub env: Vec<(String, String)>,
    /// Extra command-line arguments after `--listen` and `--data-dir`.
    pub args: Vec<String>,
    /// An existing data directory; by default a fresh temporary one owned by the [`Broker`].
    pub data_dir: Option<PathBuf>,
    /// The `--listen` address; by default `127.0.0.1:0` (a new port on every start).
    pub listen: Option<String>,
}

impl BrokerOpts {
    /// Auto-created topics with `partitions` partitions: what most client tests want.
    pub fn auto_create(partitions: u32) -> BrokerOpts {
        BrokerOpts::default()
            .env("STRATA_TOPICS_AUTO_CREATE", "true")
            .env("STRATA_TOPICS_DEFAULT_PARTITIONS", &partitions.to_string())
    }

    pub fn env(mut self, key: &str, value: &str) -> BrokerOpts {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn arg(mut self, arg: &str) -> BrokerOpts {
        self.args.push(arg.to_owned());
        self
    }

    pub fn name(mut self, name: &str) -> BrokerOpts {
        self.name = Some(name.to_owned());
        self
    }

    pub fn listen(mut self, addr: &str) -> BrokerOpts {
        self.listen = Some(addr.to_owned());
        self
    }
}

/// A `strata` process and the directories it owns.
#[derive(Debug)]
pub struct Broker {
    opts: BrokerOpts,
    name: String,
    /// Holds the log file, and the data directory unless the caller gave one.
    root: Option<TempDir>,
    data_dir: PathBuf,
    log_path: PathBuf,
    child: Option<Child>,
    port: u16,
    metrics_port: Option<u16>,
    starts: u32,
    /// Where the latest start's lines begin in the log file.
    log_from: u64,
}

impl Broker {
    /// Spawns `strata --listen 127.0.0.1:0 --data-dir DIR` and waits for it to listen.
    pub fn start(opts: BrokerOpts) -> Broker {
        let mut broker = Broker::launch(opts);
        broker.wait_started();
        broker
    }

    /// Spawns the node without waiting for it to listen (a cluster node waits for its quorum,
    /// so the nodes of a cluster are launched together); then call [`Broker::wait_started`].
    pub fn launch(opts: BrokerOpts) -> Broker {
        let root = tempfile::Builder::new()
            .prefix("strata-it-")
            .tempdir()
            .expect("creating the test's temporary directory");
        let name = opts.name.clone().unwrap_or_else(|| "node".to_owned());
        let data_dir = opts
            .data_dir
            .clone()
            .unwrap_or_else(|| root.path().join("data"));
        let log_path = root.path().join(format!("{name}.log"));
        let mut broker = Broker {
            opts,
            name,
            root: Some(root),
            data_dir,
            log_path,
            child: None,
            port: 0,
            metrics_port: None,
            starts: 0,
            log_from: 0,
        };
        broker.spawn_process();
        broker
    }

    /// Waits for the `strata node started` line of the latest start and checks the listener.
    pub fn wait_started(&mut self) {
        (self.port, self.metrics_port) = self.wait_for_listen(self.log_from);
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, self.port));
        assert!(
            std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5)).is_ok(),
            "{}: logged that it listens on {addr} but refuses connections",
            self.name
        );
    }

    /// The process id of the running node.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the node is running").id()
    }

    /// Resident memory of the node in KiB (VmRSS).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("reading the node's /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status")
    }

    /// "127.0.0.1:PORT", for a client's bootstrap servers.
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `http://127.0.0.1:PORT/metrics` of the node's Prometheus endpoint.
    pub fn metrics_url(&self) -> String {
        let port = self
            .metrics_port
            .expect("the node's start line names no metrics= endpoint");
        format!("http://127.0.0.1:{port}/metrics")
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// A directory for the test's own files (client state, scratch), removed with the broker.
    pub fn scratch_dir(&self) -> PathBuf {
        let dir = self.root().join("scratch");
        std::fs::create_dir_all(&dir).expect("creating the scratch directory");
        dir
    }

    fn root(&self) -> &Path {
        self.root
            .as_ref()
            .map(TempDir::path)
            .expect("the broker's root directory lives as long as the broker")
    }

    /// Sends SIGTERM, waits (bounded) and asserts a clean exit (status 0).
    pub fn stop(&mut self) {
        let mut child = self.child.take().expect("stop: the node is not running");
        signal(&child, libc::SIGTERM);
        let status = wait_bounded(&mut child, STOP_TIMEOUT);
        match status {
            Some(status) => assert!(
                status.success(),
                "{}: exited with {status} after SIGTERM, expected a clean exit 0",
                self.name
            ),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{}: still running {STOP_TIMEOUT:?} after SIGTERM; killed",
                    self.name
                );
            }
        }
        self.note(&format!("stopped by SIGTERM: {status:?}"));
    }

    /// Kills the node with SIGKILL, as a crash would, and reaps it.
    pub fn kill9(&mut self) {
        let mut child = self.child.take().expect("kill9: the node is not running");
        child.kill().expect("sending SIGKILL");
        let status = child.wait().expect("reaping the killed node");
        self.note(&format!("killed with SIGKILL: {status}"));
    }

    /// Freezes the node (SIGSTOP): it keeps its sockets but answers nothing.
    pub fn pause(&mut self) {
        signal(
            self.child.as_ref().expect("pause: the node is not running"),
            libc::SIGSTOP,
        );
        self.note("paused with SIGSTOP");
    }

    /// Lets a paused node run again (SIGCONT).
    pub fn resume(&mut self) {
        signal(
            self.child
                .as_ref()
                .expect("resume: the node is not running"),
            libc::SIGCONT,
        );
        self.note("resumed with SIGCONT");
    }

    /// Starts the node again on the same data directory, first stopping it cleanly (SIGTERM,
    /// exit 0 asserted) if it is still running. The new process listens on a new port.
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.stop();
        }
        self.spawn_process();
        self.wait_started();
    }

    /// Starts a stopped or killed node again without waiting for it to listen.
    pub fn relaunch(&mut self) {
        assert!(self.child.is_none(), "{}: still running", self.name);
        self.spawn_process();
    }

    /// The node's name (its log file's stem).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The whole log file (every start of this node), lossily decoded.
    pub fn log_text(&self) -> String {
        std::fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// The last lines of the log file, with a header naming the node and the file.
    pub fn log_tail(&self) -> String {
        let text = self.log_text();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(LOG_TAIL_LINES);
        format!(
            "----- last {} lines of {} ({}) -----\n{}\n----- end of {} log -----",
            lines.len() - from,
            self.name,
            self.log_path.display(),
            lines[from..].join("\n"),
            self.name
        )
    }

    /// Appends a harness line to the node's log, so restarts and kills are visible in it.
    fn note(&self, what: &str) {
        if let Ok(mut f) = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
        {
            let _ = writeln!(f, "=== harness: {} {what}", self.name);
        }
    }

    fn spawn_process(&mut self) {
        self.starts += 1;
        self.note(&format!(
            "start #{} on data dir {}",
            self.starts,
            self.data_dir.display()
        ));
        self.log_from = std::fs::metadata(&self.log_path)
            .map(|m| m.len())
            .unwrap_or(0);
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log_path)
            .expect("opening the node's log file");
        let log_err = log.try_clone().expect("cloning the log file handle");

        let mut cmd = Command::new(env!("CARGO_BIN_EXE_strata"));
        cmd.arg("--listen")
            .arg(self.opts.listen.as_deref().unwrap_or("127.0.0.1:0"))
            .arg("--data-dir")
            .arg(&self.data_dir)
            .args(&self.opts.args)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        // Hermetic: no STRATA_* setting of the developer's shell reaches the node, and the
        // start line is logged at info whatever RUST_LOG says.
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("STRATA_") {
                cmd.env_remove(&key);
            }
        }
        cmd.env("RUST_LOG", "info").env_remove("NO_COLOR");
        // The Prometheus endpoint on a free port, so nodes of parallel tests never collide.
        cmd.env("STRATA_METRICS_LISTEN", "127.0.0.1:0");
        for (key, value) in &self.opts.env {
            cmd.env(key, value);
        }
        let child = cmd.spawn().expect("spawning the strata binary");
        self.child = Some(child);
    }

    /// Reads the log from `from` until the `strata node started` line, and returns its port
    /// and the Prometheus endpoint's port (when it is on).
    fn wait_for_listen(&mut self, from: u64) -> (u16, Option<u16>) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = read_from(&self.log_path, from);
            if let Some(line) = text.lines().find(|l| l.contains("strata node started")) {
                match parse_listen_port(line) {
                    Some(port) => return (port, parse_port_field(line, "metrics")),
                    None => panic!(
                        "{}: the start line has no `listen=127.0.0.1:PORT` field: {line}",
                        self.name
                    ),
                }
            }
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                panic!(
                    "{}: exited with {status} before it started listening",
                    self.name
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "{}: no `strata node started` line within {START_TIMEOUT:?}",
                    self.name
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if thread::panicking() {
            eprintln!("{}", self.log_tail());
            if std::env::var_os("STRATA_TEST_KEEP").is_some()
                && let Some(root) = self.root.take()
            {
                eprintln!("STRATA_TEST_KEEP: kept {}", root.keep().display());
            }
        }
    }
}

/// Finds `listen=127.0.0.1:PORT` (optionally quoted) in a log line.
fn parse_listen_port(line: &str) -> Option<u16> {
    parse_port_field(line, "listen")
}

/// The port of the `name=ip:port` field of a text log line, or of its `"name":"ip:port"` field
/// in a JSON one (`listen`, `metrics`).
fn parse_port_field(line: &str, name: &str) -> Option<u16> {
    let text = format!("{name}=");
    let json = format!("\"{name}\":");
    let rest = match line.find(&text) {
        Some(at) => &line[at + text.len()..],
        None => &line[line.find(&json)? + json.len()..],
    };
    let rest = rest.trim_start_matches('"');
    let addr = rest.split(|c: char| c.is_whitespace() || c == '"').next()?;
    let addr: SocketAddr = addr.parse().ok()?;
    assert!(
        addr.ip().is_loopback(),
        "the node listens on {addr}, not on loopback"
    );
    Some(addr.port())
}

fn read_from(path: &Path, from: u64) -> String {
    let mut buf = Vec::new();
    if let Ok(mut f) = File::open(path)
        && f.seek(SeekFrom::Start(from)).is_ok()
    {
        let _ = f.read_to_end(&mut buf);
    }
    String::from_utf8_lossy(&buf).into_owned()
}

fn signal(child: &Child, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(child.id()).expect("pid fits pid_t");
    // SAFETY: kill(2) has no memory-safety preconditions; `pid` is our own unreaped child, so
    // the signal cannot reach a recycled pid.
    #[allow(unsafe_code)]
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(
        rc,
        0,
        "kill({pid}, {sig}): {}",
        std::io::Error::last_os_error()
    );
}

/// Waits for `child` up to `timeout`; `None` if it is still running.
fn wait_bounded(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        if Instant::now() > deadline {
            return None;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// What a client subprocess did.
#[derive(Debug)]
pub struct Output {
    /// The command line, for messages.
    pub what: String,
    /// `None` when it was killed for running past its timeout.
    pub status: Option<ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub elapsed: Duration,
}

impl Output {
    pub fn stdout_str(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    pub fn stderr_str(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Panics, with both outputs, unless the process exited 0 in time.
    pub fn assert_success(&self) -> &Output {
        match self.status {
            Some(s) if s.success() => self,
            Some(s) => panic!("`{}` failed with {s}\n{}", self.what, self.describe()),
            None => panic!(
                "`{}` ran past its timeout ({:?}) and was killed\n{}",
                self.what,
                self.elapsed,
                self.describe()
            ),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "--- stdout ---\n{}\n--- stderr ---\n{}\n--- end ---",
            tail(&self.stdout_str(), 60),
            tail(&self.stderr_str(), 60)
        )
    }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Runs `cmd` with `stdin` as its input, killing it after `timeout`; captures both outputs.
pub fn run(mut cmd: Command, stdin: Option<Vec<u8>>, timeout: Duration) -> Output {
    let what = format!("{cmd:?}");
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawning `{what}`: {e}"));
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().expect("piped stdin");
        // Dropping the pipe at the end closes it: the client sees end of input.
        thread::spawn(move || {
            let _ = pipe.write_all(&input);
        })
    });
    let mut out_pipe = child.stdout.take().expect("piped stdout");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let out_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = out_pipe.read_to_end(&mut buf);
        buf
    });
    let err_reader = thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = err_pipe.read_to_end(&mut buf);
        buf
    });
    let status = wait_bounded(&mut child, timeout);
    if status.is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    Output {
        what,
        status,
        stdout: out_reader.join().unwrap_or_default(),
        stderr: err_reader.join().unwrap_or_default(),
        elapsed: started.elapsed(),
    }
}

/// A `kcat` command with `-b bootstrap` and a short metadata timeout.
pub fn kcat(bootstrap: &str) -> Command {
    let which = Command::new("kcat").arg("-V").output();
    assert!(
        which.is_ok_and(|o| o.status.success()),
        "kcat is not installed: run scripts/install-deps.sh"
    );
    let mut cmd = Command::new("kcat");
    cmd.arg("-b").arg(bootstrap).arg("-m").arg("15");
    cmd
}

/// The client venv made by scripts/install-deps.sh: `$STRATA_VENV`, else
/// `$HOME/.cache/strata/venv`.
pub fn venv_dir() -> PathBuf {
    match std::env::var_os("STRATA_VENV") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => {
            let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
            PathBuf::from(home).join(".cache/strata/venv")
        }
    }
}

/// A command running `broker/tests/clients/<script>` with the venv's python.
pub fn python_script(script: &str) -> Command {
    let python = venv_dir().join("bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/install-deps.sh to create the client venv",
        python.display()
    );
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/clients")
        .join(script);
    assert!(path.exists(), "{} is missing", path.display());
    let mut cmd = Command::new(python);
    // Unbuffered, so a killed script still shows how far it got.
    cmd.arg("-u").arg(path).env("PYTHONDONTWRITEBYTECODE", "1");
    cmd
}

/// Runs `broker/tests/clients/<script> ARGS...` with the venv's python, prints what it said
/// (with how long it took) and asserts it exited 0 within `timeout`.
pub fn run_python_script(script: &str, args: &[&str], timeout: Duration) -> Output {
    let mut cmd = python_script(script);
    cmd.args(args);
    let out = run(cmd, None, timeout);
    eprintln!(
        "{script} {} took {:.1?}:\n{}\n{}",
        args.join(" "),
        out.elapsed,
        out.stdout_str().trim_end(),
        tail(&out.stderr_str(), 40)
    );
    out.assert_success();
    out
}

/// Asserts the node logged no panic (a task's panic does not stop the process) and no
/// ERROR line, over every start.
pub fn assert_log_clean(broker: &Broker) {
    let text = broker.log_text();
    let bad: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("panicked") || l.contains(" ERROR "))
        .take(10)
        .collect();
    assert!(
        bad.is_empty(),
        "{} logged panics or errors:\n{}",
        broker.log_path().display(),
        bad.join("\n")
    );
}

#[cfg(test)]
mod tests {
    use super::parse_listen_port;

    #[test]
    fn the_listen_field_is_found_plain_or_quoted() {
        let line = "2026-01-01T00:00:00Z  INFO strata: strata node started listen=127.0.0.1:40123 data_dir=/tmp/x";
        assert_eq!(parse_listen_port(line), Some(40123));
        let quoted = "INFO strata node started listen=\"127.0.0.1:9\" engine=std";
        assert_eq!(parse_listen_port(quoted), Some(9));
        assert_eq!(parse_listen_port("strata node started"), None);
        let json = r#"{"level":"INFO","fields":{"message":"strata node started","listen":"127.0.0.1:4012","metrics":"127.0.0.1:4013"}}"#;
        assert_eq!(parse_listen_port(json), Some(4012));
        assert_eq!(super::parse_port_field(json, "metrics"), Some(4013));
        assert_eq!(super::parse_port_field("metrics=off", "metrics"), None);
    }
}
