//! `SocketHandle` (libuv's `uv_tcp_t`): a connected socket without a
//! stream, its events going to plain functions of its owner. Every byte
//! read reaches `on_read` once and in order, then `on_eof` once;
//! `read_stop` holds chunks back until `read_start`; `write` queues what
//! the OS does not take and `on_drain` says when it all went; `shutdown`
//! sends the FIN after what is queued (also when a write comes after it);
//! `cork` holds writes; a reset or `close` ends the handle with one
//! `on_close`, on the next tick; bytes and the FIN that came before `start`
//! are read after it; the handle keeps the loop alive only while it reads
//! or has writes queued. And a property against a model of the write path:
//! for any mix of `write`, `try_write`, `cork`, `uncork`, loop turns and
//! client pauses, the client reads exactly the accepted bytes, in order,
//! then the FIN, and `on_drain` comes once for each wait, from the loop.
//!
//! The owner here keeps its connections in loop storage, found by the key
//! it gave `start` (not the handle's own), and logs every event in order.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_reactor::slab::Key;
use eventide_streams::net::{HandleEvents, Server, ServerOptions, SocketHandle};
use proptest::collection::vec;
use proptest::prelude::*;
use util::{Rng, ms};

/// How long any wait of a test may take, on the loop or in a client.
const LIMIT: Duration = Duration::from_secs(10);

/// The generation of the owner keys given to `start`: a connection's key is
/// `(its index, OWNER)`, distinct from its handle's key.
const OWNER: u32 = 77;

/// One event of a handle, as its owner heard it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Read(usize),
    Eof,
    Drain,
    Close(Option<ErrorKind>),
    /// A step of the owner's own, logged between events.
    Note(&'static str),
}

/// A connection, as its owner sees it.
struct Conn {
    handle: SocketHandle,
    events: Vec<Ev>,
    data: Vec<u8>,
    /// `read_stop` is in force: no chunk may come.
    stopped: bool,
    /// Chunks that came while stopped (must stay 0).
    while_stopped: usize,
    /// `write_queue_size` and `is_write_idle` inside each `on_drain`.
    at_drain: Vec<(usize, bool)>,
    /// `on_drain` calls that came while the owner was inside a `write` or
    /// an `uncork` ([`Conns::in_call`]): must stay 0.
    drains_in_call: usize,
}

impl Conn {
    fn count(&self, e: &Ev) -> usize {
        self.events.iter().filter(|x| *x == e).count()
    }

    fn closes(&self) -> Vec<Option<ErrorKind>> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Ev::Close(k) => Some(*k),
                _ => None,
            })
            .collect()
    }

    /// The events with the reads left out.
    fn not_reads(&self) -> Vec<Ev> {
        self.events
            .iter()
            .filter(|e| !matches!(e, Ev::Read(_)))
            .cloned()
            .collect()
    }
}

/// The owner's state, in loop storage (its events are plain functions).
#[derive(Default)]
struct Conns {
    list: Vec<Conn>,
    /// Accepted handles are not started (the test starts them).
    defer_start: bool,
    /// `on_read` calls `read_stop` at the first chunk.
    stop_at_first: bool,
    /// `on_read` closes the handle (twice) at the first chunk.
    close_at_first: bool,
    /// The owner is inside a `write` or an `uncork` call.
    in_call: bool,
}

/// The connection the owner key `key` names; a key the owner never gave
/// fails the test.
fn conn(lp: &mut Loop, key: Key) -> &mut Conn {
    assert_eq!(key.generation(), OWNER, "called with the owner's key");
    let list = &mut lp.ext::<Conns>().list;
    let n = list.len();
    list.get_mut(key.index() as usize)
        .unwrap_or_else(|| panic!("no connection {key:?} of {n}"))
}

fn owner_key(i: usize) -> Key {
    Key::from_parts(i as u32, OWNER)
}

fn on_read(lp: &mut Loop, key: Key, chunk: Bytes) {
    assert!(!chunk.is_empty(), "no empty chunk");
    let c = conn(lp, key);
    if c.stopped {
        c.while_stopped += 1;
    }
    c.events.push(Ev::Read(chunk.len()));
    c.data.extend_from_slice(&chunk);
    let (h, first) = (c.handle, c.events.len() == 1);
    let (stop, close) = {
        let o = lp.ext::<Conns>();
        (o.stop_at_first, o.close_at_first)
    };
    if first && stop {
        h.read_stop(lp);
        conn(lp, key).stopped = true;
    }
    if first && close {
        h.close(lp);
        // Not from inside `close`: on the next tick.
        assert_eq!(conn(lp, key).closes(), [], "on_close inside close");
        h.close(lp);
        conn(lp, key).events.push(Ev::Note("close returned"));
    }
}

fn on_eof(lp: &mut Loop, key: Key) {
    conn(lp, key).events.push(Ev::Eof);
}

fn on_drain(lp: &mut Loop, key: Key) {
    let inside = lp.ext::<Conns>().in_call;
    let h = conn(lp, key).handle;
    let at = (h.write_queue_size(lp), h.is_write_idle(lp));
    let c = conn(lp, key);
    c.events.push(Ev::Drain);
    c.at_drain.push(at);
    c.drains_in_call += usize::from(inside);
}

fn on_close(lp: &mut Loop, key: Key, error: Option<std::io::Error>) {
    conn(lp, key)
        .events
        .push(Ev::Close(error.map(|e| e.kind())));
}

static EVENTS: HandleEvents = HandleEvents {
    on_read,
    on_eof,
    on_drain,
    on_close,
};

/// A handle server on 127.0.0.1; each handle is logged in `Conns` and
/// started with its owner key (unless `defer_start`).
fn listen(lp: &mut Loop) -> (Server, SocketAddr) {
    let server = Server::listen_tcp_handles(
        lp,
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions::default(),
        |lp, h| {
            let conns = lp.ext::<Conns>();
            let i = conns.list.len();
            conns.list.push(Conn {
                handle: h,
                events: Vec::new(),
                data: Vec::new(),
                stopped: false,
                while_stopped: 0,
                at_drain: Vec::new(),
                drains_in_call: 0,
            });
            if !conns.defer_start {
                h.start(lp, owner_key(i), &EVENTS);
            }
        },
    )
    .unwrap();
    let addr = server.local_addr(lp).unwrap();
    (server, addr)
}

