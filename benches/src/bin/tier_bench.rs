//! `tier-bench`: the cold tier on a real S3-compatible server, all in one run. Builds hotlog
//! logs, uploads their sealed segments through `RemoteLog`, measures the frame codecs alone,
//! the server's raw ranged GETs and a catch-up consumer through `ColdReader` (cold, warm, and
//! after a restart with only the disk cache), checks every byte read back, and prints a
//! Markdown table. Without `--store` it starts moto's S3 server on a free port and stops it
//! at the end. See `docs/benchmarks/tiering.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use benches::tier::codec::{self, CodecResult};
use benches::tier::cold::{self, ReadResult};
use benches::tier::dataset::{self, Dataset, DatasetConfig, SegmentBytes};
use benches::tier::get::{self, FrameRange, GetResult};
use benches::tier::payload::DataKind;
use benches::tier::report::{self, Environment, RunFigures};
use benches::tier::stats::{ms, percentile};
use benches::tier::upload::{self, UploadResult};
use benches::tier::{ALL_CODECS, MB, codec_name};
use clap::Parser;
use futures::TryStreamExt;
use object_store::path::Path;
use tiering::format::Codec;
use tiering::read::{ColdReader, ColdReaderConfig};
use tiering::store::{MotoServer, StoreConfig, TierStore};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
enum CodecArg {
    Zstd,
    Lz4,
    None,
    All,
}

impl CodecArg {
    fn codecs(self) -> Vec<Codec> {
        match self {
            CodecArg::Zstd => vec![Codec::Zstd],
            CodecArg::Lz4 => vec![Codec::Lz4],
            CodecArg::None => vec![Codec::None],
            CodecArg::All => ALL_CODECS.to_vec(),
        }
    }
}

