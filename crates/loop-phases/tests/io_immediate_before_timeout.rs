//! Inside an I/O callback, `set_immediate` runs before `set_timeout(0)`: the
//! check phase comes right after poll, the timers phase only after it. This
//! is deterministic (unlike the same pair in the main script), so it is
//! repeated on the real clock with real sockets.

mod util;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::time::Duration;

use eventide_loop_phases::{Interest, Loop, RunMode};
use util::{Order, readable_pair};

#[test]
fn immediate_before_zero_timeout_in_io_callback_datagram() {
    for _ in 0..20 {
        let order = Order::new();
        let mut lp = Loop::new();
        let (_tx, rx) = readable_pair().unwrap();
        let o = order.clone();
        lp.poll_fd(
            rx.as_raw_fd(),
            Interest::READABLE,
            move |lp, watch, ready| {
                assert!(ready.is_readable());
                lp.set_timeout(Duration::ZERO, o.task("timeout"));
                lp.set_immediate(o.task("immediate"));
                lp.close(watch, None);
            },
        )
        .unwrap();
        assert!(!lp.run(RunMode::Default));
        assert_eq!(order.get(), ["immediate", "timeout"]);
    }
}

#[test]
fn immediate_before_zero_timeout_in_io_callback_tcp() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    for _ in 0..20 {
        let mut client = TcpStream::connect(addr).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let order = Order::new();
        let mut lp = Loop::new();
        let o = order.clone();
        lp.poll_fd(
            server.as_raw_fd(),
            Interest::READABLE,
            move |lp, watch, _| {
                // Set in the opposite order too: the phase decides, not the call order.
                lp.set_immediate(o.task("immediate"));
                lp.set_timeout(Duration::ZERO, o.task("timeout"));
                lp.set_timeout(Duration::ZERO, o.task("timeout2"));
                lp.set_immediate(o.task("immediate2"));
                lp.close(watch, None);
            },
        )
        .unwrap();
        client.write_all(b"ping").unwrap();
        assert!(!lp.run(RunMode::Default));
        assert_eq!(
            order.get(),
            ["immediate", "immediate2", "timeout", "timeout2"]
        );
        drop(server);
    }
}