/// Runs the loop an iteration at a time until `done`, for at most
/// [`LIMIT`]; an interval wakes each poll within 5 ms.
fn run_until(lp: &mut Loop, what: &str, mut done: impl FnMut(&mut Loop) -> bool) {
    let deadline = Instant::now() + LIMIT;
    let wake = lp.set_interval(ms(5), |_| {});
    while !done(lp) {
        if Instant::now() > deadline {
            lp.clear_interval(wake);
            panic!("timed out waiting for {what}");
        }
        lp.run(RunMode::Once);
    }
    lp.clear_interval(wake);
}

/// Runs the loop for `d`.
fn run_for(lp: &mut Loop, d: Duration) {
    let until = Instant::now() + d;
    run_until(lp, "time to pass", |_| Instant::now() >= until);
}

fn handle(lp: &mut Loop, i: usize) -> SocketHandle {
    lp.ext::<Conns>().list[i].handle
}

/// The connection `i`: what the owner saw so far.
fn seen(lp: &mut Loop, i: usize) -> &mut Conn {
    &mut lp.ext::<Conns>().list[i]
}

fn accepted(lp: &mut Loop) -> usize {
    lp.ext::<Conns>().list.len()
}

/// Runs until connection `i` has seen `e`.
fn run_until_event(lp: &mut Loop, i: usize, e: Ev) {
    let what = format!("{e:?} on connection {i}");
    run_until(lp, &what, |lp| {
        accepted(lp) > i && seen(lp, i).events.contains(&e)
    });
}

/// Runs until connection `i` was closed, with whatever error.
fn run_until_closed(lp: &mut Loop, i: usize) {
    run_until(lp, "on_close", |lp| {
        accepted(lp) > i && !seen(lp, i).closes().is_empty()
    });
}

/// A blocking client socket with read and write timeouts; with
/// `rcvbuf`, a small receive buffer set before connecting, so that the
/// kernel holds little of what the server writes while it does not read.
fn connect(addr: SocketAddr, rcvbuf: Option<usize>) -> TcpStream {
    let s = match rcvbuf {
        None => TcpStream::connect(addr).unwrap(),
        Some(n) => {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_recv_buffer_size(n).unwrap();
            s.connect(&addr.into()).unwrap();
            s.into()
        }
    };
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.set_write_timeout(Some(LIMIT)).unwrap();
    s
}

fn client<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    std::thread::spawn(f)
}

/// A client with a small receive buffer that reads nothing until told (the
/// OS buffers fill meanwhile), then runs `f` on its socket: the sender that
/// tells it, and the thread.
fn slow_client<T: Send + 'static>(
    addr: SocketAddr,
    f: impl FnOnce(TcpStream) -> T + Send + 'static,
) -> (mpsc::Sender<()>, JoinHandle<T>) {
    let (go, told) = mpsc::channel::<()>();
    let peer = client(move || {
        let s = connect(addr, Some(32 << 10));
        told.recv_timeout(LIMIT).expect("told to read");
        f(s)
    });
    (go, peer)
}

/// A client that sends `data`, shuts down its side, and reads until the
/// server's FIN (a reset or a hang fails): what it read.
fn send_then_read_all(addr: SocketAddr, data: Vec<u8>) -> JoinHandle<Vec<u8>> {
    client(move || {
        let mut s = connect(addr, None);
        s.write_all(&data).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        back
    })
}

/// `data` in `size`-byte slices (no copy).
fn slices(data: &Bytes, size: usize) -> Vec<Bytes> {
    (0..data.len())
        .step_by(size)
        .map(|at| data.slice(at..(at + size).min(data.len())))
        .collect()
}

fn kind<T: std::fmt::Debug>(r: std::io::Result<T>) -> ErrorKind {
    r.expect_err("an error").kind()
}

#[test]
fn every_byte_arrives_once_in_order_then_eof_then_one_close() {
    let mut lp = Loop::new();
    let (server, addr) = listen(&mut lp);
    let data = Rng::new(1).bytes(1 << 20);
    let sent = data.clone();
    let peer = client(move || {
        let mut s = connect(addr, None);
        s.write_all(&sent).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut back = Vec::new();
        // Returns at the server's FIN (a reset or a hang fails).
        s.read_to_end(&mut back).unwrap();
        back
    });
    run_until_event(&mut lp, 0, Ev::Eof);
    let h = handle(&mut lp, 0);
    let c = seen(&mut lp, 0);
    assert!(c.data == data, "every byte once, in order");
    let sizes: usize = c
        .events
        .iter()
        .map(|e| if let Ev::Read(n) = e { *n } else { 0 })
        .sum();
    assert_eq!(sizes, data.len(), "the chunks add up");
    assert_eq!(c.not_reads(), [Ev::Eof], "the end once, after the reads");
    assert_eq!(c.events.last(), Some(&Ev::Eof));
    assert_eq!(server.connections(&lp), 1);
    assert!(h.is_open(&lp));

    assert!(h.shutdown(&mut lp), "nothing queued: the FIN goes now");
    h.close(&mut lp);
    assert!(!h.is_open(&lp));
    assert_eq!(server.connections(&lp), 0);
    assert_eq!(seen(&mut lp, 0).closes(), [], "on_close on the next tick");
    run_until_closed(&mut lp, 0);
    run_for(&mut lp, ms(50));
    let c = seen(&mut lp, 0);
    assert_eq!(c.not_reads(), [Ev::Eof, Ev::Close(None)], "nothing follows");
    assert_eq!(c.data.len(), data.len(), "no read after the end");
    assert_eq!(peer.join().unwrap(), b"");
    assert_eq!(server.connections(&lp), 0);
    server.close(&mut lp);
}

#[test]
fn read_stop_in_on_read_holds_chunks_back_until_read_start() {
    let mut lp = Loop::new();
    lp.ext::<Conns>().stop_at_first = true;
    let (server, addr) = listen(&mut lp);
    // Several read buffers' worth: one readiness event would deliver more
    // than one chunk, and more arrives while stopped.
    let data = Rng::new(2).bytes(4 << 20);
    let sent = data.clone();
    let peer = send_then_read_all(addr, sent);
    run_until(&mut lp, "the first chunk", |lp| {
        accepted(lp) == 1 && !seen(lp, 0).events.is_empty()
    });
    // Stopped: the client goes on sending, and nothing is delivered.
    run_for(&mut lp, ms(150));
    let c = seen(&mut lp, 0);
    assert_eq!(c.events.len(), 1, "one chunk, then nothing: {:?}", c.events);
    assert!(matches!(c.events[0], Ev::Read(_)));
    assert_eq!(c.while_stopped, 0);
    assert!(data.starts_with(&c.data));
    c.stopped = false;

    let h = handle(&mut lp, 0);
    h.read_start(&mut lp);
    run_until_event(&mut lp, 0, Ev::Eof);
    let c = seen(&mut lp, 0);
    assert_eq!(c.while_stopped, 0);
    assert!(c.events.len() > 2, "reading went on after read_start");
    assert!(c.data == data, "the rest complete and in order");
    assert_eq!(c.not_reads(), [Ev::Eof]);
    assert_eq!(c.events.last(), Some(&Ev::Eof));

    assert!(h.shutdown(&mut lp));
    h.close(&mut lp);
    run_until_closed(&mut lp, 0);
    assert_eq!(seen(&mut lp, 0).closes(), [None]);
    assert_eq!(peer.join().unwrap(), b"");
    server.close(&mut lp);
}

