//! Pending-operation accounting (`submit_op`): admitted up to the high
//! watermark, a FIFO backlog past it, a deadline for queued and in-flight
//! operations that releases what they captured, and liveness.

mod util;

use std::rc::Rc;

use eventide_loop_phases::{Admission, Loop, OpId, Phase, RunMode};
use util::{Order, ms};

fn submit(lp: &mut Loop, order: &Order, name: &str, timeout: Option<u64>) -> (OpId, Admission) {
    let (o1, o2) = (order.clone(), order.clone());
    let (n1, n2) = (name.to_string(), name.to_string());
    lp.submit_op(
        timeout.map(ms),
        move |lp, _| {
            assert_eq!(lp.phase(), Phase::Pending);
            o1.push(format!("start:{n1}"));
        },
        move |lp, _| {
            assert_eq!(lp.phase(), Phase::Timers);
            o2.push(format!("timeout:{n2}@{}", lp.now().as_millis()));
        },
    )
}

#[test]
fn admitted_up_to_watermark_then_fifo() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    lp.set_op_high_watermark(2);
    let ids: Vec<_> = (0..5)
        .map(|i| submit(&mut lp, &order, &i.to_string(), None))
        .collect();
    let adm: Vec<_> = ids.iter().map(|(_, a)| *a).collect();
    use Admission::{Admitted as A, Queued as Q};
    assert_eq!(adm, [A, A, Q, Q, Q]);
    let ops = lp.ops();
    assert_eq!((ops.in_flight, ops.queued, ops.high_watermark), (2, 3, 2));
    assert!(
        order.get().is_empty(),
        "start runs in the pending phase, not in submit"
    );

    assert!(lp.run(RunMode::NoWait));
    assert_eq!(order.take(), ["start:0", "start:1"]);
    assert!(lp.complete_op(ids[1].0));
    assert!(!lp.complete_op(ids[1].0), "already completed");
    assert!(!lp.is_op_queued(ids[2].0), "admitted at once");
    assert!(lp.is_op_queued(ids[3].0));
    lp.run(RunMode::NoWait);
    assert_eq!(order.take(), ["start:2"]);
    // Completing a queued operation cancels it: its start never runs.
    assert!(lp.complete_op(ids[3].0));
    lp.complete_op(ids[0].0);
    lp.run(RunMode::NoWait);
    assert_eq!(order.take(), ["start:4"]);
    lp.complete_op(ids[2].0);
    lp.complete_op(ids[4].0);
    assert!(!lp.run(RunMode::Default));
    let stats = lp.ops().stats;
    assert_eq!(
        (
            stats.submitted,
            stats.queued_total,
            stats.admitted,
            stats.completed
        ),
        (5, 3, 4, 5)
    );
    assert_eq!((stats.peak_in_flight, stats.peak_queued), (2, 3));
}

#[test]
fn queued_op_times_out_and_releases_memory() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    lp.set_op_high_watermark(1);
    let (first, _) = submit(&mut lp, &order, "first", None);
    let memory = Rc::new(vec![0u8; 1024]);
    let (m1, m2) = (Rc::clone(&memory), Rc::clone(&memory));
    let o = order.clone();
    let (queued, adm) = lp.submit_op(
        Some(ms(5)),
        move |_, _| {
            let _ = &m1;
            unreachable!("never admitted");
        },
        move |lp, _| {
            let _ = &m2;
            o.push(format!("timeout:queued@{}", lp.now().as_millis()));
        },
    );
    assert_eq!(adm, Admission::Queued);
    assert_eq!(Rc::strong_count(&memory), 3);
    let o = order.clone();
    lp.set_timeout(ms(10), move |lp| {
        o.push("complete:first");
        assert!(lp.complete_op(first));
    });
    assert!(!lp.run(RunMode::Default));
    assert_eq!(
        order.get(),
        ["start:first", "timeout:queued@5", "complete:first"]
    );
    assert_eq!(Rc::strong_count(&memory), 1, "both callbacks dropped");
    assert!(!lp.complete_op(queued), "stale after its timeout");
    assert_eq!(lp.ops().stats.timed_out, 1);
}

#[test]
fn in_flight_op_times_out_and_admits_the_next() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    lp.set_op_high_watermark(1);
    let memory = Rc::new(());
    let m = Rc::clone(&memory);
    let o = order.clone();
    let (slow, adm) = lp.submit_op(
        Some(ms(5)),
        |_, _| {},
        move |lp, _| {
            let _ = &m;
            o.push(format!("timeout:slow@{}", lp.now().as_millis()));
        },
    );
    assert_eq!(adm, Admission::Admitted);
    let o = order.clone();
    let (next, adm) = lp.submit_op(
        None,
        move |lp, id| {
            o.push(format!("start:next@{}", lp.now().as_millis()));
            lp.complete_op(id);
        },
        |_, _| unreachable!(),
    );
    assert_eq!(adm, Admission::Queued);
    assert!(lp.is_alive());
    assert_eq!(lp.active_requests(), 2);
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["timeout:slow@5", "start:next@5"]);
    assert_eq!(Rc::strong_count(&memory), 1);
    assert!(!lp.complete_op(slow));
    assert!(!lp.complete_op(next));
    assert_eq!(lp.active_requests(), 0);
}

#[test]
fn ops_keep_the_loop_alive_until_completed() {
    let mut lp = Loop::new_manual();
    let (id, _) = lp.submit_op(None, |_, _| {}, |_, _| {});
    assert!(lp.is_alive());
    assert_eq!(lp.active_requests(), 1);
    assert!(lp.run(RunMode::NoWait));
    assert!(lp.run(RunMode::NoWait));
    assert!(lp.complete_op(id));
    assert!(!lp.is_alive());
    assert!(!lp.run(RunMode::NoWait));
}

/// Raising the watermark admits from the backlog, in order.
#[test]
fn raising_the_watermark_admits() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    lp.set_op_high_watermark(1);
    let ids: Vec<_> = (0..3)
        .map(|i| submit(&mut lp, &order, &i.to_string(), None).0)
        .collect();
    lp.set_op_high_watermark(3);
    assert_eq!(lp.ops().queued, 0);
    lp.run(RunMode::NoWait);
    assert_eq!(order.take(), ["start:0", "start:1", "start:2"]);
    for id in ids {
        lp.complete_op(id);
    }
    assert!(!lp.run(RunMode::Default));
}
