//! Graceful shutdown: `server.close(lp, Some(cb))` stops accepting (new
//! connects are refused), lets the request in flight finish with its full
//! response (`Connection: close`), closes idle keep-alive connections, then
//! runs `cb`, and `lp.run` returns by itself.

mod server_util;

use std::cell::Cell;
use std::io::ErrorKind;
use std::net::TcpStream;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventide_http_mini::server::Server;
use eventide_loop_phases::RunMode;
use server_util::{Client, WATCHDOG, get, pattern, serve, spawn_client, test_options, watchdog};

#[test]
fn close_finishes_in_flight_request_then_calls_back() {
    let body = Bytes::from(pattern(200_000, 5));
    let expected = body.clone();
    let (closing_tx, closing_rx) = mpsc::channel::<()>();
    let closed = Rc::new(Cell::new(false));
    let server_cell: Rc<Cell<Option<Server>>> = Rc::new(Cell::new(None));
    let (c2, s2) = (closed.clone(), server_cell.clone());
    let (mut lp, server, addr) = serve(test_options(), move |lp, req, res| {
        if req.path() != "/slow" {
            res.end(lp, Some(Bytes::from_static(b"fast")));
            return;
        }
        // Shut down while this request is in flight.
        let server = s2.get().expect("server set");
        let c3 = c2.clone();
        server.close(lp, Some(Box::new(move |_| c3.set(true))));
        closing_tx.send(()).unwrap();
        let body = body.clone();
        lp.set_timeout(Duration::from_millis(200), move |lp| {
            res.end(lp, Some(body))
        });
    });
    server_cell.set(Some(server));

    let (client, _) = spawn_client(addr, move |addr| {
        // An idle keep-alive connection.
        let mut idle = Client::connect(addr);
        idle.request(&get("/fast"));
        assert_eq!(idle.response().body_str(), "fast");
        // The request in flight.
        let mut busy = Client::connect(addr);
        busy.request(&get("/slow"));
        closing_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("handler ran");
        let closing_at = Instant::now();
        // Not accepting any more.
        let refused = TcpStream::connect(addr).map(drop);
        assert_eq!(
            refused.as_ref().map_err(std::io::Error::kind),
            Err(ErrorKind::ConnectionRefused),
            "connect after close: {refused:?}"
        );
        // The idle connection is closed at once.
        idle.assert_closed_quietly();
        assert!(closing_at.elapsed() < Duration::from_secs(1));
        // The busy one gets its whole response, then the close.
        let r = busy.response();
        assert!(r.body == expected[..], "full response body");
        assert!(r.says_close());
        busy.assert_closed_quietly();
    });

    watchdog(&mut lp, WATCHDOG);
    let started = Instant::now();
    lp.run(RunMode::Default);
    // `run` returned by itself: the client closed its sockets on the way out.
    if let Err(p) = client.join() {
        std::panic::resume_unwind(p);
    }
    assert!(closed.get(), "close callback ran before run returned");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(server.connections(&lp), 0);
}

/// With no connection at all, the callback runs and the loop ends.
#[test]
fn close_of_an_unused_server_ends_the_loop() {
    let (mut lp, server, addr) = serve(test_options(), |lp, _req, res| res.end(lp, None));
    let called = Rc::new(Cell::new(false));
    let c = called.clone();
    server.close(&mut lp, Some(Box::new(move |_| c.set(true))));
    watchdog(&mut lp, WATCHDOG);
    lp.run(RunMode::Default);
    assert!(called.get());
    assert!(TcpStream::connect(addr).is_err());
}