#[test]
fn a_queued_write_drains_in_order_once_the_peer_reads() {
    const TOTAL: usize = 8 << 20;
    const CHUNK: usize = 64 << 10;
    let mut lp = Loop::new();
    let (server, addr) = listen(&mut lp);
    let data = Bytes::from(Rng::new(3).bytes(TOTAL));
    let (go, peer) = slow_client(addr, move |mut s| {
        let mut got = vec![0; TOTAL];
        s.read_exact(&mut got).unwrap();
        // All of it arrived: now the server may try_write.
        s.write_all(b"!").unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        (got, rest)
    });
    run_until(&mut lp, "a connection", |lp| accepted(lp) == 1);
    let h = handle(&mut lp, 0);
    assert!(h.is_write_idle(&lp));
    assert_eq!(h.write_queue_size(&lp), 0);

    let queued: Vec<usize> = slices(&data, CHUNK)
        .into_iter()
        .map(|chunk| h.write(&mut lp, chunk).unwrap())
        .collect();
    let last = *queued.last().unwrap();
    // The OS takes what its buffers hold (a few MiB), then the queue grows
    // by at most each write (by all of it once the OS takes nothing).
    assert!(
        queued
            .windows(2)
            .all(|w| w[0] <= w[1] && w[1] <= w[0] + CHUNK),
        "the queue grows, by at most each write, while the peer does not read: {queued:?}"
    );
    assert!(
        last >= 1 << 20,
        "at least 1 MiB queued: {last} ({queued:?})"
    );
    assert_eq!(h.write_queue_size(&lp), last);
    assert!(!h.is_write_idle(&lp));
    assert_eq!(
        kind(h.try_write(&mut lp, b"NOT SENT")),
        ErrorKind::WouldBlock
    );
    // Still not read: nothing drains.
    run_for(&mut lp, ms(50));
    assert_eq!(seen(&mut lp, 0).events, []);
    assert!(h.write_queue_size(&lp) > 0);
    assert_eq!(
        kind(h.try_write(&mut lp, b"NOT SENT")),
        ErrorKind::WouldBlock
    );

    go.send(()).unwrap();
    run_until_event(&mut lp, 0, Ev::Drain);
    let c = seen(&mut lp, 0);
    assert_eq!(
        c.at_drain,
        [(0, true)],
        "on_drain once, with nothing queued"
    );
    assert_eq!(h.write_queue_size(&lp), 0);
    assert!(h.is_write_idle(&lp));

    // The client read everything and said so: writes go straight out again.
    run_until(&mut lp, "the client's ack", |lp| seen(lp, 0).data == b"!");
    assert_eq!(h.try_write(&mut lp, b"END").unwrap(), 3);
    assert!(h.shutdown(&mut lp));
    h.close(&mut lp);
    run_until_closed(&mut lp, 0);
    let c = seen(&mut lp, 0);
    assert_eq!(c.not_reads(), [Ev::Drain, Ev::Close(None)]);
    let (got, rest) = peer.join().unwrap();
    assert!(
        got == data,
        "the client got exactly the bytes written, in order"
    );
    assert_eq!(rest, b"END");
    server.close(&mut lp);
}

#[test]
fn shutdown_with_writes_queued_sends_the_fin_after_them() {
    // More than the OS buffers hold (a few MiB) while the client does not read.
    const TOTAL: usize = 8 << 20;
    let mut lp = Loop::new();
    let (server, addr) = listen(&mut lp);
    let data = Bytes::from(Rng::new(4).bytes(TOTAL));
    let (go, peer) = slow_client(addr, move |mut s| {
        let mut got = Vec::new();
        // Everything, then the FIN (end of stream), not a reset.
        s.read_to_end(&mut got).unwrap();
        // The server still reads after its shutdown.
        s.write_all(b"bye").unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        got
    });
    run_until(&mut lp, "a connection", |lp| accepted(lp) == 1);
    let h = handle(&mut lp, 0);
    for chunk in slices(&data, 64 << 10) {
        h.write(&mut lp, chunk).unwrap();
    }
    assert!(h.write_queue_size(&lp) > 0, "the OS did not take it all");

    assert!(!h.shutdown(&mut lp), "data queued: the FIN waits");
    assert!(!h.shutdown(&mut lp), "asked again: still waiting");
    assert!(!h.is_write_idle(&lp));
    assert_eq!(
        kind(h.try_write(&mut lp, b"NOT SENT")),
        ErrorKind::WouldBlock
    );
    run_for(&mut lp, ms(50));
    assert_eq!(seen(&mut lp, 0).events, [], "nothing went: no on_drain");
    assert!(!h.shutdown(&mut lp));

    go.send(()).unwrap();
    run_until_event(&mut lp, 0, Ev::Drain);
    assert_eq!(seen(&mut lp, 0).at_drain, [(0, false)], "shutting down");
    assert!(h.shutdown(&mut lp), "the FIN went");
    assert!(h.is_open(&lp), "shutdown does not close");
    run_until_event(&mut lp, 0, Ev::Eof);
    let got = peer.join().unwrap();
    assert_eq!(got.len(), TOTAL);
    assert!(got == data, "all queued bytes, in order, before the FIN");

    let c = seen(&mut lp, 0);
    assert_eq!(c.data, b"bye");
    assert_eq!(c.not_reads(), [Ev::Drain, Ev::Eof]);
    h.close(&mut lp);
    run_until_closed(&mut lp, 0);
    assert_eq!(
        seen(&mut lp, 0).not_reads(),
        [Ev::Drain, Ev::Eof, Ev::Close(None)]
    );
    assert!(!h.shutdown(&mut lp), "closed");
    server.close(&mut lp);
}

