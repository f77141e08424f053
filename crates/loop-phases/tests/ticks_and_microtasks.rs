//! Node 11+'s nextTick and microtask rules: after every callback the nextTick
//! queue drains, then the microtask queue, until both are empty.

mod util;

use eventide_loop_phases::{Loop, RunMode};
use util::{Order, ms};

#[test]
fn next_tick_runs_before_queue_microtask() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let o = order.clone();
    lp.set_timeout(ms(1), move |lp| {
        lp.queue_microtask(o.task("micro1"));
        lp.next_tick(o.task("tick1"));
        lp.queue_microtask(o.task("micro2"));
        lp.next_tick(o.task("tick2"));
        o.push("timer");
    });
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["timer", "tick1", "tick2", "micro1", "micro2"]);
}

#[test]
fn tick_queued_by_microtask_runs_after_all_microtasks() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let o = order.clone();
    lp.set_immediate(move |lp| {
        let o2 = o.clone();
        lp.queue_microtask(move |lp| {
            o2.push("micro1");
            lp.next_tick(o2.task("tick-from-micro"));
            // A microtask queued by a microtask still belongs to this drain.
            lp.queue_microtask(o2.task("micro3"));
        });
        lp.queue_microtask(o.task("micro2"));
    });
    lp.run(RunMode::Default);
    assert_eq!(
        order.get(),
        ["micro1", "micro2", "micro3", "tick-from-micro"]
    );
}

#[test]
fn microtask_queued_by_tick_runs_after_all_ticks() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let o = order.clone();
    lp.set_immediate(move |lp| {
        let o2 = o.clone();
        lp.next_tick(move |lp| {
            o2.push("tick1");
            lp.queue_microtask(o2.task("micro-from-tick"));
            lp.next_tick(o2.task("tick3")); // nested tick: same drain, before microtasks
        });
        lp.next_tick(o.task("tick2"));
    });
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["tick1", "tick2", "tick3", "micro-from-tick"]);
}

/// Node 11+: two timers due in the same pass; the first one's ticks and
/// microtasks (nested included) all run before the second timer.
#[test]
fn nested_ticks_and_microtasks_drain_between_timers_of_one_pass() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    for name in ["t1", "t2"] {
        let o = order.clone();
        lp.set_timeout(ms(5), move |lp| {
            o.push(name);
            let o2 = o.clone();
            let n = name.to_string();
            lp.next_tick(move |lp| {
                o2.push(format!("{n}.tick"));
                let o3 = o2.clone();
                let n2 = n.clone();
                lp.queue_microtask(move |lp| {
                    o3.push(format!("{n2}.micro"));
                    lp.next_tick(o3.task(&format!("{n2}.micro.tick")));
                });
            });
        });
    }
    lp.run(RunMode::Default);
    assert_eq!(
        order.get(),
        [
            "t1",
            "t1.tick",
            "t1.micro",
            "t1.micro.tick",
            "t2",
            "t2.tick",
            "t2.micro",
            "t2.micro.tick"
        ]
    );
    // Both fired in one pass: the loop took one jump to 5 ms.
    assert_eq!(lp.now(), ms(5));
}

/// Ticks queued before `run` drain before the first phase (like the end of
/// Node's main script), and drain between callbacks of every phase.
#[test]
fn ticks_drain_between_callbacks_of_every_phase() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    lp.next_tick(order.task("main-tick"));
    for name in ["imm1", "imm2"] {
        let o = order.clone();
        lp.set_immediate(move |lp| {
            o.push(name);
            lp.queue_microtask(o.task(&format!("{name}.micro")));
        });
    }
    let o = order.clone();
    let idle = lp.idle_init();
    lp.idle_start(idle, move |lp| {
        o.push("idle");
        lp.next_tick(o.task("idle.tick"));
        lp.idle_stop(idle);
    });
    lp.run(RunMode::Default);
    assert_eq!(
        order.get(),
        [
            "main-tick",
            "idle",
            "idle.tick",
            "imm1",
            "imm1.micro",
            "imm2",
            "imm2.micro"
        ]
    );
}
