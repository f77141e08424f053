//! Timer rules of Node and libuv 1.48, on the manual clock unless the rule is
//! about the real clock.

mod util;

use std::rc::Rc;
use std::time::{Duration, Instant};

use eventide_loop_phases::{Loop, RunMode};
use util::{Order, Slot, ms};

/// A callback that logs `name@<loop time in ms>`.
fn at(order: &Order, name: &str) -> impl FnMut(&mut Loop) + 'static {
    let (o, name) = (order.clone(), name.to_string());
    move |lp| o.push(format!("{name}@{}", lp.now().as_millis()))
}

#[test]
fn equal_due_times_fire_in_start_order() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    for name in ["a", "b", "c", "d", "e"] {
        lp.set_timeout(ms(5), at(&order, name));
    }
    // 4.5 ms rounds up to 5 ms: the same due time, started last.
    lp.set_timeout(Duration::from_micros(4_500), at(&order, "f"));
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["a@5", "b@5", "c@5", "d@5", "e@5", "f@5"]);
}

#[test]
fn refresh_moves_a_timer_behind_equal_ones() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let a = lp.set_timeout(ms(5), at(&order, "a"));
    lp.set_timeout(ms(5), at(&order, "b"));
    assert!(lp.refresh(a)); // same time: same due, but a later start
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["b@5", "a@5"]);
}

#[test]
fn zero_delay_is_one_millisecond() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    lp.set_timeout(Duration::ZERO, at(&order, "zero"));
    lp.set_timeout(ms(1), at(&order, "one"));
    lp.set_timeout(Duration::from_nanos(1), at(&order, "1ns"));
    // Node: a delay above TIMEOUT_MAX (2^31 - 1 ms) becomes 1 ms too.
    lp.set_timeout(ms(1 << 31), at(&order, "huge"));
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["zero@1", "one@1", "1ns@1", "huge@1"]);
}

/// `set_timeout` measures from the time it is called (read now), not from the
/// loop time cached when the iteration began.
#[test]
fn set_timeout_measures_from_current_time_real_clock() {
    let mut lp = Loop::new();
    let fired_after = Rc::new(std::cell::Cell::new(None));
    let f = Rc::clone(&fired_after);
    lp.set_timeout(ms(1), move |lp| {
        // Busy for 30 ms: the cached loop time is now 30 ms old.
        std::thread::sleep(ms(30));
        let set_at = Instant::now();
        lp.set_timeout(ms(10), move |_| f.set(Some(set_at.elapsed())));
    });
    lp.run(RunMode::Default);
    let waited = fired_after.get().expect("the inner timer fired");
    assert!(waited >= ms(10), "fired {waited:?} after it was set");
}

#[test]
fn set_timeout_measures_from_current_time_manual_clock() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let o = order.clone();
    lp.set_timeout(ms(1), move |lp| {
        lp.advance(ms(4)); // a slow callback
        lp.set_timeout(ms(10), at(&o, "inner"));
    });
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["inner@15"]);
}

/// An interval re-arms from the time its callback started, so a slow callback
/// does not push the schedule back.
#[test]
fn interval_rearms_from_callback_start() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let o = order.clone();
    let t = lp.set_interval(ms(10), move |lp| {
        o.push(format!("i@{}", lp.now().as_millis()));
        lp.advance(ms(3)); // the callback takes 3 ms
    });
    let o = order.clone();
    lp.set_timeout(ms(35), move |lp| {
        o.push("stop");
        lp.clear_interval(t);
    });
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["i@10", "i@20", "i@30", "stop"]);
}

/// An overdue interval runs once per pass, with no burst to catch up.
#[test]
fn overdue_interval_runs_once_per_pass() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let o = order.clone();
    let mut n = 0;
    let me = Slot::new();
    let m = me.clone();
    let t = lp.set_interval(ms(10), move |lp| {
        n += 1;
        o.push(format!(
            "i@{}/{}",
            lp.now().as_millis(),
            lp.metrics().iterations
        ));
        if n == 3 {
            lp.clear_interval(m.get());
        }
    });
    me.set(t);
    lp.advance(ms(35)); // three periods and a half late
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["i@35/0", "i@45/1", "i@55/2"]);
}