/// What the cork test's client is asked to do.
enum Ask {
    /// Read with a short timeout: nothing should have arrived.
    ExpectNothing,
    /// Read this many bytes.
    Read(usize),
}

#[test]
fn cork_holds_writes_until_uncork_sends_them_in_order() {
    let mut lp = Loop::new();
    let (server, addr) = listen(&mut lp);
    let (ask, asked) = mpsc::channel::<Ask>();
    let (answer, answered) = mpsc::channel::<std::io::Result<Vec<u8>>>();
    let peer = client(move || {
        let mut s = connect(addr, None);
        while let Ok(a) = asked.recv_timeout(LIMIT) {
            let r = match a {
                Ask::ExpectNothing => {
                    s.set_read_timeout(Some(ms(200))).unwrap();
                    let mut buf = [0u8; 64];
                    let r = s.read(&mut buf).map(|n| buf[..n].to_vec());
                    s.set_read_timeout(Some(LIMIT)).unwrap();
                    r
                }
                Ask::Read(n) => {
                    let mut buf = vec![0u8; n];
                    s.read_exact(&mut buf).map(|()| buf)
                }
            };
            answer.send(r).unwrap();
        }
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        rest
    });
    run_until(&mut lp, "a connection", |lp| accepted(lp) == 1);
    let h = handle(&mut lp, 0);
    assert!(h.is_write_idle(&lp));
    h.cork(&mut lp);
    assert!(!h.is_write_idle(&lp), "corked");
    assert_eq!(
        kind(h.try_write(&mut lp, b"NOT SENT")),
        ErrorKind::WouldBlock
    );
    let queued: Vec<usize> = ["one ", "two ", "three"]
        .into_iter()
        .map(|s| h.write(&mut lp, Bytes::from_static(s.as_bytes())).unwrap())
        .collect();
    assert_eq!(queued, [4, 8, 13], "held, all of it");
    assert_eq!(h.write_queue_size(&lp), 13);
    assert_eq!(
        kind(h.try_write(&mut lp, b"NOT SENT")),
        ErrorKind::WouldBlock
    );

    // The loop runs while the client looks: corked writes stay.
    ask.send(Ask::ExpectNothing).unwrap();
    let mut reply = None;
    run_until(&mut lp, "the client's look", |_| {
        reply = answered.try_recv().ok();
        reply.is_some()
    });
    let nothing = reply.unwrap();
    assert!(
        matches!(
            nothing.as_ref().map_err(std::io::Error::kind),
            Err(ErrorKind::WouldBlock | ErrorKind::TimedOut)
        ),
        "nothing reached the client while corked: {nothing:?}"
    );
    assert_eq!(h.write_queue_size(&lp), 13);

    h.uncork(&mut lp);
    assert_eq!(h.write_queue_size(&lp), 0, "uncork wrote them");
    // The corked writes were reported queued: the drain comes, from the
    // loop, and the handle is idle again once it has.
    assert!(!h.is_write_idle(&lp), "in flight until the drain");
    assert_eq!(
        seen(&mut lp, 0).count(&Ev::Drain),
        0,
        "not from inside uncork"
    );
    run_until(&mut lp, "the drain", |lp| {
        seen(lp, 0).count(&Ev::Drain) == 1
    });
    assert!(h.is_write_idle(&lp));
    ask.send(Ask::Read(13)).unwrap();
    let mut reply = None;
    run_until(&mut lp, "the client's read", |_| {
        reply = answered.try_recv().ok();
        reply.is_some()
    });
    assert_eq!(reply.unwrap().unwrap(), b"one two three");
    // Uncorked: straight to the OS again.
    assert_eq!(h.try_write(&mut lp, b"four").unwrap(), 4);
    h.uncork(&mut lp); // not corked: nothing
    drop(ask);
    assert!(h.shutdown(&mut lp));
    h.close(&mut lp);
    run_until_closed(&mut lp, 0);
    assert_eq!(peer.join().unwrap(), b"four");
    let c = seen(&mut lp, 0);
    assert_eq!(c.events.last(), Some(&Ev::Close(None)));
    assert_eq!(c.count(&Ev::Close(None)), 1);
    server.close(&mut lp);
}

#[test]
fn a_peer_reset_closes_the_handle_once_and_the_server_goes_on() {
    let mut lp = Loop::new();
    let (server, addr) = listen(&mut lp);
    let (reset, told) = mpsc::channel::<()>();
    let resetter = client(move || {
        let mut s = connect(addr, Some(32 << 10));
        s.write_all(b"hello").unwrap();
        told.recv_timeout(LIMIT).expect("told to reset");
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s); // RST
    });
    run_until(&mut lp, "hello", |lp| {
        accepted(lp) == 1 && seen(lp, 0).data == b"hello"
    });
    let h = handle(&mut lp, 0);
    // Data queued (the client does not read), and the handle reads.
    for chunk in slices(&Bytes::from(vec![7u8; 8 << 20]), 64 << 10) {
        h.write(&mut lp, chunk).unwrap();
    }
    assert!(h.write_queue_size(&lp) > 0);
    assert_eq!(server.connections(&lp), 1);

    reset.send(()).unwrap();
    resetter.join().unwrap();
    run_until_closed(&mut lp, 0);
    assert!(!h.is_open(&lp));
    assert_eq!(server.connections(&lp), 0);
    assert_eq!(
        kind(h.write(&mut lp, Bytes::from_static(b"x"))),
        ErrorKind::NotConnected
    );
    assert_eq!(kind(h.try_write(&mut lp, b"x")), ErrorKind::NotConnected);
    assert_eq!(kind(h.set_no_delay(&lp, true)), ErrorKind::NotConnected);
    assert_eq!(h.write_queue_size(&lp), 0, "queued writes dropped");
    assert!(!h.is_write_idle(&lp));
    assert!(!h.shutdown(&mut lp));
    h.close(&mut lp); // closed: nothing
    run_for(&mut lp, ms(50));
    let c = seen(&mut lp, 0);
    let closes = c.closes();
    assert_eq!(closes.len(), 1, "on_close once: {:?}", c.events);
    assert!(
        matches!(
            closes[0],
            Some(ErrorKind::ConnectionReset | ErrorKind::BrokenPipe)
        ),
        "{:?}",
        c.events
    );
    assert_eq!(
        c.events,
        [Ev::Read(5), Ev::Close(closes[0])],
        "a reset is no end and no drain"
    );

    // The loop and the server go on.
    let peer = send_then_read_all(addr, b"again".to_vec());
    run_until_event(&mut lp, 1, Ev::Eof);
    let h2 = handle(&mut lp, 1);
    assert_ne!(h2, h);
    assert_eq!(seen(&mut lp, 1).data, b"again");
    assert_eq!(h2.write(&mut lp, Bytes::from_static(b"ok")).unwrap(), 0);
    assert!(h2.shutdown(&mut lp));
    h2.close(&mut lp);
    run_until_closed(&mut lp, 1);
    assert_eq!(peer.join().unwrap(), b"ok");
    assert_eq!(seen(&mut lp, 1).not_reads(), [Ev::Eof, Ev::Close(None)]);
    assert_eq!(
        seen(&mut lp, 0).closes().len(),
        1,
        "nothing more for the first"
    );
    assert_eq!(server.stats(&lp).accepted, 2);
    assert_eq!(server.connections(&lp), 0);
    server.close(&mut lp);
}

