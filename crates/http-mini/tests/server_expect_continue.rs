//! `Expect: 100-continue`: the server sends `100 Continue` when the handler
//! reads the body, and not at all when the handler answers without it.

mod server_util;

use std::time::Duration;

use bytes::Bytes;
use server_util::{Client, Closed, get, pattern, run_client, serve, test_options};

#[test]
fn continue_sent_when_handler_reads_the_body() {
    let (mut lp, server, _) = serve(test_options(), server_util::buffered_echo_handler);
    let ((), _) = run_client(&mut lp, server, |addr| {
        let body = pattern(200_000, 9);
        let mut c = Client::connect(addr);
        c.request(
            format!(
                "POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        // The client sends nothing more until told to.
        let interim = c.response();
        assert_eq!(interim.status(), 100);
        c.send(&body);
        let r = c.response();
        assert_eq!(r.status(), 200);
        assert!(r.body == body);
        // Still usable.
        c.request(&get("/"));
        assert_eq!(c.response().status(), 200);
    });
}

/// A handler that creates the body stream while an earlier pipelined
/// response is still in flight: `100 Continue` goes out only once that
/// response is done (never inside another response).
#[test]
fn continue_waits_for_earlier_responses() {
    let (mut lp, server, _) = serve(test_options(), |lp, req, res| {
        if req.path() == "/slow" {
            lp.set_timeout(Duration::from_millis(100), move |lp| {
                res.end(lp, Some(Bytes::from_static(b"slow")));
            });
        } else {
            server_util::buffered_echo_handler(lp, req, res);
        }
    });
    let ((), _) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        c.request(&get("/slow"));
        c.request(
            b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        );
        assert_eq!(c.response().body_str(), "slow");
        assert_eq!(c.response().status(), 100);
        c.send(b"hello");
        assert_eq!(c.response().body_str(), "hello");
    });
}

#[test]
fn no_continue_when_handler_answers_without_reading() {
    let (mut lp, server, _) = serve(test_options(), |lp, _req, res| {
        res.set_status(lp, 413);
        res.end(lp, Some(Bytes::from_static(b"too big for me")));
    });
    let ((), _) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        c.request(
            b"PUT / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1000000\r\n\r\n",
        );
        let r = c.response();
        assert_eq!(r.status(), 413, "no 100 Continue first");
        assert_eq!(r.body_str(), "too big for me");
        // The body may or may not follow; the connection cannot be reused,
        // and the response says so.
        assert!(r.says_close());
        match c.wait_closed(Duration::from_secs(3)) {
            Closed::Yes(rest) => assert!(rest.is_empty()),
            Closed::No(_) => panic!("connection left open"),
        }
    });
}
