//! Every kind of callback scheduled from every phase runs where libuv and
//! Node run it. Each row starts one source callback in one phase; the source
//! schedules one callback of every kind; each records the phase it ran in and
//! how many iterations after the source (0: the same iteration).

mod util;

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::time::Duration;

use eventide_loop_phases::{Interest, Loop, Phase, RunMode};
use util::{ms, readable_pair};

type Seen = Rc<RefCell<Vec<(&'static str, Phase, u64)>>>;

const KINDS: [&str; 9] = [
    "tick",
    "microtask",
    "immediate",
    "timeout0",
    "pending",
    "idle",
    "prepare",
    "check",
    "close",
];

fn recorder(seen: &Seen, kind: &'static str, base: u64) -> impl FnOnce(&mut Loop) + 'static {
    let seen = Rc::clone(seen);
    move |lp| {
        let it = lp.metrics().iterations - base;
        seen.borrow_mut().push((kind, lp.phase(), it));
    }
}

/// The source callback: schedules one callback of each kind.
fn schedule_all(lp: &mut Loop, seen: &Seen) {
    let base = lp.metrics().iterations;
    lp.next_tick(recorder(seen, "tick", base));
    lp.queue_microtask(recorder(seen, "microtask", base));
    lp.set_immediate(recorder(seen, "immediate", base));
    lp.set_timeout(Duration::ZERO, recorder(seen, "timeout0", base));
    lp.queue_pending(recorder(seen, "pending", base));
    let idle = lp.idle_init();
    let mut f = Some(recorder(seen, "idle", base));
    lp.idle_start(idle, move |lp| {
        f.take().unwrap()(lp);
        lp.idle_stop(idle);
    });
    let prepare = lp.prepare_init();
    let mut f = Some(recorder(seen, "prepare", base));
    lp.prepare_start(prepare, move |lp| {
        f.take().unwrap()(lp);
        lp.prepare_stop(prepare);
    });
    let check = lp.check_init();
    let mut f = Some(recorder(seen, "check", base));
    lp.check_start(check, move |lp| {
        f.take().unwrap()(lp);
        lp.check_stop(check);
    });
    let user = lp.handle_new("user");
    lp.close(user, Some(Box::new(recorder(seen, "close", base))));
}

/// Where the source callback runs: a phase, or (in the check phase) an immediate.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Source {
    In(Phase),
    Immediate,
}

/// Starts the source callback so that it runs in iteration 1.
fn run_from(source: Source) -> Vec<(&'static str, Phase, u64)> {
    let phase = match source {
        Source::In(p) => p,
        Source::Immediate => Phase::Check,
    };
    let seen: Seen = Rc::default();
    let mut lp = Loop::new_manual();
    let s = Rc::clone(&seen);
    let source_fn = move |lp: &mut Loop| {
        assert_eq!(lp.phase(), phase);
        assert_eq!(lp.metrics().iterations, 1, "the source runs in iteration 1");
        schedule_all(lp, &s);
    };
    let mut keep = None;
    if source == Source::Immediate {
        lp.set_immediate(source_fn);
    } else {
        start_in(&mut lp, phase, source_fn, &mut keep);
    }
    assert!(!lp.run(RunMode::Default));
    drop(keep);
    seen.borrow().clone()
}

type Keep = Option<(
    std::os::unix::net::UnixDatagram,
    std::os::unix::net::UnixDatagram,
)>;

fn start_in(
    lp: &mut Loop,
    phase: Phase,
    source: impl FnOnce(&mut Loop) + 'static,
    keep: &mut Keep,
) {
    match phase {
        Phase::Timers => {
            lp.set_timeout(ms(1), source);
        }
        Phase::Pending => lp.queue_pending(source),
        Phase::Idle => {
            let h = lp.idle_init();
            let mut f = Some(source);
            lp.idle_start(h, move |lp| {
                lp.idle_stop(h);
                f.take().unwrap()(lp);
            });
        }
        Phase::Prepare => {
            let h = lp.prepare_init();
            let mut f = Some(source);
            lp.prepare_start(h, move |lp| {
                lp.prepare_stop(h);
                f.take().unwrap()(lp);
            });
        }
        Phase::Poll => {
            let (tx, rx) = readable_pair().unwrap();
            let mut f = Some(source);
            lp.poll_fd(rx.as_raw_fd(), Interest::READABLE, move |lp, w, _| {
                lp.close(w, None);
                f.take().unwrap()(lp);
            })
            .unwrap();
            *keep = Some((tx, rx));
        }
        Phase::Check => {
            // A check handle alone lets the poll block (as in libuv): a
            // timer gives the manual clock something to jump to.
            lp.set_timeout(ms(1), |_| {});
            let h = lp.check_init();
            let mut f = Some(source);
            lp.check_start(h, move |lp| {
                lp.check_stop(h);
                f.take().unwrap()(lp);
            });
        }
        Phase::Close => {
            let h = lp.handle_new("source");
            lp.close(h, Some(Box::new(source)));
        }
    }
}

#[test]
fn schedule_every_kind_from_every_phase() {
    use Phase::*;
    // (kind, phase it runs in, iterations after the source), per source phase.
    let same = |p| (p, 0);
    let next = |p| (p, 1);
    let table: [(Source, [(Phase, u64); 9]); 8] = [
        // tick, microtask, immediate, timeout0, pending, idle, prepare, check, close
        (
            Source::In(Timers),
            [
                same(Timers),
                same(Timers),
                next(Check),
                next(Timers),
                next(Pending),
                next(Idle),
                next(Prepare),
                next(Check),
                next(Close),
            ],
        ),
        (
            // A pending callback queued by a pending callback runs in the
            // passes after poll, in the same iteration (libuv runs the
            // pending queue up to 8 more times after polling).
            Source::In(Pending),
            [
                same(Pending),
                same(Pending),
                same(Check),
                same(Timers),
                same(Pending),
                same(Idle),
                same(Prepare),
                same(Check),
                same(Close),
            ],
        ),
        (
            // Started during the idle pass: waits for the next idle pass.
            Source::In(Idle),
            [
                same(Idle),
                same(Idle),
                same(Check),
                same(Timers),
                same(Pending),
                next(Idle),
                same(Prepare),
                same(Check),
                same(Close),
            ],
        ),
        (
            Source::In(Prepare),
            [
                same(Prepare),
                same(Prepare),
                same(Check),
                same(Timers),
                same(Pending),
                next(Idle),
                next(Prepare),
                same(Check),
                same(Close),
            ],
        ),
        (
            Source::In(Poll),
            [
                same(Poll),
                same(Poll),
                same(Check),
                same(Timers),
                same(Pending),
                next(Idle),
                next(Prepare),
                same(Check),
                same(Close),
            ],
        ),
        (
            // From a user check handle: Node's immediates run from the check
            // handle Node started first, so after the user's check handles:
            // an immediate queued here still runs in this check phase. A
            // check handle started here waits for the next pass.
            Source::In(Check),
            [
                same(Check),
                same(Check),
                same(Check),
                same(Timers),
                next(Pending),
                next(Idle),
                next(Prepare),
                next(Check),
                same(Close),
            ],
        ),
        (
            Source::In(Close),
            [
                same(Close),
                same(Close),
                next(Check),
                same(Timers),
                next(Pending),
                next(Idle),
                next(Prepare),
                next(Check),
                next(Close),
            ],
        ),
        (
            // From an immediate: immediates queued while the immediates run
            // wait for the next check phase (Node's rule).
            Source::Immediate,
            [
                same(Check),
                same(Check),
                next(Check),
                same(Timers),
                next(Pending),
                next(Idle),
                next(Prepare),
                next(Check),
                same(Close),
            ],
        ),
    ];
    for (source, expected) in table {
        let got = run_from(source);
        assert_eq!(
            got.len(),
            KINDS.len(),
            "from {source:?}: every kind ran once: {got:?}"
        );
        for (kind, (phase, after)) in KINDS.iter().zip(expected) {
            let (_, p, it) = *got
                .iter()
                .find(|(k, ..)| k == kind)
                .unwrap_or_else(|| panic!("{kind} never ran"));
            if *kind == "timeout0" {
                // A 1 ms timer on the manual clock fires once the loop may
                // wait: always in a timers phase, never in the source's pass.
                assert_eq!(p, Timers, "from {source:?}: {kind}");
                assert!(
                    it >= after,
                    "from {source:?}: {kind} ran {it} iterations after"
                );
                continue;
            }
            assert_eq!((p, it), (phase, after), "from {source:?}: {kind}");
        }
        // Ticks and microtasks run right after the source, before anything else.
        assert_eq!(got[0].0, "tick", "from {source:?}");
        assert_eq!(got[1].0, "microtask", "from {source:?}");
    }
}
