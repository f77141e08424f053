//! The watcher table: one slot per file descriptor, each with a generation.
//!
//! This is the demultiplexing step of the design guide. The OS poller reports
//! readiness with only a token; the token carries the descriptor and the slot's
//! generation at registration, so the lookup is an index into a `Vec` and a
//! comparison. A descriptor that was closed and reused by a new registration
//! within the same poll batch has a new generation: the old event's token no
//! longer matches and the event is dropped instead of reaching the new
//! watcher's callback.
//!
//! ```
//! use eventide_reactor::watcher::WatcherTable;
//! use mio::Interest;
//!
//! let mut table = WatcherTable::new();
//! let old = table.insert(7, Interest::READABLE, "old").unwrap();
//! let token = WatcherTable::<&str>::token(old);
//! table.remove(old);
//! let new = table.insert(7, Interest::READABLE, "new").unwrap(); // fd 7 reused
//! assert_eq!(table.resolve(token), None); // the old event is stale
//! assert_eq!(table.resolve(WatcherTable::<&str>::token(new)), Some(new));
//! ```

use std::fmt;

use mio::{Interest, Token};

use crate::sys::Descriptor;

/// Identifies one registration: a descriptor and the generation of its slot.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct WatcherId {
    fd: u32,
    generation: u32,
}

impl WatcherId {
    /// The watched descriptor.
    pub fn fd(self) -> Descriptor {
        self.fd as Descriptor
    }

    /// The slot generation of this registration.
    pub fn generation(self) -> u32 {
        self.generation
    }
}

impl fmt::Debug for WatcherId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fd{}v{}", self.fd, self.generation)
    }
}

/// A registered watcher: the interest it was registered with and the owner's data.
#[derive(Debug)]
pub struct Watcher<T> {
    /// What the OS was asked to report.
    pub interest: Interest,
    /// The owner's metadata (the loop stores the handle that owns the descriptor).
    pub data: T,
}

#[derive(Debug)]
struct Slot<T> {
    generation: u32,
    watcher: Option<Watcher<T>>,
}

/// Registering a descriptor that already has a watcher.
///
/// The earlier owner forgot to deregister before closing it, or two owners
/// share one descriptor: either is a bug in the caller, reported instead of
/// silently handing one owner's events to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyWatched(pub Descriptor);

impl fmt::Display for AlreadyWatched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "descriptor {} is already watched: deregister it before closing it or registering it again",
            self.0
        )
    }
}

impl std::error::Error for AlreadyWatched {}

/// The fd-indexed watcher table. See the module docs.
#[derive(Debug)]
pub struct WatcherTable<T> {
    slots: Vec<Slot<T>>,
    len: usize,
}

impl<T> Default for WatcherTable<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// The token reserved for the reactor's waker; no `(fd, generation)` maps to it
/// because generations never reach `u32::MAX`.
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

impl<T> WatcherTable<T> {
    /// An empty table.
    pub const fn new() -> Self {
        WatcherTable {
            slots: Vec::new(),
            len: 0,
        }
    }

    /// Number of registered watchers.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no watcher is registered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds a watcher for `fd` with a fresh generation.
    ///
    /// # Errors
    ///
    /// [`AlreadyWatched`] if `fd` already has a watcher.
    ///
    /// # Panics
    ///
    /// Panics if `fd` is negative.
    pub fn insert(
        &mut self,
        fd: Descriptor,
        interest: Interest,
        data: T,
    ) -> Result<WatcherId, AlreadyWatched> {
        let index = usize::try_from(fd).expect("descriptors are non-negative");
        if index >= self.slots.len() {
            self.slots.resize_with(index + 1, || Slot {
                generation: 0,
                watcher: None,
            });
        }
        let slot = &mut self.slots[index];
        if slot.watcher.is_some() {
            return Err(AlreadyWatched(fd));
        }
        // Skip u32::MAX so that no token can equal WAKER_TOKEN.
        slot.generation = match slot.generation.wrapping_add(1) {
            u32::MAX => 0,
            g => g,
        };
        slot.watcher = Some(Watcher { interest, data });
        self.len += 1;
        Ok(WatcherId {
            fd: index as u32,
            generation: slot.generation,
        })
    }

