//! The walker: reads a message the way Kafka's generated code reads it, for one version, checking
//! every length and count against the bytes that remain and building nothing.

use std::fmt::Write as _;
use std::mem;

use super::schema::{Field, StructDef, Ty};
use super::{Footprint, Malformed};

/// A cursor over the bytes still to read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.rest.len()
    }

    fn take(&mut self, n: u64) -> Result<&'a [u8], Malformed> {
        let remaining = self.rest.len();
        match usize::try_from(n) {
            Ok(n) if n <= remaining => {
                let (head, tail) = self.rest.split_at(n);
                self.rest = tail;
                Ok(head)
            }
            _ => Err(Malformed::Truncated {
                needed: n,
                remaining,
            }),
        }
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], Malformed> {
        let Some((head, tail)) = self.rest.split_first_chunk::<N>() else {
            return Err(Malformed::Truncated {
                needed: N as u64,
                remaining: self.rest.len(),
            });
        };
        self.rest = tail;
        Ok(*head)
    }

    fn i8(&mut self) -> Result<i8, Malformed> {
        self.array().map(i8::from_be_bytes)
    }

    fn i16(&mut self) -> Result<i16, Malformed> {
        self.array().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, Malformed> {
        self.array().map(i32::from_be_bytes)
    }

    /// An unsigned varint of at most 5 bytes. Bits beyond 32 in the fifth byte are dropped, as
    /// both Kafka's `readUnsignedVarint` and kafka-protocol do, so the value read here is the
    /// value they read; a sixth byte (the fifth with its continuation bit set) is an error.
    pub(crate) fn uvarint(&mut self) -> Result<u32, Malformed> {
        let mut value = 0u32;
        for i in 0..5 {
            let [b] = self.array()?;
            value |= u32::from(b & 0x7f).wrapping_shl(7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(Malformed::VarintTooLong)
    }
}

/// Why a walk stopped.
#[derive(Debug)]
pub(crate) enum Fault {
    Malformed(Malformed),
    /// The footprint went over the cap; `elements` is the total when it did.
    TooLarge {
        elements: u64,
    },
}

/// A walk error and where it happened (segments innermost first, pushed while unwinding, so the
/// successful path never pays for it).
#[derive(Debug)]
pub(crate) struct WalkError<'s> {
    pub(crate) fault: Fault,
    path: Vec<Seg<'s>>,
}

#[derive(Debug)]
enum Seg<'s> {
    Field(&'s str),
    Index(u64),
    Tag(u32),
}

impl<'s> WalkError<'s> {
    fn within(mut self, seg: Seg<'s>) -> WalkError<'s> {
        self.path.push(seg);
        self
    }

    /// The path from the message root, e.g. `Topics[2].Partitions[0].Records`.
    pub(crate) fn path(&self) -> String {
        let mut out = String::new();
        for seg in self.path.iter().rev() {
            // Writing to a String cannot fail.
            let _ = match seg {
                Seg::Field(name) if out.is_empty() => write!(out, "{name}"),
                Seg::Field(name) => write!(out, ".{name}"),
                Seg::Index(i) => write!(out, "[{i}]"),
                Seg::Tag(t) => write!(out, "<tag {t}>"),
            };
        }
        out
    }
}

impl From<Malformed> for WalkError<'_> {
    fn from(m: Malformed) -> Self {
        WalkError {
            fault: Fault::Malformed(m),
            path: Vec::new(),
        }
    }
}

/// Walks one message (or the header) at one version.
#[derive(Debug)]
pub(crate) struct Walker<'a> {
    reader: Reader<'a>,
    version: i16,
    flexible: bool,
    footprint: Footprint,
    cap: u64,
}

