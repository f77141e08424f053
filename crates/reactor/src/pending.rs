//! Pending-operation accounting with a high watermark, a FIFO backlog and
//! per-operation deadlines (the design guide's point 3).
//!
//! A public server must survive slow networks and malicious peers. Every
//! outstanding operation holds memory (a buffer, a connection, a callback and
//! what it captured), so [`PendingOps`] always knows how many there are. Up to
//! the *high watermark* an operation is admitted (the caller registers it with
//! the OS); past it, the operation waits in a FIFO backlog and is admitted as
//! others complete. Every operation may carry a deadline: once it passes, the
//! operation is removed whether admitted or queued, and handed back to the
//! caller to fail with `TimedOut`; dropping it releases its memory.
//!
//! This type is sans-I/O: it holds no sockets and reads no clock. The loop
//! passes `now` in and registers what it is told to admit.
//!
//! ```
//! use eventide_reactor::pending::{Admission, PendingOps};
//!
//! let mut ops = PendingOps::new(2); // high watermark: 2 in flight
//! let (a, _) = ops.submit("a", None);
//! let (_b, _) = ops.submit("b", None);
//! let (c, adm) = ops.submit("c", Some(100));
//! assert_eq!(adm, Admission::Queued);
//! assert_eq!((ops.in_flight(), ops.queued()), (2, 1));
//!
//! ops.complete(a);                     // a finishes ...
//! assert_eq!(ops.admit_next(), Some(c)); // ... so c is admitted, FIFO
//!
//! let expired = ops.expire(150).unwrap(); // c's deadline passed
//! assert_eq!((expired.id, expired.op), (c, "c"));
//! # assert_eq!(ops.in_flight(), 1);
//! ```

use std::collections::VecDeque;

use crate::deadline::DeadlineQueue;
use crate::slab::{Key, Slab};

/// Identifies one submitted operation. Stale after it completes or expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpId(Key);

impl OpId {
    /// The id as one integer (for tracing).
    pub fn to_u64(self) -> u64 {
        self.0.to_u64()
    }
}

/// Whether a submitted operation may be registered with the OS now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Below the watermark: register it now.
    Admitted,
    /// At the watermark: it waits in the backlog until [`PendingOps::admit_next`]
    /// returns it.
    Queued,
}

/// An operation removed because its deadline passed.
#[derive(Debug)]
pub struct Expired<T> {
    /// Its id (now stale).
    pub id: OpId,
    /// The operation, handed back so the caller can fail it and drop it.
    pub op: T,
    /// Whether it was still in the backlog (never registered with the OS).
    pub was_queued: bool,
}

/// Counters kept since creation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpStats {
    /// Operations submitted.
    pub submitted: u64,
    /// Operations that had to wait in the backlog.
    pub queued_total: u64,
    /// Operations admitted (directly or from the backlog).
    pub admitted: u64,
    /// Operations completed by their owner.
    pub completed: u64,
    /// Operations removed by their deadline.
    pub timed_out: u64,
    /// The most operations ever in flight at once.
    pub peak_in_flight: usize,
    /// The longest the backlog ever was.
    pub peak_queued: usize,
}

#[derive(Debug)]
struct Entry<T> {
    op: T,
    queued: bool,
    /// Whether its deadline is still in the queue.
    has_deadline: bool,
}

/// The accounting itself. See the module docs.
#[derive(Debug)]
pub struct PendingOps<T> {
    entries: Slab<Entry<T>>,
    backlog: VecDeque<Key>,
    deadlines: DeadlineQueue,
    high_watermark: usize,
    in_flight: usize,
    queued: usize,
    seq: u64,
    stats: OpStats,
}

impl<T> PendingOps<T> {
    /// Accounting with `high_watermark` operations in flight at most (at least 1).
    pub fn new(high_watermark: usize) -> Self {
        PendingOps {
            entries: Slab::new(),
            backlog: VecDeque::new(),
            deadlines: DeadlineQueue::new(),
            high_watermark: high_watermark.max(1),
            in_flight: 0,
            queued: 0,
            seq: 0,
            stats: OpStats::default(),
        }
    }

    /// The high watermark.
    pub fn high_watermark(&self) -> usize {
        self.high_watermark
    }

    /// Changes the high watermark. Raising it does not admit by itself: call
    /// [`PendingOps::admit_next`] until it returns `None`.
    pub fn set_high_watermark(&mut self, n: usize) {
        self.high_watermark = n.max(1);
    }

    /// Operations admitted and not yet completed or expired.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Operations waiting in the backlog.
    pub fn queued(&self) -> usize {
        self.queued
    }

