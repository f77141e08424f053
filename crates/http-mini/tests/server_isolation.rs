//! Bad or slow peers cost only their own connection: while one connection
//! trickles its head (and is timed out), others send malformed requests,
//! and another stalls a large upload nobody reads, a well-behaved client
//! keeps being served, on a kept-alive connection and on new ones.

mod server_util;

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use server_util::{Client, get, run_client, serve, test_options};

#[test]
fn good_client_served_while_others_misbehave() {
    let mut options = test_options();
    options.headers_timeout = Some(Duration::from_millis(300));
    options.request_timeout = Some(Duration::from_millis(600));
    let (mut lp, server, _) = serve(options, |lp, req, res| {
        if req.path() == "/upload" {
            return; // never reads, never answers
        }
        res.end(lp, Some(Bytes::from(format!("ok {}", req.path()))));
    });
    let (served, stats) = run_client(&mut lp, server, |addr| {
        let stop = Arc::new(AtomicBool::new(false));
        let mut bad = Vec::new();
        // Slow loris: one byte every 100 ms, over and over.
        let s = stop.clone();
        bad.push(std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let Ok(mut c) = TcpStream::connect(addr) else {
                    return;
                };
                for &b in b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: 1111111111111111\r\n\r\n" {
                    if s.load(Ordering::SeqCst) || c.write_all(&[b]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
        }));
        // Malformed requests, back to back.
        let s = stop.clone();
        bad.push(std::thread::spawn(move || {
            while !s.load(Ordering::SeqCst) {
                let mut c = Client::connect(addr);
                c.request(
                    b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                );
                assert_eq!(c.response().status(), 400);
                c.assert_closed_quietly();
            }
        }));
        // A stalled upload.
        let s = stop.clone();
        bad.push(std::thread::spawn(move || {
            let mut c = TcpStream::connect(addr).unwrap();
            c.set_write_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let _ = c
                .write_all(b"PUT /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 100000000\r\n\r\n");
            let chunk = vec![0u8; 64 * 1024];
            while !s.load(Ordering::SeqCst) && c.write_all(&chunk).is_ok() {}
            while !s.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(10));
            }
        }));

        // The well-behaved client, for about 1.5 s.
        let mut served = 0;
        let mut kept = Client::connect(addr);
        for i in 0..50 {
            let path = format!("/k{i}");
            kept.request(&get(&path));
            let r = kept.response();
            assert_eq!(r.body_str(), format!("ok {path}"));
            let fresh = server_util::one_shot(addr, &get(&format!("/n{i}")));
            assert_eq!(fresh.body_str(), format!("ok /n{i}"));
            served += 2;
            std::thread::sleep(Duration::from_millis(30));
        }
        stop.store(true, Ordering::SeqCst);
        for t in bad {
            t.join().unwrap();
        }
        served
    });
    assert_eq!(served, 100);
    assert!(stats.timeouts >= 2, "slow loris cut off: {stats:?}");
    assert!(stats.rejected >= 2, "{stats:?}");
}
