//! Helpers shared by the stream tests (mio's `tests/util/mod.rs` style).
//!
//! Tests may use `Rc<RefCell<_>>` to observe the loop from outside; the
//! library may not.

#![allow(dead_code, unreachable_pub)]

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode, Timer};
use eventide_streams::{Chunk, Readable, Sink, Source, Stream, StreamError, Writable, WriteStatus};

/// A TCP echo server on 127.0.0.1 with default options: each accepted
/// connection is piped to itself.
pub fn echo_server(lp: &mut Loop) -> eventide_streams::net::Server {
    use eventide_streams::net::{Server, ServerOptions};
    Server::listen_tcp(
        lp,
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions::default(),
        |lp, conn| {
            conn.pipe(lp, conn.stream());
        },
    )
    .unwrap()
}

/// A TCP server on 127.0.0.1 that hands its first connection to `on_conn`
/// and stops listening, so that the loop runs as long as that connection.
/// Returns the address to connect to.
pub fn serve_one(
    lp: &mut Loop,
    on_conn: impl FnOnce(&mut Loop, eventide_streams::net::Socket) + 'static,
) -> std::net::SocketAddr {
    use eventide_streams::net::{Server, ServerOptions};
    let this_server = shared(None::<Server>);
    let ts = this_server.clone();
    let mut on_conn = Some(on_conn);
    let server = Server::listen_tcp(
        lp,
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions::default(),
        move |lp, conn| {
            if let Some(server) = ts.borrow_mut().take() {
                server.close(lp);
            }
            if let Some(f) = on_conn.take() {
                f(lp, conn);
            }
        },
    )
    .unwrap();
    *this_server.borrow_mut() = Some(server);
    server.local_addr(lp).unwrap()
}

/// Milliseconds as a `Duration`.
pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A shared value for callbacks.
pub type Shared<T> = Rc<RefCell<T>>;

/// A new shared value.
pub fn shared<T>(v: T) -> Shared<T> {
    Rc::new(RefCell::new(v))
}

/// An event log: callbacks append labels to it.
#[derive(Clone, Default, Debug)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&self, label: impl Into<String>) {
        self.0.borrow_mut().push(label.into());
    }

    pub fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }

    pub fn count(&self, label: &str) -> usize {
        self.0.borrow().iter().filter(|s| *s == label).count()
    }

    pub fn position(&self, label: &str) -> Option<usize> {
        self.0.borrow().iter().position(|s| s == label)
    }

    /// A repeating callback that appends `label`.
    pub fn each(&self, label: &str) -> impl FnMut(&mut Loop) + 'static {
        let (me, label) = (self.clone(), label.to_string());
        move |_| me.push(label.clone())
    }
}

/// Records `error:<code>` and `close` of any stream.
pub fn record_lifecycle<R, W>(lp: &mut Loop, s: Stream<R, W>, log: &Log) {
    let l = log.clone();
    s.on_error(lp, move |_, e| l.push(format!("error:{}", e.code())));
    s.on_close(lp, log.each("close"));
}

/// Records `data`, `end`, `error` and `close` of a readable side, and
/// collects the data.
pub fn record_readable<W>(lp: &mut Loop, s: Stream<Bytes, W>, log: &Log) -> Shared<Vec<u8>> {
    let out = shared(Vec::new());
    let (o, l) = (out.clone(), log.clone());
    s.on_data(lp, move |_, b: Bytes| {
        l.push("data");
        o.borrow_mut().extend_from_slice(&b);
    });
    s.on_end(lp, log.each("end"));
    record_lifecycle(lp, s, log);
    out
}

/// Records `drain`, `finish`, `error` and `close` of a writable side.
pub fn record_writable<R, W: Chunk>(lp: &mut Loop, s: Stream<R, W>, log: &Log) {
    s.on_drain(lp, log.each("drain"));
    s.on_finish(lp, log.each("finish"));
    record_lifecycle(lp, s, log);
}

/// Checks Node's ordering rules on a log of one stream's events: `end`,
/// `finish`, `close` and `error` at most once; `close` last; no `data` after
/// `end`; `error` before `close`.
pub fn check_event_order(log: &[String]) -> Result<(), String> {
    for once in ["end", "finish", "close"] {
        let n = log.iter().filter(|s| *s == once).count();
        if n > 1 {
            return Err(format!("{once} emitted {n} times: {log:?}"));
        }
    }
    let errors = log.iter().filter(|s| s.starts_with("error")).count();
    if errors > 1 {
        return Err(format!("{errors} errors: {log:?}"));
    }
    if let Some(c) = log.iter().position(|s| s == "close")
        && c != log.len() - 1
    {
        return Err(format!("events after close: {log:?}"));
    }
    if let Some(e) = log.iter().position(|s| s == "end")
        && log[e..].iter().any(|s| s == "data")
    {
        return Err(format!("data after end: {log:?}"));
    }
    if errors == 1 && !log.iter().any(|s| s == "close") {
        return Err(format!("error without close: {log:?}"));
    }
    Ok(())
}

/// A deterministic pseudo-random generator (xorshift64*), so that tests
/// need no extra dependency and replay exactly.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

/// Cuts `data` into chunks of the given sizes (cycled; zero sizes skipped).
pub fn chunk(data: &[u8], sizes: &[usize]) -> Vec<Bytes> {
    let data = Bytes::copy_from_slice(data);
    let mut out = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < data.len() {
        let n = sizes[i % sizes.len()].max(1).min(data.len() - at);
        out.push(data.slice(at..at + n));
        at += n;
        i += 1;
    }
    out
}

