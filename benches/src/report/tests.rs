//! The report rendered from fixture results into a temporary folder: the Markdown says what it
//! should, the PNGs are real images of the right size with the lines drawn on them, and the
//! comparison's ratios are right.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::chart::SIZE;
use super::font::{self, Fonts};
use super::{compare, write_comparison_with, write_run_with, write_suite};
use crate::load::result::{
    CatchUp, Cpu, Environment, ErrorCount, Latency, RunResult, SCHEMA_VERSION, Throughput,
    TimelinePoint,
};

/// A latency distribution shaped like a real one: flat to p50, a long tail after p99.
fn latency(scale: f64) -> Latency {
    let percentiles = [
        0.0, 10.0, 25.0, 50.0, 75.0, 90.0, 95.0, 99.0, 99.5, 99.9, 99.95, 99.99, 99.995, 99.999,
        100.0,
    ];
    let at = |p: f64| -> f64 {
        let nines = -(1.0 - p / 100.0).max(1e-6).log10();
        scale * (0.4 + 1.9 * nines.powf(1.6))
    };
    Latency {
        count: 24_600_000,
        min_ms: at(0.0),
        mean_ms: 3.0 * scale,
        p50_ms: 2.346,
        p75_ms: at(75.0),
        p90_ms: at(90.0),
        p95_ms: at(95.0),
        p99_ms: 12.44,
        p99_9_ms: 38.21,
        p99_99_ms: 97.3,
        max_ms: 212.9,
        curve: percentiles.iter().map(|&p| (p, at(p))).collect(),
    }
}

fn timeline(produce_mb: f64, consume_mb: f64) -> Vec<TimelinePoint> {
    (1..=30)
        .map(|i| {
            let t = f64::from(i);
            let wobble = 1.0 + 0.05 * (t * 0.7).sin();
            TimelinePoint {
                t_s: t,
                produce_records_per_s: produce_mb * wobble * 1000.0,
                produce_mb_per_s: produce_mb * wobble,
                consume_records_per_s: consume_mb * wobble * 1000.0,
                consume_mb_per_s: consume_mb * wobble,
                produce_p99_ms: 11.0 + (t * 0.3).cos(),
                end_to_end_p99_ms: 14.0 + (t * 0.3).cos(),
            }
        })
        .collect()
}

fn throughput(mb_per_s: f64, seconds: f64) -> Throughput {
    let records_per_s = mb_per_s * 1000.0;
    Throughput {
        // Whole numbers of this size convert exactly.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        records: (records_per_s * seconds) as u64,
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        bytes: (mb_per_s * 1e6 * seconds) as u64,
        seconds,
        records_per_s,
        mb_per_s,
    }
}

fn max_run(label: &str) -> RunResult {
    RunResult {
        schema_version: SCHEMA_VERSION,
        workload: "max-1t16p-1k".to_string(),
        description: "1 topic, 16 partitions, 1 KiB records, as fast as acks allow".to_string(),
        label: label.to_string(),
        bootstrap: "127.0.0.1:9092".to_string(),
        started_at: "2026-04-01T10:00:00Z".to_string(),
        duration_s: 60.0,
        warmup_s: 10.0,
        interrupted: false,
        environment: Environment {
            hostname: "bench-1".to_string(),
            os: "Debian GNU/Linux 13 (trixie)".to_string(),
            kernel: "6.12.38".to_string(),
            cpu_model: "AMD EPYC 7B13".to_string(),
            cores: 2,
            memory_bytes: 8 * 1024 * 1024 * 1024,
            bench_version: "strata-bench 0.1.0".to_string(),
            client: "librdkafka 2.10.0".to_string(),
            broker: "strata 0.1.0".to_string(),
        },
        spec: json!({
            "topics": 1,
            "partitions": 16,
            "record_size": 1024,
            "producer": { "acks": "all", "linger_ms": 5, "compression": "lz4" },
            "consumers": 1,
            "key_distribution": "",
        }),
        produce: Some(Throughput {
            records_per_s: 412_345.4,
            ..throughput(412.345, 60.0)
        }),
        consume: Some(throughput(410.02, 60.0)),
        produce_latency: Some(latency(1.0)),
        end_to_end_latency: Some(Latency {
            p50_ms: 3.1,
            ..latency(1.3)
        }),
        catch_up: None,
        timeline: timeline(412.0, 410.0),
        errors: vec![ErrorCount {
            kind: "produce: Broker: Not enough replicas | retried".to_string(),
            count: 1234,
        }],
        cpu: Cpu {
            bench_s: 55.5,
            broker_s: Some(48.25),
            broker_s_per_gb: Some(0.9812),
        },
    }
}

