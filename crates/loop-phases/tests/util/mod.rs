//! Helpers shared by the integration tests (mio's `tests/util/mod.rs` style).
//!
//! Tests may use `RefCell` to observe the loop from outside; the library may
//! not.

#![allow(dead_code)]

use std::cell::RefCell;
use std::io;
use std::os::unix::net::UnixDatagram;
use std::rc::Rc;
use std::time::Duration;

use eventide_loop_phases::{Loop, Phase, TraceEvent};

/// Milliseconds as a `Duration`.
pub(crate) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// An order recorder: a shared log of labels that callbacks push to.
#[derive(Clone, Default)]
pub(crate) struct Order(Rc<RefCell<Vec<String>>>);

impl Order {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Appends a label.
    pub(crate) fn push(&self, label: impl Into<String>) {
        self.0.borrow_mut().push(label.into());
    }

    /// A one-shot callback that appends `label`.
    pub(crate) fn task(&self, label: &str) -> impl FnOnce(&mut Loop) + 'static {
        let (me, label) = (self.clone(), label.to_string());
        move |_| me.push(label)
    }

    /// A repeating callback that appends `label` each time.
    pub(crate) fn each(&self, label: &str) -> impl FnMut(&mut Loop) + 'static {
        let (me, label) = (self.clone(), label.to_string());
        move |_| me.push(label.clone())
    }

    /// A copy of the log.
    pub(crate) fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }

    /// The log, emptied.
    pub(crate) fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.borrow_mut())
    }

    pub(crate) fn len(&self) -> usize {
        self.0.borrow().len()
    }

    /// How many entries equal `label`.
    pub(crate) fn count(&self, label: &str) -> usize {
        self.0.borrow().iter().filter(|s| *s == label).count()
    }
}

/// A shared counter for callbacks.
#[derive(Clone, Default)]
pub(crate) struct Counter(Rc<std::cell::Cell<u64>>);

impl Counter {
    pub(crate) fn new() -> Self {
        Self::default()
    }
    pub(crate) fn inc(&self) -> u64 {
        let n = self.0.get() + 1;
        self.0.set(n);
        n
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.get()
    }
}

/// Installs a trace hook that records every event; returns the record.
pub(crate) fn record_trace(lp: &mut Loop) -> Rc<RefCell<Vec<TraceEvent>>> {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&seen);
    lp.set_trace_hook(Some(Box::new(move |rec| {
        log.borrow_mut().push(rec.event.clone());
    })));
    seen
}

/// The `PhaseStart` events of a trace, in order.
pub(crate) fn phase_starts(trace: &[TraceEvent]) -> Vec<Phase> {
    trace
        .iter()
        .filter_map(|e| match e {
            TraceEvent::PhaseStart(p) => Some(*p),
            _ => None,
        })
        .collect()
}

/// A connected datagram pair; the receiving end is non-blocking and already
/// readable (one datagram is waiting).
pub(crate) fn readable_pair() -> io::Result<(UnixDatagram, UnixDatagram)> {
    let (tx, rx) = UnixDatagram::pair()?;
    rx.set_nonblocking(true)?;
    tx.send(b"x")?;
    Ok((tx, rx))
}

/// Reads everything waiting on a non-blocking datagram socket.
pub(crate) fn drain(sock: &UnixDatagram) {
    let mut buf = [0u8; 64];
    while sock.recv(&mut buf).is_ok() {}
}

/// The size of the global work pool, read as the reactor reads it:
/// `EVENTIDE_THREADPOOL_SIZE` clamped to 1..=1024, 4 when absent or unparsable.
pub(crate) fn pool_threads() -> usize {
    std::env::var("EVENTIDE_THREADPOOL_SIZE")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map(|n| n.clamp(1, 1024))
        .unwrap_or(4)
}

/// A place for a `Copy` id a callback needs before it exists (a timer that
/// clears itself): set it after creating the handle.
#[derive(Clone, Default)]
pub(crate) struct Slot<T: Copy>(Rc<std::cell::Cell<Option<T>>>);

impl<T: Copy> Slot<T> {
    pub(crate) fn new() -> Self {
        Slot(Rc::new(std::cell::Cell::new(None)))
    }
    pub(crate) fn set(&self, v: T) {
        self.0.set(Some(v));
    }
    /// The id.
    ///
    /// # Panics
    ///
    /// If it was not set.
    pub(crate) fn get(&self) -> T {
        self.0.get().expect("slot set before use")
    }
}