/// A source that pushes one prepared chunk per read request, synchronously
/// (delay 0) or from a timer after the next delay in `delays` (cycled), then
/// its end. It only pushes when asked, so it obeys `push`'s return value.
pub struct ChunkSource<T> {
    pub chunks: VecDeque<T>,
    pub delays: Vec<u64>,
    pub i: usize,
}

impl<T> ChunkSource<T> {
    pub fn new(chunks: impl IntoIterator<Item = T>, delays: Vec<u64>) -> Self {
        ChunkSource {
            chunks: chunks.into_iter().collect(),
            delays: if delays.is_empty() { vec![0] } else { delays },
            i: 0,
        }
    }
}

impl<T: Chunk> Source<T> for ChunkSource<T> {
    fn read(&mut self, lp: &mut Loop, stream: Readable<T>, _size: usize) {
        let next = self.chunks.pop_front();
        let delay = self.delays[self.i % self.delays.len()];
        self.i += 1;
        let push = move |lp: &mut Loop| match next {
            Some(c) => {
                stream.push(lp, c);
            }
            None => stream.push_eof(lp),
        };
        if delay == 0 {
            push(lp);
        } else {
            lp.set_timeout(ms(delay), push);
        }
    }
}

/// What a [`DelaySink`] saw.
#[derive(Default, Debug)]
pub struct SinkLog<T> {
    /// Every chunk written, in order.
    pub items: Vec<T>,
    /// The number of chunks of each call (1 for `write`, n for `writev`).
    pub batches: Vec<usize>,
    /// Whether the final step ran.
    pub finished: bool,
    /// Whether the sink was told to destroy.
    pub destroyed: bool,
}

/// A sink that completes each write after the next delay of `delays`
/// (cycled; 0 completes synchronously), optionally taking batches.
pub struct DelaySink<T> {
    pub log: Shared<SinkLog<T>>,
    pub delays: Vec<u64>,
    pub i: usize,
    pub batches: bool,
}

impl<T> DelaySink<T> {
    pub fn new(delays: Vec<u64>) -> (Self, Shared<SinkLog<T>>) {
        let log = shared(SinkLog {
            items: Vec::new(),
            batches: Vec::new(),
            finished: false,
            destroyed: false,
        });
        let sink = DelaySink {
            log: log.clone(),
            delays: if delays.is_empty() { vec![0] } else { delays },
            i: 0,
            batches: false,
        };
        (sink, log)
    }

    fn complete(&mut self, lp: &mut Loop, stream: Writable<T>) -> WriteStatus
    where
        T: Chunk,
    {
        let delay = self.delays[self.i % self.delays.len()];
        self.i += 1;
        if delay == 0 {
            WriteStatus::Done
        } else {
            lp.set_timeout(ms(delay), move |lp| stream.complete_write(lp, Ok(())));
            WriteStatus::Pending
        }
    }
}

impl<T: Chunk> Sink<T> for DelaySink<T> {
    fn write(&mut self, lp: &mut Loop, stream: Writable<T>, chunk: T) -> WriteStatus {
        {
            let mut log = self.log.borrow_mut();
            log.items.push(chunk);
            log.batches.push(1);
        }
        self.complete(lp, stream)
    }

    fn accepts_batches(&self) -> bool {
        self.batches
    }

    fn writev(&mut self, lp: &mut Loop, stream: Writable<T>, chunks: Vec<T>) -> WriteStatus {
        {
            let mut log = self.log.borrow_mut();
            log.batches.push(chunks.len());
            log.items.extend(chunks);
        }
        self.complete(lp, stream)
    }

    fn finish(&mut self, _lp: &mut Loop, _stream: Writable<T>) -> WriteStatus {
        self.log.borrow_mut().finished = true;
        WriteStatus::Done
    }

    fn destroy(&mut self, _lp: &mut Loop, _stream: Writable<T>, _error: Option<&StreamError>) {
        self.log.borrow_mut().destroyed = true;
    }
}

/// Joins byte chunks.
pub fn concat(chunks: &[Bytes]) -> Vec<u8> {
    chunks.iter().flat_map(|b| b.iter().copied()).collect()
}

/// An object-mode item for tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item(pub u32);

impl Chunk for Item {}

/// A watchdog for real-clock tests: after `secs` it records the failure and
/// stops the loop. It does not keep the loop alive. Check it with
/// [`Watchdog::check`] after `run`.
pub struct Watchdog {
    fired: Rc<Cell<bool>>,
    timer: Timer,
    what: &'static str,
}

impl Watchdog {
    pub fn start(lp: &mut Loop, secs: u64, what: &'static str) -> Self {
        let fired = Rc::new(Cell::new(false));
        let f = fired.clone();
        let timer = lp.set_timeout(Duration::from_secs(secs), move |lp| {
            f.set(true);
            lp.stop();
        });
        lp.unref_handle(timer);
        Watchdog { fired, timer, what }
    }

    /// Panics if the watchdog fired; clears it otherwise.
    pub fn check(self, lp: &mut Loop) {
        lp.clear_timeout(self.timer);
        assert!(
            !self.fired.get(),
            "watchdog: {} did not finish in time",
            self.what
        );
    }
}

/// Runs the loop under a watchdog.
pub fn run_bounded(lp: &mut Loop, secs: u64, what: &'static str) {
    let dog = Watchdog::start(lp, secs, what);
    lp.run(RunMode::Default);
    dog.check(lp);
}
