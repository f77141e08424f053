//! HTTP/1.0: closed after each response unless the client asks for
//! `Connection: keep-alive`; a streamed body is delimited by the close.

mod server_util;

use bytes::Bytes;
use server_util::{Client, run_client, serve, test_options};

fn handler(
    lp: &mut eventide_loop_phases::Loop,
    req: eventide_http_mini::server::Request,
    res: eventide_http_mini::server::Response,
) {
    if req.path() == "/stream" {
        res.write(lp, Bytes::from_static(b"until "));
        res.write(lp, Bytes::from_static(b"close"));
        res.end(lp, None);
    } else {
        res.end(lp, Some(Bytes::from_static(b"one shot")));
    }
}

#[test]
fn http10_closes_by_default() {
    let (mut lp, server, _) = serve(test_options(), handler);
    let ((), _) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        c.request(b"GET / HTTP/1.0\r\n\r\n");
        c.request(b"GET /never HTTP/1.0\r\n\r\n");
        let r = c.response();
        assert_eq!(r.body_str(), "one shot");
        assert_eq!(r.header("content-length"), Some("8"));
        assert!(!r.head.keep_alive);
        c.assert_closed_quietly();
    });
}

#[test]
fn http10_keep_alive_on_request() {
    let (mut lp, server, _) = serve(test_options(), handler);
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        for _ in 0..3 {
            c.request(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            let r = c.response();
            assert_eq!(r.body_str(), "one shot");
            assert_eq!(r.header("connection"), Some("keep-alive"));
            assert!(r.head.keep_alive);
        }
        // A streamed response cannot be delimited but by closing.
        c.request(b"GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        let r = c.response();
        assert_eq!(r.body_str(), "until close");
        assert!(r.header("transfer-encoding").is_none());
        assert!(r.header("content-length").is_none());
        c.assert_closed_quietly();
    });
    assert_eq!(stats.connections, 1);
    assert_eq!(stats.requests, 4);
}