#[test]
fn close_reports_on_the_next_tick_once_and_forgets_the_addresses() {
    let mut lp = Loop::new();
    let (server, addr) = listen(&mut lp);
    let (tx, rx) = mpsc::channel();
    let peer = client(move || {
        let mut s = connect(addr, None);
        tx.send(s.local_addr().unwrap()).unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        back
    });
    run_until(&mut lp, "a connection", |lp| accepted(lp) == 1);
    let client_addr = rx.recv_timeout(LIMIT).unwrap();
    let h = handle(&mut lp, 0);
    assert!(h.is_open(&lp));
    assert_eq!(h.peer_addr(&lp), Some(client_addr));
    assert_eq!(h.local_addr(&lp), Some(addr));
    h.set_no_delay(&lp, true).unwrap();
    assert_eq!(server.connections(&lp), 1);

    h.close(&mut lp);
    assert_eq!(seen(&mut lp, 0).events, [], "not inside close");
    assert!(!h.is_open(&lp));
    assert_eq!(h.peer_addr(&lp), None);
    assert_eq!(h.local_addr(&lp), None);
    assert_eq!(kind(h.set_no_delay(&lp, true)), ErrorKind::NotConnected);
    assert_eq!(server.connections(&lp), 0);
    h.close(&mut lp);
    assert_eq!(seen(&mut lp, 0).events, []);
    // The next tick: the first thing the loop runs.
    lp.run(RunMode::NoWait);
    assert_eq!(seen(&mut lp, 0).events, [Ev::Close(None)]);
    run_for(&mut lp, ms(50));
    assert_eq!(seen(&mut lp, 0).events, [Ev::Close(None)], "once");
    assert_eq!(peer.join().unwrap(), b"", "the client sees a FIN");
    server.close(&mut lp);
}

#[test]
fn close_inside_on_read_reports_after_the_callback_once() {
    let mut lp = Loop::new();
    lp.ext::<Conns>().close_at_first = true;
    let (server, addr) = listen(&mut lp);
    let peer = client(move || {
        let mut s = connect(addr, None);
        s.write_all(b"hi").unwrap();
        let mut back = Vec::new();
        s.read_to_end(&mut back).unwrap();
        back
    });
    run_until_closed(&mut lp, 0);
    run_for(&mut lp, ms(50));
    assert_eq!(
        seen(&mut lp, 0).events,
        [Ev::Read(2), Ev::Note("close returned"), Ev::Close(None)]
    );
    assert_eq!(server.connections(&lp), 0);
    assert_eq!(peer.join().unwrap(), b"");
    server.close(&mut lp);
}

#[test]
fn bytes_and_fin_that_came_before_start_are_read_after_it() {
    let mut lp = Loop::new();
    lp.ext::<Conns>().defer_start = true;
    let (server, addr) = listen(&mut lp);
    let peer = send_then_read_all(addr, b"early".to_vec());
    run_until(&mut lp, "a connection", |lp| accepted(lp) == 1);
    // The bytes and the FIN arrive (their readiness edges too) before the
    // owner starts the handle.
    run_for(&mut lp, ms(100));
    assert_eq!(seen(&mut lp, 0).events, [], "not started: no event");
    let h = handle(&mut lp, 0);
    h.start(&mut lp, owner_key(0), &EVENTS);
    run_until_event(&mut lp, 0, Ev::Eof);
    let c = seen(&mut lp, 0);
    assert_eq!(c.data, b"early");
    assert_eq!(c.not_reads(), [Ev::Eof]);
    assert_eq!(h.write(&mut lp, Bytes::from_static(b"late")).unwrap(), 0);
    assert!(h.shutdown(&mut lp));
    h.close(&mut lp);
    run_until_closed(&mut lp, 0);
    assert_eq!(peer.join().unwrap(), b"late");
    server.close(&mut lp);
}

/// Whether the loop is alive: it runs one iteration without blocking.
fn alive(lp: &mut Loop) -> bool {
    lp.run(RunMode::NoWait)
}

#[test]
fn the_handle_keeps_the_loop_alive_while_it_reads_or_has_writes_queued() {
    const TOTAL: usize = 8 << 20;
    let mut lp = Loop::new();
    lp.ext::<Conns>().defer_start = true;
    let (server, addr) = listen(&mut lp);
    let (go, told) = mpsc::channel::<()>();
    let peer = client(move || {
        let mut s = connect(addr, Some(32 << 10));
        told.recv_timeout(LIMIT).expect("told to read");
        let mut got = vec![0; TOTAL];
        s.read_exact(&mut got).unwrap();
        told.recv_timeout(LIMIT).expect("told to end");
        s.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
        rest
    });
    run_until(&mut lp, "a connection", |lp| accepted(lp) == 1);
    // Only the handle may keep the loop alive from now on.
    server.close(&mut lp);
    let h = handle(&mut lp, 0);
    assert!(!alive(&mut lp), "not started: not reading, nothing queued");
    h.start(&mut lp, owner_key(0), &EVENTS);
    assert!(alive(&mut lp), "reading");
    h.read_stop(&mut lp);
    assert!(!alive(&mut lp), "stopped");

    for chunk in slices(&Bytes::from(vec![1u8; TOTAL]), 64 << 10) {
        h.write(&mut lp, chunk).unwrap();
    }
    assert!(h.write_queue_size(&lp) > 0);
    assert!(alive(&mut lp), "writes queued");
    go.send(()).unwrap();
    run_until_event(&mut lp, 0, Ev::Drain);
    assert!(!alive(&mut lp), "drained, and not reading");

    h.read_start(&mut lp);
    assert!(alive(&mut lp), "reading again");
    go.send(()).unwrap();
    run_until_event(&mut lp, 0, Ev::Eof);
    assert!(h.is_open(&lp));
    assert!(!alive(&mut lp), "at the end of the stream, nothing queued");

    // The loop has exited; the owner still answers and closes.
    assert_eq!(h.write(&mut lp, Bytes::from_static(b"done")).unwrap(), 0);
    assert!(h.shutdown(&mut lp));
    h.close(&mut lp);
    run_until_closed(&mut lp, 0);
    assert_eq!(peer.join().unwrap(), b"done");
    assert_eq!(
        seen(&mut lp, 0).not_reads(),
        [Ev::Drain, Ev::Eof, Ev::Close(None)]
    );
}