impl<'a> Walker<'a> {
    /// `footprint` is what earlier parts of the same frame already used; `cap` bounds the total.
    pub(crate) fn new(
        bytes: &'a [u8],
        version: i16,
        flexible: bool,
        footprint: Footprint,
        cap: u64,
    ) -> Walker<'a> {
        Walker {
            reader: Reader::new(bytes),
            version,
            flexible,
            footprint,
            cap,
        }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.reader.remaining()
    }

    pub(crate) fn footprint(&self) -> Footprint {
        self.footprint
    }

    /// Walks a struct: its fields present in this version, in order, then (in flexible versions)
    /// its tagged-field section.
    pub(crate) fn walk_struct<'s>(&mut self, def: &'s StructDef) -> Result<(), WalkError<'s>> {
        for field in &def.fields {
            if field.tag.is_some() || !field.versions.contains(self.version) {
                continue;
            }
            self.field(field)
                .map_err(|e| e.within(Seg::Field(&field.name)))?;
        }
        if self.flexible {
            self.tagged_section(def)?;
        }
        Ok(())
    }

    fn field<'s>(&mut self, field: &'s Field) -> Result<(), WalkError<'s>> {
        let compact = self.compact(field);
        let nullable = field.nullable.contains(self.version);
        self.value(&field.ty, compact, nullable)
    }

    /// Whether the field's lengths use the compact (uvarint) forms in this version.
    fn compact(&self, field: &Field) -> bool {
        self.flexible && field.flexible.is_none_or(|f| f.contains(self.version))
    }

    fn value<'s>(
        &mut self,
        ty: &'s Ty,
        compact: bool,
        nullable: bool,
    ) -> Result<(), WalkError<'s>> {
        match ty {
            Ty::Bool
            | Ty::Int8
            | Ty::Int16
            | Ty::UInt16
            | Ty::Int32
            | Ty::UInt32
            | Ty::Int64
            | Ty::Float64
            | Ty::Uuid => {
                self.reader.take(fixed_size(ty))?;
            }
            Ty::String => {
                if let Some(len) = self.length(compact, nullable, Width::I16)? {
                    self.reader.take(len)?;
                }
            }
            Ty::Bytes | Ty::Records => {
                if let Some(len) = self.length(compact, nullable, Width::I32)? {
                    self.reader.take(len)?;
                }
            }
            Ty::Struct(def) => {
                if nullable {
                    // KIP-893: -1 for null, 1 for present. Kafka reads any non-negative byte as
                    // present but kafka-protocol reads anything but 1 as null, so only the two
                    // values every encoder writes keep the two readers in step.
                    match self.reader.i8()? {
                        -1 => return Ok(()),
                        1 => {}
                        m => return Err(Malformed::BadPresenceMarker(m).into()),
                    }
                }
                self.walk_struct(def)?;
            }
            Ty::Array(elem) => {
                let Some(count) = self.length(compact, nullable, Width::I32)? else {
                    return Ok(());
                };
                let min = self.min_size(elem, compact);
                let needed = count.saturating_mul(min);
                let remaining = self.reader.remaining();
                if needed > remaining as u64 {
                    return Err(Malformed::CountTooLarge {
                        count,
                        needed,
                        remaining,
                    }
                    .into());
                }
                self.add_elements(count, 0)?;
                for i in 0..count {
                    self.value(elem, compact, false)
                        .map_err(|e| e.within(Seg::Index(i)))?;
                }
            }
        }
        Ok(())
    }

    /// A length or count: `None` for null (only where the field is nullable in this version).
    fn length(
        &mut self,
        compact: bool,
        nullable: bool,
        width: Width,
    ) -> Result<Option<u64>, Malformed> {
        let n = if compact {
            i64::from(self.reader.uvarint()?) - 1
        } else {
            match width {
                Width::I16 => i64::from(self.reader.i16()?),
                Width::I32 => i64::from(self.reader.i32()?),
            }
        };
        match u64::try_from(n) {
            Ok(n) => Ok(Some(n)),
            Err(_) if n == -1 && nullable => Ok(None),
            Err(_) if n == -1 => Err(Malformed::UnexpectedNull),
            Err(_) => Err(Malformed::NegativeLength(n)),
        }
    }

    /// The tagged-field section: a count, then tag, size and data for each. Known tags have
    /// their value walked inside exactly `size` bytes; unknown tags are skipped by size.
    fn tagged_section<'s>(&mut self, def: &'s StructDef) -> Result<(), WalkError<'s>> {
        let count = u64::from(self.reader.uvarint()?);
        let remaining = self.reader.remaining();
        // Each tagged field takes at least two bytes: its tag and its size.
        if count.saturating_mul(2) > remaining as u64 {
            return Err(Malformed::CountTooLarge {
                count,
                needed: count.saturating_mul(2),
                remaining,
            }
            .into());
        }
        self.add_elements(0, count)?;
        for _ in 0..count {
            let tag = self.reader.uvarint()?;
            let size = self.reader.uvarint()?;
            let data = self
                .reader
                .take(u64::from(size))
                .map_err(|e| WalkError::from(e).within(Seg::Tag(tag)))?;
            let Some(field) = def.fields.iter().find(|f| f.tag == Some(tag)) else {
                continue;
            };
            if !field.versions.contains(self.version) {
                return Err(
                    WalkError::from(Malformed::TagNotInVersion { tag }).within(Seg::Tag(tag))
                );
            }
            let outer = mem::replace(&mut self.reader, Reader::new(data));
            let walked = self.field(field);
            let inner = mem::replace(&mut self.reader, outer);
            walked.map_err(|e| e.within(Seg::Field(&field.name)))?;
            if inner.remaining() != 0 {
                let used = data.len() - inner.remaining();
                return Err(WalkError::from(Malformed::TaggedSizeMismatch {
                    tag,
                    declared: size,
                    used,
                })
                .within(Seg::Field(&field.name)));
            }
        }
        Ok(())
    }

    fn add_elements(&mut self, elements: u64, tagged_fields: u64) -> Result<(), Fault> {
        self.footprint.elements = self.footprint.elements.saturating_add(elements);
        self.footprint.tagged_fields = self.footprint.tagged_fields.saturating_add(tagged_fields);
        let total = self.footprint.total();
        if total > self.cap {
            return Err(Fault::TooLarge { elements: total });
        }
        Ok(())
    }

    /// The fewest bytes a value of this type takes in this version (a null where allowed).
    fn min_size(&self, ty: &Ty, compact: bool) -> u64 {
        match ty {
            Ty::String if !compact => 2,
            Ty::Bytes | Ty::Records | Ty::Array(_) if !compact => 4,
            Ty::String | Ty::Bytes | Ty::Records | Ty::Array(_) => 1,
            Ty::Struct(def) => self.min_struct(def),
            _ => fixed_size(ty),
        }
    }

    fn min_struct(&self, def: &StructDef) -> u64 {
        let fields: u64 = def
            .fields
            .iter()
            .filter(|f| f.tag.is_none() && f.versions.contains(self.version))
            .map(|f| match &f.ty {
                Ty::Struct(_) if f.nullable.contains(self.version) => 1,
                ty => self.min_size(ty, self.compact(f)),
            })
            .sum();
        fields + u64::from(self.flexible)
    }
}

