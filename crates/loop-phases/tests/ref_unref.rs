//! `ref_handle` / `unref_handle` / `has_ref` (libuv's `uv_ref`, Node's
//! `unref()`): an unreferenced handle does not keep the loop alive by itself,
//! but still runs while something else does.

mod util;

use std::time::Duration;

use eventide_loop_phases::{Loop, RunMode, TraceEvent};
use util::{Counter, Order, ms, record_trace};

fn poll_timeouts(trace: &[TraceEvent]) -> Vec<Option<Duration>> {
    trace
        .iter()
        .filter_map(|e| match e {
            TraceEvent::PollStart { timeout } => Some(*timeout),
            _ => None,
        })
        .collect()
}

#[test]
fn unref_timer_lets_loop_exit_and_ref_restores_it() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let t = lp.set_timeout(ms(10), order.task("timer"));
    assert!(lp.has_ref(t));
    assert_eq!(lp.active_handles(), 1);
    lp.unref_handle(t);
    lp.unref_handle(t); // idempotent
    assert!(!lp.has_ref(t));
    assert_eq!(lp.active_handles(), 0);
    assert!(lp.is_active(t));
    assert!(!lp.run(RunMode::Default));
    assert!(order.get().is_empty(), "exited without firing it");
    assert_eq!(lp.now(), ms(0));
    lp.ref_handle(t);
    lp.ref_handle(t);
    assert!(lp.has_ref(t));
    assert_eq!(lp.active_handles(), 1);
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["timer"]);
    assert_eq!(lp.now(), ms(10));
    assert!(!lp.has_ref(t), "a fired timeout is gone");
    assert_eq!(lp.active_handles(), 0);
}

#[test]
fn unref_interval_runs_while_something_else_keeps_loop_alive() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let o = order.clone();
    let i = lp.set_interval(ms(10), move |lp| {
        o.push(format!("i@{}", lp.now().as_millis()))
    });
    lp.unref_handle(i);
    let o = order.clone();
    lp.set_timeout(ms(35), move |lp| {
        o.push(format!("t@{}", lp.now().as_millis()))
    });
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["i@10", "i@20", "i@30", "t@35"]);
    assert!(lp.is_active(i), "the interval is still started");
    assert!(lp.clear_interval(i));
    assert_eq!(lp.active_handles(), 0);
}

#[test]
fn unref_idle_keeps_poll_non_blocking_but_not_the_loop_alive() {
    let calls = Counter::new();
    // Alone, an unreferenced idle handle does not even start the loop.
    let mut lp = Loop::new_manual();
    let idle = lp.idle_init();
    let c = calls.clone();
    lp.idle_start(idle, move |_| {
        c.inc();
    });
    lp.unref_handle(idle);
    assert!(!lp.has_ref(idle));
    assert!(lp.is_active(idle));
    assert!(!lp.run(RunMode::Default));
    assert_eq!(calls.get(), 0);

    // With a referenced timer it runs, and while it is active the poll does
    // not block (libuv's backend timeout is 0 while idle handles are active).
    let trace = record_trace(&mut lp);
    let order = Order::new();
    lp.set_timeout(ms(10), order.task("timer"));
    let c = calls.clone();
    lp.idle_stop(idle);
    lp.idle_start(idle, move |lp| {
        if c.inc() == 3 {
            lp.idle_stop(idle);
        }
    });
    assert!(!lp.run(RunMode::Default));
    assert_eq!(calls.get(), 3);
    assert_eq!(order.get(), ["timer"]);
    assert_eq!(
        poll_timeouts(&trace.borrow()),
        [Some(Duration::ZERO), Some(Duration::ZERO), Some(ms(10))]
    );
}

#[test]
fn unref_immediate() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let trace = record_trace(&mut lp);
    let i = lp.set_immediate(order.task("immediate"));
    lp.unref_handle(i);
    assert!(!lp.has_ref(i));
    assert!(!lp.is_alive());
    assert!(!lp.run(RunMode::Default));
    assert!(order.get().is_empty());
    // With a referenced timer the immediate runs in the first check phase,
    // and, unreferenced, it does not stop the poll from waiting for the timer.
    lp.set_timeout(ms(5), order.task("timer"));
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["immediate", "timer"]);
    assert_eq!(poll_timeouts(&trace.borrow()), [Some(ms(5))]);

    // A referenced immediate keeps the poll from blocking.
    trace.borrow_mut().clear();
    lp.set_timeout(ms(5), |_| {});
    let i = lp.set_immediate(|_| {});
    assert!(lp.has_ref(i));
    assert!(!lp.run(RunMode::Default));
    assert_eq!(
        poll_timeouts(&trace.borrow()),
        [Some(Duration::ZERO), Some(ms(5))]
    );
}

#[test]
fn ref_counts_follow_handle_state() {
    let mut lp = Loop::new_manual();
    let h = lp.handle_new("user");
    assert!(lp.has_ref(h));
    assert_eq!(lp.active_handles(), 0, "inactive handles do not count");
    assert!(lp.handle_start(h));
    assert_eq!(lp.active_handles(), 1);
    lp.unref_handle(h);
    assert_eq!(lp.active_handles(), 0);
    assert!(!lp.is_alive());
    lp.ref_handle(h);
    assert_eq!(lp.active_handles(), 1);
    assert!(lp.handle_stop(h));
    assert_eq!(lp.active_handles(), 0);
    lp.handle_start(h);
    lp.close(h, None);
    assert_eq!(lp.active_handles(), 0, "closing handles are not active");
    lp.ref_handle(h);
    assert_eq!(
        lp.active_handles(),
        0,
        "ref on a closing handle changes nothing"
    );
    assert!(lp.is_alive(), "its close callback is still to run");
    assert!(!lp.run(RunMode::Default));
    assert!(!lp.has_ref(h), "stale");
}

#[test]
fn unref_async_handle_does_not_keep_loop_alive() {
    let mut lp = Loop::new();
    let (h, _sender) = lp.async_init(|_| unreachable!());
    assert!(lp.is_alive());
    lp.unref_handle(h);
    assert!(!lp.is_alive());
    assert!(!lp.run(RunMode::Default));
    lp.close(h, None);
    assert!(!lp.run(RunMode::Default));
}
