//! Stale events: when a callback of one poll batch closes another watcher
//! and a new descriptor takes its number, the old watcher's event of that
//! batch is dropped and never reaches the new watcher (libuv: "a missing
//! watcher means stale"; the reactor's tokens carry a generation).
//!
//! The kernel hands out the lowest free descriptor, so the tests of this file
//! run one at a time (no other thread opens descriptors meanwhile).

mod util;

use std::cell::RefCell;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::rc::Rc;
use std::sync::{Mutex, MutexGuard};

use eventide_loop_phases::{Interest, IoWatch, Loop, RunMode, TraceEvent};
use util::{Order, drain, readable_pair, record_trace};

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Shared {
    /// The two readable sockets, by watcher index; taken when dropped.
    rx: [Option<UnixDatagram>; 2],
    watch: [Option<IoWatch>; 2],
    /// Set by the first callback of the batch.
    replaced: Option<usize>,
    replacement: Option<(UnixDatagram, UnixDatagram, IoWatch)>,
}

fn events_per_poll(trace: &[TraceEvent]) -> Vec<usize> {
    trace
        .iter()
        .filter_map(|e| match e {
            TraceEvent::PollEnd { events, .. } => Some(*events),
            _ => None,
        })
        .collect()
}

#[test]
fn closed_and_reused_fd_in_same_batch_does_not_get_old_event() {
    let _g = serial();
    let order = Order::new();
    let mut lp = Loop::new();
    let trace = record_trace(&mut lp);
    let (tx0, rx0) = readable_pair().unwrap();
    let (tx1, rx1) = readable_pair().unwrap();
    let shared = Rc::new(RefCell::new(Shared::default()));
    let fds = [rx0.as_raw_fd(), rx1.as_raw_fd()];
    shared.borrow_mut().rx = [Some(rx0), Some(rx1)];
    for (me, fd) in fds.into_iter().enumerate() {
        let (sh, o) = (Rc::clone(&shared), order.clone());
        let w = lp
            .poll_fd(fd, Interest::READABLE, move |lp, watch, _| {
                o.push(format!("old{me}"));
                let other = 1 - me;
                let mut s = sh.borrow_mut();
                drain(s.rx[me].as_ref().unwrap());
                lp.close(watch, None);
                if s.replaced.is_some() {
                    unreachable!("the first callback closed this watcher");
                }
                // Close the other watcher, whose event is in this same batch,
                // close its socket, and open one that takes its number.
                s.replaced = Some(other);
                assert!(lp.close(s.watch[other].unwrap(), None));
                let old_fd = s.rx[other].as_ref().unwrap().as_raw_fd();
                drop(s.rx[other].take());
                let (a, b) = UnixDatagram::pair().unwrap();
                let (new_rx, new_tx) = if a.as_raw_fd() == old_fd {
                    (a, b)
                } else {
                    (b, a)
                };
                assert_eq!(
                    new_rx.as_raw_fd(),
                    old_fd,
                    "the kernel reused the lowest descriptor"
                );
                new_rx.set_nonblocking(true).unwrap();
                let o2 = o.clone();
                let nw = lp
                    .poll_fd(old_fd, Interest::READABLE, move |_, _, r| {
                        o2.push(format!("new:{r:?}"));
                    })
                    .unwrap();
                s.replacement = Some((new_rx, new_tx, nw));
            })
            .unwrap();
        shared.borrow_mut().watch[me] = Some(w);
    }
    // One iteration: both events come in one batch.
    assert!(lp.run(RunMode::Once));
    assert_eq!(
        events_per_poll(&trace.borrow()),
        [2],
        "both events in one poll"
    );
    let first = order.get();
    assert_eq!(first.len(), 1, "only the first callback ran: {first:?}");
    assert_eq!(lp.metrics().stale_events, 1);
    // Only the live event was demultiplexed to a handle.
    let demuxed: Vec<i32> = trace
        .borrow()
        .iter()
        .filter_map(|e| match e {
            TraceEvent::Demux { fd, .. } => Some(*fd),
            _ => None,
        })
        .collect();
    assert_eq!(demuxed.len(), 1, "{demuxed:?}");
    assert!(fds.contains(&demuxed[0]));
    // The new watcher is not readable: nothing may reach it later either.
    for _ in 0..3 {
        lp.run(RunMode::NoWait);
    }
    assert_eq!(order.get(), first);
    // It works: data sent to it now is reported to it.
    let (new_rx, new_tx, nw) = shared.borrow_mut().replacement.take().unwrap();
    new_tx.send(b"fresh").unwrap();
    lp.run(RunMode::Once);
    assert_eq!(order.get().len(), 2);
    assert!(order.get()[1].starts_with("new:"), "{:?}", order.get());
    lp.close(nw, None);
    assert!(!lp.run(RunMode::Default));
    drop((tx0, tx1, new_rx));
}

/// The same socket watched again in the same batch: the old event is dropped,
/// and the new watcher gets the socket's readiness once, from its own
/// registration, in the next poll.
#[test]
fn rewatched_fd_in_same_batch_gets_its_readiness_from_the_next_poll() {
    let _g = serial();
    let order = Order::new();
    let mut lp = Loop::new();
    let (_tx0, rx0) = readable_pair().unwrap();
    let (_tx1, rx1) = readable_pair().unwrap();
    let rx = Rc::new([rx0, rx1]);
    let watches: Rc<RefCell<[Option<IoWatch>; 2]>> = Rc::default();
    for me in 0..2 {
        let (r, ws, o) = (Rc::clone(&rx), Rc::clone(&watches), order.clone());
        let w = lp
            .poll_fd(
                rx[me].as_raw_fd(),
                Interest::READABLE,
                move |lp, watch, _| {
                    o.push(format!("old{me}@{}", lp.metrics().iterations));
                    drain(&r[me]);
                    lp.close(watch, None);
                    let other = 1 - me;
                    let Some(ow) = ws.borrow_mut()[other].take() else {
                        return;
                    };
                    ws.borrow_mut()[me] = None;
                    assert!(lp.close(ow, None));
                    let (r2, o2) = (Rc::clone(&r), o.clone());
                    lp.poll_fd(r[other].as_raw_fd(), Interest::READABLE, move |lp, w, _| {
                        o2.push(format!("new@{}", lp.metrics().iterations));
                        drain(&r2[other]);
                        lp.close(w, None);
                    })
                    .unwrap();
                },
            )
            .unwrap();
        watches.borrow_mut()[me] = Some(w);
    }
    assert!(!lp.run(RunMode::Default));
    let got = order.get();
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(
        got[0].starts_with("old") && got[0].ends_with("@1"),
        "{got:?}"
    );
    assert_eq!(got[1], "new@2");
    assert_eq!(lp.metrics().stale_events, 1);
}
