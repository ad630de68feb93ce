//! `/metrics` over HTTP/1.1: one route, one response per connection. Prometheus needs no more, so no
//! HTTP framework (hyper and its stack would double the build for a GET).

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::TcpStream,
};

/// The body is what `prometheus-client` encodes: OpenMetrics text (counter families typed without their
/// `_total`, a closing `# EOF`). Announced as the 0.0.4 text format, Prometheus would parse it with the
/// older parser, which files `x_total` apart from `# TYPE x counter`, untyped.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// A request head larger than this is not a scrape.
const MAX_HEAD: usize = 8 << 10;
/// A client that sends no request head in this time is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers one connection: `GET /metrics` with `body`, anything else 404 or 405.
pub async fn answer(mut stream: TcpStream, body: String) {
    let mut head = Vec::with_capacity(512);
    let read = tokio::time::timeout(READ_TIMEOUT, async {
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let response = respond(&head, &body);
    if let Err(e) = stream.write_all(response.as_bytes()).await {
        log::debug!("a /metrics client went away: {e}");
    }
    let _ = stream.shutdown().await;
}

fn respond(head: &[u8], body: &str) -> String {
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let mut parts = line.split(|b| *b == b' ');
    let (method, path) = (parts.next().unwrap_or_default(), parts.next().unwrap_or_default());
    let path = path.split(|b| *b == b'?').next().unwrap_or_default();
    let (status, ty, body) = match (method, path) {
        (b"GET" | b"HEAD", b"/metrics") => ("200 OK", CONTENT_TYPE, body),
        (_, b"/metrics") => ("405 Method Not Allowed", "text/plain", "GET /metrics\n"),
        _ => ("404 Not Found", "text/plain", "audit-verify watch serves /metrics\n"),
    };
    let len = body.len();
    let body = if method == b"HEAD" { "" } else { body };
    format!("HTTP/1.1 {status}\r\nContent-Type: {ty}\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n{body}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_metrics_and_nothing_else() {
        let ok = respond(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", "a 1\n");
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\n") && ok.ends_with("\r\n\r\na 1\n"), "{ok}");
        assert!(ok.contains("Content-Length: 4\r\n") && ok.contains("application/openmetrics-text; version=1.0.0"));
        assert!(respond(b"GET /metrics?x=1 HTTP/1.1\r\n\r\n", "").starts_with("HTTP/1.1 200"));
        assert!(respond(b"GET / HTTP/1.1\r\n\r\n", "").starts_with("HTTP/1.1 404"));
        assert!(respond(b"POST /metrics HTTP/1.1\r\n\r\n", "").starts_with("HTTP/1.1 405"));
        assert!(respond(b"HEAD /metrics HTTP/1.1\r\n\r\n", "abc").ends_with("\r\n\r\n"));
    }
}