/// A catch-up run: no produce latency, no timeline, nothing to plot.
fn catch_up_run() -> RunResult {
    RunResult {
        workload: "catch-up-1g".to_string(),
        description: "read 1 GB from offset 0 after the fill moved to the cold tier".to_string(),
        produce: None,
        consume: None,
        produce_latency: None,
        end_to_end_latency: None,
        catch_up: Some(CatchUp {
            bytes: 1_000_000_000,
            records: 976_563,
            seconds: 4.2,
            mb_per_s: 238.1,
            records_per_s: 232_515.0,
            first_record_ms: 84.5,
            fill_seconds: 3.1,
            settle_seconds: 30.0,
        }),
        timeline: Vec::new(),
        errors: Vec::new(),
        cpu: Cpu {
            bench_s: 3.0,
            broker_s: None,
            broker_s_per_gb: None,
        },
        ..max_run("strata")
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Decodes a PNG; returns its size and RGB(A) pixels, failing the test when it is not a PNG.
fn decode_png(path: &Path) -> ((u32, u32), Vec<[u8; 3]>) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} has no PNG signature",
        path.display()
    );
    let decoder = png::Decoder::new(bytes.as_slice());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let frame = reader.next_frame(&mut buf).unwrap();
    let channels = match frame.color_type {
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        other => panic!("unexpected colour type {other:?}"),
    };
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    let pixels = buf[..frame.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    ((frame.width, frame.height), pixels)
}

/// Pixels close to `color` (lines are anti-aliased at their edges, not at their centre).
fn count_color(pixels: &[[u8; 3]], color: [u8; 3]) -> usize {
    pixels
        .iter()
        .filter(|p| p.iter().zip(color).all(|(&a, b)| a.abs_diff(b) <= 8))
        .count()
}

const BLUE: [u8; 3] = [31, 119, 180];
const ORANGE: [u8; 3] = [230, 115, 0];
const RED: [u8; 3] = [200, 30, 45];

fn assert_plot(path: &Path, colors: &[[u8; 3]]) {
    assert!(path.is_file(), "{} was not written", path.display());
    let (size, pixels) = decode_png(path);
    assert_eq!(size, SIZE, "{}", path.display());
    for &color in colors {
        let n = count_color(&pixels, color);
        assert!(
            n > 500,
            "{}: only {n} pixels of the line colour {color:?}",
            path.display()
        );
    }
}

fn names(paths: &[PathBuf]) -> Vec<String> {
    paths
        .iter()
        .filter_map(|p| p.file_name()?.to_str().map(str::to_string))
        .collect()
}

