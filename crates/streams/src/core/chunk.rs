//! What flows through a stream: bytes, or objects.

use bytes::{Bytes, BytesMut};

/// An item a stream carries, and how much of the high-water mark it uses.
///
/// Byte streams carry [`Bytes`]: each chunk weighs its length, the default
/// high-water mark is 64 KiB (Node 22 and later), and `read(n)` can split and
/// join chunks. Any other type is an *object-mode* item: it weighs 1, the
/// default high-water mark is 16 items, and `read(n)` returns one item. To use
/// your own type, implement the trait with its defaults:
///
/// ```
/// use eventide_streams::Chunk;
///
/// #[derive(Clone, Debug)]
/// struct Frame { id: u32 }
/// impl Chunk for Frame {}
///
/// assert_eq!(Frame { id: 1 }.weight(), 1);
/// assert_eq!(<Frame as Chunk>::DEFAULT_HIGH_WATER_MARK, 16);
/// ```
pub trait Chunk: Clone + 'static {
    /// The high-water mark of a stream of this type unless configured.
    const DEFAULT_HIGH_WATER_MARK: usize = 16;

    /// Whether items are objects (weight 1, never split or joined) rather than
    /// bytes.
    const OBJECT_MODE: bool = true;

    /// How much of the high-water mark this item uses.
    fn weight(&self) -> usize {
        1
    }

    /// Byte mode only: splits off and returns the first `n` units, leaving
    /// the rest in `self`. `None` in object mode.
    fn split_to(&mut self, n: usize) -> Option<Self> {
        let _ = n;
        None
    }

    /// Byte mode only: joins chunks into one. `None` in object mode.
    fn concat(parts: Vec<Self>) -> Option<Self> {
        let _ = parts;
        None
    }
}

impl Chunk for Bytes {
    const DEFAULT_HIGH_WATER_MARK: usize = 64 * 1024;
    const OBJECT_MODE: bool = false;

    fn weight(&self) -> usize {
        self.len()
    }

    fn split_to(&mut self, n: usize) -> Option<Self> {
        Some(Bytes::split_to(self, n.min(self.len())))
    }

    fn concat(parts: Vec<Self>) -> Option<Self> {
        if parts.len() == 1 {
            return parts.into_iter().next();
        }
        let mut out = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
        for p in parts {
            out.extend_from_slice(&p);
        }
        Some(out.freeze())
    }
}

/// The missing side of a [`Readable`](crate::Readable): it has no writable
/// side, so no write methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoWrite {}

/// The missing side of a [`Writable`](crate::Writable): it has no readable
/// side, so no read methods.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoRead {}
