//! The responses in flight on one connection, in request order.

use std::collections::VecDeque;

use crate::server::conn::Slot;

/// A queue of slots that keeps the first one inline: a connection that does
/// not pipeline (almost all of them) never allocates for its queue, and an
/// idle connection holds no queue memory beyond its own struct.
#[derive(Default)]
pub(crate) struct Slots {
    head: Option<Slot>,
    rest: VecDeque<Slot>,
}

impl Slots {
    pub(crate) fn len(&self) -> usize {
        usize::from(self.head.is_some()) + self.rest.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.head.is_none()
    }

    pub(crate) fn front(&self) -> Option<&Slot> {
        self.head.as_ref()
    }

    pub(crate) fn front_mut(&mut self) -> Option<&mut Slot> {
        self.head.as_mut()
    }

    pub(crate) fn get_mut(&mut self, i: usize) -> Option<&mut Slot> {
        match i {
            0 => self.head.as_mut(),
            i => self.rest.get_mut(i - 1),
        }
    }

    pub(crate) fn push_back(&mut self, slot: Slot) {
        match self.head {
            None => self.head = Some(slot),
            Some(_) => self.rest.push_back(slot),
        }
    }

    pub(crate) fn pop_front(&mut self) -> Option<Slot> {
        let front = self.head.take();
        self.head = self.rest.pop_front();
        front
    }

    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut Slot> {
        self.head.iter_mut().chain(self.rest.iter_mut())
    }
}

impl IntoIterator for Slots {
    type Item = Slot;
    type IntoIter =
        std::iter::Chain<std::option::IntoIter<Slot>, std::collections::vec_deque::IntoIter<Slot>>;

    fn into_iter(self) -> Self::IntoIter {
        self.head.into_iter().chain(self.rest)
    }
}
