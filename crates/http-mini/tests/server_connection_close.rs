//! `Connection: close`: the response says so, the server closes after it,
//! and a request pipelined behind it is not served. A client that never
//! closes its side does not hold the connection forever.

mod server_util;

use std::time::Duration;

use bytes::Bytes;
use server_util::{Client, get, run_client, run_until, serve, spawn_client, test_options};

#[test]
fn connection_close_is_honoured() {
    let (mut lp, server, _) = serve(test_options(), |lp, req, res| {
        res.end(lp, Some(format!("served {}", req.path()).into()));
    });
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        c.request(&get("/a"));
        assert_eq!(c.response().body_str(), "served /a");
        c.request(b"GET /b HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        c.request(&get("/c"));
        let r = c.response();
        assert_eq!(r.body_str(), "served /b");
        assert!(r.says_close());
        c.assert_closed_quietly();
    });
    assert_eq!(stats.requests, 2);
}

/// The server writes its FIN after the last response; the socket is gone
/// from the server once the client closes too, or after a bounded linger if
/// the client never does.
#[test]
fn closed_connection_is_released() {
    let (mut lp, server, addr) = serve(test_options(), |lp, _req, res| {
        res.end(lp, Some(Bytes::from_static(b"bye")));
    });
    let (release, rx) = std::sync::mpsc::channel::<()>();
    let (client, _done) = spawn_client(addr, move |addr| {
        let mut polite = Client::connect(addr);
        polite.request(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assert!(polite.response().says_close());
        polite.assert_closed_quietly();
        drop(polite);
        let mut rude = Client::connect(addr);
        rude.request(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        assert!(rude.response().says_close());
        rude.assert_closed_quietly();
        // Keep the socket open until the test is over.
        let _ = rx.recv_timeout(Duration::from_secs(15));
        drop(rude);
    });
    let started = std::time::Instant::now();
    let stats = run_until(&mut lp, server, move |lp| {
        server.stats(lp).responses == 2 && server.connections(lp) == 0
    });
    let _ = release.send(());
    client.join().unwrap();
    assert_eq!(stats.connections, 2);
    assert!(started.elapsed() < Duration::from_secs(10));
}
