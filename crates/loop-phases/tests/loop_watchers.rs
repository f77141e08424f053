//! Idle, prepare and check handles follow libuv's `loop-watcher.c`: starting
//! puts a handle at the head of its list (so they run most recently started
//! first); a pass takes the whole list, so a handle started during a pass
//! waits for the next one and a handle stopped before its turn does not run.

mod util;

use eventide_loop_phases::{Check, Idle, Loop, Prepare, RunMode};
use util::Order;

#[derive(Clone, Copy, Debug)]
enum W {
    Idle(Idle),
    Prepare(Prepare),
    Check(Check),
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Idle,
    Prepare,
    Check,
}

const KINDS: [Kind; 3] = [Kind::Idle, Kind::Prepare, Kind::Check];

fn init(lp: &mut Loop, kind: Kind) -> W {
    match kind {
        Kind::Idle => W::Idle(lp.idle_init()),
        Kind::Prepare => W::Prepare(lp.prepare_init()),
        Kind::Check => W::Check(lp.check_init()),
    }
}

fn start(lp: &mut Loop, w: W, cb: impl FnMut(&mut Loop) + 'static) -> bool {
    match w {
        W::Idle(h) => lp.idle_start(h, cb),
        W::Prepare(h) => lp.prepare_start(h, cb),
        W::Check(h) => lp.check_start(h, cb),
    }
}

fn stop(lp: &mut Loop, w: W) -> bool {
    match w {
        W::Idle(h) => lp.idle_stop(h),
        W::Prepare(h) => lp.prepare_stop(h),
        W::Check(h) => lp.check_stop(h),
    }
}

fn close(lp: &mut Loop, w: W) {
    let closed = match w {
        W::Idle(h) => lp.close(h, None),
        W::Prepare(h) => lp.close(h, None),
        W::Check(h) => lp.close(h, None),
    };
    assert!(closed);
}

/// One `NoWait` run is one iteration: one pass of every list.
fn pass(lp: &mut Loop, order: &Order) -> Vec<String> {
    lp.run(RunMode::NoWait);
    order.take()
}

#[test]
fn lifo_by_start_each_pass() {
    for kind in KINDS {
        let order = Order::new();
        let mut lp = Loop::new_manual();
        let hs: Vec<W> = ["A", "B", "C"]
            .iter()
            .map(|name| {
                let w = init(&mut lp, kind);
                assert!(start(&mut lp, w, order.each(name)));
                w
            })
            .collect();
        assert_eq!(pass(&mut lp, &order), ["C", "B", "A"], "{kind:?}");
        assert_eq!(pass(&mut lp, &order), ["C", "B", "A"], "{kind:?}");
        // Restarting B puts it at the head.
        stop(&mut lp, hs[1]);
        start(&mut lp, hs[1], order.each("B"));
        assert_eq!(pass(&mut lp, &order), ["B", "C", "A"], "{kind:?}");
        for w in hs {
            close(&mut lp, w);
        }
        assert!(!lp.run(RunMode::Default));
    }
}

#[test]
fn started_during_pass_waits_for_next_pass() {
    for kind in KINDS {
        let order = Order::new();
        let mut lp = Loop::new_manual();
        let d = init(&mut lp, kind);
        let a = init(&mut lp, kind);
        let o = order.clone();
        let mut started = false;
        start(&mut lp, a, move |lp| {
            o.push("A");
            if !started {
                started = true;
                assert!(start(lp, d, o.each("D")));
            }
        });
        let b = init(&mut lp, kind);
        start(&mut lp, b, order.each("B"));
        assert_eq!(pass(&mut lp, &order), ["B", "A"], "{kind:?}");
        assert_eq!(pass(&mut lp, &order), ["D", "B", "A"], "{kind:?}");
        for w in [a, b, d] {
            close(&mut lp, w);
        }
        lp.run(RunMode::Default);
    }
}

