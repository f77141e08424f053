//! Re-entrancy: a callback may call any API on any handle, its own included.

mod util;

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::rc::Rc;

use eventide_loop_phases::{Interest, IoWatch, Loop, RunMode, Timer};
use util::{Counter, Order, Slot, drain, ms, readable_pair};

#[test]
fn clear_timer_due_in_same_pass_from_earlier_timer() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let victim = Slot::<Timer>::new();
    let v = victim.clone();
    let o = order.clone();
    lp.set_timeout(ms(5), move |lp| {
        o.push("first");
        assert!(lp.clear_timeout(v.get()), "still pending in this pass");
    });
    let payload = Rc::new(());
    let p = Rc::clone(&payload);
    victim.set(lp.set_timeout(ms(5), move |_| {
        let _ = &p;
        unreachable!("cleared by an earlier timer of the same pass");
    }));
    lp.set_timeout(ms(5), order.task("third"));
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["first", "third"]);
    assert_eq!(Rc::strong_count(&payload), 1);
}

#[test]
fn timers_close_themselves() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let me = Slot::<Timer>::new();
    let m = me.clone();
    let o = order.clone();
    let payload = Rc::new(());
    let p = Rc::clone(&payload);
    me.set(lp.set_interval(ms(2), move |lp| {
        let _ = &p;
        o.push("interval");
        assert!(lp.close(m.get(), Some(Box::new(o.task("interval-closed")))));
        assert!(lp.is_closing(m.get()));
    }));
    // A timeout is done once its callback starts: closing it there reports
    // a stale id and drops the close callback, as `clear_timeout` would.
    let me2 = Slot::<Timer>::new();
    let m2 = me2.clone();
    let o = order.clone();
    me2.set(lp.set_timeout(ms(3), move |lp| {
        o.push("timeout");
        assert!(!lp.close(m2.get(), Some(Box::new(|_| unreachable!()))));
    }));
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["interval", "interval-closed", "timeout"]);
    assert_eq!(Rc::strong_count(&payload), 1);
}

#[test]
fn idle_closes_itself_and_a_later_one() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let later = lp.idle_init();
    lp.idle_start(later, |_| unreachable!("closed before its turn"));
    let me = lp.idle_init();
    let o = order.clone();
    let payload = Rc::new(());
    let p = Rc::clone(&payload);
    lp.idle_start(me, move |lp| {
        let _ = &p;
        o.push("idle");
        assert!(lp.close(me, Some(Box::new(o.task("me-closed")))));
        assert!(lp.close(later, Some(Box::new(o.task("later-closed")))));
    });
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["idle", "later-closed", "me-closed"]);
    assert_eq!(
        Rc::strong_count(&payload),
        1,
        "the running callback was dropped after it returned"
    );
}

#[test]
fn idle_restarts_itself_with_a_new_callback() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let idle = lp.idle_init();
    let o = order.clone();
    let payload = Rc::new(());
    let p = Rc::clone(&payload);
    lp.idle_start(idle, move |lp| {
        let _ = &p;
        o.push("old");
        lp.idle_stop(idle);
        let o2 = o.clone();
        lp.idle_start(idle, move |lp| {
            o2.push("new");
            lp.close(idle, None);
        });
    });
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["old", "new"]);
    assert_eq!(Rc::strong_count(&payload), 1);
}

#[test]
fn io_watch_closes_itself_and_rewatches_the_fd() {
    let order = Order::new();
    let mut lp = Loop::new();
    let (tx, rx) = readable_pair().unwrap();
    let rx = Rc::new(rx);
    let tx = Rc::new(tx);
    let (r, t, o) = (Rc::clone(&rx), Rc::clone(&tx), order.clone());
    let payload = Rc::new(());
    let p = Rc::clone(&payload);
    lp.poll_fd(rx.as_raw_fd(), Interest::READABLE, move |lp, watch, _| {
        let _ = &p;
        drain(&r);
        o.push("first");
        assert!(lp.close(watch, Some(Box::new(o.task("first-closed")))));
        // The descriptor was deregistered at once: it can be watched again.
        let (r2, o2) = (Rc::clone(&r), o.clone());
        lp.poll_fd(r.as_raw_fd(), Interest::READABLE, move |lp, w, _| {
            drain(&r2);
            o2.push("second");
            lp.close(w, None);
        })
        .unwrap();
        t.send(b"again").unwrap();
    })
    .unwrap();
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["first", "first-closed", "second"]);
    assert_eq!(Rc::strong_count(&payload), 1);
}