    /// All outstanding operations, in flight or queued.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is outstanding.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Counters since creation.
    pub fn stats(&self) -> OpStats {
        self.stats
    }

    /// Submits an operation with an optional deadline (in the caller's time
    /// unit). Admitted at once below the watermark, queued otherwise. An
    /// operation is queued also when others are already waiting, so admission
    /// stays first come, first served.
    pub fn submit(&mut self, op: T, deadline: Option<u64>) -> (OpId, Admission) {
        let admit = self.in_flight < self.high_watermark && self.queued == 0;
        let key = self.entries.insert(Entry {
            op,
            queued: !admit,
            has_deadline: deadline.is_some(),
        });
        self.stats.submitted += 1;
        if admit {
            self.in_flight += 1;
            self.stats.admitted += 1;
            self.stats.peak_in_flight = self.stats.peak_in_flight.max(self.in_flight);
        } else {
            self.queued += 1;
            self.backlog.push_back(key);
            self.stats.queued_total += 1;
            self.stats.peak_queued = self.stats.peak_queued.max(self.queued);
        }
        if let Some(due) = deadline {
            self.seq += 1;
            self.deadlines.push(due, self.seq, key.to_u64());
        }
        let admission = if admit {
            Admission::Admitted
        } else {
            Admission::Queued
        };
        (OpId(key), admission)
    }

    /// Admits the oldest queued operation if there is room under the watermark.
    pub fn admit_next(&mut self) -> Option<OpId> {
        if self.in_flight >= self.high_watermark {
            return None;
        }
        while let Some(key) = self.backlog.pop_front() {
            // Keys of queued operations that expired or were cancelled are
            // left in the backlog and skipped here.
            if let Some(entry) = self.entries.get_mut(key).filter(|e| e.queued) {
                entry.queued = false;
                self.queued -= 1;
                self.in_flight += 1;
                self.stats.admitted += 1;
                self.stats.peak_in_flight = self.stats.peak_in_flight.max(self.in_flight);
                return Some(OpId(key));
            }
        }
        None
    }

    /// The operation, if still outstanding.
    pub fn get(&self, id: OpId) -> Option<&T> {
        self.entries.get(id.0).map(|e| &e.op)
    }

    /// The operation, mutably, if still outstanding.
    pub fn get_mut(&mut self, id: OpId) -> Option<&mut T> {
        self.entries.get_mut(id.0).map(|e| &mut e.op)
    }

    /// Whether the operation is still waiting in the backlog.
    pub fn is_queued(&self, id: OpId) -> bool {
        self.entries.get(id.0).is_some_and(|e| e.queued)
    }

    /// Removes a finished (or cancelled) operation and returns it. Follow with
    /// [`PendingOps::admit_next`] to fill the freed place.
    pub fn complete(&mut self, id: OpId) -> Option<T> {
        let entry = self.remove(id)?;
        self.stats.completed += 1;
        Some(entry.op)
    }

    /// Removes and returns one operation whose deadline is `<= now`, oldest
    /// deadline first. Call until it returns `None`.
    pub fn expire(&mut self, now: u64) -> Option<Expired<T>> {
        let entries = &self.entries;
        let due = self
            .deadlines
            .pop_due(now, |key, _| entries.contains(Key::from_u64(key)))?;
        let id = OpId(Key::from_u64(due.key));
        // Its deadline just left the queue: not a stale entry to count.
        if let Some(e) = self.entries.get_mut(id.0) {
            e.has_deadline = false;
        }
        let entry = self.remove(id).expect("a live deadline names a live entry");
        self.stats.timed_out += 1;
        Some(Expired {
            id,
            op: entry.op,
            was_queued: entry.queued,
        })
    }

    /// The earliest outstanding deadline.
    pub fn next_deadline(&mut self) -> Option<u64> {
        let entries = &self.entries;
        self.deadlines
            .peek(|key, _| entries.contains(Key::from_u64(key)))
            .map(|d| d.due)
    }

