//! `Socket::connect(lp, "localhost", port, ..)` resolves the name on the
//! work pool and connects; writes made before the connection is up wait
//! for it.

mod util;

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_streams::net::{Socket, SocketOptions};
use util::{Log, echo_server, record_readable, run_bounded, shared};

#[test]
fn connect_to_localhost_by_name() {
    let mut lp = Loop::new();
    let server = echo_server(&mut lp);
    let port = server.local_addr(&lp).unwrap().port();
    let client = Socket::connect(&mut lp, "localhost", port, SocketOptions::default());
    assert!(!client.is_connected(&lp), "resolving first");
    // Written while resolving: goes out once connected.
    client.write(&mut lp, Bytes::from_static(b"hello "));
    client.end(&mut lp, Some(Bytes::from_static(b"by name")));
    let connected = shared(None);
    let c = connected.clone();
    client.on_connect(&mut lp, move |lp| *c.borrow_mut() = client.peer_addr(lp));
    let log = Log::new();
    let got = record_readable(&mut lp, *client, &log);
    client.on_close(&mut lp, move |lp| server.close(lp));
    run_bounded(&mut lp, 10, "connect by name");
    assert_eq!(*got.borrow(), b"hello by name");
    let peer = connected
        .borrow()
        .expect("connect event with a peer address");
    assert!(peer.ip().is_loopback());
    assert_eq!(peer.port(), port);
    assert_eq!(log.get().last().map(String::as_str), Some("close"));
    assert!(!log.get().iter().any(|e| e.starts_with("error")));
}

/// A name often resolves to several addresses (`::1`, then `127.0.0.1`);
/// a refused one must not end the attempt: the next is tried.
#[test]
fn a_refused_address_falls_back_to_the_next_one() {
    let mut lp = Loop::new();
    let server = echo_server(&mut lp);
    let live = server.local_addr(&lp).unwrap();
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let client = Socket::connect_tcp_any(&mut lp, vec![refused, live], SocketOptions::default());
    client.end(&mut lp, Some(Bytes::from_static(b"second address")));
    let log = Log::new();
    let got = record_readable(&mut lp, *client, &log);
    client.on_close(&mut lp, move |lp| server.close(lp));
    run_bounded(&mut lp, 10, "address fallback");
    assert_eq!(*got.borrow(), b"second address");
    assert!(
        !log.get().iter().any(|e| e.starts_with("error")),
        "{:?}",
        log.get()
    );

    // All refused: one error, the last one's.
    let a = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let client = Socket::connect_tcp_any(&mut lp, vec![a, b], SocketOptions::default());
    let log = Log::new();
    util::record_lifecycle(&mut lp, *client, &log);
    run_bounded(&mut lp, 10, "all refused");
    assert_eq!(log.get(), ["error:ECONNREFUSED", "close"]);
}
