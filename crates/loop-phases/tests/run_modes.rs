//! `run`'s modes and return value, with libuv's meaning: `NoWait` and `Once`
//! return whether the loop is still alive; `Default` returns `false` when
//! drained and `true` only when stopped with something left; `stop` ends the
//! run after the current iteration and the next `run` continues.

mod util;

use std::time::{Duration, Instant};

use eventide_loop_phases::{Loop, RunMode, TraceEvent};
use util::{Counter, Order, ms, record_trace};

#[test]
fn empty_loop_is_not_alive_in_any_mode() {
    let mut lp = Loop::new_manual();
    for mode in [RunMode::NoWait, RunMode::Once, RunMode::Default] {
        assert!(!lp.run(mode), "{mode:?}");
    }
    assert_eq!(lp.metrics().iterations, 0, "no iteration without work");
    let mut real = Loop::new();
    for mode in [RunMode::NoWait, RunMode::Once, RunMode::Default] {
        assert!(!real.run(mode), "{mode:?}");
    }
}

#[test]
fn nowait_with_pending_timer_is_alive_and_never_blocks() {
    let fired = Counter::new();
    let mut lp = Loop::new_manual();
    let f = fired.clone();
    lp.set_timeout(ms(10), move |_| {
        f.inc();
    });
    for _ in 0..5 {
        assert!(lp.run(RunMode::NoWait));
    }
    assert_eq!(fired.get(), 0);
    assert_eq!(lp.now(), ms(0), "NoWait never jumps the manual clock");
    assert_eq!(lp.metrics().iterations, 5);

    // On the real clock a far timer does not make NoWait wait.
    let mut real = Loop::new();
    let t = real.set_timeout(Duration::from_secs(3600), |_| unreachable!());
    let start = Instant::now();
    assert!(real.run(RunMode::NoWait));
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(real.clear_timeout(t));
    assert!(!real.run(RunMode::NoWait));
}

#[test]
fn once_blocks_for_the_timer_and_runs_it() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    lp.set_timeout(ms(10), order.task("t10"));
    lp.set_timeout(ms(20), order.task("t20"));
    assert!(lp.run(RunMode::Once), "t20 is left");
    assert_eq!(order.get(), ["t10"]);
    assert_eq!(lp.now(), ms(10));
    assert!(!lp.run(RunMode::Once), "nothing left");
    assert_eq!(order.get(), ["t10", "t20"]);
    assert_eq!(lp.now(), ms(20));
}

#[test]
fn once_on_real_clock_waits_for_the_timer() {
    let fired = Counter::new();
    let mut lp = Loop::new();
    let f = fired.clone();
    let start = Instant::now();
    lp.set_timeout(ms(20), move |_| {
        f.inc();
    });
    assert!(!lp.run(RunMode::Once));
    assert_eq!(fired.get(), 1);
    assert!(start.elapsed() >= ms(20));
}

/// `Once` does not block when an idle handle or a pending callback is waiting
/// (libuv's `can_sleep`).
#[test]
fn once_does_not_block_with_idle_or_pending() {
    let mut lp = Loop::new();
    let t = lp.set_timeout(Duration::from_secs(3600), |_| unreachable!());
    let idle = lp.idle_init();
    let calls = Counter::new();
    let c = calls.clone();
    lp.idle_start(idle, move |_| {
        c.inc();
    });
    let start = Instant::now();
    assert!(lp.run(RunMode::Once));
    assert_eq!(calls.get(), 1);
    lp.close(idle, None);
    lp.queue_pending(|_| {});
    assert!(lp.run(RunMode::Once));
    assert!(start.elapsed() < Duration::from_secs(2));
    lp.clear_timeout(t);
    assert!(!lp.run(RunMode::Default));
}

#[test]
fn default_returns_false_when_drained() {
    let mut lp = Loop::new_manual();
    lp.set_timeout(ms(5), |lp| {
        lp.set_immediate(|lp| {
            lp.set_timeout(ms(5), |_| {});
        });
    });
    assert!(!lp.run(RunMode::Default));
    assert!(!lp.is_alive());
    assert_eq!(lp.now(), ms(10));
}

