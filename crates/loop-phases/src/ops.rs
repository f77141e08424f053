//! Pending operations with a high watermark (the design guide's point 3), on
//! the reactor's [`PendingOps`](eventide_reactor::pending::PendingOps).
//!
//! An operation is something that will hold memory while the OS works on it:
//! a connection being accepted or made, a request in flight. [`Loop::submit_op`]
//! admits it at once below the loop's high watermark, or queues it in a FIFO
//! backlog; its `start` callback runs in the pending phase once admitted. The
//! owner calls [`Loop::complete_op`] when it is done, which admits the next one
//! from the backlog. An operation still outstanding at its deadline, admitted
//! or queued, is removed: `on_timeout` runs in the timers phase, and then
//! everything the operation's callbacks captured is dropped.

use std::time::Duration;

use eventide_reactor::pending::{Admission, OpId, OpStats};

use crate::clock::duration_ns;
use crate::event_loop::Loop;
use crate::pending::Pending;
use crate::trace::CallbackKind;

type OpCb = Box<dyn FnOnce(&mut Loop, OpId)>;

pub(crate) struct OpEntry {
    start: Option<OpCb>,
    on_timeout: Option<OpCb>,
}

/// A snapshot of the loop's pending-operation accounting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpsSnapshot {
    /// Admitted and not yet completed.
    pub in_flight: usize,
    /// Waiting in the backlog.
    pub queued: usize,
    /// The high watermark.
    pub high_watermark: usize,
    /// Counters since the loop was created.
    pub stats: OpStats,
}

impl Loop {
    /// Submits an operation. `start` runs in a pending phase once the
    /// operation is admitted (at once below the high watermark, else when
    /// earlier ones complete, first come first served). If `timeout` passes
    /// before [`Loop::complete_op`], `on_timeout` runs instead (or after
    /// `start`, if it was admitted) and the operation's memory is released.
    /// Outstanding operations keep the loop alive.
    ///
    /// ```
    /// use eventide_loop_phases::{Loop, RunMode};
    /// use std::time::Duration;
    ///
    /// let mut lp = Loop::new_manual();
    /// lp.set_op_high_watermark(1);
    /// let (first, _) = lp.submit_op(None, |lp, id| {
    ///     // Registered with the OS here; finishes 5 ms later.
    ///     lp.set_timeout(Duration::from_millis(5), move |lp| { lp.complete_op(id); });
    /// }, |_, _| unreachable!());
    /// let (_second, admission) = lp.submit_op(Some(Duration::from_millis(2)), |_, _| {
    ///     unreachable!("never admitted: it times out in the backlog first");
    /// }, |_lp, _id| println!("timed out while queued; its memory is released"));
    /// assert_eq!(admission, eventide_loop_phases::Admission::Queued);
    /// lp.run(RunMode::Default);
    /// assert_eq!(lp.ops().stats.timed_out, 1);
    /// # let _ = first;
    /// ```
    pub fn submit_op(
        &mut self,
        timeout: Option<Duration>,
        start: impl FnOnce(&mut Loop, OpId) + 'static,
        on_timeout: impl FnOnce(&mut Loop, OpId) + 'static,
    ) -> (OpId, Admission) {
        let deadline = timeout.map(|t| self.clock.read().saturating_add(duration_ns(t)));
        let (id, admission) = self.ops.submit(
            OpEntry {
                start: Some(Box::new(start)),
                on_timeout: Some(Box::new(on_timeout)),
            },
            deadline,
        );
        self.active_reqs += 1;
        if admission == Admission::Admitted {
            self.pending.push_back(Pending::OpStart(id));
        }
        (id, admission)
    }

    /// Marks an operation done (or cancels a queued one) and admits the next
    /// from the backlog. Returns `false` if it had already completed or timed
    /// out.
    pub fn complete_op(&mut self, id: OpId) -> bool {
        if self.ops.complete(id).is_none() {
            return false;
        }
        self.active_reqs -= 1;
        self.admit_ops();
        true
    }

    /// Sets the high watermark of in-flight operations (default 1024) and
    /// admits from the backlog if it was raised.
    pub fn set_op_high_watermark(&mut self, n: usize) {
        self.ops.set_high_watermark(n);
        self.admit_ops();
    }

    /// The pending-operation accounting.
    pub fn ops(&self) -> OpsSnapshot {
        OpsSnapshot {
            in_flight: self.ops.in_flight(),
            queued: self.ops.queued(),
            high_watermark: self.ops.high_watermark(),
            stats: self.ops.stats(),
        }
    }

    /// Whether the operation is still waiting in the backlog.
    pub fn is_op_queued(&self, id: OpId) -> bool {
        self.ops.is_queued(id)
    }

    fn admit_ops(&mut self) {
        while let Some(id) = self.ops.admit_next() {
            self.pending.push_back(Pending::OpStart(id));
        }
    }

    pub(crate) fn start_op(&mut self, id: OpId) {
        let Some(start) = self.ops.get_mut(id).and_then(|e| e.start.take()) else {
            return; // timed out or completed before its turn came
        };
        self.invoke(CallbackKind::OpStart, "op", |lp| start(lp, id));
    }

    /// Removes operations whose deadline passed (called in the timers phase).
    pub(crate) fn expire_ops(&mut self) {
        while let Some(expired) = self.ops.expire(self.now) {
            self.active_reqs -= 1;
            let mut entry = expired.op;
            drop(entry.start.take());
            if let Some(f) = entry.on_timeout.take() {
                self.invoke(CallbackKind::OpTimeout, "op", |lp| f(lp, expired.id));
            }
            self.admit_ops();
        }
    }

    /// The earliest operation deadline.
    pub(crate) fn next_op_deadline(&mut self) -> Option<u64> {
        self.ops.next_deadline()
    }
}
