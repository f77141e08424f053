//! Keep-alive: HTTP/1.1 connections carry many requests; an idle one is
//! closed after the keep-alive timeout, and not before.

mod server_util;

use std::time::{Duration, Instant};

use bytes::Bytes;
use server_util::{Client, Closed, get, post, run_client, serve, test_options};

#[test]
fn one_connection_carries_many_requests() {
    let (mut lp, server, _) = serve(test_options(), server_util::buffered_echo_handler);
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        for i in 0..20 {
            let body = format!("body {i}");
            c.request(&post("/", body.as_bytes()));
            let r = c.response();
            assert_eq!(r.body_str(), body);
            assert!(r.head.keep_alive && !r.says_close());
            c.request(&get("/"));
            assert_eq!(c.response().status(), 200);
        }
    });
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.requests, 40);
}

#[test]
fn idle_connection_closed_after_keep_alive_timeout() {
    let mut options = test_options();
    options.keep_alive_timeout = Some(Duration::from_millis(300));
    let (mut lp, server, _) = serve(options, |lp, _req, res| {
        res.end(lp, Some(Bytes::from_static(b"ok")));
    });
    let (idle_for, stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        // Activity within the timeout keeps the connection open.
        for _ in 0..4 {
            c.request(&get("/"));
            assert_eq!(c.response().body_str(), "ok");
            std::thread::sleep(Duration::from_millis(150));
        }
        let idle = Instant::now();
        match c.wait_closed(Duration::from_secs(5)) {
            Closed::Yes(rest) => assert!(rest.is_empty()),
            Closed::No(_) => panic!("idle connection not closed"),
        }
        idle.elapsed()
    });
    assert!(
        idle_for >= Duration::from_millis(100),
        "closed too early: {idle_for:?}"
    );
    assert!(
        idle_for < Duration::from_secs(2),
        "closed too late: {idle_for:?}"
    );
    assert_eq!(stats.idle_closed, 1);
    assert_eq!(stats.requests, 4);
}
