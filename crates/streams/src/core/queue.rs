//! A FIFO queue that holds one item without allocating.

use std::collections::VecDeque;

/// The buffers of a stream hold zero or one chunk most of the time (a
/// socket's read is pushed and emitted at once; a write goes to the sink at
/// once), so this queue keeps a single item inline and allocates only for a
/// second one; emptied, it lets the allocation go. An idle stream thus keeps
/// no heap memory for its buffers.
#[derive(Debug, Default)]
pub(crate) enum Queue<T> {
    #[default]
    Empty,
    One(T),
    Many(VecDeque<T>),
}

impl<T> Queue<T> {
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Queue::Empty)
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Queue::Empty => 0,
            Queue::One(_) => 1,
            Queue::Many(q) => q.len(),
        }
    }

    pub(crate) fn push_back(&mut self, item: T) {
        match std::mem::take(self) {
            Queue::Empty => *self = Queue::One(item),
            Queue::One(first) => *self = Queue::Many(VecDeque::from([first, item])),
            Queue::Many(mut q) => {
                q.push_back(item);
                *self = Queue::Many(q);
            }
        }
    }

    pub(crate) fn pop_front(&mut self) -> Option<T> {
        match std::mem::take(self) {
            Queue::Empty => None,
            Queue::One(item) => Some(item),
            Queue::Many(mut q) => {
                let item = q.pop_front();
                if !q.is_empty() {
                    *self = Queue::Many(q);
                }
                item
            }
        }
    }

    pub(crate) fn front(&self) -> Option<&T> {
        match self {
            Queue::Empty => None,
            Queue::One(item) => Some(item),
            Queue::Many(q) => q.front(),
        }
    }

    pub(crate) fn front_mut(&mut self) -> Option<&mut T> {
        match self {
            Queue::Empty => None,
            Queue::One(item) => Some(item),
            Queue::Many(q) => q.front_mut(),
        }
    }

    /// The items in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        let (one, many) = match self {
            Queue::Empty => (None, None),
            Queue::One(item) => (Some(item), None),
            Queue::Many(q) => (None, Some(q.iter())),
        };
        one.into_iter().chain(many.into_iter().flatten())
    }

    /// Removes the first `n` items (at most all of them).
    pub(crate) fn take_front(&mut self, n: usize) -> Vec<T> {
        let mut out = Vec::with_capacity(n.min(self.len()));
        while out.len() < n {
            match self.pop_front() {
                Some(item) => out.push(item),
                None => break,
            }
        }
        out
    }

    pub(crate) fn clear(&mut self) {
        *self = Queue::Empty;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The queue behaves as a `VecDeque`, and empty it holds nothing.
        #[test]
        fn matches_a_vecdeque(ops in proptest::collection::vec(any::<Option<u8>>(), 0..200)) {
            let mut q = Queue::default();
            let mut model = VecDeque::new();
            for op in ops {
                match op {
                    Some(x) => { q.push_back(x); model.push_back(x); }
                    None => prop_assert_eq!(q.pop_front(), model.pop_front()),
                }
                prop_assert_eq!(q.len(), model.len());
                prop_assert_eq!(q.front(), model.front());
                prop_assert!(q.iter().eq(model.iter()));
                prop_assert_eq!(q.is_empty(), matches!(q, Queue::Empty));
            }
        }
    }

    #[test]
    fn take_front_takes_in_order() {
        let mut q = Queue::default();
        (1..=5).for_each(|x| q.push_back(x));
        assert_eq!(q.take_front(3), [1, 2, 3]);
        assert_eq!(q.take_front(9), [4, 5]);
        assert!(q.is_empty());
    }
}
