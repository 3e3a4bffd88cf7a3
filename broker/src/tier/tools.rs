//! The operator's view of the cold tier, for `strata tier list` and `strata tier verify`:
//! finding a topic's directories in the store, reading its manifests, and re-reading every
//! segment object to check it against them. Read-only: nothing here writes to the store or to
//! the data directory, and no lock is taken, so the commands can run beside a live broker.
//! Functions return data; the CLI prints it.

use std::collections::BTreeMap;
use std::path::Path as FsPath;
use std::sync::Arc;

use controller::{LocalStore, TopicId};
use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use tiering::read::{ColdReader, ColdReaderConfig, ReadError};
use tiering::remote::{
    Manifest, RemoteLog, RemoteSegment, TierError, parse_segment_object_name, partition_root,
};
use tiering::store::{StoreError, TierStore};
use tracing::Instrument;

use crate::config::TieringConfig;

/// Segment objects verified at once.
pub const VERIFY_CONCURRENCY: usize = 4;

/// Why a tool could not run at all (faults it finds are results, not errors).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ToolError {
    #[error("topic {topic:?} is neither in the local metadata nor in the store {url}")]
    TopicNotFound { topic: String, url: String },
    #[error("topic {topic:?} has no partition {partition} (it has {count})")]
    NoSuchPartition {
        topic: String,
        partition: i32,
        count: usize,
    },
    #[error("the store directory {0} does not exist")]
    NoStoreDir(String),
    #[error("reading the local metadata: {0}")]
    Metadata(#[from] controller::ControllerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("listing {path}: {source}")]
    List {
        path: String,
        #[source]
        source: object_store::Error,
    },
    #[error(transparent)]
    Tier(#[from] TierError),
    #[error(transparent)]
    Read(#[from] ReadError),
}

/// Opens the configured store without writing to it (unlike `Tier::open`, no conditional-put
/// probe, and a missing `file://` directory is an error rather than created).
pub fn open_store(config: &TieringConfig, data_dir: &FsPath) -> Result<TierStore, ToolError> {
    let url = config.store_url(data_dir);
    if let Some(dir) = url.strip_prefix("file://")
        && !FsPath::new(dir).is_dir()
    {
        return Err(ToolError::NoStoreDir(dir.to_owned()));
    }
    Ok(tiering::store::open(&config.store_config(data_dir))?)
}

/// Where a topic's id came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdSource {
    /// The local metadata under the data directory.
    Metadata,
    /// The store's directory names (the topic is not in the local metadata). `candidates`
    /// lists every `<topic>-<id>` found, newest manifest first; the first one is used.
    Store { candidates: Vec<String> },
}

/// A topic's place in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicLocation {
    pub topic: String,
    pub topic_id: String,
    /// The partitions to look at.
    pub partitions: Vec<i32>,
    pub source: IdSource,
}

/// Finds `topic`'s id and partitions: from the local metadata under `data_dir`, else from the
/// store's `<topic>-<id>/` directories. `partition` narrows the result to one.
pub async fn locate(
    store: &TierStore,
    data_dir: &FsPath,
    topic: &str,
    partition: Option<i32>,
) -> Result<TopicLocation, ToolError> {
    let image = LocalStore::read_image(&data_dir.join("__cluster_metadata"))?;
    let mut loc = match image.as_ref().and_then(|i| i.topic(topic)) {
        Some(t) => TopicLocation {
            topic: topic.to_owned(),
            topic_id: t.id.to_string(),
            partitions: (0..t.partitions.len() as i32).collect(),
            source: IdSource::Metadata,
        },
        None => locate_in_store(store, topic).await?,
    };
    if let Some(p) = partition {
        // A partition found only in the store may simply have nothing tiered yet.
        if loc.source == IdSource::Metadata && !loc.partitions.contains(&p) {
            return Err(ToolError::NoSuchPartition {
                topic: topic.to_owned(),
                partition: p,
                count: loc.partitions.len(),
            });
        }
        loc.partitions = vec![p];
    }
    Ok(loc)
}

async fn locate_in_store(store: &TierStore, topic: &str) -> Result<TopicLocation, ToolError> {
    let not_found = || ToolError::TopicNotFound {
        topic: topic.to_owned(),
        url: store.url.clone(),
    };
    let mut found = Vec::new();
    for dir in list_dirs(store.store.as_ref(), &store.prefix).await? {
        let Some(id) = dir.strip_prefix(topic).and_then(|r| r.strip_prefix('-')) else {
            continue;
        };
        if id.len() != 22 || id.parse::<TopicId>().is_err() {
            continue;
        }
        let topic_dir = store.prefix.clone().join(dir.as_str());
        let mut partitions: Vec<i32> = list_dirs(store.store.as_ref(), &topic_dir)
            .await?
            .iter()
            .filter_map(|p| p.parse().ok())
            .collect();
        partitions.sort_unstable();
        let mut newest = None;
        for p in &partitions {
            let dir = topic_dir.clone().join(p.to_string()).join("manifest");
            let mut listed = store.store.list(Some(&dir));
            while let Some(meta) = listed.next().await {
                let meta = meta.map_err(|source| ToolError::List {
                    path: dir.to_string(),
                    source,
                })?;
                newest = newest.max(Some(meta.last_modified));
            }
        }
        found.push((newest, id.to_owned(), partitions));
    }
    // Newest manifest first.
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    let candidates = found
        .iter()
        .map(|(_, id, _)| format!("{topic}-{id}"))
        .collect();
    let (_, topic_id, partitions) = found.into_iter().next().ok_or_else(not_found)?;
    Ok(TopicLocation {
        topic: topic.to_owned(),
        topic_id,
        partitions,
        source: IdSource::Store { candidates },
    })
}

