//! Sans-I/O framing codecs: turn a byte stream into frames and back.
//!
//! A TCP read hands over whatever bytes arrived: several messages, or part of
//! one. A codec is the piece that restores the message boundaries. It owns no
//! socket and no loop; it only looks at the front of a [`BytesMut`], so it is
//! tested on its own and wrapped as a Transform stream by the glue above.
//!
//! | codec | wire format | frame type | default bound |
//! |---|---|---|---|
//! | [`LengthPrefixed`] | 4-byte big-endian length (Node's `readUInt32BE`), then the payload | [`Bytes`] | 8 MiB payload |
//! | [`Lines`] | bytes up to `\n`; a `\r` before it is stripped | [`Bytes`] | 64 KiB line |
//!
//! # The driver contract
//!
//! The owner of the read buffer appends each chunk and then calls
//! [`Decoder::decode`] until it returns `Ok(None)` (the rest of the buffer is
//! an incomplete frame). At end of stream it calls [`Decoder::decode_eof`]
//! until that returns `Ok(None)`. Any error ends the framing of that stream:
//! the codecs never consume the offending bytes, so there is no way to
//! resynchronize, and the connection should be closed. Use one decoder per
//! byte stream; decoders remember scan positions within their buffer.
//!
//! Every split of the same bytes gives the same frames: the codecs decide on
//! the bytes alone, never on how they were chunked.
//!
//! # Memory
//!
//! Decoded frames are split off the read buffer with `split_to(..).freeze()`,
//! so they share its allocation without copying; holding a frame keeps that
//! allocation alive. Every codec has a documented maximum frame size and
//! reports a longer frame as [`CodecError::FrameTooLong`] as soon as it can
//! tell, so a hostile peer cannot make the buffer grow past that bound.
//!
//! # Examples
//!
//! ```
//! use bytes::BytesMut;
//! use eventide_streams::codec::{Decoder, Encoder, LengthPrefixed};
//!
//! let mut codec = LengthPrefixed::new();
//! let mut wire = BytesMut::new();
//! codec.encode(&b"hello"[..], &mut wire)?;
//! codec.encode(&b"world"[..], &mut wire)?;
//!
//! // The bytes arrive in two reads that cut the second frame in half.
//! let second_read = wire.split_off(12);
//! let mut buf = BytesMut::new();
//! let mut frames = Vec::new();
//! for chunk in [wire, second_read] {
//!     buf.extend_from_slice(&chunk);
//!     while let Some(frame) = codec.decode(&mut buf)? {
//!         frames.push(frame);
//!     }
//! }
//! while let Some(frame) = codec.decode_eof(&mut buf)? {
//!     frames.push(frame);
//! }
//! assert_eq!(frames, [&b"hello"[..], &b"world"[..]]);
//! # Ok::<(), eventide_streams::codec::CodecError>(())
//! ```
//!
//! [`Bytes`]: bytes::Bytes

use std::fmt;

use bytes::BytesMut;

mod length_prefixed;
mod lines;

pub use length_prefixed::LengthPrefixed;
pub use lines::Lines;

/// Why a codec could not decode or encode a frame.
///
/// Decoding errors are errors of the byte stream, so of one connection: close
/// it, and every other connection goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodecError {
    /// A frame is longer than the codec's maximum.
    ///
    /// Reported by [`LengthPrefixed`] as soon as the 4 header bytes declare
    /// too long a payload (`len` is the declared length), by [`Lines`] as soon
    /// as the buffered bytes show the line is too long (`len` is then
    /// `max + 1`, whatever part of the line had arrived, so that the error
    /// does not depend on how the bytes were split), and by both encoders for
    /// an item over the maximum (`len` is its length).
    FrameTooLong {
        /// The frame's length in bytes (for [`Lines`] while decoding, `max + 1`).
        len: u64,
        /// The codec's maximum frame length in bytes.
        max: usize,
    },
    /// The stream ended inside a frame: `buffered` bytes were left that do not
    /// make a whole frame.
    Truncated {
        /// How many bytes were left in the buffer at end of stream.
        buffered: usize,
    },
    /// [`Lines`] was asked to encode an item that contains `\n`, or that ends
    /// with `\r`: it would not decode as that one line.
    LineTerminatorInItem {
        /// Byte offset of the offending `\n` or trailing `\r` in the item.
        at: usize,
    },
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            CodecError::FrameTooLong { len, max } => write!(
                f,
                "frame too long: at least {len} bytes, the limit is {max}; \
                 raise the codec's max_frame_len / max_line_len if such frames are expected, \
                 otherwise close the connection"
            ),
            CodecError::Truncated { buffered } => write!(
                f,
                "stream ended inside a frame ({buffered} bytes buffered); \
                 the peer closed mid-message, discard the partial frame"
            ),
            CodecError::LineTerminatorInItem { at } => write!(
                f,
                "line to encode has a line terminator at byte {at} ('\\n', or '\\r' at the end); \
                 split it into separate lines, or use LengthPrefixed for binary payloads"
            ),
        }
    }
}

impl std::error::Error for CodecError {}

