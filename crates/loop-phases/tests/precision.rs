//! Timeouts on the real clock neither fire early nor spin (in the style of
//! smol-rs/polling's `tests/precision.rs`): waiting for one timer takes a
//! small, bounded number of loop iterations, because the poll timeout is
//! rounded up to the poller's millisecond resolution, never down.

mod util;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use eventide_loop_phases::{Loop, RunMode, TraceEvent};
use util::ms;

fn wait_once(lp: &mut Loop, delay: Duration) -> (Duration, u64) {
    let fired = Rc::new(Cell::new(None));
    let f = Rc::clone(&fired);
    let iterations = lp.metrics().iterations;
    let start = Instant::now();
    lp.set_timeout(delay, move |_| f.set(Some(start.elapsed())));
    assert!(!lp.run(RunMode::Default));
    let waited = fired.get().expect("the timer fired");
    (waited, lp.metrics().iterations - iterations)
}

#[test]
fn timeouts_are_not_early_and_do_not_spin() {
    let mut lp = Loop::new();
    for delay in [ms(10), ms(50), ms(100)] {
        let (waited, iterations) = wait_once(&mut lp, delay);
        assert!(waited >= delay, "{delay:?} timer fired after {waited:?}");
        assert!(
            iterations <= 3,
            "{delay:?} timer took {iterations} iterations"
        );
    }
}

#[test]
fn sub_millisecond_remainders_do_not_spin() {
    let mut lp = Loop::new();
    // 1.5 ms rounds up to 2 ms; started at an arbitrary sub-ms offset.
    for _ in 0..5 {
        let (waited, iterations) = wait_once(&mut lp, Duration::from_micros(1_500));
        assert!(waited >= ms(2), "fired after {waited:?}");
        assert!(iterations <= 3, "took {iterations} iterations");
    }
}

/// `Once` waits for the timer and `NoWait` does not wait at all.
#[test]
fn once_waits_and_nowait_does_not() {
    let mut lp = Loop::new();
    let t = lp.set_timeout(ms(10), |_| {});
    let start = Instant::now();
    assert!(lp.run(RunMode::NoWait));
    assert!(lp.is_active(t), "not due yet");
    assert!(!lp.run(RunMode::Once));
    assert!(start.elapsed() >= ms(10));
    assert!(!lp.is_active(t));
}

/// Each poll that waits for a timer and sees no event blocks at least its
/// timeout (never wakes early), and the metrics' idle time is the sum of the
/// blocked times.
#[test]
fn polls_block_at_least_their_timeout() {
    let mut lp = Loop::new();
    let trace = util::record_trace(&mut lp);
    let (waited, _) = wait_once(&mut lp, ms(50));
    let mut timeout = None;
    let mut total = Duration::ZERO;
    let mut waits = 0;
    for e in trace.borrow().iter() {
        match e {
            TraceEvent::PollStart { timeout: t } => timeout = *t,
            TraceEvent::PollEnd { blocked, events } => {
                total += *blocked;
                if let Some(t) = timeout.filter(|t| !t.is_zero())
                    && *events == 0
                {
                    waits += 1;
                    assert!(*blocked >= t, "blocked {blocked:?} for a {t:?} timeout");
                }
            }
            _ => {}
        }
    }
    assert!(waits >= 1);
    let idle = lp.metrics().idle;
    assert_eq!(idle, total);
    assert!(idle <= waited, "idle {idle:?}, waited {waited:?}");
}
