//! The 4-byte big-endian length-prefix codec.

use bytes::{Buf, BufMut, Bytes, BytesMut};

use super::{CodecError, Decoder, Encoder};

/// Frames as a 4-byte big-endian unsigned length, then that many payload bytes.
///
/// This is the framing of Node's `data.readUInt32BE(0)` example: the length
/// sits at offset 0 and counts the payload only, not the prefix.
///
/// ```text
/// +--------+--------+--------+--------+----------------------+
/// |      payload length (u32, BE)     |  payload (len bytes) |
/// +--------+--------+--------+--------+----------------------+
/// ```
///
/// Decoding yields the payloads as [`Bytes`] split off the read buffer, with
/// no copy. A zero-length frame decodes as an empty [`Bytes`].
///
/// # Bounds
///
/// A payload may be at most [`max_frame_len`](Self::max_frame_len) bytes
/// (default [`DEFAULT_MAX_FRAME_LEN`](Self::DEFAULT_MAX_FRAME_LEN), 8 MiB). A
/// longer declared length is an error as soon as the 4 header bytes have
/// arrived: the decoder neither allocates for it nor waits for it. So an
/// incomplete frame in the buffer is always shorter than
/// `PREFIX_LEN + max_frame_len` bytes.
///
/// # Implementation notes
///
/// Once a header within the bound has arrived, the decoder reserves room in
/// the buffer for the rest of that frame, up to [`RESERVE_CAP`](Self::RESERVE_CAP)
/// (64 KiB), so a frame that arrives in many chunks is not reallocated chunk
/// after chunk, while a peer that sends only a header commits at most 64 KiB
/// of memory, not `max_frame_len`. The codec holds no other state; it is `Copy`.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use eventide_streams::codec::{CodecError, Decoder, Encoder, LengthPrefixed};
///
/// let mut codec = LengthPrefixed::with_max_frame_len(16);
///
/// // Two frames and the first byte of a third in one read.
/// let mut buf = BytesMut::from(&b"\0\0\0\x02hi\0\0\0\0\0"[..]);
/// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"hi"[..]));
/// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b""[..]));
/// assert_eq!(codec.decode(&mut buf)?, None);
///
/// // A header declaring more than the maximum is refused at once.
/// let mut buf = BytesMut::from(&b"\0\0\0\x11"[..]);
/// assert_eq!(
///     codec.decode(&mut buf),
///     Err(CodecError::FrameTooLong { len: 17, max: 16 })
/// );
///
/// let mut out = BytesMut::new();
/// codec.encode(&b"ok"[..], &mut out)?;
/// assert_eq!(&out[..], b"\0\0\0\x02ok");
/// # Ok::<(), CodecError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LengthPrefixed {
    max_frame_len: usize,
}

impl LengthPrefixed {
    /// Length of the prefix: 4 bytes, a big-endian `u32`.
    pub const PREFIX_LEN: usize = 4;

    /// The most the decoder reserves ahead for a frame it has only the header
    /// of: 64 KiB. Larger frames grow the buffer as their bytes arrive.
    pub const RESERVE_CAP: usize = 64 * 1024;

    /// The default maximum payload length: 8 MiB.
    pub const DEFAULT_MAX_FRAME_LEN: usize = 8 * 1024 * 1024;

    /// A codec with the default maximum payload length, 8 MiB.
    pub const fn new() -> Self {
        Self::with_max_frame_len(Self::DEFAULT_MAX_FRAME_LEN)
    }

    /// A codec that accepts payloads of at most `max_frame_len` bytes.
    ///
    /// # Panics
    ///
    /// If `max_frame_len` exceeds `u32::MAX`, which the prefix cannot express.
    pub const fn with_max_frame_len(max_frame_len: usize) -> Self {
        assert!(
            max_frame_len as u64 <= u32::MAX as u64,
            "max_frame_len must fit the 4-byte length prefix (at most u32::MAX)"
        );
        Self { max_frame_len }
    }

    /// The maximum payload length in bytes, the prefix not included.
    pub const fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    fn too_long(&self, len: u64) -> CodecError {
        CodecError::FrameTooLong {
            len,
            max: self.max_frame_len,
        }
    }
}

impl Default for LengthPrefixed {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder for LengthPrefixed {
    type Item = Bytes;

