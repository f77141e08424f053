//! Loop metrics: iterations, callbacks per phase, timer lag, idle time and
//! utilization (Node's `eventLoopUtilization`).

mod util;

use std::os::fd::AsRawFd;

use std::time::Duration;

use eventide_loop_phases::{Interest, Loop, Phase, RunMode, TraceEvent};
use util::{Counter, ms, readable_pair, record_trace};

#[test]
fn iterations_are_counted() {
    let mut lp = Loop::new_manual();
    let calls = Counter::new();
    let c = calls.clone();
    let idle = lp.idle_init();
    lp.idle_start(idle, move |lp| {
        if c.inc() == 4 {
            lp.idle_stop(idle);
        }
    });
    assert!(!lp.run(RunMode::Default));
    assert_eq!(lp.metrics().iterations, 4);
    lp.idle_start(idle, |lp| lp.stop());
    lp.run(RunMode::Default);
    assert_eq!(lp.metrics().iterations, 5);
    lp.run(RunMode::NoWait);
    assert_eq!(lp.metrics().iterations, 6);
}

#[test]
fn callbacks_are_counted_per_phase() {
    let mut lp = Loop::new_manual();
    lp.set_timeout(ms(1), |_| {});
    lp.set_timeout(ms(1), |lp| {
        lp.next_tick(|lp| lp.queue_microtask(|_| {}));
    });
    lp.advance(ms(1));
    lp.queue_pending(|_| {});
    let idle = lp.idle_init();
    lp.idle_start(idle, move |lp| {
        lp.idle_stop(idle);
    });
    let prepare = lp.prepare_init();
    lp.prepare_start(prepare, move |lp| {
        lp.prepare_stop(prepare);
    });
    let check = lp.check_init();
    lp.check_start(check, move |lp| {
        lp.check_stop(check);
    });
    lp.set_immediate(|_| {});
    lp.set_immediate(|_| {});
    let (_tx, rx) = readable_pair().unwrap();
    lp.poll_fd(rx.as_raw_fd(), Interest::READABLE, |lp, w, _| {
        lp.close(w, Some(Box::new(|_| {})));
    })
    .unwrap();
    assert!(!lp.run(RunMode::Default));
    let m = lp.metrics();
    let per_phase: Vec<u64> = Phase::ALL.iter().map(|p| m.callbacks_in(*p)).collect();
    // timers, pending, idle, prepare, poll, check (1 check + 2 immediates), close
    assert_eq!(per_phase, [2, 1, 1, 1, 1, 3, 1]);
    assert_eq!((m.ticks, m.microtasks), (1, 1));
    assert_eq!(m.events, 1);
    assert_eq!(m.stale_events, 0);
}

#[test]
fn timer_lag_is_measured() {
    let mut lp = Loop::new_manual();
    lp.set_timeout(ms(5), |_| {});
    lp.set_timeout(ms(10), |_| {});
    lp.advance(ms(8)); // the first is 3 ms late
    lp.run(RunMode::Default);
    let lag = lp.metrics().timer_lag;
    assert_eq!(lag.count, 2);
    assert_eq!(lag.max, ms(3));
    assert_eq!(lag.last, ms(0), "the second fired on time");
    assert_eq!(lag.total, ms(3));
    assert_eq!(lag.mean(), Duration::from_micros(1500));
}

fn blocked_total(trace: &[TraceEvent]) -> (Duration, Duration) {
    let mut blocked_sum = Duration::ZERO;
    let mut timeout_sum = Duration::ZERO;
    for e in trace {
        match e {
            TraceEvent::PollEnd { blocked, .. } => blocked_sum += *blocked,
            TraceEvent::PollStart { timeout } => timeout_sum += timeout.unwrap_or_default(),
            _ => {}
        }
    }
    (blocked_sum, timeout_sum)
}

#[test]
fn idle_time_grows_when_blocked_real_clock() {
    let mut lp = Loop::new();
    let trace = record_trace(&mut lp);
    let before = lp.metrics();
    assert_eq!(before.idle, ms(0));
    lp.set_timeout(ms(30), |_| {});
    lp.run(RunMode::Default);
    let after = lp.metrics();
    let (blocked, timeouts) = blocked_total(&trace.borrow());
    assert_eq!(after.idle, blocked, "idle time is the time blocked in poll");
    assert!(
        after.idle >= timeouts && timeouts > ms(0),
        "blocked at least the poll timeouts"
    );
    assert!(after.elapsed >= after.idle);
    let u = after.utilization();
    assert!((0.0..=1.0).contains(&u), "utilization {u}");

    // Busy for 20 ms in a callback, then blocked: both parts show.
    trace.borrow_mut().clear();
    lp.set_timeout(ms(1), |lp| {
        std::thread::sleep(ms(20));
        lp.set_timeout(ms(30), |_| {});
    });
    lp.run(RunMode::Default);
    let later = lp.metrics();
    let u = later.utilization_since(&after);
    assert!(u > 0.0 && u < 1.0, "utilization {u}");
    assert!(later.active() - after.active() >= ms(20));
    let (blocked, _) = blocked_total(&trace.borrow());
    assert_eq!(later.idle - after.idle, blocked);
}

/// On a manual clock the loop's idle time is the time it jumped over, and
/// elapsed time is manual time too, so utilization compares like with like.
#[test]
fn manual_clock_utilization() {
    let mut lp = Loop::new_manual();
    lp.set_timeout(ms(10), |lp| lp.advance(ms(5))); // 5 ms of "work"
    lp.run(RunMode::Default);
    let m = lp.metrics();
    assert_eq!(m.idle, ms(10));
    assert_eq!(m.elapsed, ms(15));
    assert_eq!(m.active(), ms(5));
    assert!(
        (m.utilization() - 1.0 / 3.0).abs() < 1e-9,
        "{}",
        m.utilization()
    );
}
