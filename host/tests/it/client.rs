//! A minimal HTTP/1.1 client over `std::net::TcpStream` (keep-alive, content-length and
//! chunked bodies): enough to talk to the host without pulling in an HTTP client crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

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

/// One keep-alive connection.
pub struct Client {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        stream.set_nodelay(true).expect("nodelay");
        // A hang guard, not a timing assertion: a stuck host fails the test instead of hanging it.
        stream.set_read_timeout(Some(Duration::from_secs(120))).expect("timeout");
        let writer = stream.try_clone().expect("clone stream");
        Client { addr, reader: BufReader::new(stream), writer }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.writer.local_addr().expect("local addr")
    }

    pub fn request(&mut self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut head = format!("{method} {path} HTTP/1.1\r\n");
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            head.push_str(&format!("Host: {}\r\n", self.addr));
        }
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        if !body.is_empty() || method == "POST" || method == "PUT" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        self.writer.write_all(&bytes).expect("send request");
        self.read_response()
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        let n = self.reader.read_line(&mut line).expect("read response");
        assert!(n > 0, "connection closed by the host");
        line.trim_end_matches(['\r', '\n']).to_owned()
    }

    fn read_response(&mut self) -> Resp {
        let status_line = self.line();
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
        let mut headers = Vec::new();
        loop {
            let line = self.line();
            if line.is_empty() {
                break;
            }
            if let Some((n, v)) = line.split_once(':') {
                headers.push((n.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let mut resp = Resp { status, headers, body: Vec::new() };
        if resp.header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let size_line = self.line();
                let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                    .unwrap_or_else(|_| panic!("bad chunk size {size_line:?}"));
                if size == 0 {
                    while !self.line().is_empty() {} // trailers
                    break;
                }
                let mut chunk = vec![0; size];
                self.reader.read_exact(&mut chunk).expect("chunk");
                resp.body.extend_from_slice(&chunk);
                assert!(self.line().is_empty(), "chunk not followed by CRLF");
            }
        } else if let Some(len) = resp.header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            let mut body = vec![0; len];
            self.reader.read_exact(&mut body).expect("body");
            resp.body = body;
        } else {
            self.reader.read_to_end(&mut resp.body).expect("body to end");
        }
        resp
    }
}

/// One GET on a fresh connection.
pub fn get(addr: SocketAddr, path: &str) -> Resp {
    Client::connect(addr).request("GET", path, &[], b"")
}