/// A handle with a little queued on it (written to until the OS took no
/// more), and its client, which reads nothing until told.
struct QueuedPeer {
    server: Server,
    h: SocketHandle,
    /// What was written, queued or not.
    sent: Vec<u8>,
    go: mpsc::Sender<()>,
    reported: mpsc::Receiver<usize>,
    finished: mpsc::Receiver<(Vec<u8>, Result<(), ErrorKind>)>,
    peer: JoinHandle<()>,
}

fn queue_a_little(lp: &mut Loop) -> QueuedPeer {
    const CHUNK: usize = 64 << 10;
    let (server, addr) = listen(lp);
    let data = Bytes::from(Rng::new(5).bytes(16 << 20));
    let (report, reported) = mpsc::channel::<usize>();
    let (done, finished) = mpsc::channel();
    let (go, peer) = slow_client(addr, move |mut s| {
        // Everything the kernels hold (the server's loop is not running),
        // until nothing more comes for 300 ms.
        s.set_read_timeout(Some(ms(300))).unwrap();
        let (mut got, mut buf) = (Vec::new(), vec![0u8; 64 << 10]);
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    break;
                }
                Err(e) => panic!("{e}"),
            }
        }
        report.send(got.len()).unwrap();
        // The rest, then the FIN.
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let end = s.read_to_end(&mut got).map(drop).map_err(|e| e.kind());
        done.send((got, end)).unwrap();
    });
    run_until(lp, "a connection", |lp| accepted(lp) == 1);
    let h = handle(lp, 0);
    let mut written = 0;
    for chunk in slices(&data, CHUNK) {
        written += chunk.len();
        if h.write(lp, chunk).unwrap() > 0 {
            break;
        }
    }
    assert!(h.write_queue_size(lp) > 0, "the OS took 16 MiB");
    let sent = data[..written].to_vec();
    QueuedPeer {
        server,
        h,
        sent,
        go,
        reported,
        finished,
        peer,
    }
}

impl QueuedPeer {
    /// The client empties the kernels' buffers while the loop does not run:
    /// the next write can take the whole queue out at once.
    fn empty_the_kernels(&self) {
        self.go.send(()).unwrap();
        let read = self.reported.recv_timeout(LIMIT).unwrap();
        let written = self.sent.len();
        assert!(
            read < written,
            "{read} of {written}: the queue is still queued"
        );
    }

    /// Runs the loop until the client has read to its end: what it got,
    /// and whether a FIN ended it.
    fn finish(self, lp: &mut Loop) -> (Vec<u8>, Result<(), ErrorKind>, Vec<u8>, Server) {
        let mut result = None;
        run_until(lp, "the client's end", |_| {
            result = self.finished.try_recv().ok();
            result.is_some()
        });
        self.peer.join().unwrap();
        let (got, end) = result.unwrap();
        (got, end, self.sent, self.server)
    }
}

#[test]
fn a_write_after_shutdown_is_refused_and_the_fin_follows_the_queue() {
    let mut lp = Loop::new();
    let q = queue_a_little(&mut lp);
    let h = q.h;
    assert!(!h.shutdown(&mut lp), "data queued: the FIN waits");
    q.empty_the_kernels();
    // Refused, as libuv refuses a write after `uv_shutdown`; nothing queued.
    let tail = h.write(&mut lp, Bytes::from_static(b"tail"));
    assert_eq!(tail.map_err(|e| e.kind()), Err(ErrorKind::BrokenPipe));
    let (got, end, expected, server) = q.finish(&mut lp);
    assert_eq!(end, Ok(()), "the FIN never came");
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "every byte once, in order, then the FIN");
    let c = seen(&mut lp, 0);
    // (Then the client's own end, when its thread is done.)
    assert_eq!(
        c.not_reads().first(),
        Some(&Ev::Drain),
        "on_drain once the FIN went"
    );
    assert_eq!(c.count(&Ev::Drain), 1);
    assert!(h.shutdown(&mut lp));
    h.close(&mut lp);
    run_until_closed(&mut lp, 0);
    server.close(&mut lp);
}

#[test]
fn a_write_that_empties_a_waiting_queue_still_brings_on_drain_from_the_loop() {
    let mut lp = Loop::new();
    let q = queue_a_little(&mut lp);
    let h = q.h;
    q.empty_the_kernels();
    // Everything goes now, but the drain comes from the loop, not from
    // inside `write`.
    let tail = h.write(&mut lp, Bytes::from_static(b"tail")).unwrap();
    assert_eq!(tail, 0, "the whole queue went at once");
    assert_eq!(seen(&mut lp, 0).not_reads(), [], "no drain inside write");
    run_until(&mut lp, "the drain", |lp| {
        seen(lp, 0).not_reads() == [Ev::Drain]
    });
    // The FIN, now that the owner was told.
    assert!(h.shutdown(&mut lp), "nothing queued: the FIN goes at once");
    let (got, end, mut expected, server) = q.finish(&mut lp);
    expected.extend_from_slice(b"tail");
    assert_eq!(end, Ok(()), "the FIN never came");
    assert_eq!(got.len(), expected.len());
    assert!(got == expected, "every byte once, in order, then the FIN");
    let c = seen(&mut lp, 0);
    // (Then the client's own end, when its thread is done.)
    assert_eq!(c.not_reads().first(), Some(&Ev::Drain));
    assert_eq!(c.count(&Ev::Drain), 1, "one drain");
    h.close(&mut lp);
    run_until_closed(&mut lp, 0);
    server.close(&mut lp);
}

