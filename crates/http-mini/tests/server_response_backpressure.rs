//! Response backpressure: `write` returns `false` once the socket's buffer
//! is full, `on_drain` says when to go on, and a large body written that way
//! to a slow reader arrives whole, with the server's buffer bounded. Small
//! writes (copied into the connection's output buffer while the request is
//! being handled) follow the same rule as large ones.

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

/// How a handler's writes went: how often `write` said stop, and how many
/// body bytes were written when it first did.
#[derive(Default)]
struct Refusals {
    count: Cell<u32>,
    first_at: Cell<Option<usize>>,
}

/// Writes `data[offset..]` in `piece`-sized writes until `write` says stop,
/// then waits for drain.
fn pump(
    lp: &mut Loop,
    res: Response,
    (data, piece): (Bytes, usize),
    offset: usize,
    refusals: Rc<Refusals>,
) {
    let mut at = offset;
    while at < data.len() {
        let end = (at + piece).min(data.len());
        let more = res.write(lp, data.slice(at..end));
        at = end;
        if !more && at < data.len() {
            refusals.count.set(refusals.count.get() + 1);
            if refusals.first_at.get().is_none() {
                refusals.first_at.set(Some(at));
            }
            let (d, r) = (data.clone(), refusals.clone());
            let mut once = Some(move |lp: &mut Loop| pump(lp, res, (d, piece), at, r));
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

/// Serves `data` in `piece`-sized writes to a client that reads only after
/// a pause; checks the body and returns how the writes went.
fn serve_to_slow_reader(data: Bytes, piece: usize) -> Rc<Refusals> {
    let refusals = Rc::new(Refusals::default());
    let (d, r) = (data.clone(), refusals.clone());
    let (mut lp, server, _) = serve(test_options(), move |lp, _req, res| {
        pump(lp, res, (d.clone(), piece), 0, r.clone());
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
    refusals
}

#[test]
fn large_streamed_response_respects_drain() {
    let refusals = serve_to_slow_reader(Bytes::from(pattern(TOTAL, 99)), PIECE);
    assert!(
        refusals.count.get() > 0,
        "write never said stop for a 16 MiB body to a slow reader"
    );
}

#[test]
fn small_writes_say_stop_at_the_high_water_mark() {
    // 1 KiB writes made while the request is handled are copied into the
    // connection's output buffer; `write` must still say stop once the
    // buffered response (head, chunk framing and body) reaches the default
    // 64 KiB mark, not before, and not much after.
    let hwm = 64 * 1024;
    let refusals = serve_to_slow_reader(Bytes::from(pattern(4 * 1024 * 1024, 7)), 1024);
    let first = refusals.first_at.get().expect("write never said stop");
    assert!(
        (hwm - 2048..=hwm).contains(&first),
        "first refusal after {first} body bytes; expected just under {hwm}"
    );
    assert!(refusals.count.get() > 1, "only one refusal for 4 MiB");
}
