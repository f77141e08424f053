//! Helpers shared by the `client_*` integration tests: servers the client
//! is tested against (Python's `http.server`, and small blocking std-thread
//! servers written here, independent of the crate's own parser), a
//! watchdog, and body collection.

#![allow(dead_code, unreachable_pub)]

use std::cell::{Cell, RefCell};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_streams::Readable;

/// Panics if the test is still running after `limit`. The timer is
/// unreferenced, so it never keeps the loop alive by itself.
pub fn watchdog(lp: &mut Loop, limit: Duration) {
    let t = lp.set_timeout(limit, move |_| {
        panic!("watchdog: the test ran longer than {limit:?}")
    });
    lp.unref_handle(t);
}

/// A port nothing listens on (bound, then released).
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// Deterministic pseudo-random bytes (xorshift), so files compare exactly.
pub fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// FNV-1a, to compare large bodies without sending them back.
pub fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Waits (really sleeping: this is another thread's progress) until `f`.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    f()
}

/// What a body stream delivered.
#[derive(Default)]
pub struct Collected {
    pub data: RefCell<Vec<u8>>,
    pub ended: Cell<bool>,
    pub error: RefCell<Option<String>>,
    pub closed: Cell<bool>,
}

/// Reads a body to its end into a shared buffer.
pub fn collect(lp: &mut Loop, body: Readable<Bytes>) -> Rc<Collected> {
    let c = Rc::new(Collected::default());
    let (d, e, r, x) = (c.clone(), c.clone(), c.clone(), c.clone());
    body.on_data(lp, move |_, chunk| {
        d.data.borrow_mut().extend_from_slice(&chunk)
    });
    body.on_end(lp, move |_| e.ended.set(true));
    body.on_error(lp, move |_, err| {
        *r.error.borrow_mut() = Some(err.to_string())
    });
    body.on_close(lp, move |_| x.closed.set(true));
    c
}

// ----- Python's http.server ------------------------------------------------------

/// `python3 -m http.server` serving a temporary directory; killed (by pid)
/// and the directory removed when dropped, also on panic.
pub struct PyServer {
    child: Child,
    pub port: u16,
    dir: PathBuf,
}

impl PyServer {
    /// Starts the server on a free port after `fill` wrote files into its
    /// directory. `None` (with the reason printed) if `python3` is missing.
    pub fn start(name: &str, fill: impl FnOnce(&Path)) -> Option<PyServer> {
        if Command::new("python3")
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| !s.success())
            .unwrap_or(true)
        {
            eprintln!("skipped: python3 is not available to run http.server");
            return None;
        }
        let dir = std::env::temp_dir().join(format!(
            "eventide-client-{name}-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).expect("create the served directory");
        fill(&dir);
        // The port is free when picked but may be taken before Python binds
        // it: try a few.
        for _ in 0..5 {
            let port = free_port();
            let mut child = Command::new("python3")
                .args([
                    "-m",
                    "http.server",
                    &port.to_string(),
                    "--bind",
                    "127.0.0.1",
                ])
                .arg("--directory")
                .arg(&dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn python3");
            let up = wait_until(Duration::from_secs(15), || {
                matches!(child.try_wait(), Ok(Some(_)))
                    || TcpStream::connect(("127.0.0.1", port)).is_ok()
            });
            if up && matches!(child.try_wait(), Ok(None)) {
                return Some(PyServer { child, port, dir });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("python3 -m http.server did not start");
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for PyServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// ----- raw std-thread servers -------------------------------------------------------

/// A blocking TCP server: each accepted connection runs `handler(index,
/// stream)` on its own thread. Counts connections.
pub struct RawServer {
    pub port: u16,
    pub accepted: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl RawServer {
    pub fn start(handler: impl Fn(usize, TcpStream) + Send + Sync + 'static) -> RawServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().unwrap().port();
        let accepted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handler = Arc::new(handler);
        let (count, halt) = (accepted.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if halt.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let index = count.fetch_add(1, Ordering::SeqCst);
                let h = handler.clone();
                std::thread::spawn(move || h(index, stream));
            }
        });
        RawServer {
            port,
            accepted,
            stop,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn connections(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for RawServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A request as the test server read it.
#[derive(Debug, Clone, Default)]
pub struct RawRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `chunked`, `length:N` or `none`.
    pub framing: String,
}

impl RawRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn wants_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

fn read_line(r: &mut impl BufRead) -> Option<String> {
    let mut line = Vec::new();
    match r.read_until(b'\n', &mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => {
            while line.last().is_some_and(|&b| b == b'\n' || b == b'\r') {
                line.pop();
            }
            Some(String::from_utf8(line).expect("an ASCII line"))
        }
    }
}

/// Reads one request (head and body, Content-Length or chunked). `None` at
/// EOF or on a read error.
pub fn read_request(r: &mut impl BufRead) -> Option<RawRequest> {
    let line = read_line(r)?;
    let mut parts = line.split(' ');
    let mut req = RawRequest {
        method: parts.next()?.to_string(),
        target: parts.next()?.to_string(),
        ..RawRequest::default()
    };
    loop {
        let line = read_line(r)?;
        if line.is_empty() {
            break;
        }
        let (n, v) = line.split_once(':').expect("a header field");
        req.headers.push((n.to_string(), v.trim().to_string()));
    }
    if req
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        req.framing = "chunked".into();
        loop {
            let size_line = read_line(r)?;
            let size = usize::from_str_radix(size_line.split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                while !read_line(r)?.is_empty() {}
                break;
            }
            let at = req.body.len();
            req.body.resize(at + size, 0);
            r.read_exact(&mut req.body[at..]).ok()?;
            assert_eq!(read_line(r)?, "", "chunk data not followed by CRLF");
        }
    } else if let Some(n) = req.header("content-length") {
        let n: usize = n.parse().expect("a decimal Content-Length");
        req.framing = format!("length:{n}");
        req.body.resize(n, 0);
        r.read_exact(&mut req.body).ok()?;
    } else {
        req.framing = "none".into();
    }
    Some(req)
}

/// Writes an HTTP/1.1 response with `Content-Length`.
pub fn respond(s: &mut TcpStream, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let mut out = format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\n", body.len());
    for (n, v) in headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    let _ = s.write_all(&bytes);
}

/// Serves requests on one connection until EOF, answering each with
/// `answer`; honours `Connection: close` from either side.
pub fn serve_keep_alive(
    stream: TcpStream,
    answer: impl Fn(&RawRequest) -> (u16, Vec<(String, String)>, Vec<u8>),
) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
    let mut writer = stream;
    while let Some(req) = read_request(&mut reader) {
        let (status, headers, body) = answer(&req);
        let close = req.wants_close()
            || headers
                .iter()
                .any(|(n, v)| n.eq_ignore_ascii_case("connection") && v == "close");
        let hs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        respond(&mut writer, status, &hs, &body);
        if close {
            break;
        }
    }
}

/// Reads until the peer closes; returns whether it did within `limit`.
pub fn wait_for_eof(stream: &mut TcpStream, limit: Duration) -> bool {
    stream.set_read_timeout(Some(limit)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}
