//! Fault: a peer asks for a 64 MiB response and never reads it.
//!
//! The handler writes freshly allocated 64 KiB pieces, respecting `write`'s
//! answer and waiting for `on_drain`. With the peer not reading, `write`
//! says stop, no drain comes, and the server holds a bounded amount for that
//! connection however long the peer stalls, measured three ways:
//!
//! - what the handler managed to write stays within the kernel's socket
//!   buffers (the peer's receive buffer, the largest send buffer) plus the
//!   high-water mark;
//! - the process's live heap (a counting allocator) grows by less than
//!   [`HEAP_BOUND`] over the stall: it is where a server's buffer would be;
//! - its RSS grows by less than [`RSS_BOUND`] (the kernel's socket buffers
//!   do not count in it; a server buffering the body would grow by 64 MiB).
//!
//! An honest client is served exactly all along, and when the peer finally
//! closes, the response is told and the connection released.
//!
//! There is no write timeout (as in Node): a peer that never reads keeps its
//! connection until it closes; what it cannot do is grow the server's memory.

mod fault_util;
mod server_util;

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventide_http_mini::server::Response;
use eventide_loop_phases::Loop;
use fault_util::{
    Honest, Mode, honest_handler, is_honest, publish_connections, rss_bytes, wait_connections,
    wait_until,
};
use server_util::{get, run_client, serve, test_options};
use socket2::{Domain, Socket, Type};

/// Counts the bytes allocated and not yet freed by the whole test process
/// (server and clients): what the server buffers for the stalled peer is
/// heap, so it shows here exactly, where RSS would blur it.
struct CountingAllocator;

