//! One load-generating loop: `connections` keep-alive connections, each
//! keeping `pipeline` requests in flight until the deadline.
//!
//! Everything a connection needs lives in the loop ([`Loop::ext`]); callbacks
//! capture only the connection's index and generation, so a callback for a
//! connection that was since reopened finds a newer generation and does
//! nothing.
//!
//! # The hot path
//!
//! A response chunk is copied into the connection's receive buffer (the
//! parser reads from a `BytesMut`), parsed, and for each response that ended
//! the latency is recorded against the send time popped from a ring of
//! `pipeline` entries. Once the chunk is parsed, the requests that ended are
//! replaced by one write of a slice of a buffer of `pipeline` requests encoded
//! once at start: one write per chunk, no allocation, whatever the depth.
//! Timeouts are checked by one interval per loop, not a timer per request.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use eventide_http_mini::proto::{Event, Method, ResponseParser};
use eventide_loop_phases::{Loop, RunMode, Timer};
use eventide_streams::StreamError;
use eventide_streams::net::{Socket, SocketOptions};

use super::hist::Histogram;

/// Receive buffer capacity reserved per connection.
const RECV_BUFFER: usize = 16 * 1024;
/// Wait before reopening a connection whose connect failed, so that a server
/// that refuses connections is not hammered in a hot loop.
const RECONNECT_DELAY: Duration = Duration::from_millis(50);

/// What a worker is told to do.
#[derive(Clone)]
pub(crate) struct Plan {
    pub(crate) addr: SocketAddr,
    pub(crate) connections: usize,
    pub(crate) pipeline: usize,
    pub(crate) duration: Duration,
    pub(crate) timeout: Duration,
    /// `pipeline` copies of the encoded request, back to back.
    pub(crate) batch: Bytes,
    /// The length of one request.
    pub(crate) request_len: usize,
    /// Responses completed so far, for the progress line.
    pub(crate) progress: Arc<AtomicU64>,
}

/// The kinds of error counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ErrorKind {
    /// The connection could not be made (refused, timed out connecting).
    Connect,
    /// The socket failed after connecting (reset, broken pipe).
    Read,
    /// A request got no complete response within the timeout.
    Timeout,
    /// The response broke HTTP/1.1.
    Parse,
    /// The server closed the connection with requests in flight.
    Closed,
}

impl ErrorKind {
    pub(crate) const ALL: [ErrorKind; 5] = [
        ErrorKind::Connect,
        ErrorKind::Read,
        ErrorKind::Timeout,
        ErrorKind::Parse,
        ErrorKind::Closed,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Read => "read",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Parse => "parse",
            ErrorKind::Closed => "closed",
        }
    }
}

/// What a worker measured.
#[derive(Clone, Default)]
pub(crate) struct Tally {
    /// Send to end of response, in nanoseconds, of every response.
    pub(crate) latency: Histogram,
    /// Responses by status class: index 1 for 1xx ... 5xx; 0 for others.
    pub(crate) status: [u64; 6],
    /// Bytes read from the server.
    pub(crate) bytes: u64,
    /// Errors by kind, indexed like [`ErrorKind::ALL`].
    pub(crate) errors: [u64; 5],
    /// The first message seen for each error kind.
    pub(crate) first_error: [Option<String>; 5],
    /// Connections opened, the first ones included.
    pub(crate) opened: u64,
    /// From the first connect to the deadline.
    pub(crate) elapsed: Duration,
}

impl Tally {
    pub(crate) fn responses(&self) -> u64 {
        self.status.iter().sum()
    }

    pub(crate) fn merge(&mut self, other: &Tally) {
        self.latency.merge(&other.latency);
        for (a, b) in self.status.iter_mut().zip(other.status) {
            *a += b;
        }
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        for (a, b) in self.first_error.iter_mut().zip(&other.first_error) {
            if a.is_none() {
                a.clone_from(b);
            }
        }
        self.bytes += other.bytes;
        self.opened += other.opened;
        self.elapsed = self.elapsed.max(other.elapsed);
    }

    fn error(&mut self, kind: ErrorKind, n: u64, message: impl FnOnce() -> String) {
        let i = kind as usize;
        self.errors[i] += n;
        if self.first_error[i].is_none() {
            self.first_error[i] = Some(message());
        }
    }
}

/// One connection's state.
struct Conn {
    socket: Option<Socket>,
    /// Bumped on every reopen; callbacks of older sockets carry an older one.
    generation: u64,
    connected: bool,
    parser: ResponseParser,
    recv: BytesMut,
    /// Send times of the requests in flight, oldest first (at most `pipeline`).
    sent: VecDeque<Instant>,
    /// The status of the response being read.
    status: u16,
    /// The response being read said `Connection: close`.
    close_after: bool,
}

