//! The read buffer the sockets of a loop share (a field of the socket
//! table, reached with the socket in one lookup).
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

impl ReadBuffer {
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
    pub(crate) fn recycle(&mut self, chunk: Bytes) {
        if self.recycled.is_some() || !(RECYCLE_MIN..=READ_BUFFER_SIZE).contains(&chunk.len()) {
            return;
        }
        if let Ok(buf) = chunk.try_into_mut()
            && buf.capacity() <= 2 * READ_BUFFER_SIZE
        {
            self.recycled = Some(buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `n` bytes, the first one `0xAB`: the chunk split off.
    fn read(rb: &mut ReadBuffer, n: usize) -> Bytes {
        let space = rb.space();
        assert!(space.len() >= n);
        space[0] = 0xAB;
        rb.split(n)
    }

    #[test]
    fn a_written_full_chunk_becomes_the_next_buffer() {
        let mut rb = ReadBuffer::default();
        let chunk = read(&mut rb, READ_BUFFER_SIZE);
        rb.recycle(chunk);
        // Not zeroed: the recycled chunk's bytes.
        assert_eq!(rb.space()[0], 0xAB);
    }

    #[test]
    fn a_chunk_held_elsewhere_or_small_is_not_taken_back() {
        let mut rb = ReadBuffer::default();
        let chunk = read(&mut rb, READ_BUFFER_SIZE);
        let _kept = chunk.clone();
        rb.recycle(chunk);
        assert_eq!(rb.space()[0], 0, "a fresh, zeroed buffer");

        let mut rb = ReadBuffer::default();
        rb.recycle(Bytes::from(vec![0xABu8; RECYCLE_MIN - 1]));
        assert_eq!(rb.space()[0], 0);
    }

    #[test]
    fn a_recycled_chunk_waits_until_the_buffer_in_use_is_spent() {
        let mut rb = ReadBuffer::default();
        let chunk = read(&mut rb, READ_BUFFER_SIZE);
        assert_eq!(rb.space()[0], 0, "a fresh buffer while the chunk is held");
        rb.recycle(chunk);
        assert_eq!(rb.space()[0], 0, "the buffer in use stays");
        let _ = rb.split(READ_BUFFER_SIZE);
        assert_eq!(rb.space()[0], 0xAB);
    }
}
