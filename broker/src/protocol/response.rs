//! Response encoding: the 4-byte length, the response header, the body; and the outgoing form a
//! connection writes, which may carry file regions (Fetch records sent with sendfile).

use bytes::{BufMut, Bytes, BytesMut};
use hotlog::ReadSlice;
use kafka_protocol::messages::ApiKey;
use kafka_protocol::protocol::Encodable;

/// A response could not be encoded (a bug: a field out of the version's range, say).
#[derive(Debug, thiserror::Error)]
#[error("encoding a {api_key:?} v{version} response: {reason}")]
pub struct EncodeError {
    pub api_key: ApiKey,
    pub version: i16,
    pub reason: String,
}

/// One piece of an outgoing response.
#[derive(Debug, Clone)]
pub enum Chunk {
    Bytes(Bytes),
    /// Whole record batches straight from a segment file.
    File(ReadSlice),
}

impl Chunk {
    pub fn len(&self) -> u64 {
        match self {
            Chunk::Bytes(b) => b.len() as u64,
            Chunk::File(s) => s.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A whole response, length prefix included, ready for the socket.
#[derive(Debug, Clone, Default)]
pub struct Outgoing {
    pub chunks: Vec<Chunk>,
}

impl Outgoing {
    pub fn len(&self) -> u64 {
        self.chunks.iter().map(Chunk::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Copies file regions into memory (for tests and for transports without sendfile).
    pub fn to_vec(&self) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::with_capacity(self.len() as usize);
        for c in &self.chunks {
            match c {
                Chunk::Bytes(b) => out.extend_from_slice(b),
                Chunk::File(s) => s.read_into(&mut out)?,
            }
        }
        Ok(out)
    }
}

/// Writes the response header for `api_key` at `version` into `buf`. ApiVersions responses
/// always use header v0, so a client that sent a version we can't parse can still read ours.
pub fn put_header(buf: &mut BytesMut, api_key: ApiKey, version: i16, correlation_id: i32) {
    buf.put_i32(correlation_id);
    if api_key != ApiKey::ApiVersions && api_key.response_header_version(version) >= 1 {
        buf.put_u8(0); // no tagged fields
    }
}

/// Encodes a whole response: length, header, body.
pub fn encode<T: Encodable>(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &T,
) -> Result<Outgoing, EncodeError> {
    let err = |e: anyhow::Error| EncodeError {
        api_key,
        version,
        reason: format!("{e:#}"),
    };
    let size = body.compute_size(version).map_err(err)?;
    let mut buf = BytesMut::with_capacity(size + 4 + 5);
    buf.put_i32(0);
    put_header(&mut buf, api_key, version, correlation_id);
    body.encode(&mut buf, version).map_err(err)?;
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(Outgoing {
        chunks: vec![Chunk::Bytes(buf.freeze())],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::MetadataResponse;

    #[test]
    fn length_prefix_counts_header_and_body() {
        let out = encode(ApiKey::Metadata, 9, 77, &MetadataResponse::default()).unwrap();
        let bytes = out.to_vec().unwrap();
        let len = i32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
        assert_eq!(len, bytes.len() - 4);
        assert_eq!(&bytes[4..8], &77i32.to_be_bytes());
        assert_eq!(
            bytes[8], 0,
            "flexible v9 has a tagged-field byte in its header"
        );
    }

    #[test]
    fn api_versions_header_is_always_v0() {
        let mut buf = BytesMut::new();
        put_header(&mut buf, ApiKey::ApiVersions, 3, 5);
        assert_eq!(buf.len(), 4);
    }
}
