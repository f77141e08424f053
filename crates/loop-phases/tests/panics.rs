//! `Loop::run`'s `# Panics` contract: a panic in a callback propagates to the
//! caller of `run`, the callback that panicked is dropped, the loop's state
//! stays consistent, and `run` may be called again: nothing queued behind the
//! panicking callback is lost.

mod util;

use std::os::fd::AsRawFd;
use std::panic::{AssertUnwindSafe, catch_unwind};

use eventide_loop_phases::{Interest, Loop, RunMode};
use util::{Order, drain, ms, readable_pair};

/// Runs the loop, expecting a panic with `msg`.
fn run_panics(lp: &mut Loop, mode: RunMode, msg: &str) {
    let err = catch_unwind(AssertUnwindSafe(|| lp.run(mode))).expect_err("run panicked");
    let got = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert_eq!(got, msg);
}

#[test]
fn timer_after_a_panicking_timer_of_the_same_pass_still_fires() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    lp.set_timeout(ms(5), |_| panic!("timer"));
    lp.set_timeout(ms(5), order.task("second"));
    lp.set_timeout(ms(9), order.task("later"));
    run_panics(&mut lp, RunMode::Default, "timer");
    assert_eq!(lp.active_timers(), 2);
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["second", "later"]);
    assert_eq!(lp.now(), ms(9));
    assert_eq!(lp.active_handles(), 0);
}

#[test]
fn panicking_interval_is_dropped() {
    let mut lp = Loop::new_manual();
    let t = lp.set_interval(ms(5), |_| panic!("interval"));
    run_panics(&mut lp, RunMode::Default, "interval");
    // Its callback is gone: the next run clears it instead of waiting forever
    // for an interval that can never fire.
    assert!(!lp.run(RunMode::Default));
    assert!(!lp.clear_interval(t));
    assert_eq!(lp.active_handles(), 0);
}

#[test]
fn pending_after_a_panicking_pending_still_runs() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    lp.queue_pending(|_| panic!("pending"));
    lp.queue_pending(order.task("second"));
    run_panics(&mut lp, RunMode::Default, "pending");
    assert!(lp.is_alive(), "the second pending callback is still queued");
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["second"]);
}

#[test]
fn idle_after_a_panicking_idle_still_runs() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let a = lp.idle_init();
    let o = order.clone();
    lp.idle_start(a, move |lp| {
        o.push("a");
        lp.close(a, None);
    });
    let b = lp.idle_init();
    lp.idle_start(b, |_| panic!("idle")); // started last: runs first
    run_panics(&mut lp, RunMode::Default, "idle");
    // The idle handle that lost its callback is stopped at its next turn
    // (it would otherwise keep the poll from ever blocking).
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["a"]);
    assert!(!lp.is_active(b));
    assert!(lp.close(b, None));
    assert!(!lp.run(RunMode::Default));
}

#[test]
fn close_callback_after_a_panicking_one_still_runs() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let a = lp.handle_new("a");
    let b = lp.handle_new("b");
    lp.close(a, Some(Box::new(order.task("a-closed"))));
    lp.close(b, Some(Box::new(|_| panic!("close"))));
    run_panics(&mut lp, RunMode::Default, "close");
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["a-closed"]);
    assert!(!lp.is_closing(a) && !lp.is_closing(b));
    assert!(!lp.is_alive());
}

#[test]
fn io_event_after_a_panicking_io_callback_still_arrives() {
    let order = Order::new();
    let mut lp = Loop::new();
    let (_t0, r0) = readable_pair().unwrap();
    let (_t1, r1) = readable_pair().unwrap();
    let mut watches = Vec::new();
    for (name, rx) in [("0", r0), ("1", r1)] {
        let o = order.clone();
        let w = lp
            .poll_fd(rx.as_raw_fd(), Interest::READABLE, move |lp, w, _| {
                drain(&rx);
                if o.len() == 0 {
                    o.push(format!("panic{name}"));
                    panic!("io");
                }
                o.push(format!("ran{name}"));
                lp.close(w, None);
            })
            .unwrap();
        watches.push(w);
    }
    run_panics(&mut lp, RunMode::Default, "io");
    assert_eq!(order.len(), 1);
    // The other watcher's event, read in the same batch, is still delivered
    // (edge-triggered: the OS would not report it again).
    lp.run(RunMode::NoWait);
    let got = order.get();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got[1].starts_with("ran"), "{got:?}");
    for w in watches {
        lp.close(w, None);
    }
    assert!(!lp.run(RunMode::Default));
}

#[test]
fn async_after_a_panicking_async_still_runs() {
    let order = Order::new();
    let mut lp = Loop::new();
    let (a, sa) = lp.async_init(|_| panic!("async"));
    let o = order.clone();
    let (b, sb) = lp.async_init(move |_| o.push("b"));
    sa.send();
    sb.send();
    run_panics(&mut lp, RunMode::Once, "async");
    lp.run(RunMode::NoWait);
    assert_eq!(order.get(), ["b"]);
    // Both handles still take sends.
    sb.send();
    lp.run(RunMode::Once);
    assert_eq!(order.get(), ["b", "b"]);
    lp.close(a, None);
    lp.close(b, None);
    assert!(!lp.run(RunMode::Default));
}

#[test]
fn immediates_and_ticks_survive_a_panic() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let o = order.clone();
    lp.set_immediate(move |lp| {
        lp.next_tick(|_| panic!("tick"));
        lp.next_tick(o.task("tick2"));
    });
    lp.set_immediate(order.task("immediate2"));
    run_panics(&mut lp, RunMode::Default, "tick");
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["tick2", "immediate2"]);
}
