//! Blocking work on the pool (libuv's `uv_queue_work`).
//!
//! The work runs on a pool thread; its result comes back to the loop thread,
//! where `done` runs in the pending phase, in the order the jobs finished.
//! Each job is an outstanding request: it keeps the loop alive.

use std::fmt;

use eventide_reactor::slab::Key;
use eventide_reactor::{JobResult, WorkPool};

use crate::event_loop::Loop;
use crate::pending::Pending;
use crate::trace::CallbackKind;

/// Why blocking work produced no value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkError {
    /// Cancelled with [`Loop::cancel_work`] before a thread took it.
    Cancelled,
    /// The work panicked; the message is the panic's, if it was a string.
    Panicked(String),
}

impl fmt::Display for WorkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WorkError::Cancelled => f.write_str("work cancelled before it started"),
            WorkError::Panicked(m) => write!(f, "work panicked: {m}"),
        }
    }
}

impl std::error::Error for WorkError {}

/// A job submitted with [`Loop::spawn_blocking`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Work(Key);

type DoneCb = Box<dyn FnOnce(&mut Loop, JobResult)>;

pub(crate) struct WorkEntry {
    done: DoneCb,
}

impl Loop {
    /// Runs `work` on the blocking pool and then `done` with its result on the
    /// loop thread, in the pending phase (libuv's `uv_queue_work`). A panic in
    /// `work` reaches `done` as [`WorkError::Panicked`].
    ///
    /// ```
    /// use eventide_loop_phases::{Loop, RunMode};
    ///
    /// let mut lp = Loop::new();
    /// lp.spawn_blocking(
    ///     || (1..=10u64).product::<u64>(), // on a pool thread
    ///     |_lp, result| assert_eq!(result, Ok(3_628_800)),
    /// );
    /// lp.run(RunMode::Default);
    /// ```
    pub fn spawn_blocking<R, W, D>(&mut self, work: W, done: D) -> Work
    where
        R: Send + 'static,
        W: FnOnce() -> R + Send + 'static,
        D: FnOnce(&mut Loop, Result<R, WorkError>) + 'static,
    {
        let key = self.work.insert(WorkEntry {
            done: Box::new(move |lp: &mut Loop, result: JobResult| {
                let result = match result {
                    Ok(value) => Ok(*value.downcast::<R>().expect("work returns its own type")),
                    Err(p) if p.is::<Cancelled>() => Err(WorkError::Cancelled),
                    Err(panic) => Err(WorkError::Panicked(panic_message(&*panic))),
                };
                done(lp, result);
            }),
        });
        self.active_reqs += 1;
        WorkPool::global().submit(
            self.reactor.remote(),
            key.to_u64(),
            Box::new(move || Box::new(work())),
        );
        Work(key)
    }

    /// Cancels work no pool thread has started (libuv's `uv_cancel`). Its
    /// `done` then runs with [`WorkError::Cancelled`] in the next pending
    /// phase. Returns `false` if the work already started or finished.
    pub fn cancel_work(&mut self, w: Work) -> bool {
        if !self.work.contains(w.0)
            || !WorkPool::global().cancel(self.reactor.remote(), w.0.to_u64())
        {
            return false;
        }
        self.pending.push_back(Pending::Work {
            key: w.0.to_u64(),
            result: Err(Box::new(Cancelled)),
        });
        true
    }

    /// Queues the results of finished jobs for the pending phase.
    pub(crate) fn collect_completions(&mut self) {
        self.reactor
            .remote()
            .take_completions(&mut self.completions);
        for c in self.completions.drain(..) {
            self.pending.push_back(Pending::Work {
                key: c.key,
                result: c.result,
            });
        }
    }

    pub(crate) fn finish_work(&mut self, key: u64, result: JobResult) {
        let Some(entry) = self.work.remove(Key::from_u64(key)) else {
            return;
        };
        self.active_reqs -= 1;
        // A cancelled job carries the `Cancelled` marker as its payload;
        // `done` turns it into `WorkError::Cancelled`.
        self.invoke(CallbackKind::Work, "work", |lp| (entry.done)(lp, result));
    }
}

/// Marker payload for a cancelled job.
struct Cancelled;

fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| String::from("non-string panic payload"))
}
