//! Helpers shared by the `server_*` integration tests.
//!
//! The server runs in the test's loop on the test thread; clients run on a
//! `std::thread` with plain blocking `TcpStream`s (every read bounded by a
//! timeout), or as child processes (curl, python3) killed by pid on drop.
//! [`run_client`] runs the loop until the client is done, under a watchdog
//! timer that fails the test instead of letting it hang.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::ChildStdout;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use eventide_http_mini::proto::{Event, Headers, Method, ResponseHead, ResponseParser};
use eventide_http_mini::server::{Request, Response, Server, ServerOptions, ServerStats};
use eventide_loop_phases::{Loop, RunMode};

/// How long one test may run its loop before the watchdog fails it.
pub const WATCHDOG: Duration = Duration::from_secs(20);
/// How long a raw client waits for bytes before giving up.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// A loop with a server on `127.0.0.1:0`.
pub fn serve(
    options: ServerOptions,
    handler: impl FnMut(&mut Loop, Request, Response) + 'static,
) -> (Loop, Server, SocketAddr) {
    let mut lp = Loop::new();
    let server = Server::listen(&mut lp, localhost(), options, handler).expect("listen");
    let addr = server.local_addr(&lp).expect("bound");
    (lp, server, addr)
}

/// `127.0.0.1:0`.
pub fn localhost() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Options with short timeouts, so that a stuck test fails fast.
pub fn test_options() -> ServerOptions {
    ServerOptions {
        headers_timeout: Some(Duration::from_secs(10)),
        request_timeout: Some(Duration::from_secs(10)),
        keep_alive_timeout: Some(Duration::from_secs(10)),
        ..ServerOptions::default()
    }
}

/// The handler of the echo server: the body back, streamed as it arrives
/// (chunked), as the `http_echo` example does.
pub fn echo_handler(lp: &mut Loop, req: Request, res: Response) {
    let body = req.body(lp);
    let out = res.writable(lp);
    body.pipe(lp, out);
}

/// A handler that reads the whole body, then answers with it in one `end`
/// (so with Content-Length), with an `X-Method` header.
pub fn buffered_echo_handler(lp: &mut Loop, req: Request, res: Response) {
    let body = req.body(lp);
    let acc = std::rc::Rc::new(std::cell::RefCell::new(BytesMut::new()));
    let a = acc.clone();
    body.on_data(lp, move |_, chunk| a.borrow_mut().extend_from_slice(&chunk));
    let method = req.method().as_str().to_owned();
    body.on_end(lp, move |lp| {
        let _ = res.set_header(lp, "X-Method", method.clone());
        let data = std::mem::take(&mut *acc.borrow_mut()).freeze();
        res.end(lp, Some(data));
    });
}

/// Marks `done` when dropped, so a client thread that panics still ends the
/// loop.
struct DoneGuard(Arc<AtomicBool>);

impl Drop for DoneGuard {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Starts `client` on a thread; `done` turns true when it returns or panics.
pub fn spawn_client<T: Send + 'static>(
    addr: SocketAddr,
    client: impl FnOnce(SocketAddr) -> T + Send + 'static,
) -> (JoinHandle<T>, Arc<AtomicBool>) {
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let handle = std::thread::spawn(move || {
        let _guard = DoneGuard(d);
        client(addr)
    });
    (handle, done)
}

/// Arms a timer that fails the test if the loop is still running after
/// `after`. The timer is unref'd: it never keeps the loop alive by itself.
pub fn watchdog(lp: &mut Loop, after: Duration) {
    let t = lp.set_timeout(after, move |_| {
        panic!("watchdog: the test ran over {after:?}")
    });
    lp.unref_handle(t);
}

/// Runs the loop until `client` (on its own thread) returns, then closes the
/// server; returns the client's result and the server's counters. A panic in
/// the client fails the test with the client's message.
pub fn run_client<T: Send + 'static>(
    lp: &mut Loop,
    server: Server,
    client: impl FnOnce(SocketAddr) -> T + Send + 'static,
) -> (T, ServerStats) {
    let addr = server.local_addr(lp).expect("bound");
    let (handle, done) = spawn_client(addr, client);
    let stats = run_until(lp, server, move |_| done.load(Ordering::SeqCst));
    match handle.join() {
        Ok(t) => (t, stats),
        Err(p) => std::panic::resume_unwind(p),
    }
}

