//! Opening a store by URL, and the [`TierStore`] handle the cold tier passes around.

use std::path::PathBuf;
use std::sync::Arc;

use futures::{StreamExt, stream};
use object_store::ClientConfigKey;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, S3ConditionalPut};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;

use super::config::StoreConfig;
use super::error::StoreError;
use super::metered::MeteredStore;

/// An opened object store, the key prefix under which the cold tier keeps its objects, and the
/// URL it was opened from (for messages).
#[derive(Clone, Debug)]
pub struct TierStore {
    /// The store, already wrapped in [`MeteredStore`] when made by [`open`].
    pub store: Arc<dyn ObjectStore>,
    /// Every object of this store lives under this prefix (empty for `file://` and `memory://`).
    pub prefix: Path,
    /// The URL the store was opened from.
    pub url: String,
}

impl TierStore {
    /// A store handle over `store` with the given prefix.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: Path, url: impl Into<String>) -> Self {
        TierStore {
            store,
            prefix,
            url: url.into(),
        }
    }

    /// The full path of `rel` (a `/`-separated relative key) under the prefix.
    pub fn path(&self, rel: &str) -> Path {
        Path::from_iter(self.prefix.parts().chain(Path::from(rel).parts()))
    }

    /// The same store with its prefix extended by `rel` (to give a test or a tenant its own
    /// corner of a bucket).
    pub fn child(&self, rel: &str) -> TierStore {
        TierStore {
            store: Arc::clone(&self.store),
            prefix: self.path(rel),
            url: self.url.clone(),
        }
    }

    /// Deletes every path, through the store's bulk delete where it has one and one request per
    /// object where it does not. A path that does not exist counts as deleted. Returns the first
    /// failure after trying every path.
    pub async fn delete_many(&self, paths: Vec<Path>) -> Result<(), StoreError> {
        if paths.is_empty() {
            return Ok(());
        }
        let count = paths.len();
        let mut results = self
            .store
            .delete_stream(stream::iter(paths.into_iter().map(Ok)).boxed());
        let mut first_error = None;
        while let Some(result) = results.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => {}
                Err(err) => {
                    if first_error.is_none() {
                        first_error = Some(StoreError::Request {
                            op: "delete_many",
                            path: format!("one of {count} objects under {}", self.prefix),
                            source: err,
                        });
                    }
                }
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }
}

/// Opens the store `cfg.url` names, wrapped in [`MeteredStore`]. Does no I/O except creating the
/// directory of a `file://` store; call [`check_conditional_put`](super::check_conditional_put)
/// to find out whether the store is reachable and usable.
pub fn open(cfg: &StoreConfig) -> Result<TierStore, StoreError> {
    let url = cfg.url.trim();
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| StoreError::UnsupportedScheme {
            url: url.to_string(),
        })?;
    let (store, prefix): (Arc<dyn ObjectStore>, Path) = match scheme {
        "file" => (Arc::new(open_local(url, rest)?), Path::default()),
        "memory" => (Arc::new(InMemory::new()), Path::default()),
        "s3" => {
            let (bucket, prefix) = parse_s3(url, rest)?;
            let s3 = s3_builder(cfg, &bucket)
                .build()
                .map_err(|source| StoreError::Open {
                    url: url.to_string(),
                    source,
                })?;
            (Arc::new(s3), prefix)
        }
        _ => {
            return Err(StoreError::UnsupportedScheme {
                url: url.to_string(),
            });
        }
    };
    Ok(TierStore::new(
        Arc::new(MeteredStore::new(store)),
        prefix,
        url,
    ))
}

/// The local directory of a `file://` URL: absolute after `file:///`, else relative to the
/// current directory. Created if missing.
fn local_dir(url: &str, rest: &str) -> Result<PathBuf, StoreError> {
    if rest.is_empty() || rest == "/" {
        return Err(StoreError::InvalidUrl {
            url: url.to_string(),
            reason: "a file:// url needs a directory, e.g. file:///var/lib/strata/tier".into(),
        });
    }
    let dir = PathBuf::from(rest);
    if dir.is_absolute() {
        return Ok(dir);
    }
    let cwd = std::env::current_dir().map_err(|source| StoreError::LocalDir {
        path: dir.clone(),
        source,
    })?;
    Ok(cwd.join(dir))
}

fn open_local(url: &str, rest: &str) -> Result<LocalFileSystem, StoreError> {
    let dir = local_dir(url, rest)?;
    std::fs::create_dir_all(&dir).map_err(|source| StoreError::LocalDir {
        path: dir.clone(),
        source,
    })?;
    LocalFileSystem::new_with_prefix(&dir).map_err(|source| StoreError::Open {
        url: url.to_string(),
        source,
    })
}

/// The bucket and the key prefix of an `s3://bucket/optional/prefix` URL.
fn parse_s3(url: &str, rest: &str) -> Result<(String, Path), StoreError> {
    let invalid = |reason: &str| StoreError::InvalidUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    if rest.contains(['?', '#']) {
        return Err(invalid("query strings and fragments are not supported"));
    }
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(invalid(
            "an s3:// url needs a bucket, e.g. s3://my-bucket/strata",
        ));
    }
    let prefix = prefix.trim_matches('/');
    let prefix = Path::parse(prefix).map_err(|err| invalid(&format!("bad key prefix: {err}")))?;
    Ok((bucket.to_string(), prefix))
}

