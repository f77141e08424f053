//! A small blocking HTTP/1.1 client for the soak, written apart from
//! `eventide-http-mini` on purpose: the oracle must not share the parser of
//! the server it checks.
//!
//! Every read is bounded by a timeout; a response is read by its own framing
//! (Content-Length, chunked, or no body for HEAD, 1xx, 204 and 304), so a
//! response that belongs to another request, or carries a byte too many or
//! too few, shows up as a mismatch on this response or the next.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long any read or write may block.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(15);
/// A response head larger than this is malformed (the server's are small).
const MAX_HEAD: usize = 64 * 1024;

/// Why a response could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Fail {
    /// No byte within [`IO_TIMEOUT`].
    Timeout,
    /// The server closed (FIN) before the response was complete.
    Eof,
    /// The connection was reset.
    Reset,
    /// Bytes that are not an HTTP/1.1 response.
    Malformed(String),
    /// Any other I/O error.
    Io(String),
}

impl Fail {
    pub(crate) fn class(&self) -> &'static str {
        match self {
            Fail::Timeout => "timeout",
            Fail::Eof => "early EOF",
            Fail::Reset => "reset",
            Fail::Malformed(_) => "malformed response",
            Fail::Io(_) => "I/O error",
        }
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fail::Malformed(m) => write!(f, "malformed response: {m}"),
            Fail::Io(m) => write!(f, "I/O error: {m}"),
            other => f.write_str(other.class()),
        }
    }
}

fn io_fail(e: &io::Error) -> Fail {
    match e.kind() {
        ErrorKind::WouldBlock | ErrorKind::TimedOut => Fail::Timeout,
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe => {
            Fail::Reset
        }
        ErrorKind::UnexpectedEof => Fail::Eof,
        _ => Fail::Io(e.to_string()),
    }
}

/// A response as read.
#[derive(Debug, Clone)]
pub(crate) struct Resp {
    pub(crate) status: u16,
    /// Header fields in order, names lowercased.
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Resp {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn says_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }

    /// Status, headers but `Date` (which changes every second), and body:
    /// what two answers to the same request must share.
    pub(crate) fn normalized(&self) -> String {
        let mut s = format!("{}\n", self.status);
        for (n, v) in self.headers.iter().filter(|(n, _)| n != "date") {
            s.push_str(&format!("{n}: {v}\n"));
        }
        s.push('\n');
        s.push_str(&String::from_utf8_lossy(&self.body));
        s
    }
}

/// Reading at a limited rate: at most `per_tick` bytes per `tick`, until
/// `until`; full speed after.
pub(crate) struct Pace {
    pub(crate) until: Instant,
    pub(crate) per_tick: usize,
    pub(crate) tick: Duration,
}

/// One connection.
pub(crate) struct Conn {
    pub(crate) stream: TcpStream,
    buf: Vec<u8>,
    tmp: Vec<u8>,
    pub(crate) pace: Option<Pace>,
    pub(crate) last_used: Instant,
}

