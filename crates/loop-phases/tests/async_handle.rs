//! Async handles (libuv's `uv_async_t`): sends from any thread coalesce into
//! one callback, which runs in the poll phase.

mod util;

use std::cell::OnceCell;
use std::rc::Rc;
use std::thread;
use std::time::Duration;

use eventide_loop_phases::{AsyncHandle, AsyncSender, Loop, Phase, RunMode};
use util::{Counter, Order};

#[test]
fn many_sends_before_run_give_one_callback() {
    let calls = Counter::new();
    let mut lp = Loop::new();
    let c = calls.clone();
    let (h, sender) = lp.async_init(move |lp| {
        assert_eq!(lp.phase(), Phase::Poll);
        c.inc();
    });
    thread::spawn(move || (0..1000).for_each(|_| sender.send()))
        .join()
        .unwrap();
    assert!(
        lp.run(RunMode::Once),
        "the async handle keeps the loop alive"
    );
    assert_eq!(calls.get(), 1);
    for _ in 0..3 {
        lp.run(RunMode::NoWait);
    }
    assert_eq!(calls.get(), 1, "no second callback without a new send");
    lp.close(h, None);
    assert!(!lp.run(RunMode::Default));
}

#[test]
fn send_during_callback_gives_one_more_callback() {
    let calls = Counter::new();
    let mut lp = Loop::new();
    let c = calls.clone();
    let own: Rc<OnceCell<AsyncSender>> = Rc::new(OnceCell::new());
    let me = Rc::clone(&own);
    let (h, sender) = lp.async_init(move |_| {
        if c.inc() == 1 {
            // From inside the callback: the flag was cleared before it ran.
            me.get().unwrap().send();
        }
    });
    own.set(sender.clone()).unwrap();
    sender.send();
    sender.send();
    assert!(lp.run(RunMode::Once));
    assert_eq!(calls.get(), 1);
    assert!(lp.run(RunMode::Once));
    assert_eq!(calls.get(), 2);
    lp.run(RunMode::NoWait);
    assert_eq!(calls.get(), 2);
    lp.close(h, None);
    lp.run(RunMode::Default);
}

#[test]
fn closed_handle_ignores_later_sends() {
    let calls = Counter::new();
    let mut lp = Loop::new();
    let c = calls.clone();
    let (h, sender) = lp.async_init(move |_| {
        c.inc();
    });
    assert!(lp.close(h, None));
    assert!(lp.async_sender(h).is_none());
    assert!(!lp.run(RunMode::Default));
    let s = sender.clone();
    thread::spawn(move || s.send()).join().unwrap();
    sender.send();
    assert!(!lp.run(RunMode::NoWait));
    assert!(!lp.run(RunMode::Default));
    assert_eq!(calls.get(), 0);
    // A new handle reusing the slot does not get the old handle's sends.
    let calls2 = Counter::new();
    let c2 = calls2.clone();
    let (h2, _s2) = lp.async_init(move |_| {
        c2.inc();
    });
    sender.send();
    lp.run(RunMode::NoWait);
    lp.run(RunMode::NoWait);
    assert_eq!(calls2.get(), 0);
    lp.close(h2, None);
    lp.run(RunMode::Default);
}

#[test]
fn each_handle_gets_its_own_callback() {
    let order = Order::new();
    let mut lp = Loop::new();
    let (a, sa) = lp.async_init(order.each("a"));
    let (b, sb) = lp.async_init(order.each("b"));
    let (c, _sc) = lp.async_init(order.each("c"));
    thread::spawn(move || {
        for _ in 0..10 {
            sb.send();
            sa.send();
        }
    })
    .join()
    .unwrap();
    assert!(lp.run(RunMode::Once));
    let mut got = order.take();
    got.sort();
    assert_eq!(got, ["a", "b"], "c was not sent");
    for h in [a, b, c] {
        lp.close(h, None);
    }
    assert!(!lp.run(RunMode::Default));
}

/// A loop blocked in poll wakes up for a send from another thread.
#[test]
fn send_wakes_a_blocked_loop() {
    let calls = Counter::new();
    let mut lp = Loop::new();
    let c = calls.clone();
    let own: Rc<OnceCell<AsyncHandle>> = Rc::new(OnceCell::new());
    let me = Rc::clone(&own);
    let (h, sender) = lp.async_init(move |lp| {
        c.inc();
        lp.close(*me.get().unwrap(), None);
    });
    own.set(h).unwrap();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(20));
        sender.send();
    });
    assert!(!lp.run(RunMode::Default));
    assert_eq!(calls.get(), 1);
    t.join().unwrap();
}