/// Runs the loop until `cond` holds (checked every 2 ms), then closes the
/// server and stops; returns the server's counters at that moment.
pub fn run_until(
    lp: &mut Loop,
    server: Server,
    mut cond: impl FnMut(&mut Loop) -> bool + 'static,
) -> ServerStats {
    watchdog(lp, WATCHDOG);
    let stats = std::rc::Rc::new(std::cell::Cell::new(ServerStats::default()));
    let s = stats.clone();
    let timer = std::rc::Rc::new(std::cell::Cell::new(None));
    let t = timer.clone();
    let interval = lp.set_interval(Duration::from_millis(2), move |lp| {
        if cond(lp) {
            s.set(server.stats(lp));
            server.close(lp, None);
            if let Some(i) = t.take() {
                lp.clear_interval(i);
            }
            lp.stop();
        }
    });
    timer.set(Some(interval));
    lp.run(RunMode::Default);
    stats.get()
}

/// A response as a raw client read it.
#[derive(Debug, Clone)]
pub struct Resp {
    pub head: ResponseHead,
    pub body: Vec<u8>,
    pub trailers: Headers,
}

impl Resp {
    pub fn status(&self) -> u16 {
        self.head.status
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.headers.get_str(name)
    }

    pub fn body_str(&self) -> &str {
        std::str::from_utf8(&self.body).expect("utf-8 body")
    }

    /// Whether the response said `Connection: close`.
    pub fn says_close(&self) -> bool {
        self.header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
    }
}

/// How a wait for the server to close ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Closed {
    /// EOF (or a reset), with the bytes that came before it.
    Yes(Vec<u8>),
    /// Still open when the time ran out, with the bytes read so far.
    No(Vec<u8>),
}

/// A blocking HTTP/1.1 client over one `TcpStream`, with responses read by
/// the crate's own [`ResponseParser`].
pub struct Client {
    pub stream: TcpStream,
    parser: ResponseParser,
    buf: BytesMut,
    eof: bool,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Self {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_write_timeout(Some(READ_TIMEOUT)).unwrap();
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            parser: ResponseParser::new(),
            buf: BytesMut::new(),
            eof: false,
        }
    }

    /// Writes raw bytes.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    /// Records that a request with `method` was sent.
    pub fn expect(&mut self, method: &str) {
        // A method the server will reject still gets a (bodied) response.
        let m = Method::from_bytes(method.as_bytes()).unwrap_or(Method::GET);
        self.parser.expect_response(&m);
    }

    /// Sends a request (raw bytes) and records its method, read from the
    /// request line.
    pub fn request(&mut self, raw: &[u8]) {
        let end = raw.iter().position(|&b| b == b' ').expect("request line");
        self.expect(std::str::from_utf8(&raw[..end]).unwrap());
        self.send(raw);
    }

    /// Reads more bytes; `false` at EOF.
    fn fill(&mut self) -> Result<bool, String> {
        if self.eof {
            return Ok(false);
        }
        let mut tmp = [0u8; 64 * 1024];
        match self.stream.read(&mut tmp) {
            Ok(0) => {
                self.eof = true;
                Ok(false)
            }
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                Ok(true)
            }
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {
                self.eof = true;
                Ok(false)
            }
            Err(e) => Err(format!("read failed: {e}")),
        }
    }

    /// The next response (an interim `100 Continue` counts as one), or why
    /// there is none.
    pub fn try_response(&mut self) -> Result<Resp, String> {
        let mut current: Option<Resp> = None;
        loop {
            let event = self
                .parser
                .next_event(&mut self.buf)
                .map_err(|e| format!("bad response: {e}"))?;
            match event {
                Some(Event::Head(head)) => {
                    let interim = head.is_interim();
                    let r = Resp {
                        head,
                        body: Vec::new(),
                        trailers: Headers::new(),
                    };
                    if interim {
                        return Ok(r);
                    }
                    current = Some(r);
                }
                Some(Event::Data(d)) => current
                    .as_mut()
                    .ok_or("data before head")?
                    .body
                    .extend_from_slice(&d),
                Some(Event::End { trailers }) => {
                    let mut r = current.take().ok_or("end before head")?;
                    r.trailers = trailers;
                    return Ok(r);
                }
                None => {
                    if !self.fill()? {
                        // EOF ends an until-close body.
                        if let Ok(Some(Event::End { trailers })) = self.parser.eof()
                            && let Some(mut r) = current.take()
                        {
                            r.trailers = trailers;
                            return Ok(r);
                        }
                        return Err(format!(
                            "connection closed before a complete response ({} bytes left: {:?})",
                            self.buf.len(),
                            String::from_utf8_lossy(&self.buf)
                        ));
                    }
                }
            }
        }
    }

    /// The next response; panics if there is none.
    pub fn response(&mut self) -> Resp {
        self.try_response().unwrap_or_else(|e| panic!("{e}"))
    }

    /// The next final response, skipping interim ones.
    pub fn final_response(&mut self) -> Resp {
        loop {
            let r = self.response();
            if !r.head.is_interim() {
                return r;
            }
        }
    }

    /// Waits up to `within` for the server to close; returns what arrived
    /// (beyond what was already parsed) before the close.
    pub fn wait_closed(&mut self, within: Duration) -> Closed {
        let deadline = Instant::now() + within;
        let mut rest = std::mem::take(&mut self.buf).to_vec();
        if self.eof {
            return Closed::Yes(rest);
        }
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Closed::No(rest);
            }
            self.stream.set_read_timeout(Some(left)).unwrap();
            let mut tmp = [0u8; 16 * 1024];
            let r = self.stream.read(&mut tmp);
            self.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
            match r {
                Ok(0) => {
                    self.eof = true;
                    return Closed::Yes(rest);
                }
                Ok(n) => rest.extend_from_slice(&tmp[..n]),
                Err(e)
                    if e.kind() == ErrorKind::ConnectionReset
                        || e.kind() == ErrorKind::ConnectionAborted =>
                {
                    self.eof = true;
                    return Closed::Yes(rest);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {
                    return Closed::No(rest);
                }
                Err(e) => panic!("read failed: {e}"),
            }
        }
    }

    /// Asserts the server closes (within 5 s) with nothing more sent.
    pub fn assert_closed_quietly(&mut self) {
        match self.wait_closed(READ_TIMEOUT) {
            Closed::Yes(rest) => assert!(
                rest.is_empty(),
                "bytes after the last response: {:?}",
                String::from_utf8_lossy(&rest)
            ),
            Closed::No(rest) => panic!(
                "the server did not close the connection (then read {:?})",
                String::from_utf8_lossy(&rest)
            ),
        }
    }

    /// Half-closes the writing side (sends FIN).
    pub fn shutdown_write(&self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

/// Sends `raw` on a new connection and returns the one response.
pub fn one_shot(addr: SocketAddr, raw: &[u8]) -> Resp {
    let mut c = Client::connect(addr);
    c.request(raw);
    c.response()
}

/// A `GET` request for `path`, kept alive.
pub fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes()
}

