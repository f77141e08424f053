//! Connect failures destroy the socket with an error: a refused connection
//! with `ConnectionRefused` (ECONNREFUSED), a connect that hangs with
//! `TimedOut` after `connect_timeout`.

mod util;

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::time::{Duration, Instant};

use eventide_loop_phases::Loop;
use eventide_streams::net::{Socket, SocketOptions};
use util::{Log, record_lifecycle, run_bounded, shared};

fn errors_of(lp: &mut Loop, s: Socket) -> util::Shared<Vec<(io::ErrorKind, &'static str)>> {
    let out = shared(Vec::new());
    let o = out.clone();
    s.on_error(lp, move |_, e| o.borrow_mut().push((e.kind(), e.code())));
    out
}

fn closed_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

#[test]
fn refused_connection_is_an_econnrefused_error() {
    let mut lp = Loop::new();
    let addr = closed_port();
    let s = Socket::connect_tcp(&mut lp, addr, SocketOptions::default());
    let errors = errors_of(&mut lp, s);
    let log = Log::new();
    record_lifecycle(&mut lp, *s, &log);
    let connected = shared(false);
    let c = connected.clone();
    s.on_connect(&mut lp, move |_| *c.borrow_mut() = true);
    run_bounded(&mut lp, 10, "refused connect");
    assert_eq!(
        *errors.borrow(),
        [(io::ErrorKind::ConnectionRefused, "ECONNREFUSED")]
    );
    assert_eq!(log.get(), ["error:ECONNREFUSED", "close"]);
    assert!(!*connected.borrow());
}

#[test]
fn refused_connection_by_host_name_too() {
    let mut lp = Loop::new();
    let port = closed_port().port();
    let s = Socket::connect(&mut lp, "localhost", port, SocketOptions::default());
    let errors = errors_of(&mut lp, s);
    run_bounded(&mut lp, 10, "refused connect by name");
    assert_eq!(
        *errors.borrow(),
        [(io::ErrorKind::ConnectionRefused, "ECONNREFUSED")]
    );
}

/// A listener with backlog 0 that never accepts: once its queue is full, a
/// SYN gets no answer on Linux and a connect to it hangs.
fn hung_listener() -> (socket2::Socket, Vec<socket2::Socket>, SocketAddr) {
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    // Fill the accept queue.
    let fillers = (0..3)
        .map(|_| {
            let s =
                socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
            s.set_nonblocking(true).unwrap();
            let _ = s.connect(&addr.into());
            std::thread::sleep(Duration::from_millis(20));
            s
        })
        .collect();
    (listener, fillers, addr)
}

fn timeout_options() -> SocketOptions {
    SocketOptions {
        connect_timeout: Some(Duration::from_millis(200)),
        ..SocketOptions::default()
    }
}

#[test]
fn a_hanging_connect_times_out() {
    let (_listener, _fillers, addr) = hung_listener();
    let mut lp = Loop::new();
    let start = Instant::now();
    let s = Socket::connect_tcp(&mut lp, addr, timeout_options());
    let errors = errors_of(&mut lp, s);
    let log = Log::new();
    record_lifecycle(&mut lp, *s, &log);
    run_bounded(&mut lp, 10, "connect timeout");
    let took = start.elapsed();
    assert_eq!(*errors.borrow(), [(io::ErrorKind::TimedOut, "ETIMEDOUT")]);
    assert_eq!(log.get(), ["error:ETIMEDOUT", "close"]);
    assert!(
        took >= Duration::from_millis(200),
        "not before the timeout: {took:?}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

/// The same through name resolution on the work pool.
#[test]
fn a_hanging_connect_by_name_times_out() {
    let (_listener, _fillers, addr) = hung_listener();
    let mut lp = Loop::new();
    let s = Socket::connect(&mut lp, "localhost", addr.port(), timeout_options());
    let errors = errors_of(&mut lp, s);
    run_bounded(&mut lp, 10, "connect timeout by name");
    assert_eq!(*errors.borrow(), [(io::ErrorKind::TimedOut, "ETIMEDOUT")]);
}