impl Conn {
    pub(crate) fn connect(addr: SocketAddr) -> Result<Conn, Fail> {
        let stream = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| io_fail(&e))?;
        stream
            .set_read_timeout(Some(IO_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(IO_TIMEOUT)))
            .and_then(|()| stream.set_nodelay(true))
            .map_err(|e| io_fail(&e))?;
        Ok(Conn {
            stream,
            buf: Vec::new(),
            tmp: vec![0; 64 * 1024],
            pace: None,
            last_used: Instant::now(),
        })
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) -> Result<(), Fail> {
        self.last_used = Instant::now();
        self.stream.write_all(bytes).map_err(|e| io_fail(&e))
    }

    /// Reads more bytes into the buffer.
    fn fill(&mut self) -> Result<(), Fail> {
        let paced = self.pace.as_ref().filter(|p| Instant::now() < p.until);
        let cap = paced.map_or(self.tmp.len(), |p| p.per_tick.min(self.tmp.len()));
        let tick = paced.map(|p| p.tick);
        match self.stream.read(&mut self.tmp[..cap]) {
            Ok(0) => Err(Fail::Eof),
            Ok(n) => {
                self.buf.extend_from_slice(&self.tmp[..n]);
                self.last_used = Instant::now();
                if let Some(t) = tick {
                    std::thread::sleep(t);
                }
                Ok(())
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => Ok(()),
            Err(e) => Err(io_fail(&e)),
        }
    }

    fn take(&mut self, n: usize) -> Result<Vec<u8>, Fail> {
        while self.buf.len() < n {
            self.fill()?;
        }
        let rest = self.buf.split_off(n);
        Ok(std::mem::replace(&mut self.buf, rest))
    }

    fn take_line(&mut self) -> Result<Vec<u8>, Fail> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let mut line = self.take(i + 2)?;
                line.truncate(i);
                return Ok(line);
            }
            if self.buf.len() > MAX_HEAD {
                return Err(Fail::Malformed("a line over 64 KiB".into()));
            }
            self.fill()?;
        }
    }

    /// Reads the next response; `head_request` says it answers a HEAD (no
    /// body whatever the headers say).
    pub(crate) fn response(&mut self, head_request: bool) -> Result<Resp, Fail> {
        let head_len = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            if self.buf.len() > MAX_HEAD {
                return Err(Fail::Malformed("a head over 64 KiB".into()));
            }
            self.fill()?;
        };
        let head = self.take(head_len)?;
        let text = std::str::from_utf8(&head)
            .map_err(|_| Fail::Malformed("a head that is not UTF-8".into()))?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .and_then(|r| r.get(..3))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| Fail::Malformed(format!("status line {status_line:?}")))?;
        let mut headers = Vec::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let (n, v) = line
                .split_once(':')
                .ok_or_else(|| Fail::Malformed(format!("header line {line:?}")))?;
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        let no_body = head_request || status < 200 || status == 204 || status == 304;
        if no_body {
            return Ok(resp);
        }
        let chunked = resp
            .header("transfer-encoding")
            .is_some_and(|v| v.eq_ignore_ascii_case("chunked"));
        if chunked {
            resp.body = self.chunked_body()?;
        } else if let Some(len) = resp.header("content-length") {
            let len: usize = len
                .parse()
                .map_err(|_| Fail::Malformed(format!("Content-Length {len:?}")))?;
            resp.body = self.take(len)?;
        } else {
            // Until close.
            loop {
                match self.fill() {
                    Ok(()) => {}
                    Err(Fail::Eof) => break,
                    Err(e) => return Err(e),
                }
            }
            resp.body = std::mem::take(&mut self.buf);
        }
        Ok(resp)
    }

    fn chunked_body(&mut self) -> Result<Vec<u8>, Fail> {
        let mut body = Vec::new();
        loop {
            let line = self.take_line()?;
            let size = std::str::from_utf8(&line)
                .ok()
                .and_then(|l| usize::from_str_radix(l.split(';').next()?.trim(), 16).ok())
                .ok_or_else(|| Fail::Malformed("a chunk size line".into()))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.take_line()?.is_empty() {}
                return Ok(body);
            }
            body.extend_from_slice(&self.take(size)?);
            if !self.take(2)?.starts_with(b"\r\n") {
                return Err(Fail::Malformed("no CRLF after a chunk".into()));
            }
        }
    }

    /// Waits up to `within` for the server to close. `Ok(true)`: closed
    /// (EOF or reset) with nothing more sent; `Ok(false)`: still open.
    pub(crate) fn closed_within(&mut self, within: Duration) -> Result<bool, Fail> {
        if !self.buf.is_empty() {
            return Err(Fail::Malformed(format!(
                "{} bytes after the last response",
                self.buf.len()
            )));
        }
        let _ = self.stream.set_read_timeout(Some(within));
        let r = self.fill();
        let _ = self.stream.set_read_timeout(Some(IO_TIMEOUT));
        match r {
            Err(Fail::Eof | Fail::Reset) => Ok(true),
            Err(Fail::Timeout) => Ok(false),
            Err(e) => Err(e),
            Ok(()) => Err(Fail::Malformed(format!(
                "{} bytes after the last response",
                self.buf.len()
            ))),
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
