//! A schema-driven bounds check of Kafka requests, run before `kafka-protocol` decodes them.
//!
//! kafka-protocol's array decoder calls `Vec::with_capacity(n)` with `n` read from the wire, so a
//! 14-byte frame announcing 2³¹ topics makes it try to allocate ~150 GB and abort the process.
//! This module walks the request exactly as Kafka's generated code would read it, for that
//! version, from Kafka's own JSON message specs, and only a request that walks cleanly is handed
//! to kafka-protocol ([`crate::protocol::decode`] does that). The walk checks:
//!
//! - every fixed-size field, string, bytes and records length fits in the bytes that remain;
//! - every array count fits too: `count × (smallest encoding of one element)` bytes must remain,
//!   so no decoder can be asked to reserve more elements than the frame could hold;
//! - lengths are -1 (null) only where the field's `nullableVersions` allow it, other negative
//!   lengths are errors; compact (uvarint, +1) forms are used in `flexibleVersions`, with the
//!   field-level `flexibleVersions` override (the header's ClientId stays a classic string);
//! - uvarints take at most 5 bytes;
//! - nullable structs carry the -1 / 1 presence byte (KIP-893), and nothing else;
//! - every struct in a flexible version ends with a tagged-field section; a known tag's value is
//!   walked inside exactly its declared size, a tag declared for other versions is an error, an
//!   unknown tag is skipped by its size;
//! - a body checked alone ([`check_body`]) ends exactly where the bytes end; in a whole frame
//!   ([`check_request`]) bytes after the body's last field are allowed, as Kafka allows them
//!   (librdkafka 2.15/2.16 send three extra bytes in Metadata v13), and only the walked part is
//!   handed to kafka-protocol;
//! - the footprint: array elements plus tagged fields across the whole frame stay at or below
//!   [`MAX_ELEMENTS`].
//!
//! # The footprint cap
//!
//! Every element needs at least one byte (a unit test checks this for every array of every
//! version), so the count check alone keeps elements below the frame size; but one byte on the
//! wire can become a struct of a hundred bytes in memory (kafka-protocol 0.18's request element
//! structs measure 32 to 120 bytes: they hold every field of every version). [`MAX_ELEMENTS`] =
//! 2²⁰ bounds that amplification whatever the frame size: about 2²⁰ × 120 B ≈ 128 MiB of elements
//! for a crafted frame of at least 1 MiB, while real requests stay far below the cap (a fetch or
//! produce naming 100,000 partitions uses a tenth of it).
//!
//! # Where the specs live
//!
//! `specs/` holds the `*Request.json` files and `RequestHeader.json`, unmodified, with a NOTICE
//! saying where they come from. They are embedded with `include_str!` and parsed once, at first
//! use (a `LazyLock`), with serde_json after the `//` comments are stripped. A build script that
//! generated static tables was the alternative; parsing at first use keeps the build simple and
//! the tables readable, costs a few milliseconds once, and a unit test checks that every file
//! parses. A spec that failed to parse would leave its API without a schema: such an API is
//! never decoded (the caller answers UNSUPPORTED_VERSION).

mod schema;
#[cfg(test)]
mod tests;
mod walk;

use std::ops::RangeInclusive;

pub use schema::SchemaError;
use schema::{MessageSpec, registry};
use walk::{Fault, WalkError, Walker};

/// The most array elements plus tagged fields one request may hold (header and body together).
pub const MAX_ELEMENTS: u64 = 1 << 20;

/// What a request will cost once decoded.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Footprint {
    /// Array elements, over every array of the request.
    pub elements: u64,
    /// Tagged fields, over every tagged-field section.
    pub tagged_fields: u64,
}

impl Footprint {
    /// The number capped by [`MAX_ELEMENTS`].
    pub fn total(&self) -> u64 {
        self.elements.saturating_add(self.tagged_fields)
    }
}

/// A frame that passed the check.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// Where the body starts: the header's length in bytes.
    pub header_len: usize,
    /// The body's length as walked; bytes after it are ignored.
    pub body_len: usize,
    pub footprint: Footprint,
}

/// What is wrong with the bytes.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("needs {needed} bytes, {remaining} remain")]
    Truncated { needed: u64, remaining: usize },
    #[error("negative length {0}")]
    NegativeLength(i64),
    #[error("null, which this version does not allow here")]
    UnexpectedNull,
    #[error("varint longer than 5 bytes")]
    VarintTooLong,
    #[error("count {count} needs at least {needed} bytes, {remaining} remain")]
    CountTooLarge {
        count: u64,
        needed: u64,
        remaining: usize,
    },
    #[error("nullable struct marker {0} is neither -1 nor 1")]
    BadPresenceMarker(i8),
    #[error("tagged field {tag} declares {declared} bytes but its value takes {used}")]
    TaggedSizeMismatch {
        tag: u32,
        declared: u32,
        used: usize,
    },
    #[error("tag {tag} is not valid in this version")]
    TagNotInVersion { tag: u32 },
    #[error("{0} bytes left after the last field")]
    TrailingBytes(usize),
}

