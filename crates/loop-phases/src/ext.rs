//! Loop-owned storage for crates above the loop (`Loop::ext`).
//!
//! Each storage type gets a process-wide index on first use, and a loop keeps
//! its storages in a vector by that index. `Loop::ext::<T>()` finds the index
//! through a small map; a caller on a hot path keeps an [`ExtKey`] (in a
//! `static`) and reaches its storage with one index instead
//! (`Loop::ext_by`): the socket and HTTP tables are looked up several times
//! per request.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::marker::PhantomData;
use std::sync::Mutex;

/// The process-wide index of each storage type, in order of first use.
static REGISTRY: Mutex<Vec<TypeId>> = Mutex::new(Vec::new());

fn index_of(t: TypeId) -> usize {
    let mut types = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    match types.iter().position(|x| *x == t) {
        Some(i) => i,
        None => {
            types.push(t);
            types.len() - 1
        }
    }
}

/// A key to loop-owned storage of type `T`: the same in every loop of the
/// process, and a plain index to look up. Make it once, keep it in a
/// `static`:
///
/// ```
/// use eventide_loop_phases::{ExtKey, Loop};
/// use std::sync::LazyLock;
///
/// #[derive(Default)]
/// struct Counters { requests: u64 }
/// static COUNTERS: LazyLock<ExtKey<Counters>> = LazyLock::new(ExtKey::new);
///
/// let mut lp = Loop::new_manual();
/// lp.ext_by(*COUNTERS).requests += 1;
/// assert_eq!(lp.ext::<Counters>().requests, 1); // the same storage
/// ```
pub struct ExtKey<T> {
    index: usize,
    _type: PhantomData<fn() -> T>,
}

impl<T> Clone for ExtKey<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for ExtKey<T> {}

impl<T> std::fmt::Debug for ExtKey<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExtKey({})", self.index)
    }
}

impl<T: Default + 'static> ExtKey<T> {
    /// The key of `T` (takes a process-wide lock the first time per type).
    pub fn new() -> Self {
        ExtKey {
            index: index_of(TypeId::of::<T>()),
            _type: PhantomData,
        }
    }
}

impl<T: Default + 'static> Default for ExtKey<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// Hashes a `TypeId` by taking the 64 bits it writes: a type id is already a
/// hash, and SipHash over it was a measurable share of a request.
#[derive(Default)]
struct TypeIdHasher(u64);

impl Hasher for TypeIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Not used by `TypeId` today; fold any bytes in, in case it changes.
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// One loop's storages.
#[derive(Default)]
pub(crate) struct Extensions {
    slots: Vec<Option<Box<dyn Any>>>,
    index: HashMap<TypeId, usize, BuildHasherDefault<TypeIdHasher>>,
    /// The type looked up last and its index: a callback that keeps its
    /// state here usually reaches the same storage many times in a row, and
    /// comparing one `TypeId` is cheaper than probing the map.
    last: Option<(TypeId, usize)>,
}

impl Extensions {
    // The hot paths are small and inlined into the caller; creating a storage
    // and probing the map are kept out of line.

    #[inline]
    pub(crate) fn by_key<T: Default + 'static>(&mut self, key: ExtKey<T>) -> &mut T {
        let i = key.index;
        if self.slots.get(i).is_none_or(Option::is_none) {
            self.create::<T>(i);
        }
        self.slots[i]
            .as_mut()
            .and_then(|b| b.downcast_mut())
            .expect("an ExtKey indexes storage of its own type")
    }

    #[cold]
    fn create<T: Default + 'static>(&mut self, i: usize) {
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, || None);
        }
        // Created through a key: `try_ext`, which looks up by type, must
        // find it too.
        self.index.insert(TypeId::of::<T>(), i);
        self.slots[i] = Some(Box::new(T::default()));
    }

    #[inline]
    pub(crate) fn by_type<T: Default + 'static>(&mut self) -> &mut T {
        let t = TypeId::of::<T>();
        let i = match self.last {
            Some((last, i)) if last == t => i,
            _ => self.index_of_type(t),
        };
        self.by_key(ExtKey::<T> {
            index: i,
            _type: PhantomData,
        })
    }

    /// The index of type `t`, remembered as the last one looked up.
    #[cold]
    fn index_of_type(&mut self, t: TypeId) -> usize {
        let i = *self.index.entry(t).or_insert_with(|| index_of(t));
        self.last = Some((t, i));
        i
    }

    pub(crate) fn get<T: 'static>(&self) -> Option<&T> {
        let i = *self.index.get(&TypeId::of::<T>())?;
        self.get_by_key(ExtKey::<T> {
            index: i,
            _type: PhantomData,
        })
    }

    #[inline]
    pub(crate) fn get_by_key<T: 'static>(&self, key: ExtKey<T>) -> Option<&T> {
        self.slots.get(key.index)?.as_ref()?.downcast_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default, Debug, PartialEq)]
    struct Table(u32);

    #[test]
    fn key_and_type_reach_the_same_storage() {
        let mut ext = Extensions::default();
        let key = ExtKey::<Table>::new();
        assert!(ext.get::<Table>().is_none());
        assert!(ext.get_by_key(key).is_none());
        ext.by_key(key).0 = 7;
        assert_eq!(ext.get::<Table>(), Some(&Table(7)));
        assert_eq!(ext.get_by_key(key), Some(&Table(7)));
        assert_eq!(ext.by_type::<Table>().0, 7);
        ext.by_type::<Table>().0 = 8;
        assert_eq!(ext.by_key(ExtKey::<Table>::new()).0, 8);
    }
}