/// The loop's load-generator state.
#[derive(Default)]
struct Bench {
    plan: Option<Plan>,
    conns: Vec<Conn>,
    tally: Tally,
    started: Option<Instant>,
    stopping: bool,
    watchdog: Option<Timer>,
}

fn bench(lp: &mut Loop) -> &mut Bench {
    lp.ext::<Bench>()
}

fn plan(lp: &mut Loop) -> Plan {
    bench(lp)
        .plan
        .clone()
        .expect("the plan is set before any connection opens")
}

/// The connection `i`, if `generation` is still its current one and the run
/// goes on.
fn live(lp: &mut Loop, i: usize, generation: u64) -> Option<&mut Conn> {
    let b = bench(lp);
    if b.stopping {
        return None;
    }
    b.conns.get_mut(i).filter(|c| c.generation == generation)
}

/// Runs the load on a new loop until the deadline and returns what it measured.
pub(crate) fn run(plan: Plan) -> Result<Tally, String> {
    let mut lp = Loop::try_new().map_err(|e| format!("creating the loop: {e}"))?;
    let (connections, duration, timeout) = (plan.connections, plan.duration, plan.timeout);
    let b = bench(&mut lp);
    b.conns = (0..connections)
        .map(|_| Conn {
            socket: None,
            generation: 0,
            connected: false,
            parser: ResponseParser::new(),
            recv: BytesMut::new(),
            sent: VecDeque::with_capacity(plan.pipeline),
            status: 0,
            close_after: false,
        })
        .collect();
    b.plan = Some(plan);
    b.started = Some(Instant::now());
    for i in 0..connections {
        open(&mut lp, i);
    }
    // One watchdog for every request in flight, instead of a timer each.
    let every = (timeout / 4).clamp(Duration::from_millis(10), Duration::from_millis(250));
    let watchdog = lp.set_interval(every, move |lp| expire(lp, timeout));
    lp.unref_handle(watchdog);
    bench(&mut lp).watchdog = Some(watchdog);
    lp.set_timeout(duration, stop);
    lp.run(RunMode::Default);
    let b = bench(&mut lp);
    if !b.stopping {
        return Err("the loop ended before the deadline (a bug in the benchmark)".into());
    }
    let tally = std::mem::take(&mut b.tally);
    // Closing the sockets is the loop's drop: the descriptors are closed.
    Ok(tally)
}

/// The deadline: stop counting, close every connection, end the loop.
fn stop(lp: &mut Loop) {
    let b = bench(lp);
    b.stopping = true;
    b.tally.elapsed = b.started.map_or(Duration::ZERO, |t| t.elapsed());
    let sockets: Vec<Socket> = b.conns.iter_mut().filter_map(|c| c.socket.take()).collect();
    if let Some(w) = b.watchdog.take() {
        lp.clear_interval(w);
    }
    for s in sockets {
        s.destroy(lp, None);
    }
    lp.stop();
}

/// Opens connection `i` (again): a new socket, parser and buffer.
fn open(lp: &mut Loop, i: usize) {
    let plan = plan(lp);
    let b = bench(lp);
    b.tally.opened += 1;
    let conn = &mut b.conns[i];
    conn.generation += 1;
    let generation = conn.generation;
    conn.connected = false;
    conn.parser = ResponseParser::new();
    conn.recv = BytesMut::with_capacity(RECV_BUFFER);
    conn.sent.clear();
    conn.close_after = false;
    let options = SocketOptions {
        no_delay: true,
        connect_timeout: Some(plan.timeout),
        ..SocketOptions::default()
    };
    let s = Socket::connect_tcp(lp, plan.addr, options);
    bench(lp).conns[i].socket = Some(s);
    s.on_connect(lp, move |lp| {
        if let Some(c) = live(lp, i, generation) {
            c.connected = true;
            send(lp, i);
        }
    });
    s.on_data(lp, move |lp, chunk| on_data(lp, i, generation, chunk));
    s.on_error(lp, move |lp, e| on_error(lp, i, generation, e));
    s.on_close(lp, move |lp| on_close(lp, i, generation));
}

/// Tops connection `i` up to `pipeline` requests in flight, in one write.
fn send(lp: &mut Loop, i: usize) {
    let b = bench(lp);
    let Some(plan) = b.plan.as_ref() else { return };
    let c = &mut b.conns[i];
    let room = plan.pipeline - c.sent.len();
    let Some(socket) = c.socket.filter(|_| room > 0 && c.connected) else {
        return;
    };
    let bytes = plan.batch.slice(..room * plan.request_len);
    let now = Instant::now();
    for _ in 0..room {
        c.sent.push_back(now);
        c.parser.expect_response(&Method::GET);
    }
    // `write` answers false past the high-water mark; at most `pipeline`
    // requests are ever buffered, so there is nothing to hold back.
    socket.write(lp, bytes);
}

