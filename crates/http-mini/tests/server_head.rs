//! `HEAD`: the response has the head a `GET` would get (Content-Length of
//! the would-be body) and no body, and the connection stays usable.

mod server_util;

use bytes::Bytes;
use server_util::{Client, get, run_client, serve, test_options};

#[test]
fn head_has_length_of_would_be_body_and_no_body() {
    let (mut lp, server, _) = serve(test_options(), |lp, req, res| {
        if req.path() == "/stream" {
            res.write(lp, Bytes::from_static(b"streamed "));
            res.end(lp, Some(Bytes::from_static(b"body")));
        } else {
            res.end(lp, Some(Bytes::from_static(b"twelve bytes")));
        }
    });
    let ((), _) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        c.request(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.response();
        assert_eq!(r.status(), 200);
        assert_eq!(r.header("content-length"), Some("12"));
        assert!(r.body.is_empty());
        // If any body byte had been sent, this response would be misread.
        c.request(&get("/"));
        assert_eq!(c.response().body_str(), "twelve bytes");
        c.request(b"HEAD /stream HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.response();
        assert_eq!(r.status(), 200);
        assert!(r.body.is_empty());
        c.request(&get("/stream"));
        assert_eq!(c.response().body_str(), "streamed body");
        // Pipelined HEAD and GET, in one write.
        c.expect("HEAD");
        c.expect("GET");
        let mut both = b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n".to_vec();
        both.extend_from_slice(&get("/"));
        c.send(&both);
        assert!(c.response().body.is_empty());
        assert_eq!(c.response().body_str(), "twelve bytes");
        // Nothing more arrives.
        c.shutdown_write();
        c.assert_closed_quietly();
    });
}