/// Measures Strata's cold tier (uploads, codecs, ranged GETs, cold reads) on one object store.
#[derive(Debug, Clone, Parser, serde::Serialize)]
#[command(name = "tier-bench")]
struct Args {
    /// Object store URL (`s3://bucket/prefix`, `file:///dir`); credentials from the AWS_*
    /// environment. Without it, moto's S3 server is started on a free port of 127.0.0.1.
    #[arg(long)]
    store: Option<String>,
    /// S3 endpoint of an S3-compatible server, e.g. http://127.0.0.1:9000.
    #[arg(long)]
    endpoint: Option<String>,
    #[arg(long)]
    region: Option<String>,
    /// Allow a plain-HTTP endpoint.
    #[arg(long)]
    allow_http: bool,
    /// Partitions (one hotlog log and one remote log each).
    #[arg(long, default_value_t = 4)]
    partitions: usize,
    /// Sealed segments in all, spread over the partitions.
    #[arg(long, default_value_t = 16)]
    segments: usize,
    /// Bytes of a segment (hotlog `segment.bytes`).
    #[arg(long, default_value_t = 8 << 20)]
    segment_bytes: u64,
    #[arg(long, value_enum, default_value_t = CodecArg::All)]
    codec: CodecArg,
    /// Mean bytes of a record value.
    #[arg(long, default_value_t = 512)]
    record_bytes: usize,
    /// Raw bytes of a producer batch (about).
    #[arg(long, default_value_t = 16 << 10)]
    batch_bytes: usize,
    #[arg(long, value_enum, default_value_t = DataKind::JsonLike)]
    data: DataKind,
    /// Partitions uploading at once.
    #[arg(long, default_value_t = 4)]
    upload_concurrency: usize,
    /// The cold reader's cap on GETs in flight, also the parallelism of the raw GETs.
    #[arg(long, default_value_t = 8)]
    max_concurrent_gets: usize,
    /// Frames the cold reader fetches ahead of a sequential reader (default: the reader's).
    #[arg(long)]
    prefetch_frames: Option<usize>,
    /// Bound of the cold reader's memory cache of decoded frames and footers (default: the
    /// reader's, 64 MiB).
    #[arg(long)]
    memory_cache_bytes: Option<u64>,
    /// Reads without the disk cache (memory cache only); the restart pass is skipped.
    #[arg(long)]
    no_disk_cache: bool,
    /// Bytes a consumer fetch asks for (Kafka's max.partition.fetch.bytes).
    #[arg(long, default_value_t = 1 << 20)]
    fetch_bytes: usize,
    /// Repetitions of every measurement (the table gives the median and the range).
    #[arg(long, default_value_t = 1)]
    runs: usize,
    /// Writes the figures and the environment as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Directory for the logs and the disk caches (a temporary directory inside it).
    #[arg(long)]
    work_dir: Option<PathBuf>,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Leave the uploaded objects in the store (they are deleted at the end otherwise).
    #[arg(long)]
    keep: bool,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // moto is stopped when `moto` is dropped: at the end of main, on errors too.
    let moto = match args.store {
        Some(_) => None,
        None => {
            eprintln!("starting moto...");
            Some(MotoServer::start().context("starting moto (scripts/install-deps.sh)")?)
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the tokio runtime")?;
    let result = rt.block_on(bench(&args, moto.as_ref()));
    drop(rt);
    drop(moto);
    result
}

async fn bench(args: &Args, moto: Option<&MotoServer>) -> anyhow::Result<()> {
    let (store_cfg, server) = match (moto, &args.store) {
        (Some(m), _) => (m.store_config(""), format!("moto {}", moto_version())),
        (None, Some(url)) => (
            StoreConfig {
                endpoint: args.endpoint.clone(),
                region: args.region.clone(),
                allow_http: args.allow_http,
                ..StoreConfig::new(url.clone())
            },
            format!(
                "{url}{}",
                args.endpoint
                    .as_ref()
                    .map(|e| format!(" at {e}"))
                    .unwrap_or_default()
            ),
        ),
        (None, None) => anyhow::bail!("no store and no moto"),
    };
    let store = tiering::store::open(&store_cfg).context("opening the store")?;
    let root = store.path(&format!("tier-bench/{}", uuid::Uuid::new_v4().simple()));
    let work = match &args.work_dir {
        Some(dir) => dir.clone(),
        None => std::env::temp_dir(),
    };
    let work_dir = tempfile::Builder::new()
        .prefix("tier-bench-")
        .tempdir_in(&work)
        .with_context(|| format!("creating a directory in {}", work.display()))?;
    let env = Environment::gather(server);
    eprintln!(
        "store {} under {root}; {} x {} segments of {} MiB, {:?} records of ~{} B",
        store.url,
        args.partitions,
        args.segments.div_ceil(args.partitions.max(1)),
        args.segment_bytes >> 20,
        args.data,
        args.record_bytes
    );

    let data = build_dataset(args, work_dir.path().to_path_buf()).await?;
    let raw_total = data.raw_bytes();
    eprintln!(
        "built {} sealed segments, {:.1} MB raw",
        data.segment_count(),
        raw_total as f64 / MB
    );
    let data = Arc::new(data);
    let segments = Arc::new(read_segments(&data).await?);

    let result = measure_all(args, &store, &root, &data, &segments, work_dir.path()).await;
    if !args.keep
        && moto.is_none()
        && let Err(e) = delete_under(&store, &root).await
    {
        eprintln!("warning: deleting the uploaded objects under {root}: {e:#}");
    }
    let runs = result?;
    if let Ok(data) = Arc::try_unwrap(data) {
        data.close()?;
    }

    let codecs: Vec<&str> = args.codec.codecs().into_iter().map(codec_name).collect();
    let summary = report::summarize(&runs);
    let table = report::markdown(&summary, &codecs, args.max_concurrent_gets);
    println!(
        "\ntier-bench: {} partitions x {} segments of {} MiB = {:.1} MB raw ({:?}, records ~{} B, \
         batches ~{} KiB), {} run(s), store {}\n",
        args.partitions,
        args.segments.div_ceil(args.partitions.max(1)),
        args.segment_bytes >> 20,
        raw_total as f64 / MB,
        args.data,
        args.record_bytes,
        args.batch_bytes >> 10,
        runs.len(),
        env.server
    );
    println!("{table}");
    println!(
        "MB = 10^6 bytes. Cells: median of the runs (min-max). Machine: {} cores, {}, kernel {}.",
        env.cores,
        env.cpu_model.as_deref().unwrap_or("unknown CPU"),
        env.kernel.as_deref().unwrap_or("unknown")
    );
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "environment": env,
            "args": args,
            "raw_bytes": raw_total,
            "runs": runs,
            "summary": summary,
            "table": table,
        });
        let text = serde_json::to_string_pretty(&doc).context("encoding the JSON")?;
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

async fn build_dataset(args: &Args, dir: PathBuf) -> anyhow::Result<Dataset> {
    let cfg = DatasetConfig {
        partitions: args.partitions,
        segments: args.segments,
        segment_bytes: args.segment_bytes,
        record_bytes: args.record_bytes,
        batch_bytes: args.batch_bytes,
        data: args.data,
        seed: args.seed,
    };
    let rt = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || dataset::build(&cfg, &dir, &rt))
        .await
        .context("the dataset task failed")?
}