/// One step of the write-path property: the owner's calls, the loop's
/// turns, and the client's pace.
#[derive(Debug, Clone)]
enum WriteOp {
    /// `write` of the next `n` bytes of the case's data.
    Write(usize),
    /// `try_write` of the next `n` bytes: what it reports went is sent.
    TryWrite(usize),
    Cork,
    Uncork,
    /// One iteration of the loop that does not block.
    RunOnce,
    /// The client stops reading (the OS buffers fill) until `ClientReads`.
    ClientPauses,
    ClientReads,
}

fn write_op() -> impl Strategy<Value = WriteOp> {
    // Large writes mostly: a case fills the OS buffers (a few MiB) only
    // with some twenty of them while the client does not read.
    let size = prop_oneof![
        1 => 1usize..=64,
        1 => 1usize..=200_000,
        4 => 120_000usize..=200_000,
    ];
    prop_oneof![
        8 => size.clone().prop_map(WriteOp::Write),
        3 => size.prop_map(WriteOp::TryWrite),
        2 => Just(WriteOp::Cork),
        2 => Just(WriteOp::Uncork),
        3 => Just(WriteOp::RunOnce),
        1 => Just(WriteOp::ClientPauses),
        1 => Just(WriteOp::ClientReads),
    ]
}

/// The most a case writes.
const WRITE_BUDGET: usize = 4 << 20;

/// How a case of the write-path property begins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// The client reads from the start.
    Reading,
    /// The client reads nothing until `ClientReads`.
    Paused,
    /// Paused, and `try_write` filled the OS buffers: the next write
    /// queues.
    Full,
}

fn start() -> impl Strategy<Value = Start> {
    prop_oneof![Just(Start::Reading), Just(Start::Paused), Just(Start::Full)]
}

/// What the owner knows of its handle's writes.
#[derive(Debug, Default)]
struct WriteModel {
    /// Bytes accepted (queued by `write`, sent by `try_write`), in order.
    sent: usize,
    corked: bool,
    /// Corked while nothing was in flight: writes stay queued, all of them.
    holding: bool,
    /// A `write` reported bytes queued (or they were corked), and the
    /// `on_drain` for them has not come yet.
    owed: bool,
    /// `on_drain` calls seen so far.
    drains: usize,
    shut: bool,
}

/// Checks the handle against the model between two steps, and takes in
/// the drains that came.
fn check_write_model(
    lp: &mut Loop,
    h: SocketHandle,
    m: &mut WriteModel,
) -> Result<(), TestCaseError> {
    let c = seen(lp, 0);
    prop_assert_eq!(c.drains_in_call, 0, "on_drain from inside write or uncork");
    let drains = c.count(&Ev::Drain);
    let at_drain = c.at_drain[m.drains..].to_vec();
    let closes = c.closes();
    prop_assert_eq!(closes, [], "closed by an error");
    prop_assert!(drains - m.drains <= 1, "one drain per wait: {:?}", at_drain);
    if drains > m.drains {
        prop_assert!(m.owed, "on_drain that nothing waited for");
        m.owed = false;
        m.drains = drains;
        let idle = !m.corked && !m.shut;
        prop_assert_eq!(&at_drain, &[(0, idle)], "nothing queued at the drain");
    }
    let queued = h.write_queue_size(lp);
    let idle = h.is_write_idle(lp);
    prop_assert!(!idle || queued == 0, "idle with {} queued", queued);
    prop_assert!(!(idle && m.corked), "idle while corked");
    prop_assert!(queued == 0 || m.owed, "{} queued and no drain owed", queued);
    prop_assert!(
        !(idle && m.owed),
        "idle (the write no longer in flight) before the drain it owes"
    );
    Ok(())
}

/// The client of a write-path case, as the test steers and hears it.
struct WritePeer {
    /// While set, the client reads nothing (the OS buffers fill).
    paused: Arc<AtomicBool>,
    /// What it read, and how its reading ended, once it has.
    finished: mpsc::Receiver<(Vec<u8>, Result<(), ErrorKind>)>,
}

