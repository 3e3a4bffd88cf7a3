//! The request schemas: Kafka's JSON message specs in `specs/`, embedded with `include_str!` and
//! parsed once, at first use, into the small tree the walker reads.
//!
//! Only what decides the wire layout is kept: field order, types, `versions`, `nullableVersions`,
//! `flexibleVersions` (message and field level), `tag` and `taggedVersions`. Documentation keys
//! (`about`, `default`, `entityType`, `mapKey`, `ignorable`, ...) are ignored.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Map, Value};

/// Every embedded spec file, by name (the file is `specs/<name>.json`).
macro_rules! specs {
    ($($name:literal),* $(,)?) => {
        &[$(($name, include_str!(concat!("specs/", $name, ".json")))),*]
    };
}

pub(super) const SPECS: &[(&str, &str)] = specs![
    "RequestHeader",
    "AddOffsetsToTxnRequest",
    "AddPartitionsToTxnRequest",
    "AlterClientQuotasRequest",
    "AlterConfigsRequest",
    "AlterPartitionReassignmentsRequest",
    "AlterReplicaLogDirsRequest",
    "AlterUserScramCredentialsRequest",
    "ApiVersionsRequest",
    "ConsumerGroupDescribeRequest",
    "ConsumerGroupHeartbeatRequest",
    "CreateAclsRequest",
    "CreatePartitionsRequest",
    "CreateTopicsRequest",
    "DeleteAclsRequest",
    "DeleteGroupsRequest",
    "DeleteRecordsRequest",
    "DeleteTopicsRequest",
    "DescribeAclsRequest",
    "DescribeClientQuotasRequest",
    "DescribeClusterRequest",
    "DescribeConfigsRequest",
    "DescribeGroupsRequest",
    "DescribeLogDirsRequest",
    "DescribeProducersRequest",
    "DescribeQuorumRequest",
    "DescribeTopicPartitionsRequest",
    "DescribeTransactionsRequest",
    "DescribeUserScramCredentialsRequest",
    "ElectLeadersRequest",
    "EndTxnRequest",
    "FetchRequest",
    "FindCoordinatorRequest",
    "HeartbeatRequest",
    "IncrementalAlterConfigsRequest",
    "InitProducerIdRequest",
    "JoinGroupRequest",
    "LeaveGroupRequest",
    "ListConfigResourcesRequest",
    "ListGroupsRequest",
    "ListOffsetsRequest",
    "ListPartitionReassignmentsRequest",
    "ListTransactionsRequest",
    "MetadataRequest",
    "OffsetCommitRequest",
    "OffsetDeleteRequest",
    "OffsetFetchRequest",
    "OffsetForLeaderEpochRequest",
    "ProduceRequest",
    "SaslAuthenticateRequest",
    "SaslHandshakeRequest",
    "SyncGroupRequest",
    "TxnOffsetCommitRequest",
    "UpdateFeaturesRequest",
    "WriteTxnMarkersRequest",
];

/// A spec file that could not be turned into a schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("spec {file}: {reason}")]
pub struct SchemaError {
    pub file: &'static str,
    pub reason: String,
}

/// A set of versions `lo..=hi`, empty when `lo > hi` (the spec's "none").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Versions {
    pub(crate) lo: i16,
    pub(crate) hi: i16,
}

impl Versions {
    pub(crate) const NONE: Versions = Versions { lo: 1, hi: 0 };

    pub(crate) fn contains(self, version: i16) -> bool {
        self.lo <= version && version <= self.hi
    }

    /// Parses "3+", "0-2", "5" or "none".
    fn parse(s: &str) -> Result<Versions, String> {
        let s = s.trim();
        let num = |n: &str| {
            n.trim()
                .parse::<i16>()
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| format!("bad version {n:?} in {s:?}"))
        };
        if s == "none" {
            return Ok(Versions::NONE);
        }
        if let Some(lo) = s.strip_suffix('+') {
            return Ok(Versions {
                lo: num(lo)?,
                hi: i16::MAX,
            });
        }
        if let Some((lo, hi)) = s.split_once('-') {
            let (lo, hi) = (num(lo)?, num(hi)?);
            if lo > hi {
                return Err(format!("empty version range {s:?}"));
            }
            return Ok(Versions { lo, hi });
        }
        let v = num(s)?;
        Ok(Versions { lo: v, hi: v })
    }
}

