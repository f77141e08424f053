//! Fault: a peer opens connections up to `max_connections` (8) and holds
//! them idle.
//!
//! The server stops accepting at the limit: an honest client already
//! connected keeps being served, new honest clients wait in the listen
//! queue (connected, unanswered, not refused), and the first of them is
//! served as soon as one of the flood's connections closes, the rest as
//! connections free up. No honest request is lost or answered wrongly.

mod fault_util;
mod server_util;

use std::net::TcpStream;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use fault_util::{Honest, Mode, honest_handler, is_honest, publish_connections, wait_connections};
use server_util::{Client, Closed, get, run_client, serve, test_options};

const LIMIT: usize = 8;
const QUEUED: usize = 3;

#[test]
fn flood_at_the_limit_delays_new_clients_but_loses_none() {
    let mut options = test_options();
    options.max_connections = Some(LIMIT);
    // The flood's idle connections must outlive the test's phases, not be
    // cut off by the (headers) deadline meanwhile.
    options.headers_timeout = Some(Duration::from_secs(15));
    let (mut lp, server, _) = serve(options, |lp, req, res| {
        if is_honest(&req) {
            return honest_handler(lp, req, res);
        }
        panic!("the flood sent nothing; no other request exists");
    });
    let open = publish_connections(&mut lp, server);
    let (honest, stats) = run_client(&mut lp, server, move |addr| {
        // The honest kept-alive client holds one of the 8.
        let honest = Honest::start(addr, Mode::Kept);
        wait_connections(&open, 1, Duration::from_secs(5));
        // The flood takes the other 7, idle.
        let mut flood: Vec<TcpStream> = Vec::new();
        for _ in 1..LIMIT {
            flood.push(TcpStream::connect(addr).unwrap());
        }
        wait_connections(&open, LIMIT, Duration::from_secs(5));

        // New honest clients: connected by the kernel, not accepted.
        let mut queued: Vec<(Client, String)> = (0..QUEUED)
            .map(|i| {
                let mut c = Client::connect(addr);
                let path = format!("/honest/queued{i}");
                c.request(&get(&path));
                (c, path)
            })
            .collect();
        // They wait in the listen queue, unanswered and not refused: nothing
        // past the limit is accepted.
        for (i, (c, _)) in queued.iter_mut().enumerate() {
            let within = if i == 0 { 300 } else { 20 };
            match c.wait_closed(Duration::from_millis(within)) {
                Closed::No(rest) => assert!(rest.is_empty(), "served past the limit"),
                Closed::Yes(_) => panic!("a client past the limit was refused"),
            }
        }
        assert_eq!(open.load(Ordering::SeqCst), LIMIT);
        // (b) The connected honest client is served all along.
        honest.wait_progress(20, Duration::from_secs(5));

        // One flood connection closes: the first queued client is served at
        // once; each one done frees the slot for the next.
        let closed_at = Instant::now();
        drop(flood.pop());
        for (i, (mut c, path)) in queued.drain(..).enumerate() {
            let r = c.response();
            assert_eq!(r.body_str(), format!("ok {path}"));
            if i == 0 {
                let waited = closed_at.elapsed();
                assert!(
                    waited < Duration::from_secs(1),
                    "served {waited:?} after the close"
                );
            }
        }

        // The flood goes away; only the honest connection is left.
        drop(flood);
        wait_connections(&open, 1, Duration::from_secs(5));
        honest.wait_progress(5, Duration::from_secs(5));
        let n = honest.stop();
        wait_connections(&open, 0, Duration::from_secs(5));
        n + QUEUED as u64
    });
    // (c) Every honest request was answered, and nothing else reached the
    // handler.
    assert_eq!(stats.requests, honest, "{stats:?}");
    assert_eq!(stats.responses, honest, "{stats:?}");
}
