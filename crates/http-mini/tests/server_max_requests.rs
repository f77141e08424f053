//! `max_requests_per_connection`: the last allowed response says
//! `Connection: close`, and the server closes after it.

mod server_util;

use bytes::Bytes;
use server_util::{Client, get, run_client, serve, test_options};

#[test]
fn last_allowed_request_gets_connection_close() {
    let mut options = test_options();
    options.max_requests_per_connection = Some(3);
    let (mut lp, server, _) = serve(options, |lp, _req, res| {
        res.end(lp, Some(Bytes::from_static(b"ok")));
    });
    let ((), stats) = run_client(&mut lp, server, |addr| {
        let mut c = Client::connect(addr);
        c.request(&get("/1"));
        assert!(!c.response().says_close());
        c.request(&get("/2"));
        assert!(!c.response().says_close());
        // The third and a pipelined fourth.
        c.request(&get("/3"));
        c.request(&get("/4"));
        let r = c.response();
        assert_eq!(r.body_str(), "ok");
        assert!(r.says_close());
        c.assert_closed_quietly();
        // A new connection starts a new count.
        let mut c = Client::connect(addr);
        c.request(&get("/1"));
        assert!(!c.response().says_close());
    });
    assert_eq!(stats.requests, 4);
}