#[test]
fn stop_from_timer_ends_run_and_next_run_continues() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let o = order.clone();
    let mut n = 0;
    let interval = lp.set_interval(ms(10), move |lp| {
        n += 1;
        o.push(format!("tick{n}@{}", lp.now().as_millis()));
        if n < 3 {
            lp.stop();
        }
    });
    assert!(lp.run(RunMode::Default), "stopped with the interval left");
    assert_eq!(order.take(), ["tick1@10"]);
    assert!(lp.run(RunMode::Default));
    assert_eq!(order.take(), ["tick2@20"]);
    let o = order.clone();
    lp.set_timeout(ms(25), move |lp| {
        o.push("clear");
        lp.clear_interval(interval);
    });
    assert!(!lp.run(RunMode::Default), "drained");
    assert_eq!(order.take(), ["tick3@30", "tick4@40", "clear"]);
}

/// `stop` from an immediate: the rest of the iteration (close, timers) still
/// runs, then `run` returns `true`.
#[test]
fn stop_from_immediate_finishes_the_iteration() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let keep = lp.set_timeout(Duration::from_secs(60), |_| {});
    let o = order.clone();
    lp.set_immediate(move |lp| {
        o.push("immediate");
        lp.stop();
        let h = lp.handle_new("user");
        lp.close(h, Some(Box::new(o.task("close-same-iteration"))));
        lp.set_immediate(o.task("next-immediate"));
    });
    assert!(lp.run(RunMode::Default));
    assert_eq!(order.take(), ["immediate", "close-same-iteration"]);
    assert_eq!(lp.metrics().iterations, 1);
    assert!(lp.run(RunMode::NoWait));
    assert_eq!(order.take(), ["next-immediate"]);
    lp.clear_timeout(keep);
    assert!(!lp.run(RunMode::Default));
}

/// `stop` from an idle callback: prepare, a non-blocking poll, check, close
/// and timers of that iteration run, then `run` returns.
#[test]
fn stop_from_idle_finishes_the_iteration_without_blocking() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let trace = record_trace(&mut lp);
    let idle = lp.idle_init();
    let o = order.clone();
    let mut n = 0;
    lp.idle_start(idle, move |lp| {
        n += 1;
        o.push(format!("idle{n}"));
        if n == 2 {
            lp.stop();
            lp.idle_stop(idle);
            lp.set_immediate(o.task("immediate"));
        }
    });
    let prepare = lp.prepare_init();
    lp.prepare_start(prepare, order.each("prepare"));
    lp.unref_handle(prepare);
    let t = lp.set_timeout(ms(10), order.task("timer"));
    assert!(lp.run(RunMode::Default), "the timer is left");
    assert_eq!(
        order.take(),
        ["idle1", "prepare", "idle2", "prepare", "immediate"]
    );
    // After stop the poll did not block: no poll waited for the timer.
    let polls: Vec<_> = trace
        .borrow()
        .iter()
        .filter_map(|e| match e {
            TraceEvent::PollStart { timeout } => Some(*timeout),
            _ => None,
        })
        .collect();
    assert_eq!(polls, [Some(Duration::ZERO), Some(Duration::ZERO)]);
    assert_eq!(lp.now(), ms(0));
    // The next run continues, and waits for the timer now.
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.take(), ["prepare", "timer"]);
    assert!(lp.is_active(prepare));
    let _ = t;
}

/// `stop` before `run`: no iteration runs, the flag is cleared.
#[test]
fn stop_before_run() {
    let mut lp = Loop::new_manual();
    lp.set_timeout(ms(1), |_| {});
    lp.stop();
    assert!(lp.run(RunMode::Default));
    assert_eq!(lp.metrics().iterations, 0);
    assert!(!lp.run(RunMode::Default));
    assert_eq!(lp.metrics().iterations, 1);
}
