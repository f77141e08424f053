//! The request body as the handler sees it: read late (buffered up to the
//! mark meanwhile), or not at all (the rest is discarded after the response
//! so the connection goes on, or the connection closes if that would be
//! more than `max_discard`).

mod server_util;

use std::time::Duration;

use bytes::Bytes;
use server_util::{Client, get, pattern, post, run_client, serve, test_options};

#[test]
fn body_read_late_arrives_whole() {
    let (mut lp, server, _) = serve(test_options(), |lp, req, res| {
        lp.set_timeout(Duration::from_millis(100), move |lp| {
            server_util::buffered_echo_handler(lp, req, res);
        });
    });
    let ((), _) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        for len in [10, 70_000, 1_000_000] {
            let data = pattern(len, len as u64);
            c.request(&post("/", &data));
            let r = c.response();
            assert!(r.body == data, "{len} bytes");
        }
    });
}

#[test]
fn unread_body_is_discarded_and_connection_goes_on() {
    let (mut lp, server, _) = serve(test_options(), |lp, req, res| {
        res.end(
            lp,
            Some(Bytes::from(format!("ignored body of {}", req.path()))),
        );
    });
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        // Under `max_discard` (1 MiB): the rest is read and dropped.
        let data = pattern(500_000, 1);
        c.request(&post("/a", &data));
        let r = c.response();
        assert_eq!(r.body_str(), "ignored body of /a");
        assert!(!r.says_close());
        c.request(&get("/b"));
        assert_eq!(c.response().body_str(), "ignored body of /b");
        // Chunked too.
        c.request(b"POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        assert_eq!(c.response().body_str(), "ignored body of /c");
        c.request(&get("/d"));
        assert_eq!(c.response().body_str(), "ignored body of /d");
    });
    assert_eq!(stats.connections, 1);
}

#[test]
fn unread_body_over_max_discard_closes() {
    let (mut lp, server, _) = serve(test_options(), |lp, _req, res| {
        res.end(lp, Some(Bytes::from_static(b"no thanks")));
    });
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        let head = b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n";
        c.request(head);
        let writer = {
            let mut w = c.stream.try_clone().unwrap();
            std::thread::spawn(move || {
                use std::io::Write;
                let chunk = vec![7u8; 64 * 1024];
                // Fails once the server closes.
                for _ in 0..1600 {
                    if w.write_all(&chunk).is_err() {
                        return true;
                    }
                }
                false
            })
        };
        assert_eq!(c.response().body_str(), "no thanks");
        match c.wait_closed(Duration::from_secs(5)) {
            server_util::Closed::Yes(rest) => assert!(rest.is_empty()),
            server_util::Closed::No(_) => panic!("not closed past max_discard"),
        }
        assert!(writer.join().unwrap(), "the upload was cut off");
    });
    assert_eq!(stats.responses, 1);
}