#[test]
fn stopped_before_its_turn_does_not_run() {
    for kind in KINDS {
        let order = Order::new();
        let mut lp = Loop::new_manual();
        let a = init(&mut lp, kind);
        start(&mut lp, a, order.each("A"));
        let b = init(&mut lp, kind);
        start(&mut lp, b, order.each("B"));
        let c = init(&mut lp, kind);
        let o = order.clone();
        let mut first = true;
        start(&mut lp, c, move |lp| {
            o.push("C");
            if first {
                first = false;
                assert!(stop(lp, a)); // A's turn has not come: it must not run
            }
        });
        assert_eq!(pass(&mut lp, &order), ["C", "B"], "{kind:?}");
        assert_eq!(pass(&mut lp, &order), ["C", "B"], "{kind:?}");
        for w in [a, b, c] {
            close(&mut lp, w);
        }
        lp.run(RunMode::Default);
    }
}

#[test]
fn stopped_and_restarted_before_its_turn_waits_for_next_pass() {
    for kind in KINDS {
        let order = Order::new();
        let mut lp = Loop::new_manual();
        let a = init(&mut lp, kind);
        start(&mut lp, a, order.each("A-old"));
        let b = init(&mut lp, kind);
        let o = order.clone();
        let mut first = true;
        start(&mut lp, b, move |lp| {
            o.push("B");
            if first {
                first = false;
                stop(lp, a);
                start(lp, a, o.each("A-new"));
            }
        });
        assert_eq!(pass(&mut lp, &order), ["B"], "{kind:?}");
        assert_eq!(pass(&mut lp, &order), ["A-new", "B"], "{kind:?}");
        for w in [a, b] {
            close(&mut lp, w);
        }
        lp.run(RunMode::Default);
    }
}

/// As libuv: starting an active handle does nothing (the callback is kept).
#[test]
fn start_of_active_handle_keeps_callback() {
    for kind in KINDS {
        let order = Order::new();
        let mut lp = Loop::new_manual();
        let a = init(&mut lp, kind);
        assert!(start(&mut lp, a, order.each("first")));
        assert!(start(&mut lp, a, order.each("second")));
        assert_eq!(pass(&mut lp, &order), ["first"], "{kind:?}");
        assert!(stop(&mut lp, a));
        assert!(stop(&mut lp, a), "stopping a stopped handle is fine");
        assert!(!lp.is_active(a_id(a)));
        assert!(
            !lp.run(RunMode::NoWait),
            "a stopped handle keeps nothing alive"
        );
        close(&mut lp, a);
        lp.run(RunMode::Default);
        assert!(!stop(&mut lp, a), "stale after close");
        assert!(!start(&mut lp, a, |_| {}), "stale after close");
    }
}

fn a_id(w: W) -> eventide_loop_phases::HandleId {
    match w {
        W::Idle(h) => h.id(),
        W::Prepare(h) => h.id(),
        W::Check(h) => h.id(),
    }
}

/// Node's immediates run from a check handle started before any user code,
/// so check handles started by the user run before immediates.
#[test]
fn user_check_handles_run_before_immediates() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    lp.set_immediate(order.task("immediate1"));
    let c = lp.check_init();
    let o = order.clone();
    lp.check_start(c, move |lp| {
        o.push("check");
        lp.check_stop(c);
    });
    lp.set_immediate(order.task("immediate2"));
    lp.run(RunMode::Default);
    assert_eq!(order.get(), ["check", "immediate1", "immediate2"]);
}

/// The three lists are separate: each kind runs in its own phase.
#[test]
fn kinds_run_in_their_own_phase() {
    let order = Order::new();
    let mut lp = Loop::new_manual();
    let mut hs = Vec::new();
    for (kind, name) in [
        (Kind::Check, "check"),
        (Kind::Prepare, "prepare"),
        (Kind::Idle, "idle"),
    ] {
        let w = init(&mut lp, kind);
        let o = order.clone();
        let name = name.to_string();
        start(&mut lp, w, move |lp| {
            o.push(format!("{name}@{}", lp.phase()));
        });
        hs.push(w);
    }
    assert_eq!(
        pass(&mut lp, &order),
        ["idle@idle", "prepare@prepare", "check@check"]
    );
    for w in hs {
        close(&mut lp, w);
    }
    lp.run(RunMode::Default);
}
