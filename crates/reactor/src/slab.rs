//! A generational slab: dense storage reached through small `Copy` keys.
//!
//! Every Eventide object that lives in loop-owned storage (handles, timers,
//! operations, sockets) is reached through a [`Key`]: a slot index plus the
//! slot's generation at insertion. Removing an entry bumps the generation, so
//! a key kept past removal is *stale*: [`Slab::get`] returns `None` for it
//! instead of aliasing whatever was stored in the slot next (calloop's
//! versioned tokens, libuv's "missing watcher means stale").
//!
//! ```
//! use eventide_reactor::slab::Slab;
//!
//! let mut slab = Slab::new();
//! let a = slab.insert("a");
//! assert_eq!(slab.remove(a), Some("a"));
//! let b = slab.insert("b"); // reuses a's slot ...
//! assert_eq!(a.index(), b.index());
//! assert_eq!(slab.get(a), None); // ... but a's key is stale, never aliased
//! assert_eq!(slab.get(b), Some(&"b"));
//! ```

use std::fmt;

/// A key into a [`Slab`]: slot index and generation. Cheap to copy and compare.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key {
    index: u32,
    generation: u32,
}

impl Key {
    /// Builds a key from its parts (for encoding keys into tokens).
    pub const fn from_parts(index: u32, generation: u32) -> Self {
        Key { index, generation }
    }

    /// The slot index.
    pub const fn index(self) -> u32 {
        self.index
    }

    /// The slot's generation when this key was issued.
    pub const fn generation(self) -> u32 {
        self.generation
    }

    /// Packs the key into one `u64` (generation high, index low).
    pub const fn to_u64(self) -> u64 {
        ((self.generation as u64) << 32) | self.index as u64
    }

    /// Unpacks a key packed by [`Key::to_u64`].
    pub const fn from_u64(v: u64) -> Self {
        Key {
            index: v as u32,
            generation: (v >> 32) as u32,
        }
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}v{}", self.index, self.generation)
    }
}

/// A slot: its generation, then its entry or its place in the free list.
/// `repr(C)` keeps the generation first, so checking a key reads the line the
/// entry starts on; left to itself, the compiler puts it after the entry,
/// and a lookup in a table of large entries (streams, connections) touched
/// two cache lines where one will do.
#[repr(C)]
struct Slot<T> {
    generation: u32,
    state: State<T>,
}

enum State<T> {
    Occupied(T),
    Vacant { next_free: u32 },
}

const NONE: u32 = u32::MAX;

