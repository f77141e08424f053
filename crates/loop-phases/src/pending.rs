//! The pending phase: callbacks deferred out of the poll phase.
//!
//! Work-pool completions, readiness re-delivered with `io_feed`, operations
//! admitted from the backlog, and tasks queued with `queue_pending` wait here.
//! The phase runs the queue as it was when the phase began; anything queued
//! while it runs waits for the next pass. libuv also runs this phase (up to 8
//! passes) right after polling, so work completions run in the same iteration
//! as the poll that noticed them.

use eventide_reactor::pending::OpId;
use eventide_reactor::{JobResult, Readiness};

use crate::event_loop::Loop;
use crate::handle::{IoWatch, Task};
use crate::trace::CallbackKind;

pub(crate) enum Pending {
    Task(Task),
    Work {
        key: u64,
        result: JobResult,
    },
    Feed {
        watch: IoWatch,
        readiness: Readiness,
    },
    OpStart(OpId),
}

impl Loop {
    pub(crate) fn run_pending(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        // Swap in the spare queue so that callbacks queue into an empty one.
        let mut batch =
            std::mem::replace(&mut self.pending, std::mem::take(&mut self.pending_spare));
        while let Some(p) = batch.pop_front() {
            match p {
                Pending::Task(t) => self.invoke(CallbackKind::Pending, "pending", t),
                Pending::Work { key, result } => self.finish_work(key, result),
                Pending::Feed { watch, readiness } => self.dispatch_io(watch.0, readiness),
                Pending::OpStart(id) => self.start_op(id),
            }
        }
        self.pending_spare = batch;
    }
}