/// A `POST` with a Content-Length body.
pub fn post(path: &str, body: &[u8]) -> Vec<u8> {
    let mut v = format!(
        "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    v.extend_from_slice(body);
    v
}

/// The address an example server prints on its first line (`listening on
/// http://ADDR`), read from its standard output within 10 s.
pub fn listening_addr(stdout: ChildStdout) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the example printed its address");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    addr.parse().expect("address")
}

/// Deterministic pseudo-random bytes (xorshift), for byte-exact bodies.
pub fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A file under the target's temporary directory, removed on drop.
pub struct TempFile(pub std::path::PathBuf);

impl TempFile {
    pub fn with_contents(name: &str, data: &[u8]) -> Self {
        let dir = std::env::temp_dir().join(format!("eventide-http-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, data).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Whether `program` can be run (`program --version` succeeds); prints why
/// the test is skipped when not.
pub fn have_tool(program: &str) -> bool {
    let ok = std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: `{program}` is not installed or does not run; this test needs it");
    }
    ok
}

/// Output of a child process run with a time limit.
#[derive(Debug)]
pub struct Output {
    pub status: Option<std::process::ExitStatus>,
    pub stdout: Vec<u8>,
    pub stderr: String,
}

/// Kills a child process by pid when dropped (a test that fails midway
/// leaves nothing running).
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd`, killing it after `limit`. `status` is `None` if it was killed.
pub fn run_with_limit(mut cmd: std::process::Command, limit: Duration) -> Output {
    use std::process::Stdio;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn child process");
    let mut child = KillOnDrop(child);
    let mut stdout = child.0.stdout.take().unwrap();
    let mut stderr = child.0.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = stdout.read_to_end(&mut v);
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = String::new();
        let _ = stderr.read_to_string(&mut v);
        v
    });
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(s) = child.0.try_wait().expect("wait for child") {
            break Some(s);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    drop(child); // kills it if still running, so the pipes close
    Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// The bytes of `Bytes`, for comparisons.
pub fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}
