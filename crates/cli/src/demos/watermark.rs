//! `watermark`: more operations than the loop lets the OS hold at once.
//!
//! Sixteen connection operations are submitted together with a high watermark
//! of 4. Each owns a 64 KiB buffer (the memory an operation lends the OS while
//! it waits) and completes when the server on 127.0.0.1 answers, 80 ms after
//! accepting. Five carry a short deadline; the rest a long one, so that every
//! operation has a timeout. The demo prints each admission, completion and
//! timeout with the loop's accounting, and counts live buffers down to zero.

use std::cell::Cell;
use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use eventide_loop_phases::{Admission, Interest, IoWatch, Loop, OpId, RunMode};
use eventide_reactor::sys::FdSource;
use mio::net::{TcpListener, TcpStream};

use super::{Demo, DemoEnv, at, ctx};

pub(crate) const DEMO: Demo = Demo {
    name: "watermark",
    summary: "16 operations against a high watermark of 4: backlog, deadlines, memory released",
    watch_for: "\
At most 4 operations are in flight (registered with the OS); the rest wait in a backlog
and are admitted as others complete. Watch the short-deadline ones time out, in flight
or still queued, and the live buffer count fall. Rule: past the high watermark work is
queued, not registered; every operation has a timeout, so its memory is reclaimed.",
    run,
};

const OPS: usize = 16;
const HIGH_WATERMARK: usize = 4;
const BUFFER: usize = 64 * 1024;
/// How long the server waits before answering a connection.
const ANSWER_AFTER: Duration = Duration::from_millis(80);
/// Shorter than the time the later of these wait: 3 answers in time (admitted
/// at once), 6 is admitted at 80 ms and expires in flight, 10, 11 and 14 expire
/// while still queued.
const SHORT: [usize; 5] = [3, 6, 10, 11, 14];
const SHORT_DEADLINE: Duration = Duration::from_millis(120);
const LONG_DEADLINE: Duration = Duration::from_secs(3);

/// The memory an operation holds until it ends: counted, so its release shows.
struct Buffer {
    bytes: Vec<u8>,
    live: Rc<Cell<usize>>,
}

impl Buffer {
    fn new(live: &Rc<Cell<usize>>) -> Buffer {
        live.set(live.get() + 1);
        Buffer {
            bytes: vec![0; BUFFER],
            live: Rc::clone(live),
        }
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        self.live.set(self.live.get() - 1);
    }
}

/// The demo's state, kept in the loop so every callback reaches it.
#[derive(Default)]
struct Flood {
    t0: Option<Instant>,
    live: Rc<Cell<usize>>,
    /// Each operation's number, and whether it had to wait at submission.
    ops: HashMap<OpId, (usize, bool)>,
    /// The client socket of each operation whose `start` ran.
    sockets: HashMap<OpId, IoWatch>,
    ended: usize,
    listener: Option<IoWatch>,
}

/// Prints one event with the accounting after it.
fn line(lp: &mut Loop, n: usize, event: &str) {
    let ops = lp.ops();
    let flood = lp.ext::<Flood>();
    let since = flood.t0.map_or(Duration::ZERO, |t| t.elapsed());
    let live = flood.live.get();
    let flight = format!("{}/{}", ops.in_flight, ops.high_watermark);
    let op = format!("#{n}");
    println!(
        "  {}  {op:<4} {event:<42} {flight:>9}  {:>7}  {live:>2} × 64 KiB",
        at(since),
        ops.queued,
    );
}

fn run(env: &mut DemoEnv) -> Result<(), String> {
    let mut lp = env.new_loop();
    lp.set_op_high_watermark(HIGH_WATERMARK);
    let addr = serve(&mut lp)?;
    let live = Rc::clone(&lp.ext::<Flood>().live);
    lp.ext::<Flood>().t0 = Some(Instant::now());

    println!(
        "  {:>11}  {:<4} {:<42} {:>9}  {:>7}  live buffers",
        "since start", "op", "event", "in flight", "backlog"
    );
    for n in 1..=OPS {
        let buf = Buffer::new(&live);
        let short = SHORT.contains(&n);
        let deadline = if short { SHORT_DEADLINE } else { LONG_DEADLINE };
        let (id, admission) = lp.submit_op(
            Some(deadline),
            move |lp, id| start(lp, id, n, buf, addr),
            move |lp, id| timed_out(lp, id, n),
        );
        let queued = admission == Admission::Queued;
        lp.ext::<Flood>().ops.insert(id, (n, queued));
        let what = match (queued, short) {
            (false, false) => "submitted → admitted".to_string(),
            (true, false) => "submitted → queued (at the watermark)".to_string(),
            (false, true) => format!("submitted → admitted, deadline {SHORT_DEADLINE:?}"),
            (true, true) => format!("submitted → queued, deadline {SHORT_DEADLINE:?}"),
        };
        line(&mut lp, n, &what);
    }
    lp.run(RunMode::Default);

    let ops = lp.ops();
    let s = ops.stats;
    println!();
    println!(
        "  ops().stats  submitted {}, queued {}, admitted {}, completed {}, timed out {}",
        s.submitted, s.queued_total, s.admitted, s.completed, s.timed_out
    );
    println!(
        "               peak in flight {} (high watermark {}), peak backlog {}",
        s.peak_in_flight, ops.high_watermark, s.peak_queued
    );
    println!(
        "  live buffer bytes at the end: {} (from {} KiB)",
        live.get() * BUFFER,
        OPS * BUFFER / 1024
    );
    if live.get() != 0 || s.peak_in_flight > HIGH_WATERMARK {
        return Err(format!(
            "{} buffers still live, peak in flight {}: the accounting leaked",
            live.get(),
            s.peak_in_flight
        ));
    }
    println!("  Rule: past the high watermark new work waits in a backlog instead of going to");
    println!("  the OS, and every operation has a deadline, so its memory is always reclaimed.");
    Ok(())
}

