//! A minimal Kafka client over a plain TCP stream, for tests that need exact control of the
//! bytes: requests encoded with kafka-protocol (or written by hand), responses decoded with it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, ResponseHeader};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, StrBytes};

/// One connection.
pub struct Raw {
    pub stream: TcpStream,
    next_id: i32,
}

impl Raw {
    pub fn connect(bootstrap: &str) -> Raw {
        let stream = TcpStream::connect(bootstrap).expect("connecting to the broker");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .expect("read timeout");
        Raw { stream, next_id: 1 }
    }

    /// Writes raw bytes (no framing added).
    pub fn send_bytes(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends `body` as `api_key` v`version` and returns the decoded response.
    pub fn call<Req, Resp>(&mut self, api_key: ApiKey, version: i16, body: &Req) -> Resp
    where
        Req: Encodable + HeaderVersion,
        Resp: Decodable + HeaderVersion,
    {
        let id = self.send(api_key, version, body);
        let mut resp = self.read_frame().expect("reading the response");
        let rh = ResponseHeader::decode(&mut resp, Resp::header_version(version))
            .expect("decoding the response header");
        assert_eq!(rh.correlation_id, id, "responses come back in order");
        Resp::decode(&mut resp, version).expect("decoding the response")
    }

    /// Sends a request without waiting for an answer; returns its correlation id.
    pub fn send<Req>(&mut self, api_key: ApiKey, version: i16, body: &Req) -> i32
    where
        Req: Encodable + HeaderVersion,
    {
        let id = self.next_id;
        self.next_id += 1;
        let mut header = RequestHeader::default();
        header.request_api_key = api_key as i16;
        header.request_api_version = version;
        header.correlation_id = id;
        header.client_id = Some(StrBytes::from_static_str("raw-test"));
        let mut buf = BytesMut::new();
        header
            .encode(&mut buf, Req::header_version(version))
            .expect("encoding the header");
        body.encode(&mut buf, version).expect("encoding the body");
        let mut framed = (buf.len() as i32).to_be_bytes().to_vec();
        framed.extend_from_slice(&buf);
        self.stream.write_all(&framed).expect("sending the request");
        id
    }

    /// Reads one response frame; `None` if the broker closed the connection.
    pub fn read_frame(&mut self) -> Option<Bytes> {
        let mut len = [0u8; 4];
        self.stream.read_exact(&mut len).ok()?;
        let len = i32::from_be_bytes(len);
        assert!((0..=64 << 20).contains(&len), "response length {len}");
        let mut body = vec![0u8; len as usize];
        self.stream.read_exact(&mut body).ok()?;
        Some(Bytes::from(body))
    }

    /// True once the broker has closed the connection (reads EOF or a reset in time).
    pub fn is_closed_by_broker(&mut self) -> bool {
        let mut buf = [0u8; 256];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }
}
