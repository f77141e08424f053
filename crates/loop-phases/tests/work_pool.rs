//! Blocking work (libuv's `uv_queue_work`): `done` runs on the loop thread in
//! the pending phase, in the order the jobs finished; panics and
//! cancellation reach `done` as errors; outstanding work keeps the loop alive.
//!
//! The tests of this file share the global pool, so they take a lock to run
//! one at a time.

mod util;

use std::sync::mpsc;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use eventide_loop_phases::{Loop, Phase, RunMode, TraceEvent, WorkError};
use util::{Order, pool_threads, record_trace};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[test]
fn done_runs_in_pending_phase_with_the_result() {
    let _g = serial();
    let order = Order::new();
    let mut lp = Loop::new();
    let trace = record_trace(&mut lp);
    let o = order.clone();
    lp.spawn_blocking(
        || 6 * 7,
        move |lp, r: Result<i32, WorkError>| {
            o.push(format!("{:?}@{}", r, lp.phase()));
        },
    );
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.get(), ["Ok(42)@pending"]);
    assert!(trace.borrow().iter().any(|e| matches!(
        e,
        TraceEvent::Callback { phase: Phase::Pending, kind, .. } if kind.name() == "work"
    )));
}

/// Jobs submitted 0, 1, 2 finish 2, 1, 0: each waits until the `done` of the
/// one after it ran. `done` follows completion order, not submission order.
/// (Every blocked job holds a pool thread: with a smaller pool, fewer jobs.)
#[test]
fn done_follows_completion_order() {
    let _g = serial();
    let order = Order::new();
    let mut lp = Loop::new();
    let k = pool_threads().min(3);
    let (releases, waits): (Vec<_>, Vec<_>) = (0..k).map(|_| mpsc::channel::<()>()).unzip();
    let mut releases: Vec<Option<mpsc::Sender<()>>> = releases.into_iter().map(Some).collect();
    for (i, wait) in waits.into_iter().enumerate() {
        // Job i waits for its release, except the last, which is free to go.
        let last = i + 1 == k;
        // The done of job i releases job i - 1.
        let release_prev = if i > 0 { releases[i - 1].take() } else { None };
        let o = order.clone();
        lp.spawn_blocking(
            move || {
                if !last {
                    wait.recv().unwrap();
                }
                i
            },
            move |lp, r: Result<usize, WorkError>| {
                assert_eq!(lp.phase(), Phase::Pending);
                o.push(r.unwrap().to_string());
                if let Some(tx) = release_prev {
                    tx.send(()).unwrap();
                }
            },
        );
    }
    assert_eq!(lp.active_requests(), k);
    assert!(!lp.run(RunMode::Default));
    let expected: Vec<String> = (0..k).rev().map(|i| i.to_string()).collect();
    assert_eq!(order.get(), expected);
    assert_eq!(lp.active_requests(), 0);
}

#[test]
fn panic_reaches_done_as_panicked() {
    let _g = serial();
    let order = Order::new();
    let mut lp = Loop::new();
    let o = order.clone();
    lp.spawn_blocking(
        || -> u8 { panic!("boom") },
        move |_, r| {
            assert_eq!(r, Err(WorkError::Panicked("boom".to_string())));
            o.push("done");
        },
    );
    let o = order.clone();
    lp.spawn_blocking(
        || -> u8 { std::panic::panic_any(format!("formatted {}", 7)) },
        move |_, r| {
            assert_eq!(r, Err(WorkError::Panicked("formatted 7".to_string())));
            o.push("done2");
        },
    );
    assert!(!lp.run(RunMode::Default));
    assert_eq!(order.len(), 2);
}

/// With every pool thread busy, a queued job can be cancelled: `done` gets
/// `Cancelled` and the work never runs. A started job cannot be cancelled.
#[test]
fn cancel_queued_work() {
    let _g = serial();
    let order = Order::new();
    let mut lp = Loop::new();
    let threads = pool_threads();
    let (started_tx, started) = mpsc::channel::<()>();
    let mut releases = Vec::new();
    let mut blockers = Vec::new();
    for _ in 0..threads {
        let (release, wait) = mpsc::channel::<()>();
        releases.push(release);
        let started_tx = started_tx.clone();
        let o = order.clone();
        blockers.push(lp.spawn_blocking(
            move || {
                started_tx.send(()).unwrap();
                wait.recv().unwrap();
            },
            move |_, r: Result<(), WorkError>| {
                r.unwrap();
                o.push("blocker");
            },
        ));
    }
    for _ in 0..threads {
        started
            .recv_timeout(Duration::from_secs(10))
            .expect("every pool thread took a blocker");
    }
    let (ran_tx, ran) = mpsc::channel::<()>();
    let o = order.clone();
    let queued = lp.spawn_blocking(
        move || ran_tx.send(()).unwrap(),
        move |lp, r: Result<(), WorkError>| {
            assert_eq!(lp.phase(), Phase::Pending);
            o.push(format!("queued:{r:?}"));
        },
    );
    assert!(
        !lp.cancel_work(blockers[0]),
        "a started job cannot be cancelled"
    );
    assert!(lp.cancel_work(queued));
    assert!(!lp.cancel_work(queued), "already cancelled");
    for r in releases {
        r.send(()).unwrap();
    }
    assert!(!lp.run(RunMode::Default));
    let got = order.get();
    assert_eq!(got[0], "queued:Err(Cancelled)", "{got:?}");
    assert_eq!(got.len(), threads + 1);
    assert!(ran.try_recv().is_err(), "the cancelled work never ran");
    assert!(!lp.cancel_work(queued), "stale after done");
}

#[test]
fn work_keeps_loop_alive() {
    let _g = serial();
    let mut lp = Loop::new();
    let (release, wait) = mpsc::channel::<()>();
    let order = Order::new();
    lp.spawn_blocking(move || wait.recv().unwrap(), {
        let o = order.clone();
        move |_, _: Result<(), WorkError>| o.push("done")
    });
    assert!(lp.is_alive());
    assert_eq!(lp.active_requests(), 1);
    assert_eq!(lp.active_handles(), 0);
    assert!(lp.run(RunMode::NoWait), "work is outstanding");
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        release.send(()).unwrap();
    });
    assert!(
        !lp.run(RunMode::Default),
        "waits in poll for the completion"
    );
    assert_eq!(order.get(), ["done"]);
    t.join().unwrap();
}