static LIVE_HEAP: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` with the caller's arguments, so
// `System`'s guarantees are ours; the counter has no effect on memory.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_HEAP.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_HEAP.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `alloc` above with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

const TOTAL: u64 = 64 * 1024 * 1024;
const PIECE: usize = 64 * 1024;
/// The peer's receive buffer, set before connecting so the kernel does not
/// grow it (the kernel doubles the value asked for).
const PEER_RCVBUF: usize = 128 * 1024;
/// How long the peer stalls while the bound is watched.
const STALL: Duration = Duration::from_secs(2);
/// The live-heap growth allowed over the stall: the high-water mark and a
/// piece or two, plus the honest client's own requests in flight.
const HEAP_BOUND: usize = 1024 * 1024;
/// The RSS growth allowed over the stall.
const RSS_BOUND: u64 = 16 * 1024 * 1024;

#[derive(Clone, Default)]
struct Seen {
    written: Arc<AtomicU64>,
    refusals: Arc<AtomicU64>,
    drains: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
}

fn pump(lp: &mut Loop, res: Response, at: u64, seen: Seen) {
    let mut at = at;
    while at < TOTAL {
        // A fresh allocation per piece, so that buffering shows in RSS.
        let piece = Bytes::from(vec![(at / PIECE as u64) as u8 | 1; PIECE]);
        let more = res.write(lp, piece);
        at += PIECE as u64;
        seen.written.fetch_add(PIECE as u64, Ordering::SeqCst);
        if !more {
            seen.refusals.fetch_add(1, Ordering::SeqCst);
            let mut once = Some(seen);
            res.on_drain(lp, move |lp| {
                if let Some(s) = once.take() {
                    s.drains.fetch_add(1, Ordering::SeqCst);
                    pump(lp, res, at, s);
                }
            });
            return;
        }
    }
    res.end(lp, None);
}

/// The largest send buffer the kernel gives a TCP socket (`tcp_wmem`'s max).
fn kernel_send_buffer_max() -> u64 {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 * 1024 * 1024)
}

#[test]
fn peer_that_never_reads_costs_bounded_memory() {
    let seen = Seen::default();
    let s = seen.clone();
    let options = test_options();
    let hwm = options.high_water_mark as u64;
    let (mut lp, server, _) = serve(options, move |lp, req, res| {
        if is_honest(&req) {
            return honest_handler(lp, req, res);
        }
        let c = s.closed.clone();
        res.on_close(lp, move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
        pump(lp, res, 0, s.clone());
    });
    let open = publish_connections(&mut lp, server);
    let seen2 = seen.clone();
    let (m, stats) = run_client(&mut lp, server, move |addr| {
        let seen = seen2;
        let honest = Honest::start(addr, Mode::KeptAndFresh);

        let sock = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        sock.set_recv_buffer_size(PEER_RCVBUF).unwrap();
        sock.connect(&addr.into()).unwrap();
        let rcvbuf = sock.recv_buffer_size().unwrap() as u64;
        let mut peer: TcpStream = sock.into();
        peer.write_all(&get("/huge")).unwrap();

        // `write` says stop once the buffers filled.
        wait_until("write() to return false", Duration::from_secs(5), || {
            seen.refusals.load(Ordering::SeqCst) > 0
        });
        let pid = std::process::id().to_string();
        let rss_before = rss_bytes(&pid);
        let heap_before = LIVE_HEAP.load(Ordering::SeqCst);
        let started = Instant::now();
        // The stall: the honest client keeps being served...
        honest.wait_progress(20, STALL);
        let late = STALL - Duration::from_millis(500);
        wait_until("the stall's last half second", STALL, || {
            started.elapsed() >= late
        });
        let written_late = seen.written.load(Ordering::SeqCst);
        wait_until("the end of the stall", STALL, || started.elapsed() >= STALL);
        let heap_after = LIVE_HEAP.load(Ordering::SeqCst);
        let rss_after = rss_bytes(&pid);
        // ...while the stalled response makes no progress in its last half
        // second, and is still open.
        let written = seen.written.load(Ordering::SeqCst);
        assert_eq!(
            written, written_late,
            "the handler kept writing to a peer that does not read"
        );
        assert_eq!(seen.closed.load(Ordering::SeqCst), 0);

        // The peer goes away (with unread data: a reset): the response is
        // told, the connection released.
        drop(peer);
        wait_until(
            "the response's close listener",
            Duration::from_secs(2),
            || seen.closed.load(Ordering::SeqCst) == 1,
        );
        honest.wait_progress(5, Duration::from_secs(5));
        let n = honest.stop();
        wait_connections(&open, 0, Duration::from_secs(5));
        Measured {
            honest: n,
            written,
            rcvbuf,
            heap: (heap_before, heap_after),
            rss: (rss_before, rss_after),
        }
    });
    let kernel = kernel_send_buffer_max() + m.rcvbuf;
    let bound = kernel + hwm + 2 * PIECE as u64;
    let heap_grew = m.heap.1.saturating_sub(m.heap.0);
    let rss_grew = m.rss.1.saturating_sub(m.rss.0);
    eprintln!(
        "never_reads: handler wrote {} of {TOTAL} bytes (bound {bound}: kernel {kernel} + \
         high-water mark {hwm} + 2 pieces); refusals {}, drains {}; live heap +{heap_grew} \
         bytes; RSS {} -> {} KiB",
        m.written,
        seen.refusals.load(Ordering::SeqCst),
        seen.drains.load(Ordering::SeqCst),
        m.rss.0 / 1024,
        m.rss.1 / 1024
    );
    assert!(
        m.written <= bound,
        "the server took {} bytes for a peer that does not read (bound {bound})",
        m.written
    );
    assert!(
        heap_grew < HEAP_BOUND,
        "the heap grew by {heap_grew} bytes while the peer stalled"
    );
    assert!(
        rss_grew < RSS_BOUND,
        "RSS grew by {rss_grew} bytes while the peer stalled"
    );
    assert_eq!(stats.requests, m.honest + 1, "{stats:?}");
    assert_eq!(stats.responses, m.honest, "{stats:?}");
}

struct Measured {
    honest: u64,
    written: u64,
    rcvbuf: u64,
    heap: (usize, usize),
    rss: (u64, u64),
}