/// Why a request failed the check.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PrecheckError {
    /// No spec for this api key, so its requests cannot be checked (and must not be decoded).
    #[error("no request schema for api key {api_key}")]
    NoSchema { api_key: i16 },
    /// The version is outside the spec's `validVersions`.
    #[error("{message} has no version {version}")]
    UnsupportedVersion { message: &'static str, version: i16 },
    /// The bytes do not follow the schema; `path` says where, e.g. `Topics[2].Partitions`.
    #[error("malformed {message} v{version} at {path}: {malformed}")]
    Malformed {
        message: &'static str,
        version: i16,
        path: String,
        #[source]
        malformed: Malformed,
    },
    /// More array elements and tagged fields than [`MAX_ELEMENTS`].
    #[error("more than {cap} array elements and tagged fields (at least {elements})")]
    TooLarge { elements: u64, cap: u64 },
}

/// The versions the spec for `api_key` declares valid, if there is a spec.
pub fn request_versions(api_key: i16) -> Option<RangeInclusive<i16>> {
    let spec = registry().requests.get(&api_key)?;
    Some(spec.valid.lo..=spec.valid.hi)
}

/// Whether `api_version` of `api_key` is a flexible version (tagged fields, compact lengths), if
/// there is a spec for it.
pub fn is_flexible(api_key: i16, api_version: i16) -> Option<bool> {
    let spec = registry().requests.get(&api_key)?;
    Some(spec.flexible.contains(api_version))
}

/// Checks a request body (everything after the header) for `api_key` at `api_version`.
pub fn check_body(api_key: i16, api_version: i16, body: &[u8]) -> Result<Footprint, PrecheckError> {
    check_body_capped(api_key, api_version, body, MAX_ELEMENTS)
}

pub(crate) fn check_body_capped(
    api_key: i16,
    api_version: i16,
    body: &[u8],
    cap: u64,
) -> Result<Footprint, PrecheckError> {
    let spec = request_spec(api_key, api_version)?;
    walk_message(spec, api_version, body, Footprint::default(), cap, true).map(|(_, f)| f)
}

/// Checks a whole request frame (without its length prefix): the header at `header_version`
/// (kafka-protocol's `ApiKey::request_header_version`), then the body.
pub fn check_request(
    api_key: i16,
    api_version: i16,
    header_version: i16,
    frame: &[u8],
) -> Result<Checked, PrecheckError> {
    let spec = request_spec(api_key, api_version)?;
    let header = registry()
        .header
        .as_ref()
        .ok_or(PrecheckError::NoSchema { api_key })?;
    if !header.valid.contains(header_version) {
        return Err(PrecheckError::UnsupportedVersion {
            message: &header.name,
            version: header_version,
        });
    }
    let (header_len, footprint) = walk_message(
        header,
        header_version,
        frame,
        Footprint::default(),
        MAX_ELEMENTS,
        false,
    )?;
    let body = frame.get(header_len..).unwrap_or_default();
    // Bytes after the body's last field are allowed, as Kafka allows them (librdkafka 2.15 and
    // 2.16 send Metadata v13 with three extra bytes); the caller decodes only `body_len`.
    let (body_len, footprint) =
        walk_message(spec, api_version, body, footprint, MAX_ELEMENTS, false)?;
    Ok(Checked {
        header_len,
        body_len,
        footprint,
    })
}

fn request_spec(api_key: i16, api_version: i16) -> Result<&'static MessageSpec, PrecheckError> {
    let spec = registry()
        .requests
        .get(&api_key)
        .ok_or(PrecheckError::NoSchema { api_key })?;
    if !spec.valid.contains(api_version) {
        return Err(PrecheckError::UnsupportedVersion {
            message: &spec.name,
            version: api_version,
        });
    }
    Ok(spec)
}

/// Walks one message; returns how many bytes it took and the footprint so far. With `whole`,
/// the message must take every byte.
fn walk_message(
    spec: &'static MessageSpec,
    version: i16,
    bytes: &[u8],
    footprint: Footprint,
    cap: u64,
    whole: bool,
) -> Result<(usize, Footprint), PrecheckError> {
    let mut walker = Walker::new(
        bytes,
        version,
        spec.flexible.contains(version),
        footprint,
        cap,
    );
    let malformed = |path: String, malformed| PrecheckError::Malformed {
        message: &spec.name,
        version,
        path,
        malformed,
    };
    walker.walk_struct(&spec.body).map_err(|e: WalkError<'_>| {
        let mut path = e.path();
        if path.is_empty() {
            // Only the message's own tagged-field section fails outside every field.
            path.push_str("<tagged fields>");
        }
        match e.fault {
            Fault::Malformed(m) => malformed(path, m),
            Fault::TooLarge { elements } => PrecheckError::TooLarge { elements, cap },
        }
    })?;
    let left = walker.remaining();
    if whole && left != 0 {
        return Err(malformed("<end>".into(), Malformed::TrailingBytes(left)));
    }
    Ok((bytes.len() - left, walker.footprint()))
}
