//! Response backpressure: `write` returns `false` once the socket's buffer
//! is full, `on_drain` says when to go on, and a large body written that way
//! to a slow reader arrives whole, with the server's buffer bounded.

mod server_util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use eventide_http_mini::server::Response;
use eventide_loop_phases::Loop;
use server_util::{Client, get, pattern, run_client, serve, test_options};

const TOTAL: usize = 16 * 1024 * 1024;
const PIECE: usize = 64 * 1024;

/// Writes `data[offset..]` until `write` says stop, then waits for drain.
fn pump(lp: &mut Loop, res: Response, data: Bytes, offset: usize, refusals: Rc<Cell<u32>>) {
    let mut at = offset;
    while at < data.len() {
        let end = (at + PIECE).min(data.len());
        let more = res.write(lp, data.slice(at..end));
        at = end;
        if !more && at < data.len() {
            refusals.set(refusals.get() + 1);
            let (d, r) = (data.clone(), refusals.clone());
            let mut once = Some(move |lp: &mut Loop| pump(lp, res, d, at, r));
            res.on_drain(lp, move |lp| {
                if let Some(f) = once.take() {
                    f(lp);
                }
            });
            return;
        }
    }
    res.end(lp, None);
}

#[test]
fn large_streamed_response_respects_drain() {
    let data = Bytes::from(pattern(TOTAL, 99));
    let refusals = Rc::new(Cell::new(0));
    let (d, r) = (data.clone(), refusals.clone());
    let (mut lp, server, _) = serve(test_options(), move |lp, _req, res| {
        pump(lp, res, d.clone(), 0, r.clone());
    });
    let expected = data.clone();
    let ((), _) = run_client(&mut lp, server, move |addr| {
        let mut c = Client::connect(addr);
        c.request(&get("/"));
        // Do not read at first: the server must wait for drain.
        std::thread::sleep(Duration::from_millis(300));
        let r = c.response();
        assert_eq!(r.header("transfer-encoding"), Some("chunked"));
        let body = r.body;
        assert!(body == expected[..], "body differs ({} bytes)", body.len());
    });
    assert!(
        refusals.get() > 0,
        "write never said stop for a 16 MiB body to a slow reader"
    );
}
