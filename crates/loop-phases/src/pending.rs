//! The pending phase: callbacks deferred out of the poll phase.
//!
//! Work-pool completions, operations
//! admitted from the backlog, and tasks queued with `queue_pending` wait here.
//! The phase runs the queue as it was when the phase began; anything queued
//! while it runs waits for the next pass. libuv also runs this phase (up to 8
//! passes) right after polling, so work completions run in the same iteration
//! as the poll that noticed them.

use eventide_reactor::JobResult;
use eventide_reactor::pending::OpId;

use crate::event_loop::Loop;
use crate::handle::Task;
use crate::trace::CallbackKind;

pub(crate) enum Pending {
    Task(Task),
    Work { key: u64, result: JobResult },
    OpStart(OpId),
}

impl Loop {
    #[inline]
    pub(crate) fn run_pending(&mut self) {
        if !self.pending.is_empty() {
            self.run_pending_pass();
        }
    }

    fn run_pending_pass(&mut self) {
        // Only what was queued when the pass began: callbacks queue behind it
        // for the next pass. Counting, rather than taking the queue out,
        // keeps the rest queued if a callback panics.
        for _ in 0..self.pending.len() {
            let Some(p) = self.pending.pop_front() else {
                break;
            };
            match p {
                Pending::Task(t) => self.invoke(CallbackKind::Pending, "pending", t),
                Pending::Work { key, result } => self.finish_work(key, result),
                Pending::OpStart(id) => self.start_op(id),
            }
        }
    }
}