#[test]
fn a_run_renders_its_figures_links_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let run = max_run("strata");
    let written = write_run_with(dir.path(), &run, font::fonts()).unwrap();
    assert_eq!(
        names(&written),
        [
            "max-1t16p-1k.md",
            "max-1t16p-1k-latency.png",
            "max-1t16p-1k-throughput.png"
        ]
    );
    let md = read(&dir.path().join("max-1t16p-1k.md"));
    for expected in [
        "# max-1t16p-1k: strata",
        "1 topic, 16 partitions, 1 KiB records",
        "| Bootstrap | `127.0.0.1:9092` |",
        "| Measured | 60.0 s |",
        "| Warm-up | 10.0 s |",
        "| Interrupted | no |",
        "| `partitions` | 16 |",
        "| `producer.acks` | all |",
        "| `key_distribution` | \"\" |",
        "| CPU | AMD EPYC 7B13 |",
        "| Cores | 2 |",
        "| Memory | 8.0 GiB |",
        "| Kernel | 6.12.38 |",
        "| Client | librdkafka 2.10.0 |",
        "| Broker | strata 0.1.0 |",
        "| Produce | 412.3 | 412,345 | 24,740,700 | 60.0 s |",
        "| Consume | 410.0 | 410,020 |",
        "| Produce (send to ack) | 2.35 | 12.4 | 38.2 | 97.3 | 213 |",
        "| End-to-end (send to receipt) | 3.10 | 12.4 |",
        "| strata-bench CPU s | 55.50 |",
        "| Broker CPU s | 48.25 |",
        "| Broker CPU s per GB | 0.98 |",
        "| produce: Broker: Not enough replicas \\| retried | 1,234 |",
        "![Latency by percentile](max-1t16p-1k-latency.png)",
        "![Throughput over time](max-1t16p-1k-throughput.png)",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in:\n{md}");
    }
    assert!(!md.contains("Interrupted:**"), "{md}");
    assert!(!md.contains("Catch-up"), "{md}");
    if font::fonts().text {
        assert!(!md.contains("**Warning:**"), "{md}");
    }
    assert_plot(
        &dir.path().join("max-1t16p-1k-latency.png"),
        &[BLUE, ORANGE],
    );
    assert_plot(
        &dir.path().join("max-1t16p-1k-throughput.png"),
        &[BLUE, ORANGE],
    );
}

#[test]
fn an_interrupted_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let run = RunResult {
        interrupted: true,
        duration_s: 12.5,
        ..max_run("strata")
    };
    write_run_with(dir.path(), &run, font::fonts()).unwrap();
    let md = read(&dir.path().join("max-1t16p-1k.md"));
    assert!(md.contains("> **Interrupted:**"), "{md}");
    assert!(md.contains("cover the 12.5 s that ran"), "{md}");
    assert!(md.contains("| Interrupted | **yes** |"), "{md}");
}

#[test]
fn without_a_font_the_plots_have_no_text_and_the_markdown_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_run_with(dir.path(), &max_run("strata"), &Fonts::without_text()).unwrap();
    assert_eq!(written.len(), 3, "{written:?}");
    let md = read(&dir.path().join("max-1t16p-1k.md"));
    assert!(
        md.contains("> **Warning:** text left out for this test"),
        "{md}"
    );
    assert!(!md.contains("could not draw"), "{md}");
    assert_plot(
        &dir.path().join("max-1t16p-1k-latency.png"),
        &[BLUE, ORANGE],
    );
    assert_plot(
        &dir.path().join("max-1t16p-1k-throughput.png"),
        &[BLUE, ORANGE],
    );
}

#[test]
fn a_run_without_latency_or_timeline_gets_no_plots() {
    let dir = tempfile::tempdir().unwrap();
    let written = write_run_with(dir.path(), &catch_up_run(), font::fonts()).unwrap();
    assert_eq!(names(&written), ["catch-up-1g.md"]);
    let pngs = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.path().extension().is_some_and(|x| x == "png"))
        .count();
    assert_eq!(pngs, 0);
    let md = read(&dir.path().join("catch-up-1g.md"));
    for expected in [
        "| Catch-up read | 238.1 | 232,515 | 976,563 | 4.2 s |",
        "| Time to first record | 84.5 ms |",
        "| Read | 1000.0 MB, 976,563 records in 4.2 s |",
        "| Waited before reading | 30.0 s |",
        "| Broker CPU s | — |",
        "## Errors\n\nNone.",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in:\n{md}");
    }
    assert!(!md.contains("## Plots"), "{md}");
    assert!(!md.contains("### Latency"), "{md}");
    assert!(!md.contains(".png"), "{md}");
}

#[test]
fn a_produce_only_timeline_is_plotted_without_latency() {
    let dir = tempfile::tempdir().unwrap();
    let mut run = max_run("strata");
    run.workload = "produce only/1".to_string();
    run.consume = None;
    run.produce_latency = None;
    run.end_to_end_latency = None;
    for point in &mut run.timeline {
        point.consume_mb_per_s = 0.0;
        point.produce_p99_ms = 0.0;
        point.end_to_end_p99_ms = 0.0;
    }
    let written = write_run_with(dir.path(), &run, font::fonts()).unwrap();
    assert_eq!(
        names(&written),
        ["produce_only_1.md", "produce_only_1-throughput.png"]
    );
    let (size, pixels) = decode_png(&dir.path().join("produce_only_1-throughput.png"));
    assert_eq!(size, SIZE);
    assert!(count_color(&pixels, BLUE) > 500);
    assert_eq!(count_color(&pixels, ORANGE), 0, "no consume line expected");
}