/// libuv 1.48: the timers phase first collects the due timers, then runs
/// them, so a zero timer started by a timer callback runs on the next pass,
/// even when the callback advanced the clock past its due time.
#[test]
fn zero_timer_from_timer_callback_runs_next_pass() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let o = order.clone();
    lp.set_timeout(ms(1), move |lp| {
        o.push(format!("outer/{}", lp.metrics().iterations));
        let o2 = o.clone();
        lp.set_timeout(Duration::ZERO, move |lp| {
            o2.push(format!("inner/{}", lp.metrics().iterations))
        });
        lp.advance(ms(5));
    });
    lp.set_timeout(ms(1), at(&order, "sibling"));
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["outer/1", "sibling@6", "inner/2"]);
}

/// A self-rearming zero timer cannot busy-loop one timers phase.
#[test]
fn self_rearming_zero_timer_runs_once_per_pass() {
    let mut lp = Loop::new_manual();
    fn again(lp: &mut Loop, n: u32) {
        if n < 5 {
            lp.set_timeout(Duration::ZERO, move |lp| again(lp, n + 1));
        }
    }
    lp.set_timeout(Duration::ZERO, |lp| again(lp, 1));
    lp.run(RunMode::Default);
    assert_eq!(lp.now(), ms(5));
    assert_eq!(lp.metrics().iterations, 5);
}

#[test]
fn refresh_pushes_the_deadline() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let t = lp.set_timeout(ms(10), at(&order, "t"));
    let o = order.clone();
    lp.set_timeout(ms(6), move |lp| {
        o.push("refresh");
        assert!(lp.refresh(t));
    });
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["refresh", "t@16"]);
    assert!(!lp.refresh(t), "a fired timeout cannot be refreshed");
}

#[test]
fn refresh_of_a_timer_due_in_the_same_pass_defers_it() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let o = order.clone();
    let second = Slot::new();
    let s = second.clone();
    lp.set_timeout(ms(5), move |lp| {
        o.push("first");
        assert!(lp.refresh(s.get()));
    });
    second.set(lp.set_timeout(ms(5), at(&order, "second")));
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["first", "second@10"]);
}

#[test]
fn cancelled_timer_drops_its_callback_at_once() {
    let mut lp = Loop::new_manual();
    let payload = Rc::new("captured");
    let p = Rc::clone(&payload);
    let t = lp.set_timeout(ms(5), move |_| drop(p));
    let p = Rc::clone(&payload);
    let i = lp.set_interval(ms(5), move |_| {
        let _ = &p;
    });
    assert_eq!(Rc::strong_count(&payload), 3);
    assert!(lp.clear_timeout(t));
    assert_eq!(Rc::strong_count(&payload), 2);
    assert!(lp.clear_interval(i));
    assert_eq!(Rc::strong_count(&payload), 1);
    assert!(!lp.clear_timeout(t));
    assert!(!lp.is_active(t));
    assert_eq!(lp.active_timers(), 0);
    assert!(!lp.run(RunMode::Default));
    assert_eq!(lp.now(), ms(0), "nothing waited for the cleared timers");
}

/// An interval cleared from its own callback drops the callback when it
/// returns; nothing fires again.
#[test]
fn interval_cleared_in_own_callback() {
    let mut lp = Loop::new_manual();
    let payload = Rc::new(());
    let p = Rc::clone(&payload);
    let mut n = 0;
    let me = Slot::new();
    let m = me.clone();
    let t = lp.set_interval(ms(2), move |lp| {
        let _ = &p;
        n += 1;
        if n == 2 {
            assert!(lp.clear_interval(m.get()));
        }
    });
    me.set(t);
    lp.run(RunMode::Default);
    assert_eq!(lp.now(), ms(4));
    assert_eq!(Rc::strong_count(&payload), 1);
}
