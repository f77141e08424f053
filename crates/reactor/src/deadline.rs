//! A min-queue of deadlines with O(log n) insert and O(1) cancel.
//!
//! Entries are ordered by `(due, seq)`: equal deadlines come out in the order
//! they were pushed (libuv keys its timer heap the same way; a queue keyed by
//! deadline alone loses the start order of two equal timers). Cancelling is
//! done by the owner forgetting the entry: the queue asks the owner, through a
//! liveness predicate, whether an entry is still current when it reaches the
//! top, and drops it if not (lazy deletion). So that cancelled entries cannot
//! pile up (a socket idle timeout refreshed on every read cancels one entry per
//! read), the owner calls [`DeadlineQueue::note_cancelled`] and the queue
//! compacts itself once stale entries outnumber live ones: amortised O(1).
//!
//! ```
//! use eventide_reactor::deadline::DeadlineQueue;
//!
//! let mut q = DeadlineQueue::new();
//! q.push(20, 0, 100);
//! q.push(10, 1, 101);
//! q.push(10, 2, 102);
//! let live = |key: u64, _seq: u64| key != 101; // 101 was cancelled
//! assert_eq!(q.pop_due(15, live).map(|e| e.key), Some(102));
//! assert_eq!(q.pop_due(15, live), None); // 100 is not due yet
//! assert_eq!(q.peek(live).map(|e| e.due), Some(20));
//! ```

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// One queued deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Deadline {
    /// When it is due, in the owner's time unit (Eventide uses nanoseconds).
    pub due: u64,
    /// Tie-breaker: lower sequence numbers come out first among equal `due`.
    pub seq: u64,
    /// The owner's identifier for the entry.
    pub key: u64,
}

/// A min-queue of [`Deadline`]s with lazy cancellation. See the module docs.
#[derive(Debug, Default)]
pub struct DeadlineQueue {
    heap: BinaryHeap<Reverse<Deadline>>,
    stale: usize,
}

impl DeadlineQueue {
    /// An empty queue.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty queue with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        DeadlineQueue {
            heap: BinaryHeap::with_capacity(n),
            stale: 0,
        }
    }

    /// Queues a deadline. O(log n).
    pub fn push(&mut self, due: u64, seq: u64, key: u64) {
        self.heap.push(Reverse(Deadline { due, seq, key }));
    }

    /// Entries held, live and stale.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Stale entries counted and not yet dropped.
    #[cfg(test)]
    pub(crate) fn stale_count(&self) -> usize {
        self.stale
    }

    /// Whether the queue holds no entry at all.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Records that one queued entry became stale, and compacts the queue when
    /// stale entries outnumber live ones. `is_live` is the same predicate as
    /// for [`DeadlineQueue::peek`].
    pub fn note_cancelled(&mut self, is_live: impl Fn(u64, u64) -> bool) {
        self.stale += 1;
        // Compacting costs O(n); doing it only once stale entries are the
        // majority keeps the amortised cost per cancel constant.
        if self.stale > 64 && self.stale * 2 > self.heap.len() {
            self.heap.retain(|Reverse(d)| is_live(d.key, d.seq));
            self.stale = 0;
        }
    }

    /// The earliest live deadline, dropping stale entries found on top.
    pub fn peek(&mut self, is_live: impl Fn(u64, u64) -> bool) -> Option<Deadline> {
        while let Some(Reverse(top)) = self.heap.peek().copied() {
            if is_live(top.key, top.seq) {
                return Some(top);
            }
            self.heap.pop();
            self.stale = self.stale.saturating_sub(1);
        }
        None
    }

    /// Removes and returns the earliest live deadline if it is due at `now`
    /// (`due <= now`).
    pub fn pop_due(&mut self, now: u64, is_live: impl Fn(u64, u64) -> bool) -> Option<Deadline> {
        let top = self.peek(is_live)?;
        if top.due > now {
            return None;
        }
        self.heap.pop();
        Some(top)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    proptest! {
        /// Popping everything yields live entries sorted by (due, seq), and
        /// never a cancelled one, whatever interleaving of pushes and cancels.
        #[test]
        fn pops_in_order_and_skips_cancelled(
            dues in proptest::collection::vec(0u64..50, 1..300),
            cancel in proptest::collection::vec(any::<bool>(), 1..300),
        ) {
            let mut q = DeadlineQueue::new();
            let mut cancelled = HashSet::new();
            for (seq, due) in dues.iter().enumerate() {
                q.push(*due, seq as u64, seq as u64);
            }
            for (key, c) in cancel.iter().enumerate().take(dues.len()) {
                if *c {
                    cancelled.insert(key as u64);
                    let dead = cancelled.clone();
                    q.note_cancelled(move |k, _| !dead.contains(&k));
                }
            }
            let live = |k: u64, _| !cancelled.contains(&k);
            let mut out = Vec::new();
            while let Some(d) = q.pop_due(u64::MAX, live) {
                out.push((d.due, d.seq));
            }
            let mut model: Vec<(u64, u64)> = dues
                .iter()
                .enumerate()
                .filter(|(k, _)| !cancelled.contains(&(*k as u64)))
                .map(|(k, d)| (*d, k as u64))
                .collect();
            model.sort();
            prop_assert_eq!(out, model);
        }
    }

    #[test]
    fn compaction_bounds_stale_entries() {
        let mut q = DeadlineQueue::new();
        // One live entry refreshed 10,000 times: the queue must not keep them all.
        for seq in 0..10_000u64 {
            q.push(seq + 1_000_000, seq, 1);
            if seq > 0 {
                q.note_cancelled(|_, s| s == seq);
            }
        }
        assert!(q.len() < 200, "queue kept {} entries", q.len());
        assert_eq!(q.peek(|_, s| s == 9_999).map(|d| d.seq), Some(9_999));
    }
}
