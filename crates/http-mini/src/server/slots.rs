//! The responses in flight on one connection, in request order.

use std::collections::VecDeque;

use crate::server::conn::Slot;

/// A queue of slots. An idle connection holds no queue memory: when its
/// queue empties it gives the allocation back ([`Slots::give_back`]) to a
/// spare that the loop keeps for the next busy connection, so neither an
/// idle connection nor a request costs an allocation.
#[derive(Default)]
pub(crate) struct Slots {
    queue: VecDeque<Slot>,
}

impl Slots {
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    pub(crate) fn front(&self) -> Option<&Slot> {
        self.queue.front()
    }

    pub(crate) fn front_mut(&mut self) -> Option<&mut Slot> {
        self.queue.front_mut()
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut Slot> {
        self.queue.get_mut(i)
    }

    /// Where the slot of request `seq` stands (0 = front), if it is here:
    /// sequence numbers are consecutive from the front.
    pub(crate) fn position(&self, seq: u64) -> Option<usize> {
        let first = self.front()?.seq;
        let i = usize::try_from(seq.checked_sub(first)?).ok()?;
        (i < self.len()).then_some(i)
    }

    /// Appends `slot`, taking the spare's allocation if this queue has none.
    pub(crate) fn push_back(&mut self, slot: Slot, spare: &mut Option<Slots>) {
        if self.queue.capacity() == 0
            && let Some(s) = spare.take()
        {
            *self = s;
        }
        self.queue.push_back(slot);
    }

    pub(crate) fn pop_front(&mut self) -> Option<Slot> {
        self.queue.pop_front()
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.queue.iter_mut()
    }

    /// An empty queue's allocation goes to `spare` (if it has none; a
    /// pipelining connection's large one is dropped).
    pub(crate) fn give_back(&mut self, spare: &mut Option<Slots>) {
        const KEEP: usize = 64;
        if !self.queue.is_empty() || self.queue.capacity() == 0 {
            return;
        }
        let queue = std::mem::take(self);
        if spare.is_none() && queue.queue.capacity() <= KEEP {
            *spare = Some(queue);
        }
    }
}

impl IntoIterator for Slots {
    type Item = Slot;
    type IntoIter = std::collections::vec_deque::IntoIter<Slot>;

    fn into_iter(self) -> Self::IntoIter {
        self.queue.into_iter()
    }
}
