//! Malformed requests and requests over a limit get their status with
//! `Connection: close`, and nothing sent after them on the same connection
//! is treated as a request: a valid request pipelined right behind the bad
//! one gets no response, and the server closes.

mod server_util;

use eventide_http_mini::server::ServerOptions;
use server_util::{Client, get, run_client, serve, test_options};

/// `(name, raw request, expected status)`.
fn cases() -> Vec<(&'static str, Vec<u8>, u16)> {
    let mut cases: Vec<(&'static str, Vec<u8>, u16)> = Vec::new();
    let big = "a".repeat(17 * 1024);
    cases.push((
        "head over 16 KiB",
        format!("GET / HTTP/1.1\r\nHost: t\r\nX-Big: {big}\r\n\r\n").into_bytes(),
        431,
    ));
    let many: String = (0..101).map(|i| format!("X-H{i}: v\r\n")).collect();
    cases.push((
        "101 header fields",
        format!("GET / HTTP/1.1\r\nHost: t\r\n{many}\r\n").into_bytes(),
        431,
    ));
    let long = "a".repeat(9 * 1024);
    cases.push((
        "target over 8 KiB",
        format!("GET /{long} HTTP/1.1\r\nHost: t\r\n\r\n").into_bytes(),
        414,
    ));
    cases.push((
        "Content-Length over max_body_bytes",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 11\r\n\r\nhello world".to_vec(),
        413,
    ));
    cases.push((
        "chunked body over max_body_bytes",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"
            .to_vec(),
        413,
    ));
    cases.push((
        "Content-Length and Transfer-Encoding",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            .to_vec(),
        400,
    ));
    cases.push((
        "differing Content-Lengths",
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
            .to_vec(),
        400,
    ));
    cases.push((
        "bad chunk size",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
            .to_vec(),
        400,
    ));
    cases.push((
        "obs-fold",
        b"GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n  folded\r\n\r\n".to_vec(),
        400,
    ));
    cases.push((
        "space before colon",
        b"GET / HTTP/1.1\r\nHost : t\r\n\r\n".to_vec(),
        400,
    ));
    cases.push((
        "bad method character",
        b"G(T / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec(),
        400,
    ));
    cases.push((
        "Transfer-Encoding not ending in chunked",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n".to_vec(),
        400,
    ));
    cases.push((
        "Transfer-Encoding: gzip alone",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nhello".to_vec(),
        400,
    ));
    cases.push((
        "unknown transfer coding",
        b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
            .to_vec(),
        501,
    ));
    cases.push((
        "HTTP/1.2",
        b"GET / HTTP/1.2\r\nHost: t\r\n\r\n".to_vec(),
        505,
    ));
    cases.push((
        "HTTP/2.0",
        b"GET / HTTP/2.0\r\nHost: t\r\n\r\n".to_vec(),
        505,
    ));
    cases
}

fn options() -> ServerOptions {
    let mut o = test_options();
    o.limits.max_body_bytes = Some(10);
    o
}

#[test]
fn each_rejection_has_its_status_and_ends_the_connection() {
    // Reads the body before answering, so that an error in the body is
    // found before the handler responds (see the test below for after).
    let (mut lp, server, _) = serve(options(), server_util::buffered_echo_handler);
    let (failures, stats) = run_client(&mut lp, server, |addr| {
        let mut failures = Vec::new();
        for (name, raw, status) in cases() {
            let mut c = Client::connect(addr);
            c.request(&raw);
            // A valid request right behind the bad one must not be served.
            c.request(&get("/after"));
            let r = match c.try_response() {
                Ok(r) => r,
                Err(e) => {
                    failures.push(format!("{name}: no response: {e}"));
                    continue;
                }
            };
            if r.status() != status {
                failures.push(format!("{name}: status {} != {status}", r.status()));
            }
            if !r.says_close() {
                failures.push(format!("{name}: no `Connection: close`"));
            }
            match c.wait_closed(server_util::READ_TIMEOUT) {
                server_util::Closed::Yes(rest) if rest.is_empty() => {}
                other => failures.push(format!("{name}: after the rejection: {other:?}")),
            }
        }
        failures
    });
    assert!(failures.is_empty(), "{failures:#?}");
    // Only the two requests with a bad body reached the handler.
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.rejected, cases().len() as u64);
}

/// A request rejected after good pipelined ones is answered after theirs,
/// in order, and nothing after it is served.
#[test]
fn rejection_after_pipelined_requests_keeps_order() {
    let (mut lp, server, _) = serve(options(), |lp, req, res| {
        let path = req.path().to_owned();
        // Answer later than the server answers the bad request.
        lp.set_timeout(std::time::Duration::from_millis(50), move |lp| {
            res.end(lp, Some(path.into()));
        });
    });
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        let mut raw = get("/one");
        raw.extend_from_slice(&get("/two"));
        raw.extend_from_slice(b"GET / HTTP/1.1\r\nHost : t\r\n\r\n");
        raw.extend_from_slice(&get("/three"));
        for m in ["GET", "GET", "GET", "GET"] {
            c.expect(m);
        }
        c.send(&raw);
        let one = c.response();
        assert_eq!((one.status(), one.body_str()), (200, "/one"));
        let two = c.response();
        assert_eq!((two.status(), two.body_str()), (200, "/two"));
        let bad = c.response();
        assert_eq!(bad.status(), 400);
        assert!(bad.says_close());
        c.assert_closed_quietly();
    });
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.rejected, 1);
}

/// A body over the limit that is streaming to the handler ends the body
/// stream with an error, and the client gets 413.
#[test]
fn chunked_body_over_limit_mid_stream_gets_413() {
    let errored = std::rc::Rc::new(std::cell::Cell::new(false));
    let e = errored.clone();
    let (mut lp, server, _) = serve(options(), move |lp, req, _res| {
        let body = req.body(lp);
        let e = e.clone();
        body.on_data(lp, |_, _| {});
        body.on_error(lp, move |_, _| e.set(true));
    });
    let ((), _) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        c.request(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
        c.send(b"6\r\nworld!\r\n0\r\n\r\n");
        let r = c.response();
        assert_eq!(r.status(), 413);
        assert!(r.says_close());
        c.assert_closed_quietly();
    });
    assert!(errored.get(), "the body stream saw the error");
}

/// A handler that answered before the bad part of its body arrived: its
/// response stands, no second response follows it, and the connection
/// closes.
#[test]
fn body_error_after_the_response_closes_without_a_second_response() {
    let (mut lp, server, _) = serve(options(), |lp, _req, res| {
        res.end(lp, Some(bytes::Bytes::from_static(b"early")));
    });
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        c.request(
            b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
        );
        let r = c.response();
        assert_eq!((r.status(), r.body_str()), (200, "early"));
        c.send(b"zz\r\n");
        c.request(&get("/after"));
        c.assert_closed_quietly();
    });
    assert_eq!(stats.rejected, 1);
    assert_eq!(stats.responses, 1);
}