#[test]
fn compare_gives_b_over_a_for_the_figures_both_runs_have() {
    let a = max_run("strata");
    let mut b = max_run("kafka");
    b.produce = Some(throughput(515.43125, 60.0));
    b.produce_latency = Some(Latency {
        p99_ms: 6.22,
        ..latency(1.0)
    });
    b.cpu.broker_s_per_gb = None;
    let mut a_zero = a.clone();
    a_zero.consume = Some(throughput(0.0, 60.0));

    let comparison = compare(a_zero, b);
    assert_eq!(comparison.workload, "max-1t16p-1k");
    assert_eq!(comparison.schema_version, SCHEMA_VERSION);
    let figures: Vec<&str> = comparison
        .ratios
        .iter()
        .map(|r| r.figure.as_str())
        .collect();
    // No catch-up in either run, no broker CPU in b.
    assert_eq!(
        figures,
        [
            "produce MB/s",
            "produce records/s",
            "consume MB/s",
            "produce p50 ms",
            "produce p99 ms",
            "produce p99.9 ms",
            "end-to-end p50 ms",
            "end-to-end p99 ms",
            "end-to-end p99.9 ms",
        ]
    );
    let find = |figure: &str| {
        comparison
            .ratios
            .iter()
            .find(|r| r.figure == figure)
            .unwrap()
    };
    let produce = find("produce MB/s");
    assert_eq!((produce.a, produce.b), (412.345, 515.43125));
    assert!((produce.ratio.unwrap() - 1.25).abs() < 1e-9);
    assert!(produce.higher_is_better);
    assert_eq!(
        compare::better(produce),
        compare::Better::B,
        "more MB/s is better"
    );

    let p99 = find("produce p99 ms");
    assert!((p99.ratio.unwrap() - 0.5).abs() < 1e-9);
    assert!(!p99.higher_is_better);
    assert_eq!(
        compare::better(p99),
        compare::Better::B,
        "half the p99 is better"
    );

    let consume = find("consume MB/s");
    assert_eq!(consume.a, 0.0);
    assert_eq!(consume.ratio, None, "b / 0 has no ratio");
    assert_eq!(compare::better(consume), compare::Better::B);

    let p50 = find("produce p50 ms");
    assert_eq!(p50.ratio, Some(1.0));
    assert_eq!(compare::better(p50), compare::Better::Tie);

    // Lower is better for every latency and CPU figure, higher for every rate.
    for ratio in &comparison.ratios {
        assert_eq!(
            ratio.higher_is_better,
            ratio.figure.contains("/s") && !ratio.figure.contains("CPU"),
            "{}",
            ratio.figure
        );
    }

    let both_cpu = compare(max_run("strata"), max_run("kafka"));
    let cpu = both_cpu
        .ratios
        .iter()
        .find(|r| r.figure == "broker CPU s/GB")
        .unwrap();
    assert!(!cpu.higher_is_better);
    assert_eq!(cpu.ratio, Some(1.0));
}