    fn remove(&mut self, id: OpId) -> Option<Entry<T>> {
        let entry = self.entries.remove(id.0)?;
        if entry.queued {
            self.queued -= 1;
        } else {
            self.in_flight -= 1;
        }
        // Only an entry whose deadline is still queued leaves a stale one
        // behind; counting others would make the queue compact needlessly.
        if entry.has_deadline {
            let entries = &self.entries;
            self.deadlines
                .note_cancelled(|key, _| entries.contains(Key::from_u64(key)));
        }
        Some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        Submit(Option<u64>),
        Complete(usize),
        Tick(u64),
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            3 => proptest::option::of(1u64..50).prop_map(Step::Submit),
            2 => (0usize..64).prop_map(Step::Complete),
            1 => (1u64..20).prop_map(Step::Tick),
        ]
    }

    proptest! {
        /// The backlog admits in FIFO order of submission, in-flight never
        /// exceeds the watermark, and every operation ends exactly once
        /// (completed or expired), never before its deadline.
        #[test]
        fn fifo_and_bounded(hwm in 1usize..6, steps in proptest::collection::vec(step(), 0..300)) {
            let mut ops = PendingOps::new(hwm);
            let mut now = 0u64;
            let mut submitted_order: Vec<OpId> = Vec::new();
            let mut admitted_order: Vec<OpId> = Vec::new();
            let mut live: Vec<OpId> = Vec::new();
            let mut deadline_of = std::collections::HashMap::new();
            for s in steps {
                match s {
                    Step::Submit(rel) => {
                        let deadline = rel.map(|r| now + r);
                        let (id, adm) = ops.submit(id_payload(&submitted_order), deadline);
                        submitted_order.push(id);
                        deadline_of.insert(id, deadline);
                        if adm == Admission::Admitted { admitted_order.push(id); }
                        live.push(id);
                    }
                    Step::Complete(i) => {
                        let in_flight: Vec<OpId> = live.iter().copied().filter(|id| !ops.is_queued(*id)).collect();
                        if !in_flight.is_empty() {
                            let id = in_flight[i % in_flight.len()];
                            prop_assert!(ops.complete(id).is_some());
                            prop_assert!(ops.complete(id).is_none());
                            live.retain(|x| *x != id);
                        }
                    }
                    Step::Tick(dt) => {
                        now += dt;
                        while let Some(e) = ops.expire(now) {
                            let d = deadline_of[&e.id].expect("only ops with deadlines expire");
                            prop_assert!(d <= now, "expired early");
                            live.retain(|x| *x != e.id);
                        }
                    }
                }
                while let Some(id) = ops.admit_next() {
                    admitted_order.push(id);
                }
                prop_assert!(ops.in_flight() <= hwm);
                prop_assert_eq!(ops.len(), live.len());
                prop_assert_eq!(ops.in_flight() + ops.queued(), live.len());
                // Nothing waits while there is room.
                prop_assert!(ops.queued() == 0 || ops.in_flight() == hwm);
            }
            // Admission order is submission order with the never-admitted removed.
            let pos = |id: &OpId| submitted_order.iter().position(|x| x == id).unwrap();
            prop_assert!(admitted_order.windows(2).all(|w| pos(&w[0]) < pos(&w[1])));
        }
    }

    fn id_payload(v: &[OpId]) -> usize {
        v.len()
    }

    /// Only an operation whose deadline is still queued leaves a stale entry:
    /// completing one without a deadline, or expiring one (its deadline was
    /// popped), must not inflate the count that drives compaction.
    #[test]
    fn stale_deadline_count_is_exact() {
        let mut ops = PendingOps::new(100);
        let (with, _) = ops.submit(0, Some(10));
        let (other, _) = ops.submit(1, Some(20));
        for i in 0..50 {
            let (id, _) = ops.submit(i, None);
            ops.complete(id);
        }
        assert_eq!(ops.deadlines.stale_count(), 0);
        assert_eq!(ops.expire(10).map(|e| e.id), Some(with));
        assert_eq!(ops.deadlines.stale_count(), 0);
        ops.complete(other);
        assert_eq!(ops.deadlines.stale_count(), 1);
        assert!(ops.expire(100).is_none());
        assert_eq!(ops.deadlines.stale_count(), 0);
    }

    #[test]
    fn queued_op_expires_and_releases_memory() {
        use std::rc::Rc;
        let memory = Rc::new(vec![0u8; 1024]);
        let mut ops = PendingOps::new(1);
        let (_a, _) = ops.submit(Rc::clone(&memory), None);
        let (b, adm) = ops.submit(Rc::clone(&memory), Some(10));
        assert_eq!(adm, Admission::Queued);
        assert_eq!(Rc::strong_count(&memory), 3);
        assert!(ops.expire(9).is_none());
        let e = ops.expire(10).unwrap();
        assert!(e.was_queued);
        assert_eq!(e.id, b);
        drop(e);
        assert_eq!(Rc::strong_count(&memory), 2);
        assert_eq!(ops.admit_next(), None);
        assert_eq!(ops.stats().timed_out, 1);
    }
}
