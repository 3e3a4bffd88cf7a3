//! The start-up check that the store honours create-only puts.

use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};

use super::error::StoreError;
use super::open::TierStore;

/// Checks that the store refuses a second create-only put (`PutMode::Create`, S3's
/// `If-None-Match: *`) of the same key, which the cold tier's manifests rely on to keep a deposed
/// leader from overwriting them. Writes `<prefix>/_strata/probe-<uuid>` twice and deletes it.
///
/// Fails with [`StoreError::ConditionalPutNotHonoured`] when the second put succeeds, and with
/// [`StoreError::Request`] when the store cannot be reached or refuses the first put. The broker
/// calls this once at start.
pub async fn check_conditional_put(store: &TierStore) -> Result<(), StoreError> {
    let path = store.path(&format!("_strata/probe-{}", uuid::Uuid::new_v4()));
    let create = || PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    store
        .store
        .put_opts(&path, PutPayload::from_static(b"strata probe 1"), create())
        .await
        .map_err(|source| StoreError::request("conditional put probe", &path, source))?;
    let second = store
        .store
        .put_opts(&path, PutPayload::from_static(b"strata probe 2"), create())
        .await;
    let verdict = match second {
        Err(object_store::Error::AlreadyExists { .. }) => Ok(()),
        Ok(_) => Err(StoreError::ConditionalPutNotHonoured {
            url: store.url.clone(),
            path: path.to_string(),
        }),
        Err(source) => Err(StoreError::request("conditional put probe", &path, source)),
    };
    let deleted = match store.store.delete(&path).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(source) => Err(StoreError::request("delete of the probe", &path, source)),
    };
    verdict.and(deleted)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_trait::async_trait;
    use futures::stream::BoxStream;
    use object_store::memory::InMemory;
    use object_store::path::Path;
    use object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
        PutMultipartOptions, PutResult,
    };

    use super::*;
    use crate::store::{StoreConfig, open};

    #[tokio::test]
    async fn memory_store_passes() {
        let store = open(&StoreConfig::new("memory://")).unwrap();
        check_conditional_put(&store).await.unwrap();
        let left: Vec<_> = futures::StreamExt::collect(store.store.list(None)).await;
        assert!(left.is_empty(), "the probe is deleted");
    }

    /// A store that ignores put modes, as some S3-compatible servers do.
    #[derive(Debug)]
    struct Overwriting(InMemory);

    impl std::fmt::Display for Overwriting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Overwriting")
        }
    }

    #[async_trait]
    impl ObjectStore for Overwriting {
        async fn put_opts(
            &self,
            location: &Path,
            payload: PutPayload,
            _opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            self.0
                .put_opts(location, payload, PutOptions::default())
                .await
        }
        async fn put_multipart_opts(
            &self,
            location: &Path,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.0.put_multipart_opts(location, opts).await
        }
        async fn get_opts(
            &self,
            location: &Path,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            self.0.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<Path>>,
        ) -> BoxStream<'static, object_store::Result<Path>> {
            self.0.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&Path>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.0.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&Path>,
        ) -> object_store::Result<ListResult> {
            self.0.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            from: &Path,
            to: &Path,
            options: CopyOptions,
        ) -> object_store::Result<()> {
            self.0.copy_opts(from, to, options).await
        }
    }

    #[tokio::test]
    async fn a_store_that_overwrites_is_refused_with_a_clear_error() {
        let store = TierStore::new(
            Arc::new(Overwriting(InMemory::new())),
            Path::from("p"),
            "overwriting://",
        );
        let err = check_conditional_put(&store).await.unwrap_err();
        assert!(
            matches!(err, StoreError::ConditionalPutNotHonoured { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("If-None-Match"), "{err}");
        let left: Vec<_> = futures::StreamExt::collect(store.store.list(None)).await;
        assert!(left.is_empty(), "the probe is deleted");
    }
}
