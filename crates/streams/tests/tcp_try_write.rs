//! `Socket::try_write` (libuv's `uv_try_write`): what the OS takes goes at
//! once; nothing is queued; it refuses (`WouldBlock`) while anything is
//! buffered, in flight or corked on the stream, or the stream is ending, so
//! that bytes never overtake earlier writes.

mod util;

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_streams::net::Socket;
use util::run_bounded;

/// Runs `on_conn` on the one accepted socket, then closes the server; the
/// client reads everything after waiting `read_after`, and the bytes are
/// returned with what `on_conn` returned.
fn serve_one<T: 'static>(
    read_after: Duration,
    on_conn: impl FnOnce(&mut Loop, Socket) -> T + 'static,
) -> (Vec<u8>, T) {
    let mut lp = Loop::new();
    let result = util::shared(None::<T>);
    let r = result.clone();
    let addr = util::serve_one(&mut lp, move |lp, conn| {
        *r.borrow_mut() = Some(on_conn(lp, conn));
    });
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        std::thread::sleep(read_after);
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    run_bounded(&mut lp, 10, "try_write");
    let got = client.join().unwrap();
    let result = result
        .borrow_mut()
        .take()
        .expect("a connection was accepted");
    (got, result)
}

fn kinds(results: &[std::io::Result<usize>]) -> Vec<Result<usize, ErrorKind>> {
    results
        .iter()
        .map(|r| r.as_ref().map(|n| *n).map_err(|e| e.kind()))
        .collect()
}

#[test]
fn try_write_goes_at_once_and_never_overtakes() {
    let (got, results) = serve_one(Duration::ZERO, |lp, conn| {
        let mut results = vec![conn.try_write(lp, b"one ")];
        conn.cork(lp);
        assert!(!conn.is_write_idle(lp), "corked");
        // Corked: writes wait for `uncork`, and so does this one.
        results.push(conn.try_write(lp, b"NOT SENT"));
        conn.write(lp, Bytes::from_static(b"two "));
        // Corked bytes are ahead: refused, or it would overtake them.
        results.push(conn.try_write(lp, b"NOT SENT"));
        conn.uncork(lp);
        assert!(conn.is_write_idle(lp), "uncorked, and the write went out");
        // The corked write went out at once: nothing is ahead any more.
        results.push(conn.try_write(lp, b"three "));
        results.push(conn.try_write(lp, b""));
        conn.end(lp, None);
        results.push(conn.try_write(lp, b"NOT SENT"));
        results
    });
    assert_eq!(
        kinds(&results),
        [
            Ok(4),
            Err(ErrorKind::WouldBlock),
            Err(ErrorKind::WouldBlock),
            Ok(6),
            Ok(0),
            Err(ErrorKind::WouldBlock)
        ]
    );
    assert_eq!(got, b"one two three ");
}

#[test]
fn a_full_socket_takes_part_and_write_queues_the_rest_in_order() {
    const LEN: usize = 32 * 1024 * 1024;
    let data: Bytes = (0..LEN)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let sent = data.clone();
    // The client reads only later: the OS buffers fill first.
    let (got, results) = serve_one(Duration::from_millis(200), move |lp, conn| {
        assert!(conn.is_write_idle(lp));
        let first = conn.try_write(lp, &data);
        let n = *first.as_ref().unwrap();
        assert!(0 < n && n < LEN, "the OS took part of 32 MiB: {n}");
        conn.write(lp, data.slice(n..));
        // The rest is queued on the stream: nothing may go before it.
        assert!(!conn.is_write_idle(lp));
        let second = conn.try_write(lp, b"NOT SENT");
        // Once it is all out, writes may go straight to the OS again.
        conn.on_drain(lp, move |lp| {
            assert!(conn.is_write_idle(lp));
            conn.end(lp, None);
            assert!(!conn.is_write_idle(lp), "ended");
        });
        [first, second]
    });
    assert_eq!(kinds(&results)[1], Err(ErrorKind::WouldBlock));
    assert_eq!(got.len(), LEN);
    assert!(got == sent, "every byte once, in order");
}
