//! Fault: a peer half-closes (`shutdown(Write)`, a FIN) its connection.
//!
//! After complete requests, a FIN only says "no more requests": every
//! request before it (one, several pipelined, one with a large streamed
//! response) is answered in full, then the server closes. In the middle of
//! a head, the FIN cuts the request short: the peer gets nothing (no
//! response to a request it never finished) and the connection is released.
//! An honest client on another connection is served exactly meanwhile.

mod fault_util;
mod server_util;

use std::time::Duration;

use bytes::Bytes;
use eventide_http_mini::server::Response;
use eventide_loop_phases::Loop;
use fault_util::{Honest, Mode, honest_handler, is_honest, publish_connections, wait_connections};
use server_util::{Client, Closed, get, pattern, run_client, serve, test_options};

const BIG: usize = 1024 * 1024;

/// Streams `data` in 16 KiB pieces, respecting `write`'s answer.
fn pump(lp: &mut Loop, res: Response, data: Bytes, at: usize) {
    let mut at = at;
    while at < data.len() {
        let end = (at + 16 * 1024).min(data.len());
        let more = res.write(lp, data.slice(at..end));
        at = end;
        if !more {
            let mut once = Some(data);
            res.on_drain(lp, move |lp| {
                if let Some(d) = once.take() {
                    pump(lp, res, d, at);
                }
            });
            return;
        }
    }
    res.end(lp, None);
}

fn handler() -> impl FnMut(&mut Loop, eventide_http_mini::server::Request, Response) {
    let big = Bytes::from(pattern(BIG, 21));
    move |lp, req, res| {
        if is_honest(&req) {
            return honest_handler(lp, req, res);
        }
        if req.path() == "/big" {
            pump(lp, res, big.clone(), 0);
        } else {
            res.end(lp, Some(Bytes::from(format!("answer to {}", req.path()))));
        }
    }
}

#[test]
fn requests_before_a_fin_are_answered_in_full() {
    let (mut lp, server, _) = serve(test_options(), handler());
    let open = publish_connections(&mut lp, server);
    let (honest, stats) = run_client(&mut lp, server, move |addr| {
        let honest = Honest::start(addr, Mode::KeptAndFresh);

        // One request, then FIN at once.
        let mut c = Client::connect(addr);
        c.request(&get("/one"));
        c.shutdown_write();
        assert_eq!(c.response().body_str(), "answer to /one");
        c.assert_closed_quietly();

        // Three pipelined in one write, then FIN: three answers, in order.
        let mut c = Client::connect(addr);
        let mut raw = Vec::new();
        for p in ["/p1", "/p2", "/p3"] {
            c.expect("GET");
            raw.extend_from_slice(&get(p));
        }
        c.send(&raw);
        c.shutdown_write();
        for p in ["/p1", "/p2", "/p3"] {
            assert_eq!(c.response().body_str(), format!("answer to {p}"));
        }
        c.assert_closed_quietly();
        honest.wait_progress(5, Duration::from_secs(5));

        // A large streamed response, the FIN sent before any of it was read.
        let mut c = Client::connect(addr);
        c.request(&get("/big"));
        c.shutdown_write();
        let r = c.response();
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert!(r.body == pattern(BIG, 21), "the 1 MiB body differs");
        c.assert_closed_quietly();

        honest.wait_progress(5, Duration::from_secs(5));
        let n = honest.stop();
        wait_connections(&open, 0, Duration::from_secs(5));
        n
    });
    assert_eq!(stats.requests, honest + 5, "{stats:?}");
    assert_eq!(stats.responses, honest + 5, "{stats:?}");
}

#[test]
fn fin_mid_head_gets_nothing_and_releases_the_connection() {
    let (mut lp, server, _) = serve(test_options(), handler());
    let open = publish_connections(&mut lp, server);
    let (honest, stats) = run_client(&mut lp, server, move |addr| {
        let honest = Honest::start(addr, Mode::Kept);
        wait_connections(&open, 1, Duration::from_secs(5));
        let cuts: [&[u8]; 3] = [
            b"GET /cut HTTP/1.1\r\nHost: t\r\nX-Par",
            b"GE",
            b"GET /cut HTTP/1.1\r\nHost: t\r\n\r",
        ];
        for cut in cuts {
            let mut c = Client::connect(addr);
            c.send(cut);
            wait_connections(&open, 2, Duration::from_secs(1));
            c.shutdown_write();
            // (a) Nothing at all comes back, and the server closes.
            match c.wait_closed(Duration::from_secs(2)) {
                Closed::Yes(rest) => assert!(
                    rest.is_empty(),
                    "a response to a half request: {:?}",
                    String::from_utf8_lossy(&rest)
                ),
                Closed::No(_) => panic!("the server kept a half-closed, half-sent connection"),
            }
            // The connection is released, not left lingering.
            wait_connections(&open, 1, Duration::from_secs(2));
            // (b) The honest client is served meanwhile.
            honest.wait_progress(5, Duration::from_secs(5));
        }

        // A complete request, then half of a second one, then FIN: the first
        // is answered, the second gets nothing.
        let mut c = Client::connect(addr);
        c.request(&get("/whole"));
        c.send(b"GET /half HTTP/1.1\r\nHo");
        c.shutdown_write();
        assert_eq!(c.response().body_str(), "answer to /whole");
        c.assert_closed_quietly();
        wait_connections(&open, 1, Duration::from_secs(2));

        let n = honest.stop();
        wait_connections(&open, 0, Duration::from_secs(5));
        n
    });
    // (c) The half requests never reached the handler; everything else was
    // answered.
    assert_eq!(stats.requests, honest + 1, "{stats:?}");
    assert_eq!(stats.responses, honest + 1, "{stats:?}");
}