/// The S3 builder for `cfg`: the AWS environment first, then every field that is set.
///
/// `with_client_options` replaces the whole client configuration, including `allow_http` and
/// whatever the environment set (`AWS_ALLOW_HTTP`, `AWS_PROXY_URL`, ...), so it is not used:
/// the timeouts are set one key at a time, and `allow_http` last.
fn s3_builder(cfg: &StoreConfig, bucket: &str) -> AmazonS3Builder {
    let timeout_ms = cfg.request_timeout_ms.max(1);
    let mut builder = AmazonS3Builder::from_env()
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
            format!("{timeout_ms}ms"),
        )
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
            format!("{}ms", timeout_ms.min(10_000)),
        )
        .with_bucket_name(bucket)
        .with_conditional_put(S3ConditionalPut::ETagMatch)
        .with_disable_bulk_delete(cfg.disable_bulk_delete);
    if let Some(endpoint) = &cfg.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(region) = &cfg.region {
        builder = builder.with_region(region);
    }
    if let Some(key) = &cfg.access_key_id {
        builder = builder.with_access_key_id(key);
    }
    if let Some(secret) = &cfg.secret_access_key {
        builder = builder.with_secret_access_key(secret);
    }
    if let Some(token) = &cfg.session_token {
        builder = builder.with_token(token);
    }
    // Last: an explicit `allow_http = true` wins over the client options above; `false` keeps
    // whatever the environment (AWS_ALLOW_HTTP) said.
    if cfg.allow_http {
        builder = builder.with_allow_http(true);
    }
    builder
}

#[cfg(test)]
mod tests {
    use object_store::ClientConfigKey;
    use object_store::aws::AmazonS3ConfigKey;

    use super::*;

    fn cfg(url: &str) -> StoreConfig {
        StoreConfig::new(url)
    }

    #[test]
    fn unknown_schemes_are_refused_by_name() {
        for url in ["", "bucket/prefix", "gs://b", "http://x", "s4://b"] {
            let err = open(&cfg(url)).unwrap_err();
            assert!(
                matches!(err, StoreError::UnsupportedScheme { .. }),
                "{url}: {err}"
            );
            let text = err.to_string();
            assert!(text.contains(&format!("{url:?}")), "{text}");
            assert!(
                text.contains("s3://") && text.contains("file://") && text.contains("memory://")
            );
        }
    }

    #[test]
    fn s3_urls_are_split_into_bucket_and_prefix() {
        let (b, p) = parse_s3("s3://b", "b").unwrap();
        assert_eq!((b.as_str(), p.as_ref()), ("b", ""));
        let (b, p) = parse_s3("s3://b/", "b/").unwrap();
        assert_eq!((b.as_str(), p.as_ref()), ("b", ""));
        let (b, p) = parse_s3("s3://b/x/y/", "b/x/y/").unwrap();
        assert_eq!((b.as_str(), p.as_ref()), ("b", "x/y"));
        assert!(matches!(
            parse_s3("s3:///x", "/x"),
            Err(StoreError::InvalidUrl { .. })
        ));
        assert!(matches!(
            parse_s3("s3://", ""),
            Err(StoreError::InvalidUrl { .. })
        ));
        assert!(matches!(
            parse_s3("s3://b/x?y", "b/x?y"),
            Err(StoreError::InvalidUrl { .. })
        ));
        assert!(matches!(
            parse_s3("s3://b/a//b", "b/a//b"),
            Err(StoreError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn s3_open_does_no_io_and_keeps_the_prefix() {
        let store = open(&StoreConfig {
            endpoint: Some("http://127.0.0.1:1".into()),
            region: Some("us-east-1".into()),
            access_key_id: Some("k".into()),
            secret_access_key: Some("s".into()),
            allow_http: true,
            ..cfg("s3://bucket/strata/tier")
        })
        .unwrap();
        assert_eq!(store.prefix.as_ref(), "strata/tier");
        assert_eq!(store.path("a/b.seg").as_ref(), "strata/tier/a/b.seg");
        assert_eq!(store.child("t").path("x").as_ref(), "strata/tier/t/x");
    }

    #[test]
    fn allow_http_and_timeouts_are_both_kept() {
        let builder = s3_builder(
            &StoreConfig {
                endpoint: Some("http://127.0.0.1:9000".into()),
                allow_http: true,
                request_timeout_ms: 1234,
                ..cfg("s3://b")
            },
            "b",
        );
        let allow =
            builder.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp));
        assert_eq!(allow.as_deref(), Some("true"));
        let timeout =
            builder.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::Timeout));
        assert_eq!(timeout.as_deref(), Some("1234ms"));
        let conditional = builder.get_config_value(&AmazonS3ConfigKey::ConditionalPut);
        assert_eq!(conditional.as_deref(), Some("etag"));
        // The deferred timeout values parse when the store is built.
        builder.build().unwrap();
    }

    #[test]
    fn bulk_delete_can_be_disabled() {
        let builder = s3_builder(
            &StoreConfig {
                disable_bulk_delete: true,
                ..cfg("s3://b")
            },
            "b",
        );
        let value = builder.get_config_value(&AmazonS3ConfigKey::DisableBulkDelete);
        assert_eq!(value.as_deref(), Some("true"));
    }

    #[test]
    fn file_urls_create_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a/b");
        let url = format!("file://{}", target.display());
        let store = open(&cfg(&url)).unwrap();
        assert!(target.is_dir());
        assert_eq!(store.prefix.as_ref(), "");
        assert!(matches!(
            open(&cfg("file://")),
            Err(StoreError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn relative_file_urls_resolve_against_the_current_dir() {
        let dir = local_dir("file://rel/dir", "rel/dir").unwrap();
        assert_eq!(dir, std::env::current_dir().unwrap().join("rel/dir"));
        let dir = local_dir("file:///abs/dir", "/abs/dir").unwrap();
        assert_eq!(dir, PathBuf::from("/abs/dir"));
    }

    #[test]
    fn memory_urls_open() {
        assert!(open(&cfg("memory://")).is_ok());
        assert!(open(&cfg("memory://anything")).is_ok());
    }
}
