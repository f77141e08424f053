//! Socket options: `set_no_delay` and `set_keep_alive` apply to a connected
//! TCP socket (and the `no_delay` option to new ones), data still flows, and
//! a closed socket says so instead of panicking.

mod util;

use std::io::ErrorKind;
use std::time::Duration;

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_streams::net::{Server, ServerOptions, Socket, SocketOptions};
use util::{Log, echo_server, record_readable, run_bounded, shared};

#[test]
fn no_delay_and_keep_alive_on_a_connected_socket() {
    let mut lp = Loop::new();
    let server = Server::listen_tcp(
        &mut lp,
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions {
            socket: SocketOptions {
                no_delay: true,
                ..SocketOptions::default()
            },
            ..ServerOptions::default()
        },
        |lp, conn| {
            conn.set_keep_alive(lp, Some(Duration::from_secs(30)))
                .unwrap();
            conn.pipe(lp, conn.stream());
        },
    )
    .unwrap();
    let addr = server.local_addr(&lp).unwrap();
    let client = Socket::connect_tcp(&mut lp, addr, SocketOptions::default());
    // Before the connection is up: remembered, applied once connected.
    client.set_no_delay(&mut lp, true).unwrap();
    let results = shared(Vec::new());
    let r = results.clone();
    client.on_connect(&mut lp, move |lp| {
        r.borrow_mut().push(client.set_no_delay(lp, true).is_ok());
        r.borrow_mut().push(
            client
                .set_keep_alive(lp, Some(Duration::from_secs(10)))
                .is_ok(),
        );
        r.borrow_mut().push(client.set_keep_alive(lp, None).is_ok());
        client.end(lp, Some(Bytes::from_static(b"small message")));
    });
    let log = Log::new();
    let got = record_readable(&mut lp, *client, &log);
    client.on_close(&mut lp, move |lp| server.close(lp));
    run_bounded(&mut lp, 10, "socket options");
    assert_eq!(*results.borrow(), [true, true, true]);
    assert_eq!(*got.borrow(), b"small message");
    assert_eq!(log.get().last().map(String::as_str), Some("close"));
    // After close the id is stale: options report it.
    let e = client.set_no_delay(&mut lp, true).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotConnected);
    assert!(client.set_keep_alive(&mut lp, None).is_err());
}

#[test]
fn bytes_counts_reads_and_writes() {
    let mut lp = Loop::new();
    let server = echo_server(&mut lp);
    let addr = server.local_addr(&lp).unwrap();
    let client = Socket::connect_tcp(&mut lp, addr, SocketOptions::default());
    client.end(&mut lp, Some(Bytes::from(vec![1u8; 5000])));
    let counts = shared((0, 0));
    let c = counts.clone();
    client.on_end(&mut lp, move |lp| *c.borrow_mut() = client.bytes(lp));
    client.on_data(&mut lp, |_, _| {});
    client.on_close(&mut lp, move |lp| server.close(lp));
    run_bounded(&mut lp, 10, "byte counts");
    assert_eq!(*counts.borrow(), (5000, 5000));
}