/// The names of the "directories" right under `dir`.
async fn list_dirs(store: &dyn ObjectStore, dir: &Path) -> Result<Vec<String>, ToolError> {
    let listed = store
        .list_with_delimiter(Some(dir))
        .await
        .map_err(|source| ToolError::List {
            path: dir.to_string(),
            source,
        })?;
    Ok(listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(str::to_owned))
        .collect())
}

/// One partition's newest manifest.
#[derive(Debug, Clone)]
pub struct PartitionListing {
    pub partition: i32,
    pub root: Path,
    pub manifest: Arc<Manifest>,
}

/// Reads the newest manifest of every located partition.
pub async fn list(
    store: &TierStore,
    loc: &TopicLocation,
) -> Result<Vec<PartitionListing>, ToolError> {
    let mut out = Vec::with_capacity(loc.partitions.len());
    for &partition in &loc.partitions {
        let root = partition_root(&store.prefix, &loc.topic, &loc.topic_id, partition);
        let log = RemoteLog::open(store.store.clone(), root.clone()).await?;
        out.push(PartitionListing {
            partition,
            root,
            manifest: log.manifest(),
        });
    }
    Ok(out)
}

/// What verification found of one segment object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentCheck {
    pub partition: i32,
    pub object: String,
    pub base_offset: i64,
    pub next_offset: i64,
    /// The object does not exist.
    pub missing: bool,
    /// Everything wrong with it; empty (and not missing) when intact.
    pub problems: Vec<String>,
}

impl SegmentCheck {
    pub fn is_ok(&self) -> bool {
        !self.missing && self.problems.is_empty()
    }
}

/// What verification found of a topic.
#[derive(Debug, Clone, Default)]
pub struct VerifyOutcome {
    /// One per live segment, by partition and base offset.
    pub segments: Vec<SegmentCheck>,
    /// Faults of the manifests themselves (unreadable, overlapping segments), by partition.
    pub manifest_problems: Vec<(i32, String)>,
    /// Partitions whose manifest was read.
    pub partitions: usize,
}

impl VerifyOutcome {
    pub fn is_ok(&self) -> bool {
        self.manifest_problems.is_empty() && self.segments.iter().all(SegmentCheck::is_ok)
    }

    pub fn failed(&self) -> usize {
        self.segments.iter().filter(|s| !s.is_ok()).count()
    }
}

/// Re-reads every live segment object of the located partitions, [`VERIFY_CONCURRENCY`] at
/// once, and checks it against its manifest entry.
pub async fn verify(store: &TierStore, loc: &TopicLocation) -> Result<VerifyOutcome, ToolError> {
    let span = tracing::info_span!("broker.tier.verify", topic = %loc.topic, topic_id = %loc.topic_id,
        partitions = loc.partitions.len());
    verify_inner(store, loc).instrument(span).await
}

async fn verify_inner(store: &TierStore, loc: &TopicLocation) -> Result<VerifyOutcome, ToolError> {
    let reader = ColdReader::new(
        store.store.clone(),
        ColdReaderConfig {
            cache_dir: None,
            memory_cache_bytes: 16 << 20,
            prefetch_frames: 0,
            ..ColdReaderConfig::default()
        },
    )?;
    let mut outcome = VerifyOutcome::default();
    let mut work = Vec::new();
    for &partition in &loc.partitions {
        let root = partition_root(&store.prefix, &loc.topic, &loc.topic_id, partition);
        let log = match RemoteLog::open(store.store.clone(), root).await {
            Ok(log) => Arc::new(log),
            Err(e) => {
                outcome.manifest_problems.push((partition, e.to_string()));
                continue;
            }
        };
        outcome.partitions += 1;
        let manifest = log.manifest();
        for problem in manifest_problems(&manifest) {
            outcome.manifest_problems.push((partition, problem));
        }
        for s in &manifest.segments {
            work.push((partition, Arc::clone(&log), s.clone()));
        }
    }
    tracing::debug!(segments = work.len(), "verifying");
    outcome.segments = futures::stream::iter(work)
        .map(|(partition, log, s)| {
            let reader = &reader;
            async move { check_segment(reader, &log, partition, &s).await }
        })
        .buffered(VERIFY_CONCURRENCY)
        .collect()
        .await;
    Ok(outcome)
}

