//! `max_connections`: past the limit the server stops accepting; the next
//! client waits in the listen queue and is served once a connection closes.

mod server_util;

use std::time::{Duration, Instant};

use server_util::{Client, Closed, get, run_client, serve, test_options};

#[test]
fn next_client_served_once_one_closes() {
    let mut options = test_options();
    options.max_connections = Some(1);
    let (mut lp, server, _) = serve(options, |lp, req, res| {
        res.end(lp, Some(format!("hi {}", req.path()).into()));
    });
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut first = Client::connect(addr);
        first.request(&get("/first"));
        assert_eq!(first.response().body_str(), "hi /first");
        // The kernel completes the handshake, but the server does not accept.
        let mut second = Client::connect(addr);
        second.request(&get("/second"));
        match second.wait_closed(Duration::from_millis(300)) {
            Closed::No(rest) => assert!(rest.is_empty(), "served past the limit"),
            Closed::Yes(_) => panic!("second connection closed instead of waiting"),
        }
        // The first keeps being served meanwhile.
        first.request(&get("/again"));
        assert_eq!(first.response().body_str(), "hi /again");
        let closed_at = Instant::now();
        drop(first);
        assert_eq!(second.response().body_str(), "hi /second");
        assert!(closed_at.elapsed() < Duration::from_secs(2));
    });
    assert_eq!(stats.connections, 2);
}
