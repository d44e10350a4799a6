//! The one raw-socket helper of the e2e tests, for the requests an HTTP client will not send:
//! a head sent in pieces, a body announced and never sent. Every other request goes through
//! [`crate::harness::request`] (ureq).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::harness::Resp;

/// A bare TCP connection to a runtime: bytes go out exactly as given.
pub struct RawConn {
    stream: TcpStream,
    what: String,
}

impl RawConn {
    pub fn open(addr: &str) -> Result<RawConn, String> {
        let stream = TcpStream::connect(addr).map_err(|e| format!("connect {addr}: {e}"))?;
        // A hang guard, not a timing assertion.
        stream.set_read_timeout(Some(Duration::from_secs(60))).map_err(|e| format!("{addr}: {e}"))?;
        Ok(RawConn { stream, what: addr.to_owned() })
    }

    /// Writes `bytes` as they are (a part of a request, or all of it).
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), String> {
        self.stream.write_all(bytes).map_err(|e| format!("{}: {e}", self.what))
    }

    /// Reads until the server closes the connection, and parses that as one response: the
    /// head by httparse, the body by its `Content-Length`, or chunked (httparse's chunk
    /// sizes), or up to the close.
    pub fn read_response(mut self) -> Result<Resp, String> {
        let mut raw = Vec::new();
        self.stream.read_to_end(&mut raw).map_err(|e| format!("{}: {e}", self.what))?;
        parse(&raw).ok_or_else(|| format!("{}: malformed response: {}", self.what, String::from_utf8_lossy(&raw)))
    }
}

fn parse(raw: &[u8]) -> Option<Resp> {
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut head = httparse::Response::new(&mut slots);
    let httparse::Status::Complete(split) = head.parse(raw).ok()? else { return None };
    let headers: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).trim().to_owned()))
        .collect();
    let status = head.code?;
    let mut rest = &raw[split..];
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        let mut out = Vec::new();
        loop {
            let httparse::Status::Complete((start, size)) = httparse::parse_chunk_size(rest).ok()? else {
                return None;
            };
            let size = usize::try_from(size).ok()?;
            if size == 0 {
                break;
            }
            out.extend_from_slice(rest.get(start..start + size)?);
            rest = rest.get(start + size + 2..)?;
        }
        out
    } else {
        let length = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(rest.len());
        rest.get(..length.min(rest.len()))?.to_vec()
    };
    Some(Resp { status, headers, body })
}

/// Sends only a request head that announces a `declared`-byte body, and reads the answer:
/// a server must refuse an oversized body from its declared length, before reading it.
pub fn request_declaring(
    addr: &str,
    method: &str,
    path: &str,
    declared: usize,
    headers: &[(&str, &str)],
) -> Result<Resp, String> {
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {declared}\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let mut conn = RawConn::open(addr)?;
    conn.send(head.as_bytes())?;
    conn.read_response().map_err(|e| format!("{method} {path}: {e}"))
}