    /// The watcher for `id`, or `None` if `id` is stale.
    pub fn get(&self, id: WatcherId) -> Option<&Watcher<T>> {
        let slot = self.slots.get(id.fd as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.watcher.as_ref()
    }

    /// The watcher for `id`, mutably, or `None` if `id` is stale.
    pub fn get_mut(&mut self, id: WatcherId) -> Option<&mut Watcher<T>> {
        let slot = self.slots.get_mut(id.fd as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.watcher.as_mut()
    }

    /// Removes the watcher for `id`, returning its data; `None` if `id` is stale.
    pub fn remove(&mut self, id: WatcherId) -> Option<T> {
        let slot = self.slots.get_mut(id.fd as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        let w = slot.watcher.take()?;
        self.len -= 1;
        Some(w.data)
    }

    /// The mio token for a registration: generation in the high half, fd in the low.
    pub fn token(id: WatcherId) -> Token {
        Token(((id.generation as usize) << 32) | id.fd as usize)
    }

    /// Demultiplexes a token: the registration it names, if that registration
    /// is still the current one for its descriptor.
    pub fn resolve(&self, token: Token) -> Option<WatcherId> {
        let id = WatcherId {
            fd: token.0 as u32,
            generation: (token.0 >> 32) as u32,
        };
        self.get(id).map(|_| id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    #[derive(Debug, Clone)]
    enum Op {
        Register(u8),
        Modify(u8, bool),
        Deregister(u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..12).prop_map(Op::Register),
            (0u8..12, any::<bool>()).prop_map(|(fd, w)| Op::Modify(fd, w)),
            (0u8..12).prop_map(Op::Deregister),
        ]
    }

    proptest! {
        /// Under random register / modify / deregister with descriptor reuse,
        /// the table agrees with a map model, every current token resolves to
        /// its registration, and no token of an earlier registration of the
        /// same descriptor ever resolves again.
        #[test]
        fn matches_model_with_fd_reuse(ops in proptest::collection::vec(op(), 0..200)) {
            let mut table = WatcherTable::new();
            let mut model: HashMap<u8, (WatcherId, Interest, usize)> = HashMap::new();
            let mut retired: Vec<Token> = Vec::new();
            for (n, op) in ops.into_iter().enumerate() {
                match op {
                    Op::Register(fd) => {
                        let r = table.insert(fd as i32, Interest::READABLE, n);
                        match model.entry(fd) {
                            std::collections::hash_map::Entry::Occupied(_) => {
                                prop_assert_eq!(r, Err(AlreadyWatched(fd as i32)));
                            }
                            std::collections::hash_map::Entry::Vacant(v) => {
                                let id = r.unwrap();
                                prop_assert_eq!(id.fd(), fd as i32);
                                v.insert((id, Interest::READABLE, n));
                            }
                        }
                    }
                    Op::Modify(fd, writable) => {
                        let interest = if writable { Interest::READABLE | Interest::WRITABLE } else { Interest::READABLE };
                        if let Some((id, i, _)) = model.get_mut(&fd) {
                            table.get_mut(*id).unwrap().interest = interest;
                            *i = interest;
                        }
                    }
                    Op::Deregister(fd) => {
                        if let Some((id, _, data)) = model.remove(&fd) {
                            prop_assert_eq!(table.remove(id), Some(data));
                            prop_assert_eq!(table.remove(id), None);
                            retired.push(WatcherTable::<usize>::token(id));
                        }
                    }
                }
                prop_assert_eq!(table.len(), model.len());
                for (id, interest, data) in model.values() {
                    let w = table.get(*id).unwrap();
                    prop_assert_eq!(w.interest, *interest);
                    prop_assert_eq!(w.data, *data);
                    prop_assert_eq!(table.resolve(WatcherTable::<usize>::token(*id)), Some(*id));
                }
                for t in &retired {
                    prop_assert_eq!(table.resolve(*t), None);
                    prop_assert_ne!(*t, WAKER_TOKEN);
                }
            }
        }
    }
}
