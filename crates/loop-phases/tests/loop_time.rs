//! The cached loop time (`Loop::now`, libuv's `uv_now`) is updated before the
//! timers phase and right after polling, as libuv's `uv__io_poll` does: the
//! callbacks that run after a blocking poll see the time it ended.

mod util;

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use eventide_loop_phases::{Interest, Loop, RunMode};
use util::{Order, ms};

#[test]
fn io_callback_sees_time_after_the_poll() {
    let mut lp = Loop::new();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    rx.set_nonblocking(true).unwrap();
    let before = lp.hrtime();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(ms(50));
        tx.send(b"late").unwrap();
        tx
    });
    let seen = std::rc::Rc::new(std::cell::Cell::new(Duration::ZERO));
    let s = seen.clone();
    lp.poll_fd(rx.as_raw_fd(), Interest::READABLE, move |lp, watch, _| {
        s.set(lp.now());
        lp.close(watch, None);
    })
    .unwrap();
    lp.update_time();
    lp.run(RunMode::Default);
    let _tx = sender.join().unwrap();
    assert!(
        seen.get() >= before + ms(50),
        "uv_now in the I/O callback is {:?}, the poll started at {before:?} and waited 50 ms",
        seen.get()
    );
}

#[test]
fn check_after_a_jump_sees_the_jumped_time() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let o = order.clone();
    let i = lp.set_immediate(move |lp| o.push(format!("immediate@{}", lp.now().as_millis())));
    lp.unref_handle(i); // does not stop the poll from waiting for the timer
    let o = order.clone();
    lp.set_timeout(ms(7), move |lp| {
        o.push(format!("timer@{}", lp.now().as_millis()))
    });
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["immediate@7", "timer@7"]);
}