/// Generational slab storage. Insert and remove are O(1); freed slots are
/// reused most-recently-freed first, so the storage stays dense.
pub struct Slab<T> {
    slots: Vec<Slot<T>>,
    free_head: u32,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Slab<T> {
    /// An empty slab.
    pub const fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free_head: NONE,
            len: 0,
        }
    }

    /// An empty slab with room for `n` entries before it reallocates.
    pub fn with_capacity(n: usize) -> Self {
        Slab {
            slots: Vec::with_capacity(n),
            free_head: NONE,
            len: 0,
        }
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the slab holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value` and returns its key.
    ///
    /// # Panics
    ///
    /// Panics if more than `u32::MAX - 1` slots would be needed.
    pub fn insert(&mut self, value: T) -> Key {
        self.len += 1;
        if self.free_head != NONE {
            let index = self.free_head;
            let slot = &mut self.slots[index as usize];
            let State::Vacant { next_free } = slot.state else {
                unreachable!("free list points at an occupied slot");
            };
            self.free_head = next_free;
            slot.state = State::Occupied(value);
            Key {
                index,
                generation: slot.generation,
            }
        } else {
            let index = u32::try_from(self.slots.len())
                .ok()
                .filter(|&i| i != NONE)
                .expect("slab is full");
            self.slots.push(Slot {
                generation: 0,
                state: State::Occupied(value),
            });
            Key {
                index,
                generation: 0,
            }
        }
    }

    /// Removes and returns the entry for `key`; `None` if the key is stale.
    pub fn remove(&mut self, key: Key) -> Option<T> {
        let slot = self.slots.get_mut(key.index as usize)?;
        if slot.generation != key.generation || matches!(slot.state, State::Vacant { .. }) {
            return None;
        }
        let vacant = State::Vacant {
            next_free: self.free_head,
        };
        let State::Occupied(value) = std::mem::replace(&mut slot.state, vacant) else {
            unreachable!("checked above")
        };
        slot.generation = slot.generation.wrapping_add(1);
        self.free_head = key.index;
        self.len -= 1;
        Some(value)
    }

    /// Whether `key` refers to a live entry.
    pub fn contains(&self, key: Key) -> bool {
        self.get(key).is_some()
    }

    /// The entry for `key`, or `None` if the key is stale.
    pub fn get(&self, key: Key) -> Option<&T> {
        match self.slots.get(key.index as usize)? {
            Slot {
                generation,
                state: State::Occupied(value),
            } if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    /// The entry for `key`, mutably, or `None` if the key is stale.
    pub fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        match self.slots.get_mut(key.index as usize)? {
            Slot {
                generation,
                state: State::Occupied(value),
            } if *generation == key.generation => Some(value),
            _ => None,
        }
    }

    /// The entry in slot `index` and its current key, if the slot is
    /// occupied: for structures that link entries by slot index (half the
    /// size of a key) and keep the links right as entries come and go.
    #[inline]
    pub fn get_at(&self, index: u32) -> Option<(Key, &T)> {
        match self.slots.get(index as usize)? {
            Slot {
                generation,
                state: State::Occupied(value),
            } => Some((
                Key {
                    index,
                    generation: *generation,
                },
                value,
            )),
            _ => None,
        }
    }

    /// The entry in slot `index`, mutably, if the slot is occupied.
    #[inline]
    pub fn get_at_mut(&mut self, index: u32) -> Option<&mut T> {
        match &mut self.slots.get_mut(index as usize)?.state {
            State::Occupied(value) => Some(value),
            State::Vacant { .. } => None,
        }
    }

    /// Iterates over live entries with their keys, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (Key, &T)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, slot)| match &slot.state {
                State::Occupied(value) => Some((
                    Key {
                        index: i as u32,
                        generation: slot.generation,
                    },
                    value,
                )),
                State::Vacant { .. } => None,
            })
    }

    /// The keys of all live entries, in slot order.
    pub fn keys(&self) -> Vec<Key> {
        self.iter().map(|(k, _)| k).collect()
    }
}

impl<T> fmt::Debug for Slab<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Slab").field("len", &self.len).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[test]
    fn stale_key_after_reuse() {
        let mut s = Slab::new();
        let a = s.insert(1);
        s.remove(a);
        let b = s.insert(2);
        assert_eq!(a.index(), b.index());
        assert_ne!(a, b);
        assert_eq!(s.get(a), None);
        assert_eq!(s.remove(a), None);
        assert_eq!(s.get(b), Some(&2));
    }

    #[test]
    fn generation_comes_first_and_costs_no_more_room() {
        // A large entry with a niche for the state (the `bool`), as the
        // loop's tables hold.
        type Large = ([u64; 32], bool);
        assert_eq!(std::mem::offset_of!(Slot<Large>, generation), 0);
        assert_eq!(
            std::mem::size_of::<Slot<Large>>(),
            std::mem::size_of::<Large>() + 8
        );
    }

    #[test]
    fn key_packs_round_trip() {
        let k = Key::from_parts(7, 9);
        assert_eq!(Key::from_u64(k.to_u64()), k);
    }

    proptest! {
        /// The slab behaves as a map from issued keys to values; stale keys never resolve.
        #[test]
        fn matches_model(ops in proptest::collection::vec((any::<bool>(), 0usize..16), 0..200)) {
            let mut slab = Slab::new();
            let mut model: HashMap<Key, usize> = HashMap::new();
            let mut dead: Vec<Key> = Vec::new();
            let mut live: Vec<Key> = Vec::new();
            for (n, (insert, pick)) in ops.into_iter().enumerate() {
                if insert || live.is_empty() {
                    let k = slab.insert(n);
                    model.insert(k, n);
                    live.push(k);
                } else {
                    let k = live.swap_remove(pick % live.len());
                    prop_assert_eq!(slab.remove(k), model.remove(&k));
                    dead.push(k);
                }
                prop_assert_eq!(slab.len(), model.len());
                for k in &dead {
                    prop_assert!(slab.get(*k).is_none());
                }
                for (k, v) in &model {
                    prop_assert_eq!(slab.get(*k), Some(v));
                }
            }
        }
    }
}
