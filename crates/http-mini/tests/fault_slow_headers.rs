//! Fault: slow-loris peers send their head a byte every 200–300 ms.
//!
//! With a 1 s headers timeout, each is cut off about 1 s after its first
//! byte with `408` and `Connection: close`, then closed; none reaches the
//! handler. Honest clients (kept-alive and new connections) are served
//! exactly while the slow peers trickle.

mod fault_util;
mod server_util;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use fault_util::{Honest, Mode, honest_handler, is_honest};
use server_util::{Client, Closed, READ_TIMEOUT, run_client, serve, test_options};

const HEADERS_TIMEOUT: Duration = Duration::from_secs(1);
const SLOW_PEERS: u64 = 4;

/// What a slow peer saw.
struct Cut {
    /// Everything the server sent, up to its close.
    got: Vec<u8>,
    /// From the first byte sent to the first byte received.
    after: Duration,
    closed: bool,
}

/// Sends a head one byte at a time, every 200–300 ms, reading between
/// bytes, until the server answers; then reads to the close.
fn slow_loris(addr: SocketAddr, seed: u64) -> Cut {
    let mut c = Client::connect(addr);
    let head =
        b"GET /slow HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    let started = Instant::now();
    for (i, &b) in head.iter().enumerate() {
        if c.stream.write_all(&[b]).is_err() {
            break;
        }
        let pause = Duration::from_millis(200 + (seed * 37 + i as u64 * 53) % 101);
        c.stream.set_read_timeout(Some(pause)).unwrap();
        let mut buf = [0u8; 4096];
        let r = c.stream.read(&mut buf);
        c.stream.set_read_timeout(Some(READ_TIMEOUT)).unwrap();
        match r {
            Ok(0) => {
                return Cut {
                    got: Vec::new(),
                    after: started.elapsed(),
                    closed: true,
                };
            }
            Ok(n) => {
                let after = started.elapsed();
                let mut got = buf[..n].to_vec();
                let closed = match c.wait_closed(Duration::from_secs(3)) {
                    Closed::Yes(rest) => {
                        got.extend_from_slice(&rest);
                        true
                    }
                    Closed::No(rest) => {
                        got.extend_from_slice(&rest);
                        false
                    }
                };
                return Cut { got, after, closed };
            }
            Err(_) => {} // nothing yet: the next byte
        }
    }
    panic!(
        "a head trickled for {:?} and was never cut off",
        started.elapsed()
    );
}

#[test]
fn slow_headers_are_cut_off_with_408_while_others_are_served() {
    let mut options = test_options();
    options.headers_timeout = Some(HEADERS_TIMEOUT);
    let (mut lp, server, _) = serve(options, |lp, req, res| {
        if is_honest(&req) {
            return honest_handler(lp, req, res);
        }
        res.end(lp, Some(Bytes::from_static(b"a slow head got through")));
    });
    let (honest, stats) = run_client(&mut lp, server, |addr| {
        let honest = Honest::start(addr, Mode::KeptAndFresh);
        let slow: Vec<_> = (0..SLOW_PEERS)
            .map(|i| std::thread::spawn(move || slow_loris(addr, i)))
            .collect();
        // (b) Served while the slow peers trickle (their cut comes at 1 s).
        honest.wait_progress(30, Duration::from_secs(5));
        for t in slow {
            let cut = t.join().unwrap();
            let text = String::from_utf8_lossy(&cut.got);
            // (a) 408, close, at the timeout (not early, not much later).
            assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
            assert!(text.contains("\r\nConnection: close\r\n"), "{text}");
            assert!(cut.closed, "the server kept the connection after its 408");
            assert!(
                cut.after >= HEADERS_TIMEOUT - Duration::from_millis(50),
                "cut off early: {:?}",
                cut.after
            );
            assert!(
                cut.after < HEADERS_TIMEOUT + Duration::from_millis(800),
                "cut off late: {:?}",
                cut.after
            );
        }
        honest.wait_progress(5, Duration::from_secs(5));
        honest.stop()
    });
    assert_eq!(stats.timeouts, SLOW_PEERS, "{stats:?}");
    // (c) No slow head reached the handler; every honest request did.
    assert_eq!(stats.requests, honest, "{stats:?}");
    assert_eq!(stats.responses, honest + SLOW_PEERS, "{stats:?}");
}
