//! The machine the load generator runs on, read from `/proc` and `/etc/os-release`.

use super::result::Environment;

/// `PRETTY_NAME` of an os-release file.
pub fn parse_os_release(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("PRETTY_NAME="))
        .map(|v| v.trim().trim_matches('"').to_string())
}

/// The first `model name` of `/proc/cpuinfo`.
pub fn parse_cpu_model(text: &str) -> Option<String> {
    text.lines()
        .filter(|l| l.starts_with("model name"))
        .find_map(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
}

/// `MemTotal` of `/proc/meminfo` in bytes.
pub fn parse_mem_total(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The environment block; `broker` is what the broker said of itself (see `admin`).
pub fn collect(broker: String) -> Environment {
    let (_, librdkafka) = rdkafka::util::get_rdkafka_version();
    Environment {
        hostname: read("/proc/sys/kernel/hostname").trim().to_string(),
        os: parse_os_release(&read("/etc/os-release")).unwrap_or_default(),
        kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
        cpu_model: parse_cpu_model(&read("/proc/cpuinfo")).unwrap_or_default(),
        cores: std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(0),
        memory_bytes: parse_mem_total(&read("/proc/meminfo")).unwrap_or(0),
        bench_version: format!("strata-bench {}", env!("CARGO_PKG_VERSION")),
        client: format!("librdkafka {librdkafka}"),
        broker,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_proc_files() {
        let os =
            "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 13 (trixie)\"\nID=debian\n";
        assert_eq!(
            parse_os_release(os).as_deref(),
            Some("Debian GNU/Linux 13 (trixie)")
        );
        let cpu = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) CPU @ 2.20GHz\nprocessor\t: 1\nmodel name\t: other\n";
        assert_eq!(
            parse_cpu_model(cpu).as_deref(),
            Some("Intel(R) Xeon(R) CPU @ 2.20GHz")
        );
        let mem = "MemTotal:        8140060 kB\nMemFree:  1 kB\n";
        assert_eq!(parse_mem_total(mem), Some(8_140_060 * 1024));
        assert_eq!(parse_mem_total("garbage"), None);
        assert_eq!(parse_os_release(""), None);
    }

    #[test]
    fn collects_something_here() {
        let e = collect("test".into());
        assert!(e.cores >= 1);
        assert!(e.client.starts_with("librdkafka "));
    }
}
