//! A peer that resets mid-transfer (`SO_LINGER` 0, then close) is an error
//! on that connection only: its socket gets `error` (ECONNRESET) and
//! `close`, and another connection to the same server keeps working.

mod util;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_streams::net::{Server, ServerOptions, Socket, SocketOptions};
use util::{Log, record_readable, run_bounded, shared};

#[test]
fn a_reset_is_an_error_for_that_connection_only() {
    let mut lp = Loop::new();
    let logs = shared(Vec::<Log>::new());
    let l = logs.clone();
    let server = Server::listen_tcp(
        &mut lp,
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions::default(),
        move |lp, conn| {
            let log = Log::new();
            let _ = record_readable(lp, *conn, &log);
            // Echo, so that the server also has writes in flight.
            conn.pipe(lp, conn.stream());
            l.borrow_mut().push(log);
        },
    )
    .unwrap();
    let addr = server.local_addr(&lp).unwrap();

    // The resetting peer: writes a lot without reading, then aborts.
    let resetter = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        let block = vec![7u8; 64 * 1024];
        for _ in 0..16 {
            if s.write_all(&block).is_err() {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
        socket2::SockRef::from(&s)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(s); // RST
    });

    // Once the first connection failed, a second client must still be served.
    let reply = shared(Vec::new());
    let second_log = Log::new();
    let (r, sl, lg) = (reply.clone(), second_log.clone(), logs.clone());
    let check = lp.set_interval(Duration::from_millis(5), move |lp| {
        let failed = lg.borrow().first().is_some_and(|l| l.count("close") == 1);
        if !failed || !sl.get().is_empty() || !r.borrow().is_empty() {
            return;
        }
        sl.push("started");
        let c = Socket::connect_tcp(lp, addr, SocketOptions::default());
        let got = record_readable(lp, *c, &sl);
        let r = r.clone();
        c.on_end(lp, move |_| r.borrow_mut().extend_from_slice(&got.borrow()));
        c.end(lp, Some(Bytes::from_static(b"still there?")));
        c.on_close(lp, move |lp| server.close(lp));
    });
    lp.unref_handle(check);
    run_bounded(&mut lp, 10, "reset");
    lp.clear_interval(check);
    resetter.join().unwrap();

    let logs = logs.borrow();
    assert_eq!(logs.len(), 2);
    let first = logs[0].get();
    let errors: Vec<&String> = first.iter().filter(|e| e.starts_with("error")).collect();
    assert_eq!(errors.len(), 1, "{first:?}");
    assert!(
        ["error:ECONNRESET", "error:EPIPE"].contains(&errors[0].as_str()),
        "{first:?}"
    );
    assert_eq!(first.last().map(String::as_str), Some("close"));
    assert_eq!(*reply.borrow(), b"still there?");
    let second = logs[1].get();
    assert!(!second.iter().any(|e| e.starts_with("error")), "{second:?}");
    assert!(!second_log.get().iter().any(|e| e.starts_with("error")));
}