/// Runs `ops` on the handle of connection 0, then uncorks, shuts down
/// (`at_once`: right away, else after the drain) and closes; the client
/// thread must have read exactly the bytes accepted, then the FIN.
fn drive_write_ops(
    lp: &mut Loop,
    h: SocketHandle,
    data: &Bytes,
    ops: &[WriteOp],
    at_once: bool,
    fill: bool,
    peer: &WritePeer,
) -> Result<(), TestCaseError> {
    let mut m = WriteModel::default();
    while fill && m.sent < data.len() {
        match h.try_write(lp, &data[m.sent..]) {
            Ok(k) => m.sent += k,
            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
            Err(e) => return Err(TestCaseError::fail(format!("try_write: {e}"))),
        }
    }
    check_write_model(lp, h, &mut m)?;
    for op in ops {
        match *op {
            WriteOp::Write(n) => {
                let n = n.min(data.len() - m.sent);
                if n == 0 {
                    continue;
                }
                let before = h.write_queue_size(lp);
                lp.ext::<Conns>().in_call = true;
                let r = h.write(lp, data.slice(m.sent..m.sent + n));
                lp.ext::<Conns>().in_call = false;
                let queued = r.map_err(|e| TestCaseError::fail(format!("write: {e}")))?;
                m.sent += n;
                prop_assert_eq!(queued, h.write_queue_size(lp), "write returns the queue");
                prop_assert!(queued <= before + n, "the queue grows by at most the write");
                if m.holding {
                    prop_assert_eq!(queued, before + n, "corked: all of it waits");
                }
                m.owed |= queued > 0;
            }
            WriteOp::TryWrite(n) => {
                let n = n.min(data.len() - m.sent);
                if n == 0 {
                    continue;
                }
                let (idle, before) = (h.is_write_idle(lp), h.write_queue_size(lp));
                match h.try_write(lp, &data[m.sent..m.sent + n]) {
                    Ok(k) => {
                        prop_assert!(idle, "try_write wrote while not idle");
                        prop_assert!((1..=n).contains(&k), "{} of {}", k, n);
                        m.sent += k;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(e) => return Err(TestCaseError::fail(format!("try_write: {e}"))),
                }
                prop_assert_eq!(h.write_queue_size(lp), before, "try_write queues nothing");
            }
            WriteOp::Cork => {
                let idle = h.is_write_idle(lp);
                if !m.corked {
                    m.holding = idle;
                }
                h.cork(lp);
                m.corked = true;
            }
            WriteOp::Uncork => {
                lp.ext::<Conns>().in_call = true;
                h.uncork(lp);
                lp.ext::<Conns>().in_call = false;
                m.corked = false;
                m.holding = false;
            }
            WriteOp::RunOnce => {
                lp.run(RunMode::NoWait);
            }
            WriteOp::ClientPauses => peer.paused.store(true, Ordering::SeqCst),
            WriteOp::ClientReads => peer.paused.store(false, Ordering::SeqCst),
        }
        if m.corked {
            let r = h.try_write(lp, b"NOT SENT");
            prop_assert_eq!(
                r.map_err(|e| e.kind()),
                Err(ErrorKind::WouldBlock),
                "try_write while corked"
            );
        }
        check_write_model(lp, h, &mut m)?;
    }

    // The end: what the cork holds goes, the client reads it all.
    if m.corked {
        lp.ext::<Conns>().in_call = true;
        h.uncork(lp);
        lp.ext::<Conns>().in_call = false;
        m.corked = false;
        check_write_model(lp, h, &mut m)?;
    }
    peer.paused.store(false, Ordering::SeqCst);
    if !at_once && m.owed {
        run_until(lp, "the drain", |lp| {
            let c = seen(lp, 0);
            c.count(&Ev::Drain) > m.drains || !c.closes().is_empty()
        });
        check_write_model(lp, h, &mut m)?;
    }
    if !at_once {
        prop_assert!(!m.owed && h.is_write_idle(lp), "drained");
    }
    prop_assert!(
        peer.finished.try_recv().is_err(),
        "the client saw its end before the FIN"
    );
    let went = h.shutdown(lp);
    m.shut = true;
    if went {
        prop_assert!(!m.owed, "the FIN went with a write in flight");
    } else {
        prop_assert!(m.owed, "the FIN waits with nothing in flight");
        prop_assert!(h.is_open(lp), "shutdown closed the handle");
        run_until(lp, "the drain after the shutdown", |lp| {
            let c = seen(lp, 0);
            c.count(&Ev::Drain) > m.drains || !c.closes().is_empty()
        });
        check_write_model(lp, h, &mut m)?;
    }
    prop_assert!(h.shutdown(lp), "the FIN went");
    lp.ext::<Conns>().in_call = true;
    let late = h.write(lp, Bytes::from_static(b"NOT SENT"));
    lp.ext::<Conns>().in_call = false;
    prop_assert_eq!(late.map_err(|e| e.kind()), Err(ErrorKind::BrokenPipe));
    let r = h.try_write(lp, b"NOT SENT");
    prop_assert_eq!(r.map_err(|e| e.kind()), Err(ErrorKind::WouldBlock));
    let mut end = None;
    run_until(lp, "the client's end", |_| {
        end = peer.finished.try_recv().ok();
        end.is_some()
    });
    let (got, end) = end.expect("ran until it came");
    prop_assert_eq!(end, Ok(()), "a FIN ends what the client read");
    prop_assert_eq!(got.len(), m.sent, "every accepted byte, no other");
    if let Some(at) = got.iter().zip(&data[..]).position(|(a, b)| a != b) {
        return Err(TestCaseError::fail(format!(
            "byte {at} of {} differs: lost, repeated or reordered",
            m.sent
        )));
    }
    check_write_model(lp, h, &mut m)?;
    prop_assert_eq!(m.owed, false);

    h.close(lp);
    prop_assert_eq!(seen(lp, 0).closes(), [], "on_close on the next tick");
    run_until_closed(lp, 0);
    run_for(lp, ms(10));
    let c = seen(lp, 0);
    prop_assert_eq!(c.closes(), [None], "on_close once, with no error");
    prop_assert_eq!(c.events.last(), Some(&Ev::Close(None)), "nothing after it");
    prop_assert_eq!(c.drains_in_call, 0);
    Ok(())
}

/// One case of the write-path property: its own loop, server and client.
fn write_path_case(
    seed: u64,
    ops: &[WriteOp],
    at_once: bool,
    start: Start,
) -> Result<(), TestCaseError> {
    let mut lp = Loop::new();
    let (server, addr) = listen(&mut lp);
    let (done, finished) = mpsc::channel();
    let peer = WritePeer {
        paused: Arc::new(AtomicBool::new(start != Start::Reading)),
        finished,
    };
    let pause = Arc::clone(&peer.paused);
    let reader = client(move || {
        // The smallest receive buffer, so that a pause fills the OS
        // buffers soonest.
        let mut s = connect(addr, Some(2 << 10));
        let deadline = Instant::now() + LIMIT;
        let (mut got, mut buf) = (Vec::new(), vec![0u8; 64 << 10]);
        let end = loop {
            if pause.load(Ordering::SeqCst) {
                if Instant::now() > deadline {
                    break Err(ErrorKind::TimedOut);
                }
                std::thread::sleep(ms(1));
                continue;
            }
            match s.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => break Err(e.kind()),
            }
        };
        let _ = done.send((got, end));
    });
    run_until(&mut lp, "a connection", |lp| accepted(lp) == 1);
    let h = handle(&mut lp, 0);
    // As much as the case may write, at most the budget.
    let most = ops.iter().map(|op| match op {
        WriteOp::Write(n) | WriteOp::TryWrite(n) => *n,
        _ => 0,
    });
    let most = if start == Start::Full {
        WRITE_BUDGET
    } else {
        most.sum::<usize>().min(WRITE_BUDGET)
    };
    let data = Bytes::from(Rng::new(seed).bytes(most));
    let fill = start == Start::Full;
    let result = drive_write_ops(&mut lp, h, &data, ops, at_once, fill, &peer);
    // Whatever happened: the client reads to the end, all is closed.
    peer.paused.store(false, Ordering::SeqCst);
    h.close(&mut lp);
    server.close(&mut lp);
    lp.run(RunMode::NoWait);
    reader.join().expect("the client thread");
    result
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// For any mix of `write`, `try_write`, `cork`, `uncork`, loop turns and
    /// client pauses: `write` returns the queue; `try_write` refuses while
    /// corked or queued; idle means nothing queued and no drain owed;
    /// `on_drain` comes once per wait, from the loop; the client reads every
    /// accepted byte once, in order, then the FIN; `close` brings one
    /// `on_close(None)`.
    #[test]
    fn any_writes_corks_and_turns_arrive_once_in_order_then_the_fin(
        seed in any::<u64>(),
        ops in vec(write_op(), 1..=40),
        at_once in any::<bool>(),
        start in start(),
    ) {
        write_path_case(seed, &ops, at_once, start)?;
    }
}
