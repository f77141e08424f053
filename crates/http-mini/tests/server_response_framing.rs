//! How a response body is framed: one `end` with the whole body gives
//! `Content-Length`; `write` then `end` streams chunked (HTTP/1.1).

mod server_util;

use bytes::Bytes;
use server_util::{Client, get, pattern, run_client, serve, test_options};

#[test]
fn end_sets_content_length_and_write_streams_chunked() {
    let big = Bytes::from(pattern(300_000, 3));
    let b2 = big.clone();
    let (mut lp, server, _) = serve(test_options(), move |lp, req, res| match req.path() {
        "/whole" => res.end(lp, Some(b2.clone())),
        "/empty" => res.end(lp, None),
        "/stream" => {
            res.write(lp, b2.slice(..1000));
            res.write(lp, b2.slice(1000..200_000));
            res.end(lp, Some(b2.slice(200_000..)));
        }
        "/declared" => {
            let _ = res.set_header(lp, "Content-Length", "5");
            res.write(lp, Bytes::from_static(b"he"));
            res.end(lp, Some(Bytes::from_static(b"llo")));
        }
        _ => {
            res.set_status(lp, 204);
            res.end(lp, None);
        }
    });
    let ((), _) = run_client(&mut lp, server, move |addr| {
        let mut c = Client::connect(addr);
        c.request(&get("/whole"));
        let r = c.response();
        assert_eq!(r.header("content-length"), Some("300000"));
        assert!(r.header("transfer-encoding").is_none());
        assert!(r.body == big[..]);

        c.request(&get("/empty"));
        let r = c.response();
        assert_eq!(r.header("content-length"), Some("0"));
        assert!(r.body.is_empty());

        c.request(&get("/stream"));
        let r = c.response();
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        assert!(r.header("content-length").is_none());
        assert!(r.body == big[..]);

        c.request(&get("/declared"));
        let r = c.response();
        assert_eq!(r.header("content-length"), Some("5"));
        assert_eq!(r.body_str(), "hello");

        c.request(&get("/nocontent"));
        let r = c.response();
        assert_eq!(r.status(), 204);
        assert!(r.header("content-length").is_none());
        assert!(r.header("transfer-encoding").is_none());

        // Still in sync.
        c.request(&get("/empty"));
        assert_eq!(c.response().status(), 200);
    });
}
