//! The loop-owned read buffer.
//!
//! Every socket of a loop reads into this one buffer and splits the bytes it
//! got off the front as a `Bytes` chunk, without copying. An idle connection
//! owns no buffer at all; a chunk a consumer keeps shares the buffer's
//! allocation until it is dropped, and the buffer starts a fresh allocation
//! when its remainder runs low.

use bytes::{Bytes, BytesMut};
use eventide_loop_phases::Loop;

/// Size of a fresh buffer: one read of at most this many bytes.
pub(crate) const READ_BUFFER_SIZE: usize = 64 * 1024;
/// Below this many spare bytes, a fresh buffer is allocated.
const MIN_SPARE: usize = 8 * 1024;

#[derive(Default)]
pub(crate) struct ReadBuffer {
    // Kept fully initialised (len == capacity) so that reads need no unsafe.
    spare: BytesMut,
}

/// The key of this table in loop storage (an index, not a map lookup).
static READ_BUFFER: std::sync::LazyLock<eventide_loop_phases::ExtKey<ReadBuffer>> =
    std::sync::LazyLock::new(eventide_loop_phases::ExtKey::new);

impl ReadBuffer {
    /// Takes the loop's buffer out (put it back with [`ReadBuffer::put`]).
    pub(crate) fn take(lp: &mut Loop) -> ReadBuffer {
        let mut rb = std::mem::take(lp.ext_by(*READ_BUFFER));
        if rb.spare.len() < MIN_SPARE {
            rb.spare = BytesMut::zeroed(READ_BUFFER_SIZE);
        }
        rb
    }

    /// Returns the buffer to the loop.
    pub(crate) fn put(self, lp: &mut Loop) {
        *lp.ext_by(*READ_BUFFER) = self;
    }

    /// The space to read into.
    pub(crate) fn space(&mut self) -> &mut [u8] {
        if self.spare.len() < MIN_SPARE {
            self.spare = BytesMut::zeroed(READ_BUFFER_SIZE);
        }
        &mut self.spare[..]
    }

    /// Splits the first `n` bytes read off as a chunk.
    pub(crate) fn split(&mut self, n: usize) -> Bytes {
        self.spare.split_to(n).freeze()
    }
}
