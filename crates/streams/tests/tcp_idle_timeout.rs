//! The idle timeout: `timeout` fires once the socket saw no read and no
//! write for the set time, activity pushes it back, and it does not close
//! the socket by itself; `set_timeout(None)` clears it.

mod util;

use std::time::{Duration, Instant};

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_streams::net::{Server, ServerOptions, Socket, SocketOptions};
use util::{Log, echo_server, ms, record_lifecycle, run_bounded, shared};

#[test]
fn timeout_fires_after_idleness_and_activity_pushes_it_back() {
    let mut lp = Loop::new();
    let server = echo_server(&mut lp);
    let addr = server.local_addr(&lp).unwrap();
    let client = Socket::connect_tcp(&mut lp, addr, SocketOptions::default());
    client.set_timeout(&mut lp, Some(ms(100)));
    let start = Instant::now();
    let last_activity = shared(start);
    let timeouts = shared(Vec::<Instant>::new());
    let la = last_activity.clone();
    client.on_data(&mut lp, move |_, _| *la.borrow_mut() = Instant::now());
    // Activity every 40 ms for 240 ms: never idle for 100 ms.
    let writes = shared(0);
    let (w, la) = (writes.clone(), last_activity.clone());
    let ticker = lp.set_interval(ms(40), move |lp| {
        if *w.borrow() < 6 {
            *w.borrow_mut() += 1;
            *la.borrow_mut() = Instant::now();
            client.write(lp, Bytes::from_static(b"x"));
        }
    });
    let t = timeouts.clone();
    client.on_timeout(&mut lp, move |lp| {
        t.borrow_mut().push(Instant::now());
        // The socket stays open after `timeout`: prove it, then close.
        assert!(!client.is_destroyed(lp));
        lp.set_timeout(ms(150), move |lp| {
            lp.clear_interval(ticker);
            client.destroy(lp, None);
        });
    });
    let log = Log::new();
    record_lifecycle(&mut lp, *client, &log);
    client.on_close(&mut lp, move |lp| server.close(lp));
    run_bounded(&mut lp, 10, "idle timeout");

    let timeouts = timeouts.borrow();
    assert_eq!(
        timeouts.len(),
        1,
        "once per idle period, not again without activity"
    );
    let idle_for = timeouts[0] - *last_activity.borrow();
    assert!(
        idle_for >= ms(99),
        "fired after only {idle_for:?} of idleness"
    );
    assert!(idle_for < ms(1000), "fired late: {idle_for:?}");
    assert!(timeouts[0] - start >= ms(6 * 40), "activity pushed it back");
    assert_eq!(log.get(), ["close"]);
}

#[test]
fn set_timeout_none_clears_it() {
    let mut lp = Loop::new();
    let server = echo_server(&mut lp);
    let addr = server.local_addr(&lp).unwrap();
    let options = SocketOptions {
        idle_timeout: Some(ms(30)),
        ..SocketOptions::default()
    };
    let client = Socket::connect_tcp(&mut lp, addr, options);
    client.set_timeout(&mut lp, None);
    let fired = shared(0);
    let f = fired.clone();
    client.on_timeout(&mut lp, move |_| *f.borrow_mut() += 1);
    lp.set_timeout(ms(150), move |lp| {
        client.destroy(lp, None);
        server.close(lp);
    });
    run_bounded(&mut lp, 10, "cleared idle timeout");
    assert_eq!(*fired.borrow(), 0);
}

#[test]
fn the_option_arms_it_for_accepted_sockets() {
    let mut lp = Loop::new();
    let fired = shared(Vec::new());
    let f = fired.clone();
    let options = ServerOptions {
        socket: SocketOptions {
            idle_timeout: Some(ms(50)),
            ..SocketOptions::default()
        },
        ..ServerOptions::default()
    };
    let server = Server::listen_tcp(
        &mut lp,
        "127.0.0.1:0".parse().unwrap(),
        options,
        move |lp, conn| {
            let f = f.clone();
            conn.on_timeout(lp, move |lp| {
                f.borrow_mut().push(lp.now());
                conn.destroy(lp, None);
            });
        },
    )
    .unwrap();
    let addr = server.local_addr(&lp).unwrap();
    let client = Socket::connect_tcp(&mut lp, addr, SocketOptions::default());
    client.on_data(&mut lp, |_, _| {});
    client.on_close(&mut lp, move |lp| server.close(lp));
    let start = Instant::now();
    run_bounded(&mut lp, 10, "server idle timeout");
    assert_eq!(fired.borrow().len(), 1);
    assert!(start.elapsed() >= Duration::from_millis(50));
}