/// A field's type. Kafka has no arrays of arrays, so an `Array` holds a scalar or a struct.
#[derive(Debug)]
pub(crate) enum Ty {
    Bool,
    Int8,
    Int16,
    UInt16,
    Int32,
    UInt32,
    Int64,
    Float64,
    Uuid,
    String,
    Bytes,
    Records,
    Struct(StructDef),
    Array(Box<Ty>),
}

#[derive(Debug)]
pub(crate) struct StructDef {
    /// For debugging and tests; the walker reports field names, not struct names.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) name: String,
    pub(crate) fields: Vec<Field>,
}

#[derive(Debug)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) ty: Ty,
    pub(crate) versions: Versions,
    pub(crate) nullable: Versions,
    /// Set for a tagged field: it is read from the struct's tagged-field section, never in order.
    pub(crate) tag: Option<u32>,
    /// The field's own `flexibleVersions` (only the header's ClientId has one: "none").
    pub(crate) flexible: Option<Versions>,
}

/// One message spec: a request, or the request header.
#[derive(Debug)]
pub(crate) struct MessageSpec {
    pub(crate) name: String,
    pub(crate) api_key: Option<i16>,
    pub(crate) valid: Versions,
    pub(crate) flexible: Versions,
    pub(crate) body: StructDef,
}

/// Every parsed spec; a file that fails to parse is left out (and reported in `errors`), so its
/// API is treated as having no schema and is never decoded.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    pub(crate) header: Option<MessageSpec>,
    pub(crate) requests: HashMap<i16, MessageSpec>,
    pub(crate) errors: Vec<SchemaError>,
}

static REGISTRY: LazyLock<Registry> = LazyLock::new(|| {
    let registry = Registry::load();
    for e in &registry.errors {
        tracing::error!(error = %e, "request spec left out; its API will not be decoded");
    }
    registry
});

/// The parsed specs, loaded at first use.
pub(crate) fn registry() -> &'static Registry {
    &REGISTRY
}

impl Registry {
    fn load() -> Registry {
        let mut registry = Registry::default();
        for &(file, text) in SPECS {
            match parse_message(text).map_err(|reason| SchemaError { file, reason }) {
                Ok(spec) => match spec.api_key {
                    None => registry.header = Some(spec),
                    Some(key) => {
                        if registry.requests.insert(key, spec).is_some() {
                            registry.errors.push(SchemaError {
                                file,
                                reason: format!("a second spec for api key {key}"),
                            });
                        }
                    }
                },
                Err(e) => registry.errors.push(e),
            }
        }
        if registry.header.is_none() && registry.errors.is_empty() {
            registry.errors.push(SchemaError {
                file: "RequestHeader",
                reason: "no header spec".into(),
            });
        }
        registry
    }
}

/// Removes `//` comments (whole lines and line ends), leaving `//` inside strings alone.
pub(crate) fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let bytes = line.as_bytes();
        let (mut in_string, mut escaped) = (false, false);
        let mut end = bytes.len();
        for (i, &b) in bytes.iter().enumerate() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
            } else if b == b'"' {
                in_string = true;
            } else if b == b'/' && bytes.get(i + 1) == Some(&b'/') {
                end = i;
                break;
            }
        }
        out.push_str(&line[..end]);
        out.push('\n');
    }
    out
}

