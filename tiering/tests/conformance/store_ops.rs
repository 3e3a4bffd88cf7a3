//! Cases about plain object-store operations: what the cold tier needs from any store.

use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion,
};
use tiering::store::{TierStore, check_conditional_put};

use crate::Case;

/// The cases of this module.
pub(crate) fn cases() -> Vec<Case> {
    crate::cases![
        put_get_round_trip,
        ranged_get,
        multipart_upload,
        create_only_put,
        conditional_update,
        list_under_prefix,
        delete_and_delete_many,
        missing_object_is_not_found,
    ]
}

/// `len` bytes of a pattern that differs at every offset modulo 251 (a prime, so ranges that
/// are off by some bytes are caught).
fn pattern(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8 ^ seed)
        .collect::<Vec<u8>>()
        .into()
}

async fn get_bytes(store: &TierStore, path: &Path) -> Bytes {
    store
        .store
        .get(path)
        .await
        .unwrap_or_else(|e| panic!("get {path}: {e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("get body {path}: {e}"))
}

async fn put_get_round_trip(store: &TierStore) {
    let path = store.path("round/trip.bin");
    let data = pattern(10_000, 7);
    store
        .store
        .put(&path, data.clone().into())
        .await
        .expect("put");
    assert_eq!(get_bytes(store, &path).await, data);
    let meta = store.store.head(&path).await.expect("head");
    assert_eq!(meta.size, data.len() as u64);
    assert_eq!(meta.location, path);

    // An empty object, and an overwrite with a plain put.
    let empty = store.path("round/empty");
    store
        .store
        .put(&empty, PutPayload::new())
        .await
        .expect("put empty");
    assert!(get_bytes(store, &empty).await.is_empty());
    let other = pattern(100, 9);
    store
        .store
        .put(&path, other.clone().into())
        .await
        .expect("overwrite");
    assert_eq!(get_bytes(store, &path).await, other);
}

async fn ranged_get(store: &TierStore) {
    let path = store.path("ranged.bin");
    let data = pattern(4_000, 3);
    store
        .store
        .put(&path, data.clone().into())
        .await
        .expect("put");
    for range in [
        0..1,
        0..100,
        100..612,
        1_000..3_999,
        3_999..4_000,
        17..4_000,
    ] {
        let got = store
            .store
            .get_range(&path, range.clone())
            .await
            .expect("get_range");
        assert_eq!(
            got,
            data.slice(range.start as usize..range.end as usize),
            "range {range:?}"
        );
    }
    // The last 32 bytes, as a reader fetches a trailer: by suffix and by offset.
    let tail = data.slice(data.len() - 32..);
    let suffix = GetOptions::new().with_range(Some(GetRange::Suffix(32)));
    let got = store
        .store
        .get_opts(&path, suffix)
        .await
        .expect("suffix get");
    assert_eq!(got.range, 3_968..4_000);
    assert_eq!(got.bytes().await.expect("suffix body"), tail);
    let offset = GetOptions::new().with_range(Some(GetRange::Offset(3_968)));
    let got = store
        .store
        .get_opts(&path, offset)
        .await
        .expect("offset get");
    assert_eq!(got.bytes().await.expect("offset body"), tail);
    // Several ranges at once.
    let ranges = [0..10, 2_000..2_100, 3_990..4_000];
    let got = store
        .store
        .get_ranges(&path, &ranges)
        .await
        .expect("get_ranges");
    for (range, bytes) in ranges.iter().zip(got) {
        assert_eq!(
            bytes,
            data.slice(range.start as usize..range.end as usize),
            "range {range:?}"
        );
    }
}

async fn multipart_upload(store: &TierStore) {
    const PART: usize = 5 << 20;
    let path = store.path("multipart.seg");
    let data = pattern(2 * PART + (1 << 20) + 123, 11);
    let mut upload = store.store.put_multipart(&path).await.expect("initiate");
    for chunk in data.chunks(PART) {
        upload
            .put_part(data.slice_ref(chunk).into())
            .await
            .expect("put_part");
    }
    upload.complete().await.expect("complete");
    let meta = store.store.head(&path).await.expect("head");
    assert_eq!(meta.size, data.len() as u64);
    let got = get_bytes(store, &path).await;
    assert!(
        got == data,
        "multipart object differs ({} bytes read, {} written)",
        got.len(),
        data.len()
    );
}

async fn create_only_put(store: &TierStore) {
    let path = store.path("manifest.json");
    let create = || PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    store
        .store
        .put_opts(&path, PutPayload::from_static(b"first"), create())
        .await
        .expect("first create");
    let second = store
        .store
        .put_opts(&path, PutPayload::from_static(b"second"), create())
        .await;
    assert!(
        matches!(second, Err(object_store::Error::AlreadyExists { .. })),
        "second create: {second:?}"
    );
    assert_eq!(&get_bytes(store, &path).await[..], b"first");
    check_conditional_put(store)
        .await
        .expect("check_conditional_put");
}

/// `PutMode::Update`: a put conditional on the version read succeeds once; a stale version is
/// refused. Stores that lack it (the local file store) say so with `NotImplemented`.
async fn conditional_update(store: &TierStore) {
    let path = store.path("manifest-update.json");
    let put = store
        .store
        .put(&path, PutPayload::from_static(b"v1"))
        .await
        .expect("put v1");
    let v1 = UpdateVersion {
        e_tag: put.e_tag,
        version: put.version,
    };
    let update = |version: UpdateVersion| PutOptions {
        mode: PutMode::Update(version),
        ..PutOptions::default()
    };
    let first = store
        .store
        .put_opts(&path, PutPayload::from_static(b"v2"), update(v1.clone()))
        .await;
    match first {
        Err(object_store::Error::NotImplemented { .. }) => {
            eprintln!(
                "{}: PutMode::Update not implemented by this store",
                store.url
            );
            return;
        }
        Err(err) => panic!("update from v1: {err}"),
        Ok(_) => {}
    }
    let stale = store
        .store
        .put_opts(&path, PutPayload::from_static(b"v3"), update(v1))
        .await;
    assert!(
        matches!(stale, Err(object_store::Error::Precondition { .. })),
        "update from a stale version: {stale:?}"
    );
    assert_eq!(&get_bytes(store, &path).await[..], b"v2");
}

async fn list_under_prefix(store: &TierStore) {
    for rel in ["a/1", "a/2", "a/sub/3", "a/sub/deeper/4", "b/5", "ab"] {
        store
            .store
            .put(&store.path(rel), PutPayload::from_static(b"x"))
            .await
            .expect("put");
    }
    let a = store.path("a");
    let mut listed: Vec<Path> = store
        .store
        .list(Some(&a))
        .map_ok(|meta| meta.location)
        .try_collect()
        .await
        .expect("list");
    listed.sort();
    let expected: Vec<Path> = ["a/1", "a/2", "a/sub/3", "a/sub/deeper/4"]
        .iter()
        .map(|rel| store.path(rel))
        .collect();
    assert_eq!(
        listed, expected,
        "list is by path segment: `ab` is not under `a`"
    );

    let shallow = store
        .store
        .list_with_delimiter(Some(&a))
        .await
        .expect("list_with_delimiter");
    let mut objects: Vec<Path> = shallow
        .objects
        .into_iter()
        .map(|meta| meta.location)
        .collect();
    objects.sort();
    assert_eq!(objects, vec![store.path("a/1"), store.path("a/2")]);
    assert_eq!(shallow.common_prefixes, vec![store.path("a/sub")]);

    let everything: Vec<_> = store
        .store
        .list(Some(&store.prefix))
        .try_collect()
        .await
        .expect("list all");
    assert_eq!(everything.len(), 6);
    let missing: Vec<_> = store
        .store
        .list(Some(&store.path("nothing-here")))
        .try_collect()
        .await
        .expect("list of an empty prefix");
    assert!(missing.is_empty());
}

async fn delete_and_delete_many(store: &TierStore) {
    let one = store.path("del/one");
    store
        .store
        .put(&one, PutPayload::from_static(b"1"))
        .await
        .expect("put");
    store.store.delete(&one).await.expect("delete");
    assert!(matches!(
        store.store.head(&one).await,
        Err(object_store::Error::NotFound { .. })
    ));
    // Deleting what is not there: S3 says yes, the file store says NotFound; both are fine.
    match store.store.delete(&one).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
        Err(err) => panic!("delete of a missing object: {err}"),
    }

    let mut paths = Vec::new();
    for i in 0..5 {
        let path = store.path(&format!("del/many/{i}"));
        store
            .store
            .put(&path, PutPayload::from_static(b"x"))
            .await
            .expect("put");
        paths.push(path);
    }
    paths.push(store.path("del/many/missing"));
    store.delete_many(paths).await.expect("delete_many");
    store
        .delete_many(Vec::new())
        .await
        .expect("delete_many of nothing");
    let left: Vec<_> = store
        .store
        .list(Some(&store.path("del")))
        .try_collect()
        .await
        .expect("list");
    assert!(left.is_empty(), "left after delete_many: {left:?}");
}

async fn missing_object_is_not_found(store: &TierStore) {
    let path = store.path("no/such/object");
    let get = store.store.get(&path).await;
    assert!(
        matches!(get, Err(object_store::Error::NotFound { .. })),
        "get: {get:?}"
    );
    let range = store.store.get_range(&path, 0..10).await;
    assert!(
        matches!(range, Err(object_store::Error::NotFound { .. })),
        "get_range: {range:?}"
    );
    let head = store.store.head(&path).await;
    assert!(
        matches!(head, Err(object_store::Error::NotFound { .. })),
        "head: {head:?}"
    );
}