/// Overlapping or empty segments (the manifest's own layout check), and object names that
/// disagree with their base offsets.
fn manifest_problems(m: &Manifest) -> Vec<String> {
    let mut out = m.layout_problems();
    for s in &m.segments {
        if parse_segment_object_name(&s.object) != Some(s.base_offset) {
            out.push(format!(
                "segment {}: the name does not match base offset {}",
                s.object, s.base_offset
            ));
        }
    }
    out
}

async fn check_segment(
    reader: &ColdReader,
    log: &RemoteLog,
    partition: i32,
    s: &RemoteSegment,
) -> SegmentCheck {
    let mut check = SegmentCheck {
        partition,
        object: s.object.clone(),
        base_offset: s.base_offset,
        next_offset: s.next_offset,
        missing: false,
        problems: Vec::new(),
    };
    let seg = log.segment_ref(s);
    match log.store().head(&seg.path).await {
        Ok(meta) if meta.size != s.size => check.problems.push(format!(
            "object is {} bytes, the manifest says {}",
            meta.size, s.size
        )),
        Ok(_) => {}
        Err(object_store::Error::NotFound { .. }) => {
            check.missing = true;
            return check;
        }
        Err(e) => {
            check.problems.push(format!("HEAD failed: {e}"));
            return check;
        }
    }
    match reader.verify(&seg).await {
        Ok(report) => check
            .problems
            .extend(report.problems.iter().map(|p| match p.frame {
                Some(f) => format!("frame {f} at byte {}: {}", p.position, p.reason),
                None => p.reason.clone(),
            })),
        Err(ReadError::NotFound { .. }) => {
            check.missing = true;
            return check;
        }
        Err(e) => {
            check.problems.push(e.to_string());
            return check;
        }
    }
    match reader.footer(&seg).await {
        Ok(footer) => {
            let f = &footer.summary;
            let mut differs = |what: &str, footer: String, manifest: String| {
                if footer != manifest {
                    check.problems.push(format!(
                        "footer {what} is {footer}, the manifest says {manifest}"
                    ));
                }
            };
            differs(
                "base offset",
                f.base_offset.to_string(),
                s.base_offset.to_string(),
            );
            differs(
                "next offset",
                f.next_offset.to_string(),
                s.next_offset.to_string(),
            );
            differs(
                "crc",
                format!("{:#010x}", f.crc),
                format!("{:#010x}", s.crc),
            );
            differs(
                "frame count",
                footer.frames.len().to_string(),
                s.frames.to_string(),
            );
            differs("raw size", f.raw_bytes.to_string(), s.raw_size.to_string());
        }
        Err(e) => check.problems.push(e.to_string()),
    }
    check
}

/// Totals of a listing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub segments: usize,
    pub records_span: i64,
    pub raw_bytes: u64,
    pub stored_bytes: u64,
    pub deleting: usize,
}

/// Sums the live segments of `listings`.
pub fn totals(listings: &[PartitionListing]) -> Totals {
    let mut t = Totals::default();
    for l in listings {
        for s in &l.manifest.segments {
            t.segments += 1;
            t.records_span += s.next_offset - s.base_offset;
            t.raw_bytes += s.raw_size;
            t.stored_bytes += s.size;
        }
        t.deleting += l.manifest.deleting.len();
    }
    t
}

/// The listings as pretty JSON: `{ "<partition>": <manifest> }`, fields in manifest order.
pub fn listings_json(listings: &[PartitionListing]) -> Result<String, serde_json::Error> {
    let map: BTreeMap<i32, &Manifest> = listings
        .iter()
        .map(|l| (l.partition, l.manifest.as_ref()))
        .collect();
    serde_json::to_string_pretty(&map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(base: i64, next: i64) -> RemoteSegment {
        RemoteSegment {
            object: tiering::remote::segment_object_name(base, 0, uuid::Uuid::nil()),
            base_offset: base,
            next_offset: next,
            max_timestamp: -1,
            offset_of_max_timestamp: -1,
            size: 10,
            raw_size: 20,
            frames: 1,
            codec: "zstd".into(),
            crc: 0,
            leader_epoch: 0,
            epochs: Vec::new(),
            uploaded_ms: 0,
        }
    }

    #[test]
    fn overlaps_and_bad_names_are_found() {
        let mut m = Manifest::empty();
        m.segments = vec![seg(0, 10), seg(10, 20)];
        assert!(manifest_problems(&m).is_empty());
        m.segments.push(seg(15, 30));
        let found = manifest_problems(&m);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("overlaps"));
        m.segments[0].object = "x.seg".into();
        assert_eq!(manifest_problems(&m).len(), 2);
    }

    #[test]
    fn totals_add_up() {
        let mut m = Manifest::empty();
        m.segments = vec![seg(0, 10), seg(10, 25)];
        m.deleting = vec![seg(-5, 0)];
        let l = PartitionListing {
            partition: 0,
            root: Path::from("t"),
            manifest: Arc::new(m),
        };
        let t = totals(&[l.clone(), l]);
        assert_eq!(t.segments, 4);
        assert_eq!(t.records_span, 50);
        assert_eq!(t.raw_bytes, 80);
        assert_eq!(t.stored_bytes, 40);
        assert_eq!(t.deleting, 2);
    }
}
