//! `strata tier list` and `strata tier verify`: runs the library functions of
//! [`broker::tier::tools`] and prints what they return.

use std::fmt::Write as _;

use anyhow::Context;
use broker::config::{Config, Overrides};
use broker::tier::tools::{
    self, IdSource, PartitionListing, SegmentCheck, TopicLocation, VerifyOutcome,
};
use tiering::store::TierStore;

use super::{TierCommand, TierTarget};

/// Runs a tier command; `Ok(false)` when verification found faults.
pub(crate) fn run(command: TierCommand) -> anyhow::Result<bool> {
    let runtime = tokio::runtime::Runtime::new().context("starting the tokio runtime")?;
    runtime.block_on(async {
        match command {
            TierCommand::List { target, json } => {
                let (store, loc) = open(&target).await?;
                let listings = tools::list(&store, &loc).await?;
                if json {
                    println!("{}", tools::listings_json(&listings)?);
                } else {
                    print!("{}", render_list(&loc, &listings));
                }
                Ok(true)
            }
            TierCommand::Verify { target } => {
                let (store, loc) = open(&target).await?;
                let outcome = tools::verify(&store, &loc).await?;
                print!("{}", render_verify(&loc, &outcome));
                Ok(outcome.is_ok())
            }
        }
    })
}

async fn open(target: &TierTarget) -> anyhow::Result<(TierStore, TopicLocation)> {
    let config = Config::load(
        target.config.as_deref(),
        std::env::vars(),
        &Overrides {
            data_dir: target.data_dir.clone(),
            ..Overrides::default()
        },
    )?;
    let store = tools::open_store(&config.tiering, &config.data_dir)?;
    let loc = tools::locate(&store, &config.data_dir, &target.topic, target.partition)
        .await
        .with_context(|| format!("finding topic {:?}", target.topic))?;
    Ok((store, loc))
}

fn render_location(out: &mut String, loc: &TopicLocation) {
    let _ = writeln!(out, "topic {} id {}", loc.topic, loc.topic_id);
    if let IdSource::Store { candidates } = &loc.source {
        let _ = writeln!(
            out,
            "  (not in the local metadata: id taken from the store directory {}-{})",
            loc.topic, loc.topic_id
        );
        if candidates.len() > 1 {
            let _ = writeln!(
                out,
                "  several directories match, newest manifest first: {}",
                candidates.join(", ")
            );
        }
    }
}

pub(crate) fn render_list(loc: &TopicLocation, listings: &[PartitionListing]) -> String {
    let mut out = String::new();
    render_location(&mut out, loc);
    for l in listings {
        let m = &l.manifest;
        let _ = writeln!(
            out,
            "\npartition {}: manifest v{} writer epoch {} remote log start {} ({})",
            l.partition, m.version, m.leader_epoch, m.log_start_offset, l.root
        );
        if m.segments.is_empty() {
            let _ = writeln!(out, "  no tiered segments");
        }
        for s in &m.segments {
            let _ = writeln!(
                out,
                "  {}..{} span {} max-ts {} raw {} stored {} ratio {:.2} frames {} {} crc {:#010x} epoch {} uploaded {} {}",
                s.base_offset,
                s.next_offset,
                s.next_offset - s.base_offset,
                iso8601(s.max_timestamp),
                s.raw_size,
                s.size,
                ratio(s.raw_size, s.size),
                s.frames,
                s.codec,
                s.crc,
                s.leader_epoch,
                iso8601(s.uploaded_ms),
                s.object
            );
        }
        for s in &m.deleting {
            let _ = writeln!(
                out,
                "  deleting {}..{} stored {} {}",
                s.base_offset, s.next_offset, s.size, s.object
            );
        }
    }
    let t = tools::totals(listings);
    let _ = writeln!(
        out,
        "\ntotal: {} segments, {} offsets, raw {} stored {} ratio {:.2}, {} marked for deletion",
        t.segments,
        t.records_span,
        t.raw_bytes,
        t.stored_bytes,
        ratio(t.raw_bytes, t.stored_bytes),
        t.deleting
    );
    out
}

pub(crate) fn render_verify(loc: &TopicLocation, outcome: &VerifyOutcome) -> String {
    let mut out = String::new();
    render_location(&mut out, loc);
    for (partition, problem) in &outcome.manifest_problems {
        let _ = writeln!(out, "FAIL partition {partition} manifest: {problem}");
    }
    for s in &outcome.segments {
        let _ = writeln!(out, "{}", segment_line(s));
    }
    let verdict = if outcome.is_ok() { "OK" } else { "FAILED" };
    let _ = writeln!(
        out,
        "{verdict}: {} partitions, {} segments checked, {} bad, {} manifest problems",
        outcome.partitions,
        outcome.segments.len(),
        outcome.failed(),
        outcome.manifest_problems.len()
    );
    out
}

fn segment_line(s: &SegmentCheck) -> String {
    let head = format!(
        "partition {} {}..{} {}",
        s.partition, s.base_offset, s.next_offset, s.object
    );
    if s.missing {
        format!("MISSING {head}: the object does not exist")
    } else if s.problems.is_empty() {
        format!("OK {head}")
    } else {
        format!("FAIL {head}: {}", s.problems.join("; "))
    }
}

fn ratio(raw: u64, stored: u64) -> f64 {
    if stored == 0 {
        0.0
    } else {
        raw as f64 / stored as f64
    }
}

/// Milliseconds since the epoch as ISO-8601 UTC (`-` for a negative "none").
pub(crate) fn iso8601(ms: i64) -> String {
    if ms < 0 {
        return "-".into();
    }
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (days are grouped into
/// 400-year eras of 146097 days, each starting on March 1st so leap days come last).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_iso8601_utc() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(-1), "-");
        assert_eq!(iso8601(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(iso8601(1_700_000_000_000), "2023-11-14T22:13:20.000Z");
        assert_eq!(iso8601(4_102_444_799_999), "2099-12-31T23:59:59.999Z");
    }

    #[test]
    fn verify_lines_name_the_fault() {
        let mut s = SegmentCheck {
            partition: 2,
            object: "obj.seg".into(),
            base_offset: 0,
            next_offset: 10,
            missing: false,
            problems: vec![],
        };
        assert_eq!(segment_line(&s), "OK partition 2 0..10 obj.seg");
        s.problems = vec!["a".into(), "b".into()];
        assert_eq!(segment_line(&s), "FAIL partition 2 0..10 obj.seg: a; b");
        s.missing = true;
        assert!(segment_line(&s).starts_with("MISSING partition 2"));
    }
}
