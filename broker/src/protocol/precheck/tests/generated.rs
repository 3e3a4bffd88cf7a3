//! Random valid requests written straight from the specs (nulls where allowed, nullable structs,
//! known and unknown tagged fields), for every version of every request: the pre-check must pass
//! them and kafka-protocol must decode them to the last byte. This finds places where the specs
//! and kafka-protocol's generated code disagree, which the kafka-protocol-encoded samples cannot.

use bytes::{BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestKind};

use super::decodable_versions;
use crate::protocol::decode::decode_request;
use crate::protocol::precheck::schema::{Field, StructDef, Ty, registry};
use crate::protocol::precheck::{self, MAX_ELEMENTS};

/// xorshift64*: deterministic, so a failure names its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn one_in(&mut self, n: u64) -> bool {
        self.below(n) == 0
    }
}

struct Gen<'r> {
    rng: &'r mut Rng,
    version: i16,
    flexible: bool,
}

impl Gen<'_> {
    fn structure(&mut self, def: &StructDef, out: &mut BytesMut) {
        for field in &def.fields {
            if field.tag.is_none() && field.versions.contains(self.version) {
                self.field(field, out);
            }
        }
        if !self.flexible {
            return;
        }
        let mut tagged: Vec<(u32, Bytes)> = Vec::new();
        for field in &def.fields {
            let Some(tag) = field.tag else { continue };
            if field.versions.contains(self.version) && self.rng.one_in(2) {
                let mut value = BytesMut::new();
                self.field(field, &mut value);
                tagged.push((tag, value.freeze()));
            }
        }
        if self.rng.one_in(3) {
            let junk: Vec<u8> = (0..self.rng.below(6))
                .map(|_| self.rng.next() as u8)
                .collect();
            tagged.push((1000 + self.rng.below(100) as u32, Bytes::from(junk)));
        }
        tagged.sort_by_key(|(tag, _)| *tag);
        uvarint(out, tagged.len() as u32);
        for (tag, value) in tagged {
            uvarint(out, tag);
            uvarint(out, value.len() as u32);
            out.put_slice(&value);
        }
    }

    fn field(&mut self, field: &Field, out: &mut BytesMut) {
        let compact = self.flexible && field.flexible.is_none_or(|f| f.contains(self.version));
        let nullable = field.nullable.contains(self.version);
        self.value(&field.ty, compact, nullable, out);
    }

    fn value(&mut self, ty: &Ty, compact: bool, nullable: bool, out: &mut BytesMut) {
        let null = nullable && self.rng.one_in(4);
        match ty {
            Ty::Bool => out.put_u8(self.rng.below(2) as u8),
            Ty::Int8 => out.put_u8(self.rng.next() as u8),
            Ty::Int16 | Ty::UInt16 => out.put_u16(self.rng.next() as u16),
            Ty::Int32 | Ty::UInt32 => out.put_u32(self.rng.next() as u32),
            Ty::Int64 | Ty::Float64 => out.put_u64(self.rng.next()),
            Ty::Uuid => {
                out.put_u64(self.rng.next());
                out.put_u64(self.rng.next());
            }
            Ty::String | Ty::Bytes | Ty::Records => {
                let wide = !matches!(ty, Ty::String);
                if null {
                    length(out, compact, wide, None);
                    return;
                }
                let len = self.rng.below(if wide { 20 } else { 10 });
                length(out, compact, wide, Some(len));
                for _ in 0..len {
                    // Strings stay ASCII, so they are valid UTF-8.
                    out.put_u8(b'a' + self.rng.below(26) as u8);
                }
            }
            Ty::Struct(def) => {
                if nullable {
                    if null {
                        out.put_i8(-1);
                        return;
                    }
                    out.put_i8(1);
                }
                self.structure(def, out);
            }
            Ty::Array(elem) => {
                if null {
                    length(out, compact, true, None);
                    return;
                }
                let n = self.rng.below(4);
                length(out, compact, true, Some(n));
                for _ in 0..n {
                    self.value(elem, compact, false, out);
                }
            }
        }
    }
}

fn uvarint(buf: &mut BytesMut, mut v: u32) {
    while v >= 0x80 {
        buf.put_u8((v as u8) | 0x80);
        v >>= 7;
    }
    buf.put_u8(v as u8);
}

/// A length or count: compact (uvarint of n + 1, 0 for null) or classic (int16 for strings,
/// int32 otherwise, -1 for null).
fn length(out: &mut BytesMut, compact: bool, wide: bool, n: Option<u64>) {
    match (compact, n) {
        (true, n) => uvarint(out, n.map_or(0, |n| n as u32 + 1)),
        (false, None) if wide => out.put_i32(-1),
        (false, None) => out.put_i16(-1),
        (false, Some(n)) if wide => out.put_i32(n as i32),
        (false, Some(n)) => out.put_i16(n as i16),
    }
}

/// A random body that follows `key`'s spec at version `v`.
fn random_body(key: ApiKey, v: i16, rng: &mut Rng) -> Bytes {
    let spec = &registry().requests[&(key as i16)];
    let mut writer = Gen {
        rng,
        version: v,
        flexible: spec.flexible.contains(v),
    };
    let mut out = BytesMut::new();
    writer.structure(&spec.body, &mut out);
    out.freeze()
}

#[test]
fn kafka_protocol_decodes_every_spec_generated_request() {
    let mut failures = Vec::new();
    let mut bodies = 0;
    for key in ApiKey::iter() {
        let Some(versions) = decodable_versions(key) else {
            continue;
        };
        for v in versions {
            for seed in 0..60u64 {
                let mut rng =
                    Rng(0x9e37_79b9_7f4a_7c15 ^ ((key as u64) << 32 | (v as u64) << 16 | seed));
                let body = random_body(key, v, &mut rng);
                bodies += 1;
                if let Err(e) = precheck::check_body(key as i16, v, &body) {
                    failures.push(format!("{key:?} v{v} seed {seed}: pre-check: {e}"));
                    continue;
                }
                let mut buf = body.clone();
                match RequestKind::decode(key, &mut buf, v) {
                    Ok(_) if buf.is_empty() => {}
                    Ok(_) => failures.push(format!(
                        "{key:?} v{v} seed {seed}: kafka-protocol left {} bytes",
                        buf.len()
                    )),
                    Err(e) => {
                        failures.push(format!("{key:?} v{v} seed {seed}: kafka-protocol: {e:#}"))
                    }
                }
                let frame = super::raw_frame(key, v, &body);
                if let Err(e) = decode_request(frame) {
                    failures.push(format!("{key:?} v{v} seed {seed}: decode_request: {e}"));
                }
            }
        }
    }
    failures.dedup_by(|a, b| a.split(" seed ").next() == b.split(" seed ").next());
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(bodies > 10_000);
}

#[test]
fn generated_requests_stay_under_the_cap() {
    let mut rng = Rng(7);
    let body = random_body(ApiKey::Fetch, 18, &mut rng);
    let footprint = precheck::check_body(1, 18, &body).expect("valid");
    assert!(footprint.total() < MAX_ELEMENTS);
}
