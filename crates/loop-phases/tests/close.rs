//! `close`: close callbacks run in the close phase in reverse order of the
//! `close` calls (libuv's closing list is a stack); a handle closed by a close
//! callback waits for the next iteration; the handle is closing until its
//! callback ran, and its id is stale afterwards.

mod util;

use std::rc::Rc;

use eventide_loop_phases::{Loop, RunMode};
use util::{Order, ms};

#[test]
fn close_callbacks_run_most_recent_first() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let hs: Vec<_> = (0..3)
        .map(|_| {
            let h = lp.handle_new("user");
            lp.handle_start(h);
            h
        })
        .collect();
    for (h, name) in hs.iter().zip(["A", "B", "C"]) {
        assert!(lp.close(*h, Some(Box::new(order.task(name)))));
    }
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["C", "B", "A"]);
}

#[test]
fn handle_closed_in_close_callback_closes_next_iteration() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let a = lp.handle_new("a");
    let b = lp.handle_new("b");
    let d = lp.handle_new("d");
    let o = order.clone();
    lp.close(a, Some(Box::new(o.task("A"))));
    lp.close(
        b,
        Some(Box::new(move |lp: &mut Loop| {
            o.push(format!("B@{}", lp.metrics().iterations));
            let o2 = o.clone();
            assert!(lp.close(
                d,
                Some(Box::new(move |lp: &mut Loop| {
                    o2.push(format!("D@{}", lp.metrics().iterations))
                }))
            ));
        })),
    );
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["B@1", "A", "D@2"]);
}

#[test]
fn is_closing_until_callback_ran_then_stale() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let idle = lp.idle_init();
    lp.idle_start(idle, |_| {});
    assert!(lp.is_active(idle));
    assert!(!lp.is_closing(idle));
    assert!(lp.close(idle, Some(Box::new(order.task("closed")))));
    assert!(lp.is_closing(idle));
    assert!(!lp.is_active(idle));
    // A second close is refused and its callback dropped unrun.
    assert!(!lp.close(idle, Some(Box::new(order.task("second")))));
    // A closing handle keeps the loop alive until its callback ran.
    assert!(lp.is_alive());
    assert!(!lp.run(RunMode::NoWait));
    assert_eq!(order.get(), ["closed"]);
    assert!(!lp.is_closing(idle));
    assert!(!lp.is_alive());
    assert!(
        !lp.close(idle, None),
        "the id is stale after the close callback"
    );
    assert!(
        !lp.idle_start(idle, |_| {}),
        "a stale id cannot be restarted"
    );
}

#[test]
fn closing_a_timer_or_immediate() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let payload = Rc::new(());
    let p = Rc::clone(&payload);
    let t = lp.set_timeout(ms(5), move |_| drop(p));
    let i = lp.set_immediate(order.task("immediate-ran"));
    assert!(lp.close(t, Some(Box::new(order.task("timer-closed")))));
    // The callback and what it captured are dropped at once.
    assert_eq!(Rc::strong_count(&payload), 1);
    assert!(lp.is_closing(t));
    assert!(lp.close(i, Some(Box::new(order.task("immediate-closed")))));
    assert!(lp.is_closing(i));
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["immediate-closed", "timer-closed"]);
    assert!(!lp.is_closing(t));
    assert!(!lp.close(t, None));
    assert!(!lp.clear_timeout(t));
    // No time passed: the closed timer did not keep the loop waiting.
    assert_eq!(lp.now(), ms(0));
}

/// A close callback of every kind of handle runs in the close phase.
#[test]
fn close_callbacks_run_in_close_phase() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let (handle, _sender) = lp.async_init(|_| {});
    let idle = lp.idle_init();
    let t = lp.set_interval(ms(1), |_| {});
    let user = lp.handle_new("user");
    let cb = |o: &Order, name: &'static str| -> Option<eventide_loop_phases::Task> {
        let o = o.clone();
        Some(Box::new(move |lp: &mut Loop| {
            o.push(format!("{name}@{}", lp.phase()))
        }))
    };
    lp.close(handle, cb(&order, "async"));
    lp.close(idle, cb(&order, "idle"));
    lp.close(t, cb(&order, "interval"));
    lp.close(user, cb(&order, "user"));
    assert!(!lp.run(RunMode::Default));
    assert_eq!(
        order.get(),
        ["user@close", "interval@close", "idle@close", "async@close"]
    );
}