fn parse_message(text: &str) -> Result<MessageSpec, String> {
    let value: Value =
        serde_json::from_str(&strip_comments(text)).map_err(|e| format!("not JSON: {e}"))?;
    let obj = value.as_object().ok_or("not a JSON object")?;
    let kind = string(obj, "type")?;
    let api_key = match kind {
        "request" => {
            let key = obj
                .get("apiKey")
                .and_then(Value::as_i64)
                .and_then(|k| i16::try_from(k).ok())
                .ok_or("missing or bad apiKey")?;
            Some(key)
        }
        "header" => None,
        other => return Err(format!("type {other:?} is neither request nor header")),
    };
    let name = string(obj, "name")?.to_owned();
    let flexible = Versions::parse(string(obj, "flexibleVersions")?)?;
    let mut common = HashMap::new();
    if let Some(list) = obj.get("commonStructs") {
        for s in list.as_array().ok_or("commonStructs is not an array")? {
            let s = s.as_object().ok_or("a common struct is not an object")?;
            let fields = s.get("fields").ok_or("a common struct has no fields")?;
            common.insert(string(s, "name")?, fields);
        }
    }
    let fields = obj.get("fields").ok_or("no fields")?;
    let body = StructDef {
        fields: parse_fields(fields, &common, flexible).map_err(|e| format!("{name}.{e}"))?,
        name: name.clone(),
    };
    Ok(MessageSpec {
        valid: Versions::parse(string(obj, "validVersions")?)?,
        name,
        api_key,
        flexible,
        body,
    })
}

type Common<'a> = HashMap<&'a str, &'a Value>;

fn parse_fields(
    list: &Value,
    common: &Common<'_>,
    flexible: Versions,
) -> Result<Vec<Field>, String> {
    let list = list.as_array().ok_or("fields is not an array")?;
    list.iter()
        .map(|f| {
            let obj = f.as_object().ok_or("a field is not an object")?;
            let name = string(obj, "name")?;
            parse_field(obj, common, flexible).map_err(|e| format!("{name}: {e}"))
        })
        .collect()
}

fn parse_field(
    obj: &Map<String, Value>,
    common: &Common<'_>,
    flexible: Versions,
) -> Result<Field, String> {
    let versions = |key: &str| -> Result<Option<Versions>, String> {
        match obj.get(key) {
            None => Ok(None),
            Some(v) => {
                Versions::parse(v.as_str().ok_or(format!("{key} is not a string"))?).map(Some)
            }
        }
    };
    let ty = parse_type(string(obj, "type")?, obj.get("fields"), common, flexible)?;
    let field = Field {
        name: string(obj, "name")?.to_owned(),
        versions: versions("versions")?.ok_or("no versions")?,
        nullable: versions("nullableVersions")?.unwrap_or(Versions::NONE),
        tag: match obj.get("tag") {
            None => None,
            Some(t) => Some(
                t.as_u64()
                    .and_then(|t| u32::try_from(t).ok())
                    .ok_or("bad tag")?,
            ),
        },
        flexible: versions("flexibleVersions")?,
        ty,
    };
    let nullable_type = matches!(
        field.ty,
        Ty::String | Ty::Bytes | Ty::Records | Ty::Struct(_) | Ty::Array(_)
    );
    if field.nullable != Versions::NONE && !nullable_type {
        return Err("nullableVersions on a type that cannot be null".into());
    }
    let tagged = versions("taggedVersions")?;
    match (field.tag, tagged) {
        (None, None) => {}
        // The walker treats a tagged field as tagged in every version it exists in: that is
        // how every shipped spec declares them (taggedVersions == versions).
        (Some(_), Some(t)) if t == field.versions && t.lo >= flexible.lo => {}
        _ => return Err("tag and taggedVersions must come together, equal to versions".into()),
    }
    Ok(field)
}

