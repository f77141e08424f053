//! The client against a server the project did not write: Python's
//! `http.server` (HTTP/1.0, one response per connection). Skipped, with a
//! printed reason, if `python3` is missing.

mod client_util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use client_util::{PyServer, collect, pseudo_random, watchdog};
use eventide_http_mini::client::{self, Agent, AgentOptions, ClientResponse, RequestOptions};
use eventide_http_mini::proto::{BodyKind, Method, Version};
use eventide_loop_phases::{Loop, RunMode};

const BIG: usize = 4 << 20;

fn serve_big() -> Option<(PyServer, Vec<u8>)> {
    let data = pseudo_random(BIG, 0x5eed);
    let copy = data.clone();
    let server = PyServer::start("big", move |dir| {
        std::fs::write(dir.join("big.bin"), &copy).unwrap();
        std::fs::write(dir.join("small.txt"), b"small file\n").unwrap();
    })?;
    Some((server, data))
}

/// A 4 MiB file arrives byte-exact although the consumer keeps pausing:
/// the body stream never holds more than its high-water mark plus one
/// socket read, so the socket was paused while the consumer was.
#[test]
fn large_file_is_byte_exact_and_a_slow_consumer_bounds_the_buffer() {
    let Some((server, data)) = serve_big() else {
        return;
    };
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(60));
    let got = Rc::new(std::cell::RefCell::new(Vec::with_capacity(BIG)));
    let (peak, pauses, ended) = (
        Rc::new(Cell::new(0)),
        Rc::new(Cell::new(0)),
        Rc::new(Cell::new(false)),
    );
    let (g, p, n, e) = (got.clone(), peak.clone(), pauses.clone(), ended.clone());
    client::get(&mut lp, server.url("/big.bin").as_str(), move |lp, res| {
        let res = res.expect("a response");
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers().get_str("content-length"), Some("4194304"));
        assert_eq!(res.head().body, BodyKind::Length(BIG as u64));
        let body = res.body();
        let g2 = g.clone();
        body.on_data(lp, move |lp, chunk: Bytes| {
            let before = g2.borrow().len();
            g2.borrow_mut().extend_from_slice(&chunk);
            // Every 128 KiB the consumer stops for 2 ms, like a slow disk.
            if before / (128 << 10) != g2.borrow().len() / (128 << 10) {
                n.set(n.get() + 1);
                body.pause(lp);
                lp.set_timeout(Duration::from_millis(2), move |lp| body.resume(lp));
            }
        });
        body.on_end(lp, move |lp| {
            p.set(body.readable_peak_length(lp));
            e.set(true);
        });
    });
    lp.run(RunMode::Default);
    assert!(ended.get(), "the body did not end");
    assert_eq!(got.borrow().len(), data.len());
    assert!(*got.borrow() == data, "the body differs from the file");
    assert!(
        pauses.get() >= 30,
        "the consumer paused {} times",
        pauses.get()
    );
    // 64 KiB high-water mark + at most one 64 KiB socket read.
    assert!(
        peak.get() <= 128 << 10,
        "body buffer peaked at {} bytes",
        peak.get()
    );
}

/// A missing file is a 404 with its (HTML) body; `http.server` speaks
/// HTTP/1.0 and closes, so two requests need two connections.
#[test]
fn not_found_and_http10_connections_are_not_reused() {
    let Some((server, _)) = serve_big() else {
        return;
    };
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let agent = Agent::new(AgentOptions::default());
    let out = Rc::new(std::cell::RefCell::new(Vec::new()));
    for path in ["/nope.txt", "/small.txt"] {
        let o = out.clone();
        let url = server.url(path).parse().unwrap();
        let req = client::request(
            &mut lp,
            RequestOptions::new(Method::GET, url).agent(agent),
            move |lp, res| {
                let res: ClientResponse = res.expect("a response");
                assert_eq!(res.version(), Version::Http10);
                assert!(!res.head().keep_alive);
                let len: usize = res
                    .headers()
                    .get_str("content-length")
                    .unwrap()
                    .parse()
                    .unwrap();
                let body = collect(lp, res.body());
                o.borrow_mut().push((res.status(), len, body));
            },
        );
        req.end(&mut lp, None);
    }
    lp.run(RunMode::Default);
    let out = out.borrow();
    assert_eq!(out.len(), 2);
    for (status, len, body) in out.iter() {
        assert!(body.ended.get());
        assert_eq!(body.data.borrow().len(), *len);
        if *status == 200 {
            assert_eq!(&body.data.borrow()[..], b"small file\n");
        } else {
            assert_eq!(*status, 404);
        }
    }
    assert_eq!((agent.created(&lp), agent.reused(&lp)), (2, 0));
    assert_eq!(agent.sockets(&lp, "127.0.0.1", server.port), 0);
}

/// HEAD gets the head of the 4 MiB file (its Content-Length) and no body.
#[test]
fn head_has_no_body() {
    let Some((server, _)) = serve_big() else {
        return;
    };
    let mut lp = Loop::new();
    watchdog(&mut lp, Duration::from_secs(20));
    let done = Rc::new(Cell::new(false));
    let d = done.clone();
    let url = server.url("/big.bin").parse().unwrap();
    let req = client::request(
        &mut lp,
        RequestOptions::new(Method::HEAD, url),
        move |lp, res| {
            let res = res.expect("a response");
            assert_eq!(res.status(), 200);
            assert_eq!(res.headers().get_str("content-length"), Some("4194304"));
            assert_eq!(res.head().body, BodyKind::Empty);
            let body = collect(lp, res.body());
            lp.set_timeout(Duration::from_millis(50), move |_| {
                assert!(body.ended.get());
                assert!(body.data.borrow().is_empty());
                d.set(true);
            });
        },
    );
    req.end(&mut lp, None);
    lp.run(RunMode::Default);
    assert!(done.get());
}
