//! Pipelined requests on one connection get their responses strictly in
//! request order, whichever handler finishes first: responses that end
//! early (or stream part of their body early) wait, buffered, for the ones
//! before them.

mod server_util;

use std::time::Duration;

use bytes::Bytes;
use server_util::{Client, get, post, run_client, serve, test_options};

/// A small deterministic generator (the test must not depend on luck, only
/// on the seed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

#[test]
fn async_responses_go_out_in_request_order() {
    let mut rng = Lcg(7);
    let (mut lp, server, _) = serve(test_options(), move |lp, req, res| {
        let path = req.path().to_owned();
        let delay = rng.next(30);
        let style = rng.next(3);
        let body = format!("response to {path}\n").repeat(1 + rng.next(200) as usize);
        match style {
            // Synchronous, whole body in `end`.
            0 => res.end(lp, Some(body.into())),
            // Later, whole body in `end`.
            1 => {
                lp.set_timeout(Duration::from_millis(delay), move |lp| {
                    res.end(lp, Some(body.into()));
                });
            }
            // Streamed: half now, the rest later (chunked).
            _ => {
                let body = Bytes::from(body);
                let half = body.len() / 2;
                res.write(lp, body.slice(..half));
                lp.set_timeout(Duration::from_millis(delay), move |lp| {
                    res.write(lp, body.slice(half..));
                    res.end(lp, None);
                });
            }
        }
    });
    let (n, stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        let n = 150; // over `max_pipelined` (64): parsing pauses and resumes
        let mut all = Vec::new();
        for i in 0..n {
            all.extend_from_slice(&get(&format!("/r{i}")));
        }
        for _ in 0..n {
            c.expect("GET");
        }
        c.send(&all);
        for i in 0..n {
            let r = c.response();
            assert_eq!(r.status(), 200);
            let line = format!("response to /r{i}\n");
            assert!(
                r.body.len() % line.len() == 0 && r.body_str().starts_with(&line),
                "response {i} out of order or corrupt: {:?}",
                &r.body_str()[..r.body.len().min(60)]
            );
            assert_eq!(r.body_str().replace(&line, ""), "");
        }
        n
    });
    assert_eq!(stats.requests, n);
    assert_eq!(stats.connections, 1);
}

/// A later request answered first (the earlier one waits on a timer) still
/// comes second; bodies of pipelined POSTs are delivered to the right
/// handler.
#[test]
fn later_handler_answering_first_still_comes_second() {
    let (mut lp, server, _) = serve(test_options(), |lp, req, res| {
        if req.path() == "/slow" {
            lp.set_timeout(Duration::from_millis(150), move |lp| {
                res.end(lp, Some(Bytes::from_static(b"slow")));
            });
        } else {
            server_util::buffered_echo_handler(lp, req, res);
        }
    });
    let ((), _) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        let mut all = get("/slow");
        all.extend_from_slice(&post("/a", b"first body"));
        all.extend_from_slice(&post("/b", b"second body"));
        for m in ["GET", "POST", "POST"] {
            c.expect(m);
        }
        c.send(&all);
        assert_eq!(c.response().body_str(), "slow");
        assert_eq!(c.response().body_str(), "first body");
        assert_eq!(c.response().body_str(), "second body");
    });
}

/// A client that pipelines requests and sends its FIN right after them
/// (`printf ... | nc -N`) gets every response, even those whose parsing
/// waited for `max_pipelined` or for a body to be read, then the close.
#[test]
fn requests_before_the_clients_fin_are_all_answered() {
    for max_pipelined in [1, 2, 5] {
        let options = eventide_http_mini::server::ServerOptions {
            max_pipelined,
            high_water_mark: 1024,
            ..test_options()
        };
        let (mut lp, server, _) = serve(options, server_util::buffered_echo_handler);
        let ((), stats) = run_client(&mut lp, server, |addr| {
            let mut c = Client::connect(addr);
            let body = server_util::pattern(20_000, 1);
            let mut all = Vec::new();
            for i in 0..9 {
                if i % 3 == 0 {
                    all.extend_from_slice(&post(&format!("/r{i}"), &body));
                    c.expect("POST");
                } else {
                    all.extend_from_slice(&get(&format!("/r{i}")));
                    c.expect("GET");
                }
            }
            c.send(&all);
            c.shutdown_write();
            for i in 0..9 {
                let r = c.response();
                let want: &[u8] = if i % 3 == 0 { &body } else { b"" };
                assert!(r.body == want, "response {i}");
            }
            c.assert_closed_quietly();
        });
        assert_eq!(stats.requests, 9, "max_pipelined {max_pipelined}");
    }
}