fn parse_type(
    ty: &str,
    fields: Option<&Value>,
    common: &Common<'_>,
    flexible: Versions,
) -> Result<Ty, String> {
    if let Some(inner) = ty.strip_prefix("[]") {
        if inner.starts_with("[]") {
            return Err(format!("array of arrays {ty:?}"));
        }
        return Ok(Ty::Array(Box::new(parse_type(
            inner, fields, common, flexible,
        )?)));
    }
    Ok(match ty {
        "bool" => Ty::Bool,
        "int8" => Ty::Int8,
        "int16" => Ty::Int16,
        "uint16" => Ty::UInt16,
        "int32" => Ty::Int32,
        "uint32" => Ty::UInt32,
        "int64" => Ty::Int64,
        "float64" => Ty::Float64,
        "uuid" => Ty::Uuid,
        "string" => Ty::String,
        "bytes" => Ty::Bytes,
        "records" => Ty::Records,
        name if name.starts_with(|c: char| c.is_ascii_uppercase()) => {
            let fields = fields
                .or_else(|| common.get(name).copied())
                .ok_or_else(|| format!("struct {name} has no fields and no common struct"))?;
            Ty::Struct(StructDef {
                name: name.to_owned(),
                fields: parse_fields(fields, common, flexible)?,
            })
        }
        other => return Err(format!("unknown type {other:?}")),
    })
}

fn string<'a>(obj: &'a Map<String, Value>, key: &str) -> Result<&'a str, String> {
    obj.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("missing string {key:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_spec_parses() {
        let registry = Registry::load();
        assert_eq!(registry.errors, Vec::new());
        let header = registry.header.as_ref().expect("header spec");
        assert_eq!(header.valid, Versions { lo: 1, hi: 2 });
        assert_eq!(registry.requests.len(), SPECS.len() - 1);
        let fetch = &registry.requests[&1];
        assert_eq!(fetch.name, "FetchRequest");
        assert_eq!(fetch.valid, Versions { lo: 4, hi: 18 });
        assert_eq!(fetch.flexible.lo, 12);
        let tagged: Vec<_> = fetch.body.fields.iter().filter_map(|f| f.tag).collect();
        assert_eq!(tagged, [0, 1]);
    }

    #[test]
    fn every_spec_file_in_the_folder_is_embedded() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/protocol/precheck/specs");
        let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
            .expect("specs dir")
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                name.strip_suffix(".json").map(str::to_owned)
            })
            .collect();
        on_disk.sort();
        assert!(
            dir.join("NOTICE.md").exists(),
            "the specs keep their notice"
        );
        let mut embedded: Vec<String> = SPECS.iter().map(|(n, _)| (*n).to_owned()).collect();
        embedded.sort();
        assert_eq!(on_disk, embedded);
    }

    #[test]
    fn common_structs_are_resolved() {
        let registry = Registry::load();
        let txn = &registry.requests[&24]; // AddPartitionsToTxn
        let Some(Ty::Array(topics)) = txn
            .body
            .fields
            .iter()
            .find(|f| f.name == "V3AndBelowTopics")
            .map(|f| &f.ty)
        else {
            panic!("V3AndBelowTopics is not an array");
        };
        let Ty::Struct(def) = &**topics else {
            panic!("not a struct")
        };
        assert_eq!(def.name, "AddPartitionsToTxnTopic");
        assert!(def.fields.iter().any(|f| f.name == "Partitions"));
    }

    #[test]
    fn comments_are_stripped_outside_strings_only() {
        let text =
            "// licence\n{ \"a\": \"x//y\", // trailing\n  \"b\": \"q\\\"//\" }\n  // indented\n";
        let value: Value = serde_json::from_str(&strip_comments(text)).expect("json");
        assert_eq!(value["a"], "x//y");
        assert_eq!(value["b"], "q\"//");
    }

    #[test]
    fn version_ranges_parse() {
        assert_eq!(
            Versions::parse("3+"),
            Ok(Versions {
                lo: 3,
                hi: i16::MAX
            })
        );
        assert_eq!(Versions::parse("0-2"), Ok(Versions { lo: 0, hi: 2 }));
        assert_eq!(Versions::parse("5"), Ok(Versions { lo: 5, hi: 5 }));
        assert_eq!(Versions::parse("none"), Ok(Versions::NONE));
        assert!(!Versions::NONE.contains(0));
        assert!(Versions::parse("2-1").is_err());
        assert!(Versions::parse("-1+").is_err());
        assert!(Versions::parse("x").is_err());
    }
}
