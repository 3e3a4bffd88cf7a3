//! The Prometheus endpoint: `GET /metrics` over plain HTTP/1.1, one request per connection.
//!
//! Kept deliberately small rather than pulling in an HTTP stack: the request head is read with
//! a size and time bound, anything but `GET`/`HEAD` of `/metrics` (or `/`) gets a short error
//! response, and scrapes at once are capped. The body is the recorder's rendering followed by
//! the collection-time samples ([`crate::telemetry::samples`]).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use crate::telemetry::samples::{self, Sample, SampleKind};

/// Largest request head read; a scraper's is a few hundred bytes.
const MAX_HEAD_BYTES: usize = 8 * 1024;
/// How long a client may take to send its request and read the answer.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Scrapes served at once; further connections wait.
const MAX_CONCURRENT: usize = 8;

/// Serves until `shutdown`.
pub async fn serve(listener: TcpListener, shutdown: CancellationToken) {
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT));
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => return,
            a = listener.accept() => a,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(error = %e, "metrics endpoint: accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return;
        };
        tokio::spawn(async move {
            let _permit = permit;
            match tokio::time::timeout(IO_TIMEOUT, answer(stream)).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "metrics endpoint: request failed")
                }
                Err(_) => tracing::debug!(%peer, "metrics endpoint: client too slow"),
            }
        });
    }
}

async fn answer(mut stream: TcpStream) -> std::io::Result<()> {
    let head = read_head(&mut stream).await?;
    let (status, content_type, body, with_body) = match parse_request_line(&head) {
        Some((method @ ("GET" | "HEAD"), "/metrics")) => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            render(),
            method == "GET",
        ),
        Some((method @ ("GET" | "HEAD"), "/")) => (
            "200 OK",
            "text/plain; charset=utf-8",
            "strata: Prometheus metrics at /metrics\n".to_owned(),
            method == "GET",
        ),
        Some(("GET" | "HEAD", _)) => ("404 Not Found", "text/plain", "not found\n".into(), true),
        Some(_) => (
            "405 Method Not Allowed",
            "text/plain",
            "only GET\n".into(),
            true,
        ),
        None => (
            "400 Bad Request",
            "text/plain",
            "bad request\n".into(),
            true,
        ),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if with_body {
        out.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&out).await?;
    stream.shutdown().await
}

/// Reads until the blank line that ends the request head, at most [`MAX_HEAD_BYTES`].
async fn read_head(stream: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(head);
        }
        head.extend_from_slice(&buf[..n]);
        if head.windows(4).any(|w| w == b"\r\n\r\n") || head.len() >= MAX_HEAD_BYTES {
            return Ok(head);
        }
    }
}

/// `(method, path without query)` of an HTTP/1.x request line.
fn parse_request_line(head: &[u8]) -> Option<(&str, &str)> {
    let end = head.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&head[..end]).ok()?;
    let mut parts = line.split(' ');
    let (method, target, version) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || !version.starts_with("HTTP/1.") {
        return None;
    }
    Some((method, target.split('?').next().unwrap_or(target)))
}

/// The whole exposition: recorded metrics, then collection-time samples.
pub fn render() -> String {
    let mut text = crate::telemetry::prometheus()
        .map(|h| {
            h.run_upkeep();
            h.render()
        })
        .unwrap_or_default();
    render_samples(&samples::collect(), &mut text);
    text
}

/// Appends `samples` in the text format, `# HELP`/`# TYPE` once per name (samples of one name
/// must be adjacent, as collectors produce them).
pub fn render_samples(samples: &[Sample], out: &mut String) {
    let mut last = "";
    for s in samples {
        if s.name != last {
            let kind = match s.kind {
                SampleKind::Gauge => "gauge",
                SampleKind::Counter => "counter",
            };
            let _ = writeln!(out, "# HELP {} {}", s.name, s.help);
            let _ = writeln!(out, "# TYPE {} {kind}", s.name);
            last = s.name;
        }
        out.push_str(s.name);
        if !s.labels.is_empty() {
            out.push('{');
            for (i, (k, v)) in s.labels.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{k}=\"{}\"", escape_label(v));
            }
            out.push('}');
        }
        let _ = writeln!(out, " {}", format_value(s.value));
    }
}

fn escape_label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn format_value(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        v.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        assert_eq!(
            parse_request_line(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(("GET", "/metrics"))
        );
        assert_eq!(
            parse_request_line(b"GET /metrics?name[]=a HTTP/1.0\r\n\r\n"),
            Some(("GET", "/metrics"))
        );
        assert_eq!(parse_request_line(b"GET /metrics\r\n\r\n"), None);
        assert_eq!(parse_request_line(b"\xff\xfe\r\n"), None);
        assert_eq!(parse_request_line(b"GET /metrics HTTP/1.1"), None);
    }

    proptest::proptest! {
        #[test]
        fn any_request_head_parses_or_is_refused(head in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300)) {
            if let Some((method, path)) = parse_request_line(&head) {
                proptest::prop_assert!(!method.contains(' ') && !path.contains('?'));
            }
        }
    }

    #[test]
    fn samples_render_in_the_text_format() {
        let mut out = String::new();
        render_samples(
            &[
                Sample::gauge("a_bytes", "A.", 1.5).label("topic", "t\"1"),
                Sample::gauge("a_bytes", "A.", 2.0).label("topic", "t2"),
                Sample::counter("b_total", "B.", 3.0),
            ],
            &mut out,
        );
        assert_eq!(
            out,
            "# HELP a_bytes A.\n# TYPE a_bytes gauge\na_bytes{topic=\"t\\\"1\"} 1.5\na_bytes{topic=\"t2\"} 2\n# HELP b_total B.\n# TYPE b_total counter\nb_total 3\n"
        );
    }
}
