//! A listener at `max_connections` stops accepting; the next client waits in
//! the listen queue and is served, with nothing lost, once a connection
//! closes.

mod util;

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_streams::net::{Server, ServerOptions, Socket, SocketOptions};
use util::{Log, ms, record_readable, run_bounded, shared};

#[test]
fn the_queued_client_is_served_once_one_leaves() {
    let mut lp = Loop::new();
    let order = Log::new();
    let o = order.clone();
    let server = Server::listen_tcp(
        &mut lp,
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions {
            max_connections: Some(1),
            ..ServerOptions::default()
        },
        move |lp, conn| {
            o.push("accepted");
            conn.pipe(lp, conn.stream());
            conn.on_close(lp, o.each("server conn closed"));
        },
    )
    .unwrap();
    let addr = server.local_addr(&lp).unwrap();

    // The first client holds its connection for 100 ms.
    let first = Socket::connect_tcp(&mut lp, addr, SocketOptions::default());
    let first_log = Log::new();
    let first_got = record_readable(&mut lp, *first, &first_log);
    first.write(&mut lp, Bytes::from_static(b"one"));
    lp.set_timeout(ms(100), move |lp| first.end(lp, None));

    // The second connects at once and sends everything; it is not accepted yet.
    let second_got = shared(Vec::new());
    let second_log = Log::new();
    let stats = shared(None);
    let (sg, sl, o, st) = (
        second_got.clone(),
        second_log.clone(),
        order.clone(),
        stats.clone(),
    );
    lp.set_timeout(ms(20), move |lp| {
        assert_eq!(server.connections(lp), 1);
        let second = Socket::connect_tcp(lp, addr, SocketOptions::default());
        let got = record_readable(lp, *second, &sl);
        let sg = sg.clone();
        let o2 = o.clone();
        second.on_data(lp, move |_, _| o2.push("second got data"));
        second.on_end(lp, move |_| {
            sg.borrow_mut().extend_from_slice(&got.borrow())
        });
        second.end(lp, Some(Bytes::from(vec![b'2'; 100_000])));
        let st = st.clone();
        second.on_close(lp, move |lp| {
            *st.borrow_mut() = Some(server.stats(lp));
            server.close(lp);
        });
    });
    let (o, checked) = (order.clone(), shared(false));
    let c = checked.clone();
    lp.set_timeout(ms(60), move |lp| {
        // Still one connection, the second waits in the queue.
        assert!(server.is_paused(lp));
        assert_eq!(server.connections(lp), 1);
        assert_eq!(o.count("accepted"), 1);
        *c.borrow_mut() = true;
    });
    run_bounded(&mut lp, 10, "max connections");

    assert!(*checked.borrow());
    assert_eq!(*first_got.borrow(), b"one");
    assert_eq!(*second_got.borrow(), vec![b'2'; 100_000], "nothing lost");
    let order = order.get();
    let closed = order
        .iter()
        .position(|e| e == "server conn closed")
        .unwrap();
    let second_accept = order.iter().rposition(|e| e == "accepted").unwrap();
    let second_data = order.iter().position(|e| e == "second got data").unwrap();
    assert!(
        closed < second_accept && second_accept < second_data,
        "{order:?}"
    );
    assert!(!second_log.get().iter().any(|e| e.starts_with("error")));
    let stats = stats.borrow().expect("stats taken before close");
    assert_eq!(stats.accepted, 2);
    assert_eq!(stats.peak_connections, 1);
    assert!(stats.paused_at_limit >= 1);
}
