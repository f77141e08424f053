//! Unix domain sockets are the same duplex streams: echo is byte-exact, and
//! half-close works both ways.

mod util;

use std::path::PathBuf;

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_streams::StreamOptions;
use eventide_streams::net::{Server, ServerOptions, Socket, SocketOptions};
use util::{Log, ms, record_readable, run_bounded};

fn temp_path(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("eventide-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn unix_echo_is_byte_exact() {
    let mut lp = Loop::new();
    let path = temp_path("echo");
    let server = Server::listen_unix(&mut lp, &path, ServerOptions::default(), |lp, conn| {
        conn.pipe(lp, conn.stream());
    })
    .unwrap();
    let client = Socket::connect_unix(&mut lp, &path, SocketOptions::default());
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    for piece in data.chunks(70_001) {
        client.write(&mut lp, Bytes::copy_from_slice(piece));
    }
    client.end(&mut lp, None);
    let log = Log::new();
    let got = record_readable(&mut lp, *client, &log);
    client.on_close(&mut lp, move |lp| server.close(lp));
    run_bounded(&mut lp, 20, "unix echo");
    assert_eq!(got.borrow().len(), data.len());
    assert!(*got.borrow() == data);
    assert_eq!(log.get()[log.get().len() - 2..], ["end", "close"]);
    assert!(!path.exists(), "close removes the socket file");
}

#[test]
fn unix_half_close_both_ways() {
    let mut lp = Loop::new();
    let path = temp_path("half");
    let server_log = Log::new();
    let sl = server_log.clone();
    let options = ServerOptions {
        socket: SocketOptions {
            stream: StreamOptions::default().allow_half_open(true),
            ..SocketOptions::default()
        },
        ..ServerOptions::default()
    };
    let server = Server::listen_unix(&mut lp, &path, options, move |lp, conn| {
        let got = record_readable(lp, *conn, &sl);
        let sl = sl.clone();
        conn.on_end(lp, move |lp| {
            sl.push(String::from_utf8(got.borrow().clone()).unwrap());
            // Half-open: answer well after the client's FIN.
            lp.set_timeout(ms(30), move |lp| {
                conn.end(lp, Some(Bytes::from_static(b"pong")))
            });
        });
    })
    .unwrap();
    let client = Socket::connect_unix(&mut lp, &path, SocketOptions::default());
    client.end(&mut lp, Some(Bytes::from_static(b"ping")));
    let log = Log::new();
    let got = record_readable(&mut lp, *client, &log);
    client.on_close(&mut lp, move |lp| server.close(lp));
    run_bounded(&mut lp, 10, "unix half-close");
    assert_eq!(*got.borrow(), b"pong");
    assert!(
        server_log.get().contains(&"ping".to_string()),
        "{:?}",
        server_log.get()
    );
    assert_eq!(server_log.get().last().map(String::as_str), Some("close"));
    assert_eq!(log.get()[log.get().len() - 2..], ["end", "close"]);
}
