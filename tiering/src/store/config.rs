//! The configuration of a cold-tier object store.

use serde::{Deserialize, Serialize};

/// Where the cold tier's objects live and how to reach them. Embedded in the broker's
/// `[tiering]` configuration section; `docs/tiering/stores.md` describes every field.
///
/// For `s3://` URLs, unset fields fall back to the standard AWS environment variables
/// (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, ...); fields that are set win.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `file:///abs/dir`, `file://relative/dir`, `s3://bucket/optional/prefix` or `memory://`.
    pub url: String,
    /// S3 endpoint, for S3-compatible servers (`http://127.0.0.1:9000` for a local MinIO).
    pub endpoint: Option<String>,
    /// S3 region.
    pub region: Option<String>,
    /// S3 access key id.
    pub access_key_id: Option<String>,
    /// S3 secret access key.
    pub secret_access_key: Option<String>,
    /// S3 session token (temporary credentials).
    pub session_token: Option<String>,
    /// Allow plain-HTTP endpoints (local MinIO, moto). Off by default.
    pub allow_http: bool,
    /// Delete objects one `DELETE` at a time, for S3-compatible servers without
    /// `DeleteObjects`.
    pub disable_bulk_delete: bool,
    /// Timeout of one request, in milliseconds.
    pub request_timeout_ms: u64,
}

/// The default request timeout: 30 s.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 30_000;

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: String::new(),
            endpoint: None,
            region: None,
            access_key_id: None,
            secret_access_key: None,
            session_token: None,
            allow_http: false,
            disable_bulk_delete: false,
            request_timeout_ms: DEFAULT_REQUEST_TIMEOUT_MS,
        }
    }
}

impl StoreConfig {
    /// A configuration with this URL and every other field at its default.
    pub fn new(url: impl Into<String>) -> Self {
        StoreConfig {
            url: url.into(),
            ..StoreConfig::default()
        }
    }
}

/// Secrets are never printed.
impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |v: &Option<String>| v.as_ref().map(|_| "<redacted>");
        f.debug_struct("StoreConfig")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &redact(&self.secret_access_key))
            .field("session_token", &redact(&self.session_token))
            .field("allow_http", &self.allow_http)
            .field("disable_bulk_delete", &self.disable_bulk_delete)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_partial_json() {
        let cfg: StoreConfig =
            serde_json::from_str(r#"{"url": "s3://b/p", "allow_http": true}"#).unwrap();
        assert_eq!(cfg.url, "s3://b/p");
        assert!(cfg.allow_http);
        assert_eq!(cfg.request_timeout_ms, 30_000);
        assert_eq!(
            StoreConfig::default().request_timeout_ms,
            DEFAULT_REQUEST_TIMEOUT_MS
        );
        assert!(StoreConfig::default().url.is_empty());
    }

    #[test]
    fn unknown_fields_are_refused() {
        let err = serde_json::from_str::<StoreConfig>(r#"{"url": "memory://", "bucket": "x"}"#);
        assert!(err.is_err());
    }

    #[test]
    fn debug_hides_secrets() {
        let cfg = StoreConfig {
            secret_access_key: Some("s3cr3t".into()),
            session_token: Some("t0k3n".into()),
            ..StoreConfig::new("s3://b")
        };
        let text = format!("{cfg:?}");
        assert!(
            !text.contains("s3cr3t") && !text.contains("t0k3n"),
            "{text}"
        );
    }
}
