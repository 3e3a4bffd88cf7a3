//! Where a partition's objects live: `<prefix>/<topic>-<topic_id>/<partition>/`, holding its
//! segment objects `<base_offset:020>-<leader_epoch>-<uuid>.seg` and its manifest versions
//! `manifest/<version:020>.json`.

use object_store::path::Path;

/// The directory of one partition's objects.
pub fn partition_root(prefix: &Path, topic: &str, topic_id: &str, partition: i32) -> Path {
    prefix
        .clone()
        .join(format!("{topic}-{topic_id}"))
        .join(partition.to_string())
}

/// A new segment object's name (relative to the partition root); the uuid makes every upload
/// attempt a distinct object, so a retried upload never overwrites one a manifest references.
pub fn segment_object_name(base_offset: i64, leader_epoch: i32, id: uuid::Uuid) -> String {
    format!("{base_offset:020}-{leader_epoch}-{}.seg", id.simple())
}

/// The base offset in a segment object's name, if it is one.
pub fn parse_segment_object_name(name: &str) -> Option<i64> {
    let stem = name.strip_suffix(".seg")?;
    let (base, _) = stem.split_once('-')?;
    base.parse().ok()
}

/// The manifests' directory.
pub(super) fn manifest_dir(root: &Path) -> Path {
    root.clone().join("manifest")
}

/// Manifest `version`'s object.
pub fn manifest_object(root: &Path, version: u64) -> Path {
    manifest_dir(root).join(format!("{version:020}.json"))
}

/// The version in a manifest object's name, if it is one.
pub fn parse_manifest_name(name: &str) -> Option<u64> {
    name.strip_suffix(".json")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let root = partition_root(&Path::from("cold/a"), "orders", "AAAA", 3);
        assert_eq!(root.as_ref(), "cold/a/orders-AAAA/3");
        let id = uuid::Uuid::nil();
        let name = segment_object_name(42, 7, id);
        assert_eq!(
            name,
            "00000000000000000042-7-00000000000000000000000000000000.seg"
        );
        assert_eq!(parse_segment_object_name(&name), Some(42));
        assert_eq!(parse_segment_object_name("manifest"), None);
        assert_eq!(
            manifest_object(&root, 5).as_ref(),
            "cold/a/orders-AAAA/3/manifest/00000000000000000005.json"
        );
        assert_eq!(parse_manifest_name("00000000000000000005.json"), Some(5));
        assert_eq!(parse_manifest_name("x.json"), None);
    }
}
