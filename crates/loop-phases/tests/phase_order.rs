//! One iteration with every kind of callback runs them in libuv's phase order:
//! timers, pending, idle, prepare, poll, check (check handles, then
//! immediates), close, and timers again at the end of the iteration (libuv
//! 1.48: timers run once before the first iteration in `Default` mode, then
//! at the end of each).

mod util;

use std::os::fd::AsRawFd;

use eventide_loop_phases::{CallbackKind, Interest, Loop, Phase, RunMode, TraceEvent};
use util::{Order, ms, phase_starts, readable_pair, record_trace};

#[test]
fn every_phase_in_order_in_one_iteration() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let trace = record_trace(&mut lp);

    // Timer 1 is due before the loop starts: it runs in the timers pass that
    // precedes the first iteration. Timer 2 becomes due during iteration 1
    // (the check callback advances the clock), so it runs in the timers
    // phase at the end of that iteration.
    lp.set_timeout(ms(1), order.task("timer1"));
    lp.set_timeout(ms(2), order.task("timer2"));
    lp.advance(ms(1));

    lp.queue_pending(order.task("pending"));
    let o = order.clone();
    let idle = lp.idle_init();
    lp.idle_start(idle, move |lp| {
        o.push("idle");
        lp.idle_stop(idle);
    });
    let o = order.clone();
    let prepare = lp.prepare_init();
    lp.prepare_start(prepare, move |lp| {
        o.push("prepare");
        lp.prepare_stop(prepare);
    });
    let (_tx, rx) = readable_pair().unwrap();
    let o = order.clone();
    lp.poll_fd(rx.as_raw_fd(), Interest::READABLE, move |lp, watch, _| {
        o.push("io");
        lp.close(watch, Some(Box::new(o.task("close"))));
    })
    .unwrap();
    let o = order.clone();
    let check = lp.check_init();
    lp.check_start(check, move |lp| {
        o.push("check");
        lp.check_stop(check);
        lp.advance(ms(1)); // timer 2 is now due
    });
    lp.set_immediate(order.task("immediate"));

    assert!(!lp.run(RunMode::Default));
    assert_eq!(
        order.get(),
        [
            "timer1",
            "pending",
            "idle",
            "prepare",
            "io",
            "check",
            "immediate",
            "close",
            "timer2"
        ]
    );

    let trace = trace.borrow();
    assert_eq!(
        phase_starts(&trace),
        [
            Phase::Timers,
            Phase::Pending,
            Phase::Idle,
            Phase::Prepare,
            Phase::Poll,
            Phase::Check,
            Phase::Close,
            Phase::Timers
        ]
    );
    // Each callback is reported in the phase it ran in.
    let callbacks: Vec<(Phase, &str)> = trace
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Callback { phase, kind, .. } => Some((*phase, kind.name())),
            _ => None,
        })
        .collect();
    assert_eq!(
        callbacks,
        [
            (Phase::Timers, "timeout"),
            (Phase::Pending, "pending"),
            (Phase::Idle, "idle"),
            (Phase::Prepare, "prepare"),
            (Phase::Poll, "io"),
            (Phase::Check, "check"),
            (Phase::Check, "immediate"),
            (Phase::Close, "close"),
            (Phase::Timers, "timeout"),
        ]
    );
    // One iteration: it started once, and the I/O callback reported its fd.
    let starts = trace
        .iter()
        .filter(|e| matches!(e, TraceEvent::IterationStart { .. }))
        .count();
    assert_eq!(starts, 1);
    assert!(trace.iter().any(|e| matches!(
        e,
        TraceEvent::Callback { kind: CallbackKind::Io { fd }, .. } if *fd == rx.as_raw_fd()
    )));
    assert_eq!(lp.metrics().iterations, 1);
}

/// Every phase is entered in every iteration, in the same order, also when
/// it has nothing to run; the iteration after the first begins with pending.
#[test]
fn phase_sequence_repeats_each_iteration() {
    let mut lp = Loop::new_manual();
    let trace = record_trace(&mut lp);
    let calls = util::Counter::new();
    let c = calls.clone();
    let idle = lp.idle_init();
    lp.idle_start(idle, move |lp| {
        if c.inc() == 2 {
            lp.idle_stop(idle);
        }
    });
    assert!(!lp.run(RunMode::Default));
    let one = [
        Phase::Pending,
        Phase::Idle,
        Phase::Prepare,
        Phase::Poll,
        Phase::Check,
        Phase::Close,
        Phase::Timers,
    ];
    let mut expected = vec![Phase::Timers];
    expected.extend(one);
    expected.extend(one);
    assert_eq!(phase_starts(&trace.borrow()), expected);
}

/// `NoWait` and `Once` do not run the timers pass before the first iteration
/// (libuv runs it for `Default` only).
#[test]
fn once_starts_with_pending() {
    let mut lp = Loop::new_manual();
    let trace = record_trace(&mut lp);
    lp.set_timeout(ms(1), |_| {});
    assert!(!lp.run(RunMode::Once));
    assert_eq!(
        phase_starts(&trace.borrow()),
        [
            Phase::Pending,
            Phase::Idle,
            Phase::Prepare,
            Phase::Poll,
            Phase::Check,
            Phase::Close,
            Phase::Timers
        ]
    );
}
