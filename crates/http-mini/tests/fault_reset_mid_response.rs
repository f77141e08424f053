//! Fault: a peer asks for a large response (8 MiB, streamed by the handler
//! with `write` / `on_drain`), reads a little of it, then resets.
//!
//! The server's failed writes hit only that connection: the response's
//! `close` listener runs, the handler stops being asked for more (no drain
//! comes), the connection is released (the open count returns to its
//! baseline), and an honest client on another connection is answered
//! exactly throughout.

mod fault_util;
mod server_util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use eventide_http_mini::server::Response;
use eventide_loop_phases::Loop;
use fault_util::{
    Honest, Mode, counter, honest_handler, is_honest, publish_connections, reset, wait_connections,
    wait_until,
};
use server_util::{get, run_client, serve, test_options};

const TOTAL: u64 = 8 * 1024 * 1024;
const PIECE: usize = 64 * 1024;
const RESETS: u64 = 5;
/// What the peer reads before resetting.
const READ_FIRST: usize = 64 * 1024;

/// What the handler side saw.
#[derive(Clone, Default)]
struct Seen {
    written: Arc<AtomicU64>,
    closed: Arc<AtomicU64>,
    finished: Arc<AtomicU64>,
    /// `write` calls after the response's `close` listener ran.
    writes_after_close: Arc<AtomicU64>,
}

/// Writes fresh 64 KiB pieces until `write` says stop, then waits for drain.
fn pump(lp: &mut Loop, res: Response, at: u64, seen: Seen, closed: Arc<AtomicU64>) {
    let mut at = at;
    while at < TOTAL {
        if closed.load(Ordering::SeqCst) > 0 {
            seen.writes_after_close.fetch_add(1, Ordering::SeqCst);
        }
        let piece = Bytes::from(vec![(at / PIECE as u64) as u8; PIECE]);
        let more = res.write(lp, piece);
        at += PIECE as u64;
        seen.written.fetch_add(PIECE as u64, Ordering::SeqCst);
        if !more {
            let mut once = Some((seen, closed));
            res.on_drain(lp, move |lp| {
                if let Some((s, c)) = once.take() {
                    pump(lp, res, at, s, c);
                }
            });
            return;
        }
    }
    res.end(lp, None);
}

#[test]
fn reset_mid_response_costs_only_that_connection() {
    let seen = Seen::default();
    let s = seen.clone();
    let (mut lp, server, _) = serve(test_options(), move |lp, req, res| {
        if is_honest(&req) {
            return honest_handler(lp, req, res);
        }
        // `/big`: 8 MiB, chunked, written as the socket takes it.
        let mine = counter(); // this response's own close flag
        let (m, c) = (mine.clone(), s.closed.clone());
        res.on_close(lp, move |_| {
            m.fetch_add(1, Ordering::SeqCst);
            c.fetch_add(1, Ordering::SeqCst);
        });
        let f = s.finished.clone();
        res.on_finish(lp, move |_| {
            f.fetch_add(1, Ordering::SeqCst);
        });
        pump(lp, res, 0, s.clone(), mine);
    });
    let open = publish_connections(&mut lp, server);
    let seen2 = seen.clone();
    let (honest, stats) = run_client(&mut lp, server, move |addr| {
        let seen = seen2;
        let honest = Honest::start(addr, Mode::Kept);
        wait_connections(&open, 1, Duration::from_secs(5));
        for i in 1..=RESETS {
            let mut peer = TcpStream::connect(addr).unwrap();
            peer.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            peer.write_all(&get("/big")).unwrap();
            let mut got = vec![0u8; READ_FIRST];
            peer.read_exact(&mut got).unwrap();
            assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
            wait_connections(&open, 2, Duration::from_secs(1));
            reset(peer);
            // (a) The response is told it closed; its connection goes.
            wait_until(
                "the response's close listener",
                Duration::from_secs(2),
                || seen.closed.load(Ordering::SeqCst) == i,
            );
            wait_connections(&open, 1, Duration::from_secs(2));
            // (b) The honest client is served meanwhile.
            honest.wait_progress(5, Duration::from_secs(5));
        }
        let honest = honest.stop();
        wait_connections(&open, 0, Duration::from_secs(5));
        honest
    });
    let written = seen.written.load(Ordering::SeqCst);
    assert!(
        written < RESETS * TOTAL,
        "every 8 MiB response was written in full ({written} bytes): the resets were not seen"
    );
    assert_eq!(
        seen.finished.load(Ordering::SeqCst),
        0,
        "a cut response finished"
    );
    assert_eq!(seen.writes_after_close.load(Ordering::SeqCst), 0);
    assert_eq!(stats.requests, honest + RESETS, "{stats:?}");
    assert_eq!(stats.responses, honest, "{stats:?}");
}