#[test]
fn a_comparison_renders_side_by_side() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = max_run("kafka");
    b.bootstrap = "10.0.0.2:9092".to_string();
    b.produce = Some(throughput(515.43125, 60.0));
    b.produce_latency = Some(Latency {
        p99_ms: 24.88,
        ..latency(2.0)
    });
    b.timeline = timeline(515.0, 512.0);
    let comparison = compare(max_run("strata"), b);
    let written = write_comparison_with(dir.path(), &comparison, font::fonts()).unwrap();
    assert_eq!(
        names(&written),
        [
            "compare-max-1t16p-1k.md",
            "compare-max-1t16p-1k-latency.png",
            "compare-max-1t16p-1k-throughput.png"
        ]
    );
    let md = read(&dir.path().join("compare-max-1t16p-1k.md"));
    for expected in [
        "# max-1t16p-1k: strata vs kafka",
        "| Figure | A: strata | B: kafka | B/A | Better |",
        "| produce MB/s (higher is better) | 412.3 | **515.4** | 1.25× | B |",
        "| produce p99 ms (lower is better) | **12.4** | 24.9 | 2.00× | A |",
        "| produce p50 ms (lower is better) | 2.35 | 2.35 | 1.00× | same |",
        "| Bootstrap | `127.0.0.1:9092` | `10.0.0.2:9092` |",
        "![Latency by percentile, both systems](compare-max-1t16p-1k-latency.png)",
        "![Throughput over time, both systems](compare-max-1t16p-1k-throughput.png)",
        "run A saw 1,234 errors",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in:\n{md}");
    }
    assert_plot(
        &dir.path().join("compare-max-1t16p-1k-latency.png"),
        &[BLUE, RED],
    );
    assert_plot(
        &dir.path().join("compare-max-1t16p-1k-throughput.png"),
        &[BLUE, RED],
    );
}

#[test]
fn a_comparison_of_runs_with_one_label_names_them_a_and_b() {
    let dir = tempfile::tempdir().unwrap();
    let comparison = compare(catch_up_run(), catch_up_run());
    let written = write_comparison_with(dir.path(), &comparison, font::fonts()).unwrap();
    assert_eq!(names(&written), ["compare-catch-up-1g.md"]);
    let md = read(&dir.path().join("compare-catch-up-1g.md"));
    assert!(md.contains("# catch-up-1g: A vs B"), "{md}");
    assert!(
        md.contains("| catch-up MB/s (higher is better) | 238.1 | 238.1 | 1.00× | same |"),
        "{md}"
    );
    assert!(!md.contains(".png"), "{md}");
}

#[test]
fn a_suite_summary_lists_every_run() {
    let dir = tempfile::tempdir().unwrap();
    let runs = [max_run("strata"), catch_up_run()];
    let written = write_suite(dir.path(), &runs).unwrap();
    assert_eq!(names(&written), ["summary.md"]);
    let md = read(&dir.path().join("summary.md"));
    for expected in [
        "System under test: strata.",
        "| [max-1t16p-1k](max-1t16p-1k.md) | strata | 412.3 | 410.0 | 2.35 / 12.4 / 38.2 | \
         3.10 / 12.4 / 38.2 | — | 0.98 |",
        "| [catch-up-1g](catch-up-1g.md) | strata | — | — | — | — | 238.1 | — |",
        "- max-1t16p-1k: 1,234 errors",
    ] {
        assert!(md.contains(expected), "missing {expected:?} in:\n{md}");
    }
    let rows = md.lines().filter(|l| l.starts_with("| [")).count();
    assert_eq!(rows, runs.len());
}

/// Writes the fixtures' reports where a person can look at them:
/// `STRATA_REPORT_EXAMPLES=/tmp/report cargo test -p benches report::tests::examples -- --ignored`.
#[test]
#[ignore = "writes example reports for a person to look at"]
fn examples() {
    let dir = std::env::var_os("STRATA_REPORT_EXAMPLES").map_or_else(
        || std::env::temp_dir().join("strata-report-examples"),
        PathBuf::from,
    );
    let strata = max_run("strata");
    let mut kafka = max_run("kafka");
    kafka.produce = Some(throughput(515.43125, 60.0));
    kafka.produce_latency = Some(latency(2.0));
    kafka.end_to_end_latency = Some(latency(2.4));
    kafka.timeline = timeline(515.0, 512.0);
    kafka.cpu.broker_s_per_gb = Some(1.52);
    let runs = [strata.clone(), catch_up_run()];
    for run in &runs {
        write_run_with(&dir, run, font::fonts()).unwrap();
    }
    write_suite(&dir, &runs).unwrap();
    write_comparison_with(&dir, &compare(strata, kafka), font::fonts()).unwrap();
    write_run_with(
        &dir.join("no-text"),
        &max_run("strata"),
        &Fonts::without_text(),
    )
    .unwrap();
    println!("example reports in {}", dir.display());
}