impl From<Fault> for WalkError<'_> {
    fn from(fault: Fault) -> Self {
        WalkError {
            fault,
            path: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Width {
    I16,
    I32,
}

/// The encoded size of a fixed-size type (0 for the others, which [`Walker::min_size`] handles).
fn fixed_size(ty: &Ty) -> u64 {
    match ty {
        Ty::Bool | Ty::Int8 => 1,
        Ty::Int16 | Ty::UInt16 => 2,
        Ty::Int32 | Ty::UInt32 => 4,
        Ty::Int64 | Ty::Float64 => 8,
        Ty::Uuid => 16,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::super::schema::registry;
    use super::*;

    /// Calls `f` with the element type and compactness of every array present in `version`.
    fn arrays<'s>(
        def: &'s StructDef,
        walker: &Walker<'_>,
        f: &mut impl FnMut(&'s Field, &'s Ty, bool),
    ) {
        for field in def
            .fields
            .iter()
            .filter(|f| f.versions.contains(walker.version))
        {
            let ty = match &field.ty {
                Ty::Array(elem) => {
                    f(field, elem, walker.compact(field));
                    &**elem
                }
                ty => ty,
            };
            if let Ty::Struct(inner) = ty {
                arrays(inner, walker, f);
            }
        }
    }

    /// With this, the count check alone keeps the elements of any request below its byte size:
    /// no array of any version has elements that can take zero bytes.
    #[test]
    fn every_array_element_takes_at_least_one_byte() {
        let registry = registry();
        let mut checked = 0;
        for spec in registry.requests.values().chain(registry.header.as_ref()) {
            for v in spec.valid.lo..=spec.valid.hi {
                let walker =
                    Walker::new(&[], v, spec.flexible.contains(v), Footprint::default(), 0);
                arrays(&spec.body, &walker, &mut |field, elem, compact| {
                    let min = walker.min_size(elem, compact);
                    assert!(min >= 1, "{} v{v} {}: {min}", spec.name, field.name);
                    checked += 1;
                });
            }
        }
        assert!(checked > 300, "{checked}");
    }

    fn uvarint(bytes: &[u8]) -> Result<(u32, usize), Malformed> {
        let mut r = Reader::new(bytes);
        let v = r.uvarint()?;
        Ok((v, bytes.len() - r.remaining()))
    }

    #[test]
    fn uvarints_decode_like_kafka() {
        assert_eq!(uvarint(&[0x00]), Ok((0, 1)));
        assert_eq!(uvarint(&[0x7f, 0xaa]), Ok((127, 1)));
        assert_eq!(uvarint(&[0x80, 0x01]), Ok((128, 2)));
        assert_eq!(uvarint(&[0xff, 0xff, 0xff, 0xff, 0x0f]), Ok((u32::MAX, 5)));
        // High bits of the fifth byte fall off, as in Kafka and kafka-protocol.
        assert_eq!(uvarint(&[0xff, 0xff, 0xff, 0xff, 0x7f]), Ok((u32::MAX, 5)));
        assert_eq!(uvarint(&[0x80, 0x80, 0x80, 0x80, 0x10]), Ok((0, 5)));
    }

    #[test]
    fn uvarint_errors() {
        assert_eq!(
            uvarint(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
            Err(Malformed::VarintTooLong)
        );
        assert_eq!(uvarint(&[0xff; 9]), Err(Malformed::VarintTooLong));
        assert!(matches!(uvarint(&[]), Err(Malformed::Truncated { .. })));
        assert!(matches!(
            uvarint(&[0x80, 0x80]),
            Err(Malformed::Truncated { .. })
        ));
    }

    #[test]
    fn take_never_overflows() {
        let mut r = Reader::new(&[1, 2, 3]);
        assert_eq!(
            r.take(u64::MAX),
            Err(Malformed::Truncated {
                needed: u64::MAX,
                remaining: 3
            })
        );
        assert_eq!(r.take(2), Ok(&[1u8, 2][..]));
        assert_eq!(
            r.i16(),
            Err(Malformed::Truncated {
                needed: 2,
                remaining: 1
            })
        );
        assert_eq!(r.i8(), Ok(3));
        assert_eq!(r.remaining(), 0);
    }
}