    /// Decodes one payload.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] when the header declares more than
    /// [`max_frame_len`](Self::max_frame_len) bytes. `src` is left as it was.
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        let Some(&header) = src.first_chunk::<{ Self::PREFIX_LEN }>() else {
            return Ok(None);
        };
        let declared = u32::from_be_bytes(header);
        let frame_end = match usize::try_from(declared) {
            Ok(len) if len <= self.max_frame_len => len.checked_add(Self::PREFIX_LEN),
            _ => None,
        };
        let Some(frame_end) = frame_end else {
            return Err(self.too_long(u64::from(declared)));
        };
        if src.len() < frame_end {
            // Within the bound: make room for the rest of this frame once, but
            // never more than the cap on the word of a header alone.
            src.reserve((frame_end - src.len()).min(Self::RESERVE_CAP));
            return Ok(None);
        }
        src.advance(Self::PREFIX_LEN);
        Ok(Some(src.split_to(frame_end - Self::PREFIX_LEN).freeze()))
    }
}

impl Encoder<&[u8]> for LengthPrefixed {
    /// Appends the 4-byte length and the payload.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] when the payload is longer than
    /// [`max_frame_len`](Self::max_frame_len); `dst` is left unchanged.
    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        let prefix = match u32::try_from(item.len()) {
            Ok(len) if item.len() <= self.max_frame_len => len,
            _ => return Err(self.too_long(item.len() as u64)),
        };
        dst.reserve(Self::PREFIX_LEN + item.len());
        dst.put_u32(prefix);
        dst.put_slice(item);
        Ok(())
    }
}

impl Encoder<Bytes> for LengthPrefixed {
    /// Appends the 4-byte length and the payload.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] when the payload is longer than
    /// [`max_frame_len`](Self::max_frame_len); `dst` is left unchanged.
    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        Encoder::<&[u8]>::encode(self, &item, dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes everything in `src`, then at end of stream.
    fn decode_all(codec: &mut LengthPrefixed, src: &[u8]) -> Result<Vec<Bytes>, CodecError> {
        let mut buf = BytesMut::from(src);
        let mut frames = Vec::new();
        while let Some(frame) = codec.decode(&mut buf)? {
            frames.push(frame);
        }
        while let Some(frame) = codec.decode_eof(&mut buf)? {
            frames.push(frame);
        }
        Ok(frames)
    }

    #[test]
    fn several_frames_in_one_chunk() {
        let frames = decode_all(
            &mut LengthPrefixed::new(),
            b"\0\0\0\x03abc\0\0\0\0\0\0\0\x01z\0\0\x01\x00",
        );
        // The last header declares 256 bytes that never come.
        assert_eq!(frames, Err(CodecError::Truncated { buffered: 4 }));

        let frames = decode_all(
            &mut LengthPrefixed::new(),
            b"\0\0\0\x03abc\0\0\0\0\0\0\0\x01z",
        )
        .unwrap();
        assert_eq!(frames, [&b"abc"[..], &b""[..], &b"z"[..]]);
    }

    #[test]
    fn zero_length_frame_is_an_empty_payload() {
        let mut buf = BytesMut::from(&[0, 0, 0, 0][..]);
        let frame = LengthPrefixed::new().decode(&mut buf).unwrap().unwrap();
        assert!(frame.is_empty());
        assert!(buf.is_empty());
    }

    #[test]
    fn needs_four_header_bytes_and_the_whole_payload() {
        let mut codec = LengthPrefixed::new();
        let mut buf = BytesMut::new();
        for &byte in b"\0\0\0\x02h" {
            buf.put_u8(byte);
            assert_eq!(codec.decode(&mut buf), Ok(None));
        }
        buf.put_u8(b'i');
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap(), &b"hi"[..]);
        assert!(buf.is_empty());
    }