async fn read_segments(data: &Arc<Dataset>) -> anyhow::Result<Vec<SegmentBytes>> {
    let data = Arc::clone(data);
    tokio::task::spawn_blocking(move || {
        data.partitions
            .iter()
            .flat_map(|p| p.sealed.iter().map(move |s| (p, s)))
            .map(|(p, s)| dataset::read_segment(&p.log, s))
            .collect::<anyhow::Result<Vec<_>>>()
    })
    .await
    .context("the segment reading task failed")?
}

/// Every measurement, `args.runs` times; the figures of each run.
async fn measure_all(
    args: &Args,
    store: &TierStore,
    root: &Path,
    data: &Arc<Dataset>,
    segments: &Arc<Vec<SegmentBytes>>,
    work: &std::path::Path,
) -> anyhow::Result<Vec<RunFigures>> {
    let mut runs = Vec::new();
    for run in 0..args.runs.max(1) {
        let mut figures = RunFigures::new();
        for codec in args.codec.codecs() {
            let name = codec_name(codec);
            let mut f = BTreeMap::new();
            let prefix = root.clone().join(format!("run{run}")).join(name);

            let up = upload::upload_all(store, &prefix, data, codec, args.upload_concurrency)
                .await
                .with_context(|| format!("uploading with {name}"))?;
            upload_figures(&up, &mut f);

            let segs = Arc::clone(segments);
            let c = tokio::task::spawn_blocking(move || codec::measure(codec, &segs))
                .await
                .context("the codec task failed")??;
            codec_figures(&c, &mut f);

            let frames = frame_ranges(store, &up).await?;
            let get1 = get::get_all(&store.store, &frames, 1).await?;
            let getn = get::get_all(&store.store, &frames, args.max_concurrent_gets).await?;
            get_figures("get1", &get1, &mut f);
            get_figures("getn", &getn, &mut f);

            let expected: Vec<_> = data.partitions.iter().map(|p| p.expected).collect();
            let cache_dir = work.join(format!("cache-run{run}-{name}"));
            let defaults = ColdReaderConfig::default();
            let cfg = ColdReaderConfig {
                cache_dir: (!args.no_disk_cache).then_some(cache_dir),
                max_concurrent_gets: args.max_concurrent_gets,
                prefetch_frames: args.prefetch_frames.unwrap_or(defaults.prefetch_frames),
                memory_cache_bytes: args
                    .memory_cache_bytes
                    .unwrap_or(defaults.memory_cache_bytes),
                ..defaults
            };
            let reader = ColdReader::new(Arc::clone(&store.store), cfg.clone())
                .context("opening the cold reader")?;
            let cold = cold::consume(&reader, &up.partitions, &expected, args.fetch_bytes).await?;
            let warm = cold::consume(&reader, &up.partitions, &expected, args.fetch_bytes).await?;
            drop(reader);
            read_figures("cold", &cold, &mut f);
            read_figures("warm", &warm, &mut f);
            let mut restart_mbps = f64::NAN;
            if !args.no_disk_cache {
                let restarted = ColdReader::new(Arc::clone(&store.store), cfg)
                    .context("reopening the cold reader")?;
                let disk =
                    cold::consume(&restarted, &up.partitions, &expected, args.fetch_bytes).await?;
                read_figures("disk", &disk, &mut f);
                restart_mbps = disk.mb_per_s();
            }
            f.insert(
                "cold.vs_getn_pct".into(),
                100.0 * cold.mb_per_s() / getn.raw_mb_per_s(),
            );
            eprintln!(
                "run {run} {name}: upload {:.1} MB/s raw, ratio {:.2}, GET x1 {:.1} / x{} {:.1} MB/s \
                 stored, cold {:.1} MB/s raw (ttfb {:.1} ms), warm {:.1}, restart {:.1}; bytes check ok",
                f["upload.raw_mbps"],
                f["codec.ratio"],
                get1.mb_per_s(),
                args.max_concurrent_gets,
                getn.mb_per_s(),
                cold.mb_per_s(),
                ms(cold.first_byte),
                warm.mb_per_s(),
                restart_mbps,
            );
            figures.insert(name.to_string(), f);
        }
        runs.push(figures);
    }
    Ok(runs)
}

