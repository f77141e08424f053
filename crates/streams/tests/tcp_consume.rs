//! `Socket::consume_keyed` (libuv's `uv_read_start` with a read callback,
//! Node's `parser.consume`): every byte read reaches the consumer once and
//! in order, past the readable side; `read_stop` stops delivery at once,
//! even inside one readiness event's reads; `read_start` goes on; bytes the
//! readable side held before come first; `end` and `close` still come.

mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;
use eventide_streams::net::Socket;
use util::{Rng, run_bounded};

/// What the consumer saw, kept in loop storage (a consumer is a plain
/// function).
#[derive(Default)]
struct Seen {
    socket: Option<Socket>,
    chunks: Vec<Bytes>,
    /// Chunks delivered while reading was stopped (must stay 0).
    while_stopped: usize,
    stopped: bool,
    /// Bytes at the moment `end` was emitted.
    at_end: Option<usize>,
    data_events: usize,
    closed: bool,
}

impl Seen {
    fn bytes(&self) -> Vec<u8> {
        self.chunks.concat()
    }
}

/// The key the consumer is registered with, and must be called with.
const KEY: Key = Key::from_parts(7, 3);

fn record(lp: &mut Loop, key: Key, chunk: Bytes) {
    assert_eq!(key, KEY);
    let seen = lp.ext::<Seen>();
    if seen.stopped {
        seen.while_stopped += 1;
    }
    seen.chunks.push(chunk);
}

/// Stops reading at the first chunk, and starts again 50 ms later.
fn stop_at_first(lp: &mut Loop, key: Key, chunk: Bytes) {
    record(lp, key, chunk);
    let seen = lp.ext::<Seen>();
    if seen.chunks.len() == 1 {
        seen.stopped = true;
        let socket = seen.socket.expect("set on accept");
        socket.read_stop(lp);
        lp.set_timeout(Duration::from_millis(50), move |lp| {
            lp.ext::<Seen>().stopped = false;
            socket.read_start(lp);
        });
    }
}

/// Watches `socket` for `data`, `end` and `close`, and ends it at `end`.
fn watch(lp: &mut Loop, socket: Socket) {
    lp.ext::<Seen>().socket = Some(socket);
    socket.on_data(lp, |lp, _| lp.ext::<Seen>().data_events += 1);
    socket.on_end(lp, move |lp| {
        let seen = lp.ext::<Seen>();
        seen.at_end = Some(seen.chunks.iter().map(Bytes::len).sum());
        socket.end(lp, None);
    });
    socket.on_close(lp, |lp| lp.ext::<Seen>().closed = true);
}

/// Serves one connection with `on_conn`; a client thread runs `client`.
fn serve(
    on_conn: impl FnOnce(&mut Loop, Socket) + 'static,
    client: impl FnOnce(TcpStream) + Send + 'static,
) -> Loop {
    let mut lp = Loop::new();
    let addr = util::serve_one(&mut lp, on_conn);
    let client = std::thread::spawn(move || {
        let s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        client(s);
    });
    run_bounded(&mut lp, 10, "consume");
    client.join().unwrap();
    lp
}

/// Sends `data`, shuts down its side, and reads until the server's FIN.
fn send_all(data: Vec<u8>) -> impl FnOnce(TcpStream) + Send + 'static {
    move |mut s| {
        s.write_all(&data).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        s.read_to_end(&mut rest).unwrap();
    }
}

/// Sends `data` to a socket consumed by `consumer`, and returns what the
/// consumer saw.
fn consume_all(data: &[u8], consumer: fn(&mut Loop, Key, Bytes)) -> Seen {
    let mut lp = serve(
        move |lp, socket| {
            watch(lp, socket);
            socket.consume_keyed(lp, KEY, consumer);
        },
        send_all(data.to_vec()),
    );
    std::mem::take(lp.ext::<Seen>())
}

#[test]
fn every_byte_reaches_the_consumer_once_in_order_then_end() {
    let data = Rng::new(7).bytes(1 << 20);
    let seen = consume_all(&data, record);
    assert_eq!(seen.bytes(), data);
    assert_eq!(seen.data_events, 0, "data listeners see nothing");
    assert_eq!(seen.at_end, Some(data.len()), "end after the last byte");
    assert!(seen.closed);
}

#[test]
fn read_stop_stops_delivery_at_once_and_read_start_goes_on() {
    // More than one read buffer's worth at once: without `read_stop`, one
    // readiness event would deliver several chunks.
    let data = Rng::new(8).bytes(4 << 20);
    let seen = consume_all(&data, stop_at_first);
    assert_eq!(seen.while_stopped, 0, "no chunk while stopped");
    assert!(seen.chunks.len() > 1, "reading went on after read_start");
    assert_eq!(seen.bytes(), data);
    assert_eq!(seen.at_end, Some(data.len()));
}

#[test]
fn bytes_buffered_before_consuming_come_first() {
    let mut lp = serve(
        |lp, socket| {
            watch(lp, socket);
            // Paused: what arrives waits in the readable side.
            socket.pause(lp);
            fn once_buffered(lp: &mut Loop, socket: Socket) {
                if socket.readable_length(lp) < 5 {
                    lp.set_timeout(Duration::from_millis(2), move |lp| {
                        once_buffered(lp, socket)
                    });
                    return;
                }
                socket.consume_keyed(lp, KEY, record);
                // Only now may the client send the rest.
                socket.write(lp, Bytes::from_static(b"go"));
            }
            once_buffered(lp, socket);
        },
        |mut s| {
            s.write_all(b"hello").unwrap();
            let mut go = [0u8; 2];
            s.read_exact(&mut go).unwrap();
            assert_eq!(&go, b"go");
            send_all(b" world".to_vec())(s);
        },
    );
    let seen = lp.ext::<Seen>();
    assert_eq!(seen.chunks.first().map(|c| &c[..]), Some(&b"hello"[..]));
    assert_eq!(seen.bytes(), b"hello world");
    assert_eq!(seen.data_events, 0);
    assert_eq!(seen.at_end, Some(11));
}

#[test]
fn an_end_read_before_consuming_is_still_emitted() {
    let mut lp = serve(
        |lp, socket| {
            watch(lp, socket);
            socket.pause(lp);
            // The client's bytes and (most likely) its FIN are read into the
            // paused readable side before it is consumed.
            lp.set_timeout(Duration::from_millis(100), move |lp| {
                socket.consume_keyed(lp, KEY, record);
            });
        },
        send_all(b"all of it".to_vec()),
    );
    let seen = lp.ext::<Seen>();
    assert_eq!(seen.bytes(), b"all of it");
    assert_eq!(seen.at_end, Some(9));
    assert!(seen.closed);
}