/// What one chunk of response bytes did.
enum Outcome {
    /// Parsed what there was; more requests can go.
    More,
    /// The last response said `Connection: close`: reopen.
    Close,
    /// The bytes broke HTTP/1.1.
    Failed(String),
}

fn on_data(lp: &mut Loop, i: usize, generation: u64, chunk: Bytes) {
    let now = Instant::now();
    let b = bench(lp);
    if b.stopping {
        return;
    }
    let Bench {
        conns, tally, plan, ..
    } = b;
    let Some(c) = conns.get_mut(i).filter(|c| c.generation == generation) else {
        return;
    };
    tally.bytes += chunk.len() as u64;
    c.recv.extend_from_slice(&chunk);
    let mut done = 0;
    let outcome = loop {
        match c.parser.next_event(&mut c.recv) {
            Ok(None) => break Outcome::More,
            Ok(Some(Event::Head(head))) => {
                if !head.is_interim() {
                    c.status = head.status;
                    c.close_after = !head.keep_alive;
                }
            }
            Ok(Some(Event::Data(_))) => {}
            Ok(Some(Event::End { .. })) => {
                let sent = c.sent.pop_front().unwrap_or(now);
                tally.latency.record(nanos(now - sent));
                tally.status[class(c.status)] += 1;
                done += 1;
                if c.close_after {
                    break Outcome::Close;
                }
            }
            Err(e) => break Outcome::Failed(e.to_string()),
        }
    };
    if let Some(p) = plan {
        p.progress.fetch_add(done, Ordering::Relaxed);
    }
    match outcome {
        Outcome::More => send(lp, i),
        Outcome::Close => reopen(lp, i),
        Outcome::Failed(message) => {
            let kind = ErrorKind::Parse;
            bench(lp).tally.error(kind, 1, || message);
            reopen(lp, i);
        }
    }
}

fn on_error(lp: &mut Loop, i: usize, generation: u64, e: StreamError) {
    let Some(c) = live(lp, i, generation) else {
        return;
    };
    let kind = if c.connected {
        ErrorKind::Read
    } else {
        ErrorKind::Connect
    };
    bench(lp).tally.error(kind, 1, || e.to_string());
    // The socket is destroyed: forget it, so `on_close` does not count again.
    bench(lp).conns[i].socket = None;
    if kind == ErrorKind::Connect {
        bench(lp).conns[i].generation += 1;
        lp.set_timeout(RECONNECT_DELAY, move |lp| {
            if !bench(lp).stopping {
                open(lp, i);
            }
        });
    } else {
        reopen(lp, i);
    }
}

/// The server closed the connection (or an error destroyed it: then
/// `on_error` already reopened it, and this generation is stale).
fn on_close(lp: &mut Loop, i: usize, generation: u64) {
    let Some(c) = live(lp, i, generation) else {
        return;
    };
    // A response framed by the end of the connection ends here.
    let ended = matches!(c.parser.eof(), Ok(Some(Event::End { .. })));
    if ended {
        let now = Instant::now();
        let sent = c.sent.pop_front().unwrap_or(now);
        let status = c.status;
        let tally = &mut bench(lp).tally;
        tally.latency.record(nanos(now - sent));
        tally.status[class(status)] += 1;
    }
    let in_flight = bench(lp).conns[i].sent.len() as u64;
    if in_flight > 0 {
        bench(lp).tally.error(ErrorKind::Closed, 1, || {
            format!("the server closed the connection with {in_flight} request(s) in flight")
        });
    }
    bench(lp).conns[i].socket = None;
    reopen(lp, i);
}

/// Closes connection `i` (if still open) and opens a new one at once.
fn reopen(lp: &mut Loop, i: usize) {
    let b = bench(lp);
    if b.stopping {
        return;
    }
    let old = b.conns[i].socket.take();
    // Its later events belong to a stale generation now.
    b.conns[i].generation += 1;
    if let Some(s) = old {
        s.destroy(lp, None);
    }
    open(lp, i);
}

/// The watchdog: reopens every connection whose oldest request in flight is
/// older than `timeout`.
fn expire(lp: &mut Loop, timeout: Duration) {
    let now = Instant::now();
    let late: Vec<(usize, u64)> = bench(lp)
        .conns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.sent.front().is_some_and(|t| now - *t > timeout))
        .map(|(i, c)| (i, c.sent.len() as u64))
        .collect();
    for (i, n) in late {
        bench(lp).tally.error(ErrorKind::Timeout, n, || {
            format!("no response within {}", super::report::duration(timeout))
        });
        reopen(lp, i);
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The index of a status code's class in [`Tally::status`].
fn class(status: u16) -> usize {
    match status / 100 {
        c @ 1..=5 => c as usize,
        _ => 0,
    }
}