/// Every frame of the uploaded objects, in read order, from their footers (fetched by a
/// reader of its own, outside any timing).
async fn frame_ranges(store: &TierStore, up: &UploadResult) -> anyhow::Result<Vec<FrameRange>> {
    let reader = ColdReader::new(Arc::clone(&store.store), ColdReaderConfig::default())
        .context("opening a reader for the footers")?;
    let mut frames = Vec::new();
    for seg in up.partitions.iter().flatten() {
        let footer = reader
            .footer(seg)
            .await
            .with_context(|| format!("reading the footer of {}", seg.path))?;
        frames.extend(footer.frames.iter().map(|e| FrameRange {
            path: seg.path.clone(),
            range: e.position..e.position + u64::from(e.compressed_len),
            raw_len: u64::from(e.raw_len),
        }));
    }
    Ok(frames)
}

fn upload_figures(up: &UploadResult, f: &mut BTreeMap<String, f64>) {
    let secs = up.wall.as_secs_f64();
    f.insert("upload.raw_mbps".into(), up.raw_bytes as f64 / MB / secs);
    f.insert(
        "upload.stored_mbps".into(),
        up.stored_bytes as f64 / MB / secs,
    );
    f.insert(
        "upload.segment_p50_ms".into(),
        ms(percentile(&up.per_segment, 50.0)),
    );
    if let Some(cpu) = up.process_cpu {
        f.insert(
            "upload.cpu_s_per_gb".into(),
            cpu.as_secs_f64() / (up.raw_bytes as f64 / 1e9),
        );
    }
}

fn codec_figures(c: &CodecResult, f: &mut BTreeMap<String, f64>) {
    f.insert("codec.ratio".into(), c.ratio());
    f.insert("codec.encode_s_per_gb".into(), c.encode_s_per_gb());
    f.insert("codec.decode_s_per_gb".into(), c.decode_s_per_gb());
    f.insert("codec.frame_kb".into(), c.mean_frame() as f64 / 1e3);
}

fn get_figures(key: &str, g: &GetResult, f: &mut BTreeMap<String, f64>) {
    f.insert(format!("{key}.mbps"), g.mb_per_s());
    f.insert(format!("{key}.raw_mbps"), g.raw_mb_per_s());
    f.insert(format!("{key}.p50_ms"), ms(percentile(&g.latencies, 50.0)));
    f.insert(format!("{key}.p99_ms"), ms(percentile(&g.latencies, 99.0)));
}

fn read_figures(key: &str, r: &ReadResult, f: &mut BTreeMap<String, f64>) {
    f.insert(format!("{key}.mbps"), r.mb_per_s());
    f.insert(format!("{key}.ttfb_ms"), ms(r.first_byte));
    if let Some(cpu) = r.process_cpu {
        f.insert(
            format!("{key}.cpu_s_per_gb"),
            cpu.as_secs_f64() / (r.bytes as f64 / 1e9),
        );
    }
    f.insert(
        format!("{key}.ttfb_partition_p50_ms"),
        ms(percentile(&r.first_byte_per_partition, 50.0)),
    );
    f.insert(
        format!("{key}.fetch_p50_ms"),
        ms(percentile(&r.fetches, 50.0)),
    );
    f.insert(
        format!("{key}.fetch_p99_ms"),
        ms(percentile(&r.fetches, 99.0)),
    );
}

/// Deletes every object under `root`.
async fn delete_under(store: &TierStore, root: &Path) -> anyhow::Result<()> {
    let paths: Vec<Path> = store
        .store
        .list(Some(root))
        .map_ok(|m| m.location)
        .try_collect()
        .await
        .context("listing the uploaded objects")?;
    store.delete_many(paths).await?;
    Ok(())
}

/// moto's version, from the venv it is started from (best effort).
fn moto_version() -> String {
    let venv = std::env::var_os("STRATA_VENV")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/strata/venv")));
    venv.and_then(|v| {
        let python = v.join("bin/python");
        report::command_line(
            &python.to_string_lossy(),
            &["-c", "import moto; print(moto.__version__)"],
        )
    })
    .unwrap_or_else(|| "(version unknown)".into())
}