/// The server: accepts every connection and answers `ok` after [`ANSWER_AFTER`].
fn serve(lp: &mut Loop) -> Result<SocketAddr, String> {
    let any: SocketAddr = ([127, 0, 0, 1], 0).into();
    let listener = TcpListener::bind(any).map_err(ctx("binding a listener on 127.0.0.1"))?;
    let addr = listener
        .local_addr()
        .map_err(ctx("reading the listener's address"))?;
    let fd = listener.as_raw_fd();
    let w = lp
        .io_start(
            &mut FdSource(fd),
            Interest::READABLE,
            "listener",
            move |lp, _, _| {
                loop {
                    match listener.accept() {
                        Ok((mut conn, _)) => {
                            lp.set_timeout(ANSWER_AFTER, move |_| {
                                // The client may have given up (timed out): then this fails, harmlessly.
                                let _ = conn.write(b"ok");
                            });
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => {}
                        Err(e) => {
                            println!("  server: accept failed: {e}");
                            break;
                        }
                    }
                }
            },
        )
        .map_err(ctx("watching the listener"))?;
    lp.ext::<Flood>().listener = Some(w);
    Ok(addr)
}

/// An admitted operation registers its socket with the OS.
fn start(lp: &mut Loop, id: OpId, n: usize, buf: Buffer, addr: SocketAddr) {
    let queued = lp.ext::<Flood>().ops.get(&id).is_some_and(|o| o.1);
    let how = if queued { "from backlog" } else { "started" };
    let mut conn = match TcpStream::connect(addr) {
        Ok(c) => c,
        Err(e) => {
            drop(buf);
            lp.complete_op(id);
            return end(lp, id, n, &format!("{how}: connect failed: {e}"));
        }
    };
    let fd = conn.as_raw_fd();
    let mut buf = Some(buf);
    let watched = lp.io_start(
        &mut FdSource(fd),
        Interest::READABLE,
        "client",
        move |lp, w, _| {
            let Some(b) = buf.as_mut() else { return };
            let outcome = match conn.read(&mut b.bytes) {
                Ok(0) => "completed: the server closed without answering".to_string(),
                Ok(k) => format!(
                    "completed: server answered {:?}",
                    String::from_utf8_lossy(&b.bytes[..k])
                ),
                Err(e) if e.kind() == ErrorKind::WouldBlock => return,
                Err(e) => format!("completed with an error: {e}"),
            };
            lp.complete_op(id);
            drop(buf.take()); // the operation is over: its memory goes now
            lp.close(w, None);
            end(lp, id, n, &outcome);
        },
    );
    match watched {
        Ok(w) => {
            lp.ext::<Flood>().sockets.insert(id, w);
            line(lp, n, &format!("{how} → connect, fd {fd} registered"));
        }
        Err(e) => {
            lp.complete_op(id);
            end(
                lp,
                id,
                n,
                &format!("{how}: could not watch the socket: {e}"),
            );
        }
    }
}

/// The loop removed an operation whose deadline passed; it already dropped a
/// `start` that never ran, and with it the buffer.
fn timed_out(lp: &mut Loop, id: OpId, n: usize) {
    let flood = lp.ext::<Flood>();
    let queued = flood.ops.get(&id).is_some_and(|o| o.1);
    let what = match flood.sockets.get(&id).copied() {
        Some(w) => {
            // Closing drops the callback, which owns the socket and the buffer.
            lp.close(w, None);
            "TIMED OUT in flight: socket + buffer freed"
        }
        None if queued => "TIMED OUT in the backlog: buffer freed",
        None => "TIMED OUT before starting: buffer freed",
    };
    end(lp, id, n, what);
}

/// Every operation ends here once; after the last, the server closes.
fn end(lp: &mut Loop, id: OpId, n: usize, what: &str) {
    let flood = lp.ext::<Flood>();
    flood.sockets.remove(&id);
    flood.ended += 1;
    let last = flood.ended == OPS;
    let listener = flood.listener;
    line(lp, n, what);
    if last && let Some(w) = listener {
        lp.close(w, None);
    }
}