#[test]
fn io_callback_replaced_from_inside_it() {
    let order = Order::new();
    let mut lp = Loop::new();
    let (tx, rx) = UnixDatagram::pair().unwrap();
    rx.set_nonblocking(true).unwrap();
    tx.send(b"1").unwrap();
    let rx = Rc::new(rx);
    let (r, o) = (Rc::clone(&rx), order.clone());
    let old_payload = Rc::new(());
    let p = Rc::clone(&old_payload);
    lp.poll_fd(rx.as_raw_fd(), Interest::READABLE, move |lp, watch, _| {
        let _ = &p;
        drain(&r);
        o.push("old");
        let (r2, o2) = (Rc::clone(&r), o.clone());
        assert!(lp.io_set_callback(watch, move |lp, w, _| {
            drain(&r2);
            o2.push("new");
            lp.close(w, None);
        }));
        tx.send(b"2").unwrap();
    })
    .unwrap();
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["old", "new"]);
    assert_eq!(
        Rc::strong_count(&old_payload),
        1,
        "the replaced callback was dropped"
    );
}

#[test]
fn async_handle_closes_itself() {
    let calls = Counter::new();
    let mut lp = Loop::new();
    let me = Slot::new();
    let (m, c) = (me.clone(), calls.clone());
    let payload = Rc::new(());
    let p = Rc::clone(&payload);
    let (h, sender) = lp.async_init(move |lp| {
        let _ = &p;
        c.inc();
        assert!(lp.close(m.get(), None));
    });
    me.set(h);
    sender.send();
    assert!(!lp.run(RunMode::Default));
    sender.send();
    assert!(!lp.run(RunMode::Default));
    assert_eq!(calls.get(), 1);
    assert_eq!(Rc::strong_count(&payload), 1);
}

#[test]
fn clear_immediate_of_the_same_check_phase() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let victim = Slot::new();
    let (v, o) = (victim.clone(), order.clone());
    lp.set_immediate(move |lp| {
        o.push("first");
        assert!(lp.clear_immediate(v.get()));
    });
    victim.set(lp.set_immediate(|_| unreachable!()));
    lp.set_immediate(order.task("third"));
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["first", "third"]);
}

#[test]
fn stop_from_next_tick_and_close_callback() {
    let mut lp = Loop::new_manual();
    let keep = lp.set_timeout(ms(100), |_| {});
    lp.set_immediate(|lp| lp.next_tick(|lp| lp.stop()));
    assert!(lp.run(RunMode::Default));
    assert_eq!(lp.metrics().iterations, 1);
    let h = lp.handle_new("user");
    lp.close(h, Some(Box::new(|lp: &mut Loop| lp.stop())));
    assert!(lp.run(RunMode::Default));
    assert_eq!(lp.metrics().iterations, 2);
    assert_eq!(lp.now(), ms(0));
    lp.clear_timeout(keep);
    assert!(!lp.run(RunMode::Default));
}

/// A deep tangle of re-entrant calls: every callback touches other handles
/// and its own. No path may panic with a borrow error or lose a callback.
#[test]
fn every_api_from_every_callback_kind() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let idle = lp.idle_init();
    let watch_slot: Slot<IoWatch> = Slot::new();
    let (tx, rx) = readable_pair().unwrap();
    let rx = Rc::new(rx);
    let (o, r) = (order.clone(), Rc::clone(&rx));
    let ws = watch_slot.clone();
    watch_slot.set(
        lp.poll_fd(rx.as_raw_fd(), Interest::READABLE, move |lp, w, _| {
            drain(&r);
            o.push("io");
            let (o2, ws) = (o.clone(), ws.clone());
            lp.idle_start(idle, move |lp| {
                o2.push("idle");
                lp.idle_stop(idle);
                let (o3, ws) = (o2.clone(), ws.clone());
                let t = lp.set_timeout(ms(1), move |lp| {
                    o3.push("timer");
                    lp.close(idle, Some(Box::new(o3.task("idle-closed"))));
                    lp.close(ws.get(), Some(Box::new(o3.task("io-closed"))));
                });
                assert!(lp.refresh(t));
            });
            lp.io_set_interest(w, None).unwrap();
            assert!(!lp.is_active(w));
        })
        .unwrap(),
    );
    assert!(!lp.run(RunMode::Default));
    assert_eq!(
        order.get(),
        ["io", "idle", "timer", "io-closed", "idle-closed"]
    );
    drop(tx);
}
