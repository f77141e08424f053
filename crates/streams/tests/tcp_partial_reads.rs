//! A read that does not fill the buffer is taken to have drained the socket
//! (no extra read to hear `WouldBlock`). These tests pin the two things that
//! rule must not break: data that arrives later raises a new event, and a
//! peer's FIN that came with its last bytes is still seen, as `end`.

mod util;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};

use bytes::Bytes;
use eventide_loop_phases::Loop;
use util::{Log, record_readable, run_bounded};

/// The client writes `len` bytes and shuts its side down before the server
/// has even accepted, so the first event carries data and FIN together.
fn data_then_fin_before_accept(len: usize) {
    let mut lp = Loop::new();
    let log = Log::new();
    let got = util::shared(Vec::new());
    let (l, g) = (log.clone(), got.clone());
    let addr = util::serve_one(&mut lp, move |lp, conn| {
        let received = record_readable(lp, *conn, &l);
        conn.on_end(lp, move |lp| {
            g.borrow_mut().extend_from_slice(&received.borrow());
            conn.end(lp, None);
        });
    });
    let sent: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
    let mut client = TcpStream::connect(addr).unwrap();
    client.write_all(&sent).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    run_bounded(&mut lp, 10, "data and FIN before accept");

    assert_eq!(*got.borrow(), sent, "every byte before the FIN, in order");
    // `end` once, after the data and before `close`.
    let events = log.get();
    let (data, end) = (log.count("data"), log.position("end"));
    assert_eq!(end, Some(data), "{events:?}");
    assert_eq!(&events[data..], ["end", "close"], "{events:?}");
    // The server ended its side in answer: the client reads end of stream.
    let mut rest = Vec::new();
    client.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());
}

#[test]
fn a_fin_that_comes_with_a_few_bytes_is_seen() {
    data_then_fin_before_accept(5);
}

#[test]
fn a_fin_that_comes_after_more_than_one_buffer_is_seen() {
    // Reads that fill the loop's 64 KiB buffer go on; the last, short one
    // must not be taken as "drained" while the FIN is pending.
    data_then_fin_before_accept(200 * 1024 + 7);
}

/// One byte at a time, each sent only after the previous one was echoed:
/// every read is short, and each later byte must raise a new event.
#[test]
fn data_after_a_short_read_raises_a_new_event() {
    const ROUNDS: usize = 200;
    let mut lp = Loop::new();
    let addr = util::serve_one(&mut lp, |lp, conn| {
        conn.on_data(lp, move |lp, chunk: Bytes| {
            conn.write(lp, chunk);
        });
    });
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(util::ms(5_000))).unwrap();
        let mut echoed = Vec::new();
        for i in 0..ROUNDS {
            s.write_all(&[i as u8]).unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            echoed.push(b[0]);
        }
        echoed
    });
    run_bounded(&mut lp, 20, "one byte at a time");
    let echoed = client.join().unwrap();
    let expected: Vec<u8> = (0..ROUNDS).map(|i| i as u8).collect();
    assert_eq!(echoed, expected);
}
