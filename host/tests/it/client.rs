//! Talking to the host: the project's HTTP client (ureq, through
//! `civic::platform::native::http_agent`), and the one raw-socket exchange for requests a
//! client library will not send or whose socket a test must know (a malformed `Host`, the
//! client address the host reports).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A hang guard, not a timing assertion: a stuck host fails the test instead of hanging it.
const PATIENCE: Duration = Duration::from_secs(120);

/// A response: status, headers (lower-case names), body.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A client of one host whose requests, one after the other, go over one kept-alive
/// connection (the host keeps it open).
pub struct Client {
    addr: SocketAddr,
    agent: ureq::Agent,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        Client { addr, agent: civic::platform::native::http_agent(Some(PATIENCE)) }
    }

    /// Sends one request (`Host` is the host's address unless `headers` has one) and reads
    /// the whole answer.
    pub fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut req = http::Request::builder().method(method).uri(format!("http://{}{path}", self.addr));
        for (n, v) in headers {
            req = req.header(*n, *v);
        }
        let req = req.body(body).unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let answer = civic::platform::native::http_call(&self.agent, req)
            .unwrap_or_else(|e| panic!("{method} {path} to {}: {e}", self.addr));
        let headers = answer
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        Resp { status: answer.status().as_u16(), headers, body: answer.into_body() }
    }
}

/// One GET with a client of its own.
pub fn get(addr: SocketAddr, path: &str) -> Resp {
    Client::connect(addr).request("GET", path, &[], b"")
}

/// The raw-socket exchange: writes `request` as it is on a new connection (it should say
/// `Connection: close`), reads until the host closes, and returns the connection's own
/// address and the response (head by httparse; body by `Content-Length`, chunked, or to
/// the close).
pub fn raw_exchange(addr: SocketAddr, request: &[u8]) -> (SocketAddr, Resp) {
    let mut stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    let local = stream.local_addr().expect("local addr");
    stream.write_all(request).expect("send request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read response");
    let mut slots = [httparse::EMPTY_HEADER; 64];
    let mut head = httparse::Response::new(&mut slots);
    let Ok(httparse::Status::Complete(split)) = head.parse(&raw) else {
        panic!("malformed response: {}", String::from_utf8_lossy(&raw))
    };
    let headers: Vec<(String, String)> = head
        .headers
        .iter()
        .map(|h| (h.name.to_ascii_lowercase(), String::from_utf8_lossy(h.value).trim().to_owned()))
        .collect();
    let mut resp = Resp { status: head.code.expect("status"), headers, body: Vec::new() };
    let mut rest = &raw[split..];
    if resp.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        while let Ok(httparse::Status::Complete((start, size))) = httparse::parse_chunk_size(rest) {
            let size = usize::try_from(size).expect("chunk size");
            if size == 0 {
                break;
            }
            resp.body.extend_from_slice(&rest[start..start + size]);
            rest = &rest[start + size + 2..];
        }
    } else {
        let length = resp.header("content-length").and_then(|v| v.parse().ok()).unwrap_or(rest.len());
        resp.body = rest[..length.min(rest.len())].to_vec();
    }
    (local, resp)
}