/// Splits frames off the front of a byte buffer.
///
/// A decoder is sans-I/O: it is handed the bytes read so far and takes whole
/// frames off the front. See the [module docs](self) for the driver contract.
///
/// # Examples
///
/// A driver that works for every decoder, fed a stream one byte at a time:
///
/// ```
/// use bytes::BytesMut;
/// use eventide_streams::codec::{CodecError, Decoder, Lines};
///
/// fn decode_chunks<D: Decoder>(
///     codec: &mut D,
///     chunks: &[&[u8]],
/// ) -> Result<Vec<D::Item>, CodecError> {
///     let mut buf = BytesMut::new();
///     let mut frames = Vec::new();
///     for chunk in chunks {
///         buf.extend_from_slice(chunk);
///         while let Some(frame) = codec.decode(&mut buf)? {
///             frames.push(frame);
///         }
///     }
///     while let Some(frame) = codec.decode_eof(&mut buf)? {
///         frames.push(frame);
///     }
///     Ok(frames)
/// }
///
/// let input = b"GET\r\nPUT\nlast";
/// let chunks: Vec<&[u8]> = input.chunks(1).collect();
/// let lines = decode_chunks(&mut Lines::new(), &chunks)?;
/// assert_eq!(lines, [&b"GET"[..], &b"PUT"[..], &b"last"[..]]);
/// # Ok::<(), CodecError>(())
/// ```
pub trait Decoder {
    /// The frame type this decoder yields.
    type Item;

    /// Decodes one frame from the front of `src`, consuming its bytes.
    ///
    /// Returns `Ok(None)` when `src` does not yet hold a whole frame; the
    /// caller appends more bytes and calls again. Call it in a loop after
    /// each read, since one chunk can hold several frames.
    ///
    /// # Errors
    ///
    /// Returns an error when the bytes cannot be framed, for example
    /// [`CodecError::FrameTooLong`]. The offending bytes stay in `src`;
    /// calling again returns the same error.
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError>;

    /// Decodes at end of stream, when no more bytes will come.
    ///
    /// Call it in a loop until it returns `Ok(None)`. The default decodes
    /// the remaining whole frames with [`decode`](Decoder::decode) and then
    /// treats leftover bytes as a truncated frame.
    ///
    /// # Errors
    ///
    /// Any error of [`decode`](Decoder::decode), and
    /// [`CodecError::Truncated`] if bytes are left that do not make a whole
    /// frame.
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Self::Item>, CodecError> {
        match self.decode(src)? {
            Some(frame) => Ok(Some(frame)),
            None if src.is_empty() => Ok(None),
            None => Err(CodecError::Truncated {
                buffered: src.len(),
            }),
        }
    }
}

/// Appends the wire form of an item to a byte buffer.
///
/// # Examples
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use eventide_streams::codec::{Encoder, Lines};
///
/// let mut codec = Lines::new();
/// let mut out = BytesMut::new();
/// codec.encode("hello", &mut out)?;
/// codec.encode(Bytes::from_static(b"world"), &mut out)?;
/// assert_eq!(&out[..], b"hello\nworld\n");
///
/// // An item that would not decode as one line is refused, and nothing is written.
/// assert!(codec.encode("two\nlines", &mut out).is_err());
/// assert_eq!(&out[..], b"hello\nworld\n");
/// # Ok::<(), eventide_streams::codec::CodecError>(())
/// ```
pub trait Encoder<Item> {
    /// Appends `item`, framed, to `dst`.
    ///
    /// # Errors
    ///
    /// Returns an error, and leaves `dst` unchanged, when `item` cannot be
    /// framed so that the matching decoder would give it back, for example
    /// [`CodecError::FrameTooLong`].
    fn encode(&mut self, item: Item, dst: &mut BytesMut) -> Result<(), CodecError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_happened_and_what_to_do() {
        let msg = CodecError::FrameTooLong { len: 10, max: 4 }.to_string();
        assert!(msg.contains("at least 10 bytes"), "{msg}");
        assert!(msg.contains("limit is 4"), "{msg}");
        assert!(msg.contains("raise the codec's max_frame_len"), "{msg}");

        let msg = CodecError::Truncated { buffered: 3 }.to_string();
        assert!(msg.contains("3 bytes buffered"), "{msg}");
        assert!(msg.contains("discard the partial frame"), "{msg}");

        let msg = CodecError::LineTerminatorInItem { at: 7 }.to_string();
        assert!(msg.contains("at byte 7"), "{msg}");
        assert!(msg.contains("split it into separate lines"), "{msg}");
    }

    #[test]
    fn error_is_a_std_error() {
        fn assert_error<E: std::error::Error + Send + Sync + Copy + 'static>() {}
        assert_error::<CodecError>();
        let boxed: Box<dyn std::error::Error> = Box::new(CodecError::Truncated { buffered: 1 });
        assert!(boxed.source().is_none());
    }

    /// A decoder that frames single bytes, to check the default `decode_eof`.
    struct OneByte;

    impl Decoder for OneByte {
        type Item = u8;

        fn decode(&mut self, src: &mut BytesMut) -> Result<Option<u8>, CodecError> {
            // Frames are 2 bytes; yields the first.
            if src.len() < 2 {
                return Ok(None);
            }
            let frame = src.split_to(2);
            Ok(Some(frame[0]))
        }
    }

    #[test]
    fn default_decode_eof_drains_then_reports_leftovers() {
        let mut src = BytesMut::from(&b"abc"[..]);
        assert_eq!(OneByte.decode_eof(&mut src), Ok(Some(b'a')));
        assert_eq!(
            OneByte.decode_eof(&mut src),
            Err(CodecError::Truncated { buffered: 1 })
        );
        let mut empty = BytesMut::new();
        assert_eq!(OneByte.decode_eof(&mut empty), Ok(None));
    }
}