    #[test]
    fn frame_exactly_at_the_bound_is_accepted_one_over_is_rejected() {
        let mut codec = LengthPrefixed::with_max_frame_len(5);
        assert_eq!(
            decode_all(&mut codec, b"\0\0\0\x05abcde").unwrap(),
            [&b"abcde"[..]]
        );

        let mut buf = BytesMut::from(&b"\0\0\0\x06"[..]);
        assert_eq!(
            codec.decode(&mut buf),
            Err(CodecError::FrameTooLong { len: 6, max: 5 })
        );
        // Nothing consumed; calling again gives the same answer.
        assert_eq!(buf.len(), 4);
        assert_eq!(
            codec.decode(&mut buf),
            Err(CodecError::FrameTooLong { len: 6, max: 5 })
        );
    }

    #[test]
    fn huge_declared_length_is_rejected_without_allocating() {
        let mut codec = LengthPrefixed::new();
        let mut buf = BytesMut::with_capacity(8);
        buf.put_slice(&[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(
            codec.decode(&mut buf),
            Err(CodecError::FrameTooLong {
                len: u64::from(u32::MAX),
                max: LengthPrefixed::DEFAULT_MAX_FRAME_LEN,
            })
        );
        assert!(buf.capacity() <= 8, "capacity grew to {}", buf.capacity());
    }

    #[test]
    fn split_frame_reserves_once_and_then_never_reallocates() {
        let mut codec = LengthPrefixed::new();
        let payload = vec![7u8; 10_000];
        let mut wire = BytesMut::new();
        codec.encode(&payload[..], &mut wire).unwrap();

        let mut buf = BytesMut::new();
        buf.put_slice(&wire[..4]);
        assert_eq!(codec.decode(&mut buf), Ok(None));
        assert!(buf.capacity() >= wire.len(), "capacity {}", buf.capacity());
        let start = buf.as_ptr();
        for &byte in &wire[4..wire.len() - 1] {
            buf.put_u8(byte);
            assert_eq!(codec.decode(&mut buf), Ok(None));
            assert_eq!(buf.as_ptr(), start, "buffer was reallocated");
        }
        buf.put_u8(wire[wire.len() - 1]);
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap(), payload);
    }

    #[test]
    fn decoded_payload_shares_the_read_buffer() {
        let mut buf = BytesMut::from(&b"\0\0\0\x03abc"[..]);
        let payload_at = buf[4..].as_ptr();
        let frame = LengthPrefixed::new().decode(&mut buf).unwrap().unwrap();
        assert_eq!(frame.as_ptr(), payload_at);
    }

    #[test]
    fn eof_inside_a_header_or_payload_is_truncated() {
        let mut codec = LengthPrefixed::new();
        assert_eq!(
            decode_all(&mut codec, b"\0\0"),
            Err(CodecError::Truncated { buffered: 2 })
        );
        assert_eq!(
            decode_all(&mut codec, b"\0\0\0\x01a\0\0\0\x03ab"),
            Err(CodecError::Truncated { buffered: 6 })
        );
        assert_eq!(decode_all(&mut codec, b""), Ok(vec![]));
    }

    #[test]
    fn encodes_prefix_and_payload() {
        let mut codec = LengthPrefixed::new();
        let mut out = BytesMut::new();
        codec.encode(Bytes::from_static(b"abc"), &mut out).unwrap();
        codec.encode(&b""[..], &mut out).unwrap();
        assert_eq!(&out[..], b"\0\0\0\x03abc\0\0\0\0");
    }

    #[test]
    fn encoding_over_the_bound_is_refused_and_writes_nothing() {
        let mut codec = LengthPrefixed::with_max_frame_len(3);
        let mut out = BytesMut::new();
        codec.encode(&b"abc"[..], &mut out).unwrap();
        assert_eq!(
            codec.encode(&b"abcd"[..], &mut out),
            Err(CodecError::FrameTooLong { len: 4, max: 3 })
        );
        assert_eq!(&out[..], b"\0\0\0\x03abc");
    }

    #[test]
    fn largest_maximum_is_u32_max() {
        let max = u32::MAX as usize;
        assert_eq!(LengthPrefixed::with_max_frame_len(max).max_frame_len(), max);
        assert_eq!(
            LengthPrefixed::default().max_frame_len(),
            LengthPrefixed::DEFAULT_MAX_FRAME_LEN
        );
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    #[should_panic(expected = "max_frame_len must fit the 4-byte length prefix")]
    fn maximum_over_u32_max_panics() {
        let _ = LengthPrefixed::with_max_frame_len(u32::MAX as usize + 1);
    }
}
