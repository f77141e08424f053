//! Deadlines: a head trickling in is cut off at the headers timeout with
//! 408, a body trickling in at the request timeout (counted from the
//! request's first byte) with 408, both then closing.

mod server_util;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use bytes::Bytes;
use server_util::{Client, Closed, get, run_client, serve, test_options};

fn options() -> eventide_http_mini::server::ServerOptions {
    let mut o = test_options();
    o.headers_timeout = Some(Duration::from_millis(300));
    o.request_timeout = Some(Duration::from_millis(600));
    o
}

/// Sends `bytes` one byte every `every`, until the server answers or closes.
/// Returns what arrived (up to the close) and when it began to arrive.
fn trickle(c: &mut Client, bytes: &[u8], every: Duration) -> (Vec<u8>, Duration) {
    let started = Instant::now();
    for &b in bytes {
        if c.stream.write_all(&[b]).is_err() {
            break;
        }
        c.stream.set_read_timeout(Some(every)).unwrap();
        let mut buf = [0u8; 4096];
        let r = c.stream.read(&mut buf);
        c.stream
            .set_read_timeout(Some(server_util::READ_TIMEOUT))
            .unwrap();
        match r {
            Ok(0) => return (Vec::new(), started.elapsed()),
            Ok(n) => {
                let after = started.elapsed();
                let mut got = buf[..n].to_vec();
                let (Closed::Yes(rest) | Closed::No(rest)) = c.wait_closed(Duration::from_secs(3));
                got.extend_from_slice(&rest);
                return (got, after);
            }
            Err(_) => {} // nothing yet: next byte
        }
    }
    panic!(
        "the server never answered a request trickling in for {:?}",
        started.elapsed()
    );
}

#[test]
fn slow_head_gets_408_at_headers_timeout() {
    let (mut lp, server, _) = serve(options(), |lp, _req, res| {
        res.end(lp, Some(Bytes::from_static(b"ok")));
    });
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        let head = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        let (got, after) = trickle(&mut c, head, Duration::from_millis(100));
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
        assert!(text.contains("Connection: close"), "{text}");
        assert!(
            after >= Duration::from_millis(250),
            "cut off early: {after:?}"
        );
        assert!(
            after < Duration::from_millis(1500),
            "cut off late: {after:?}"
        );
    });
    assert_eq!(stats.timeouts, 1);
    assert_eq!(stats.requests, 0);
}

/// The headers timer starts at the first byte of a request on a kept-alive
/// connection too.
#[test]
fn slow_second_head_on_kept_alive_connection_gets_408() {
    let (mut lp, server, _) = serve(options(), |lp, _req, res| {
        res.end(lp, Some(Bytes::from_static(b"ok")));
    });
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        c.request(&get("/"));
        assert_eq!(c.response().body_str(), "ok");
        std::thread::sleep(Duration::from_millis(400)); // idle is not a timeout
        let (got, after) = trickle(
            &mut c,
            &get("/slow-loris-target-xxxxxxxxxxxxxxxx"),
            Duration::from_millis(100),
        );
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
        assert!(
            after < Duration::from_millis(1500),
            "cut off late: {after:?}"
        );
    });
    assert_eq!(stats.timeouts, 1);
}

#[test]
fn slow_body_gets_408_at_request_timeout() {
    let (mut lp, server, _) = serve(options(), server_util::buffered_echo_handler);
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        let started = Instant::now();
        // The head takes 250 ms (under the headers timeout) ...
        for chunk in [
            &b"POST / HTTP/1.1\r\nHost: t\r\n"[..],
            b"Content-Length: 100\r\n\r\n",
        ] {
            c.send(chunk);
            std::thread::sleep(Duration::from_millis(125));
        }
        // ... and the body never completes.
        c.expect("POST");
        let mut sent = 0;
        let r = loop {
            c.send(b"x");
            sent += 1;
            assert!(sent < 100);
            c.stream
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let mut peek = [0u8; 1];
            if c.stream.peek(&mut peek).is_ok() {
                c.stream
                    .set_read_timeout(Some(server_util::READ_TIMEOUT))
                    .unwrap();
                break c.response();
            }
        };
        let after = started.elapsed();
        assert_eq!(r.status(), 408);
        assert!(r.says_close());
        c.assert_closed_quietly();
        // 600 ms from the first byte, not from the end of the head.
        assert!(after >= Duration::from_millis(500), "early: {after:?}");
        assert!(after < Duration::from_millis(1500), "late: {after:?}");
    });
    assert_eq!(stats.timeouts, 1);
    assert_eq!(
        stats.responses, 1,
        "one response: the 408 in the handler's place"
    );
}

/// A request that completes within its deadlines is not affected, however
/// long its handler takes.
#[test]
fn slow_handler_is_not_a_timeout() {
    let (mut lp, server, _) = serve(options(), |lp, _req, res| {
        lp.set_timeout(Duration::from_millis(800), move |lp| {
            res.end(lp, Some(Bytes::from_static(b"late but fine")));
        });
    });
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        c.request(&server_util::post("/", b"body"));
        assert_eq!(c.response().body_str(), "late but fine");
    });
    assert_eq!(stats.timeouts, 0);
}

/// The body of a request pipelined behind another with a body is timed too
/// (from when its head was parsed).
#[test]
fn slow_body_of_second_pipelined_request_gets_408() {
    let (mut lp, server, _) = serve(options(), server_util::buffered_echo_handler);
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        let mut both = server_util::post("/1", b"x");
        both.extend_from_slice(b"POST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n");
        c.expect("POST");
        c.expect("POST");
        c.send(&both);
        assert_eq!(c.response().body_str(), "x");
        let started = Instant::now();
        let mut r = None;
        for _ in 0..40 {
            c.send(b"y");
            c.stream
                .set_read_timeout(Some(Duration::from_millis(50)))
                .unwrap();
            let mut peek = [0u8; 1];
            if c.stream.peek(&mut peek).is_ok() {
                c.stream
                    .set_read_timeout(Some(server_util::READ_TIMEOUT))
                    .unwrap();
                r = Some(c.response());
                break;
            }
        }
        let r = r.expect("the trickled body was never cut off");
        assert_eq!(r.status(), 408);
        assert!(started.elapsed() < Duration::from_millis(1000));
        c.assert_closed_quietly();
    });
    assert_eq!(stats.timeouts, 1);
}

/// The start of a second request sent in the same packet as a first one
/// that is answered at once is timed too.
#[test]
fn slow_head_pipelined_behind_an_answered_request_gets_408() {
    let (mut lp, server, _) = serve(options(), |lp, _req, res| {
        res.end(lp, Some(Bytes::from_static(b"ok")));
    });
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        let mut first = get("/");
        first.extend_from_slice(b"GET /second HTTP/1.1\r\n");
        c.request(&first);
        assert_eq!(c.response().body_str(), "ok");
        let (got, after) = trickle(
            &mut c,
            b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n",
            Duration::from_millis(100),
        );
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 408 "), "{text}");
        assert!(
            after < Duration::from_millis(1500),
            "cut off late: {after:?}"
        );
    });
    assert_eq!(stats.timeouts, 1);
}
