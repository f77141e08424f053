//! Fault: a peer sends half a request body, then resets the connection
//! (RST, not FIN).
//!
//! The handler reading that body sees it fail (`error`, never `end`), the
//! response's `close` listener runs, and the connection is released (the
//! server's open count returns to its baseline); meanwhile an honest client
//! on another connection is answered exactly, request after request.

mod fault_util;
mod server_util;

use std::io::Write;
use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use fault_util::{
    Honest, Mode, counter, honest_handler, is_honest, publish_connections, reset, wait_connections,
    wait_until,
};
use server_util::{pattern, run_client, serve, test_options};

const DECLARED: usize = 1024 * 1024;
const SENT: usize = DECLARED / 2;
const RESETS: u64 = 5;

#[test]
fn reset_mid_request_body_fails_only_that_request() {
    let received = counter();
    let body_errors = counter();
    let body_ends = counter();
    let res_closed = counter();
    let (r, e, n, c) = (
        received.clone(),
        body_errors.clone(),
        body_ends.clone(),
        res_closed.clone(),
    );
    let (mut lp, server, _) = serve(test_options(), move |lp, req, res| {
        if is_honest(&req) {
            return honest_handler(lp, req, res);
        }
        // `/upload`: count the body as it streams in; answer at its end.
        let body = req.body(lp);
        let r = r.clone();
        body.on_data(lp, move |_, chunk: Bytes| {
            r.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        });
        let n = n.clone();
        body.on_end(lp, move |lp| {
            n.fetch_add(1, Ordering::SeqCst);
            res.end(lp, Some(Bytes::from_static(b"got it")));
        });
        let e = e.clone();
        body.on_error(lp, move |_, _| {
            e.fetch_add(1, Ordering::SeqCst);
        });
        let c = c.clone();
        res.on_close(lp, move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        });
    });
    let open = publish_connections(&mut lp, server);
    let ((honest, received_total), stats) = run_client(&mut lp, server, move |addr| {
        let honest = Honest::start(addr, Mode::Kept);
        wait_connections(&open, 1, Duration::from_secs(5));
        let half = pattern(SENT, 5);
        for i in 1..=RESETS {
            let mut peer = TcpStream::connect(addr).unwrap();
            peer.set_write_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let head =
                format!("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: {DECLARED}\r\n\r\n");
            peer.write_all(head.as_bytes()).unwrap();
            peer.write_all(&half).unwrap();
            // The handler has the half body: the request is in flight.
            let want = i * SENT as u64;
            wait_until(
                "the half body to reach the handler",
                Duration::from_secs(5),
                || received.load(Ordering::SeqCst) == want,
            );
            wait_connections(&open, 2, Duration::from_secs(1));
            reset(peer);
            // (a) That request fails, and its connection is released.
            wait_until("the body stream to fail", Duration::from_secs(2), || {
                body_errors.load(Ordering::SeqCst) == i
            });
            wait_until(
                "the response's close listener",
                Duration::from_secs(2),
                || res_closed.load(Ordering::SeqCst) == i,
            );
            wait_connections(&open, 1, Duration::from_secs(2));
            // (b) The honest client is served while this goes on.
            honest.wait_progress(5, Duration::from_secs(5));
        }
        assert_eq!(body_ends.load(Ordering::SeqCst), 0, "a cut body ended");
        // (c) Every honest request got its exact response.
        let honest = honest.stop();
        wait_connections(&open, 0, Duration::from_secs(5));
        (honest, received.load(Ordering::SeqCst))
    });
    assert_eq!(received_total, RESETS * SENT as u64);
    assert_eq!(stats.requests, honest + RESETS, "{stats:?}");
    // Every honest request was answered; no reset one was.
    assert_eq!(stats.responses, honest, "{stats:?}");
}
