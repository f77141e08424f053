//! The loop-owned read buffer.
//!
//! Every socket of a loop reads into this one buffer and splits the bytes it
//! got off the front as a `Bytes` chunk, without copying. An idle connection
//! owns no buffer at all; a chunk a consumer keeps shares the buffer's
//! allocation until it is dropped, and the buffer starts a fresh allocation
//! when its remainder runs low.
//!
//! A large chunk that a socket has finished writing (an echo, a proxy) comes
//! back here when nothing else holds it, and serves as the next fresh buffer:
//! its bytes are initialised already, so it is not zeroed again.

use bytes::{Bytes, BytesMut};
use eventide_loop_phases::Loop;

/// Size of a fresh buffer: one read of at most this many bytes.
pub(crate) const READ_BUFFER_SIZE: usize = 64 * 1024;
/// Below this many spare bytes, a fresh buffer is allocated.
const MIN_SPARE: usize = 8 * 1024;
/// A written chunk at least this long is worth keeping as the next buffer.
const RECYCLE_MIN: usize = READ_BUFFER_SIZE / 2;

#[derive(Default)]
pub(crate) struct ReadBuffer {
    // Kept fully initialised (len == capacity) so that reads need no unsafe.
    spare: BytesMut,
    /// The next fresh buffer, if a written chunk was given back.
    recycled: Option<BytesMut>,
}

/// The key of this table in loop storage (an index, not a map lookup).
static READ_BUFFER: std::sync::LazyLock<eventide_loop_phases::ExtKey<ReadBuffer>> =
    std::sync::LazyLock::new(eventide_loop_phases::ExtKey::new);

impl ReadBuffer {
    /// Takes the loop's buffer out (put it back with [`ReadBuffer::put`]).
    pub(crate) fn take(lp: &mut Loop) -> ReadBuffer {
        std::mem::take(lp.ext_by(*READ_BUFFER))
    }

    /// Returns the buffer to the loop, keeping a chunk recycled while it was
    /// out (a socket that wrote from inside its own read pass).
    pub(crate) fn put(mut self, lp: &mut Loop) {
        let slot = lp.ext_by(*READ_BUFFER);
        if self.recycled.is_none() {
            self.recycled = slot.recycled.take();
        }
        *slot = self;
    }

    /// The space to read into.
    pub(crate) fn space(&mut self) -> &mut [u8] {
        if self.spare.len() < MIN_SPARE {
            self.spare = self
                .recycled
                .take()
                .unwrap_or_else(|| BytesMut::zeroed(READ_BUFFER_SIZE));
        }
        &mut self.spare[..]
    }

    /// Splits the first `n` bytes read off as a chunk. A remainder too small
    /// to read into is let go at once, so that the chunk alone holds the
    /// allocation and can be recycled once written.
    pub(crate) fn split(&mut self, n: usize) -> Bytes {
        let chunk = self.spare.split_to(n).freeze();
        if self.spare.len() < MIN_SPARE {
            self.spare = BytesMut::new();
        }
        chunk
    }

    /// Takes back a chunk a socket has written, as the next fresh buffer, if
    /// it is about a buffer's size (a read chunk, or a caller's buffer of the
    /// same scale) and nothing else holds its allocation.
    pub(crate) fn recycle(lp: &mut Loop, chunk: Bytes) {
        if !(RECYCLE_MIN..=READ_BUFFER_SIZE).contains(&chunk.len()) {
            return;
        }
        let rb = lp.ext_by(*READ_BUFFER);
        if rb.recycled.is_none()
            && let Ok(buf) = chunk.try_into_mut()
            && buf.capacity() <= 2 * READ_BUFFER_SIZE
        {
            rb.recycled = Some(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `n` bytes from the loop's buffer, the first one `0xAB`: the
    /// chunk split off.
    fn read(lp: &mut Loop, n: usize) -> Bytes {
        let mut rb = ReadBuffer::take(lp);
        let space = rb.space();
        assert!(space.len() >= n);
        space[0] = 0xAB;
        let chunk = rb.split(n);
        rb.put(lp);
        chunk
    }

    /// The first byte of the next buffer read into: `0xAB` if it is a
    /// recycled chunk, 0 if it is a fresh (zeroed) one.
    fn next_first_byte(lp: &mut Loop) -> u8 {
        let mut rb = ReadBuffer::take(lp);
        let b = rb.space()[0];
        rb.put(lp);
        b
    }

    #[test]
    fn a_written_full_chunk_becomes_the_next_buffer() {
        let mut lp = Loop::new_manual();
        let chunk = read(&mut lp, READ_BUFFER_SIZE);
        ReadBuffer::recycle(&mut lp, chunk);
        assert_eq!(next_first_byte(&mut lp), 0xAB);
    }

    #[test]
    fn a_chunk_held_elsewhere_or_small_is_not_taken_back() {
        let mut lp = Loop::new_manual();
        let chunk = read(&mut lp, READ_BUFFER_SIZE);
        let _kept = chunk.clone();
        ReadBuffer::recycle(&mut lp, chunk);
        assert_eq!(next_first_byte(&mut lp), 0);

        let mut lp = Loop::new_manual();
        ReadBuffer::recycle(&mut lp, Bytes::from(vec![0xABu8; RECYCLE_MIN - 1]));
        assert_eq!(next_first_byte(&mut lp), 0);
    }

    #[test]
    fn a_chunk_recycled_while_the_buffer_is_out_is_kept() {
        // A socket that writes from inside its own read pass recycles while
        // the read loop holds the buffer.
        let mut lp = Loop::new_manual();
        let chunk = read(&mut lp, READ_BUFFER_SIZE);
        let mut rb = ReadBuffer::take(&mut lp);
        assert_eq!(rb.space()[0], 0, "a fresh buffer while the chunk is held");
        ReadBuffer::recycle(&mut lp, chunk);
        rb.put(&mut lp);
        // Once the buffer in use is spent, the recycled one comes next.
        let mut rb = ReadBuffer::take(&mut lp);
        let _ = rb.split(READ_BUFFER_SIZE);
        assert_eq!(rb.space()[0], 0xAB);
        rb.put(&mut lp);
    }
}
