//! The newline-delimited codec.

use bytes::{BufMut, Bytes, BytesMut};

use super::{CodecError, Decoder, Encoder};

/// Frames as lines ending in `\n`; a `\r` just before the `\n` is stripped.
///
/// Decoding yields each line as [`Bytes`] split off the read buffer, without
/// its terminator (`\n` or `\r\n`) and with no copy. An empty line is an empty
/// [`Bytes`]. Lines are bytes, not text: check UTF-8 yourself if you need it.
///
/// At end of stream, [`decode_eof`](Decoder::decode_eof) yields a final line
/// that has no `\n` as if it had one (a trailing `\r` is stripped too), like
/// most line readers; an empty remainder yields nothing.
///
/// # Bounds
///
/// A line may be at most [`max_line_len`](Self::max_line_len) bytes, not
/// counting its terminator (default
/// [`DEFAULT_MAX_LINE_LEN`](Self::DEFAULT_MAX_LINE_LEN), 64 KiB). A longer
/// line is an error as soon as the buffered bytes show it, so an incomplete
/// line in the buffer is never longer than `max_line_len + 1` bytes (the
/// extra byte is a `\r` that may be the start of `\r\n`), and a decode call
/// never scans more than `max_line_len + 2` bytes.
///
/// # Implementation notes
///
/// The decoder remembers how far it has scanned for `\n`, so input that
/// arrives a byte at a time is scanned once in total, not once per call. That
/// position belongs to the buffer being decoded: use one `Lines` per stream.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use eventide_streams::codec::{CodecError, Decoder, Encoder, Lines};
///
/// let mut codec = Lines::with_max_line_len(8);
/// let mut buf = BytesMut::from(&b"HELO a\r\n\nQUI"[..]);
/// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b"HELO a"[..]));
/// assert_eq!(codec.decode(&mut buf)?.as_deref(), Some(&b""[..]));
/// assert_eq!(codec.decode(&mut buf)?, None); // "QUI" waits for its newline
///
/// buf.extend_from_slice(b"T");
/// assert_eq!(codec.decode(&mut buf)?, None);
/// // The stream ends: the unterminated last line is still a line.
/// assert_eq!(codec.decode_eof(&mut buf)?.as_deref(), Some(&b"QUIT"[..]));
/// assert_eq!(codec.decode_eof(&mut buf)?, None);
///
/// // Nine bytes and no newline yet: already too long.
/// let mut buf = BytesMut::from(&b"123456789"[..]);
/// assert!(matches!(codec.decode(&mut buf), Err(CodecError::FrameTooLong { max: 8, .. })));
///
/// let mut out = BytesMut::new();
/// codec.encode("QUIT", &mut out)?;
/// assert_eq!(&out[..], b"QUIT\n");
/// # Ok::<(), CodecError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Lines {
    max_line_len: usize,
    /// How many bytes at the front of the buffer are known to hold no `\n`.
    scanned: usize,
}

impl Lines {
    /// The default maximum line length: 64 KiB.
    pub const DEFAULT_MAX_LINE_LEN: usize = 64 * 1024;

    /// A codec with the default maximum line length, 64 KiB.
    pub const fn new() -> Self {
        Self::with_max_line_len(Self::DEFAULT_MAX_LINE_LEN)
    }

    /// A codec that accepts lines of at most `max_line_len` bytes, the
    /// terminator not included.
    pub const fn with_max_line_len(max_line_len: usize) -> Self {
        Self {
            max_line_len,
            scanned: 0,
        }
    }

    /// The maximum line length in bytes, the terminator not included.
    pub const fn max_line_len(&self) -> usize {
        self.max_line_len
    }

    fn too_long(&self, len: usize) -> CodecError {
        CodecError::FrameTooLong {
            len: len as u64,
            max: self.max_line_len,
        }
    }
}

impl Default for Lines {
    fn default() -> Self {
        Self::new()
    }
}

/// Length of `line` once a trailing `\r` is stripped.
fn without_cr(line: &[u8]) -> usize {
    match line.last() {
        Some(b'\r') => line.len() - 1,
        _ => line.len(),
    }
}

impl Decoder for Lines {
    type Item = Bytes;

    /// Decodes one line.
    ///
    /// # Errors
    ///
    /// [`CodecError::FrameTooLong`] once the line is known to be longer than
    /// [`max_line_len`](Self::max_line_len), with `len` = `max_line_len + 1`:
    /// how much of the line had arrived depends on how the bytes were split,
    /// and the error must not.
    /// `src` is left as it was.
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        // A line of `max` bytes plus "\r\n" puts its '\n' at index max + 1, so
        // scanning max + 2 bytes is always enough to decide.
        let scan_end = src.len().min(self.max_line_len.saturating_add(2));
        let start = self.scanned.min(scan_end);
        match src[start..scan_end].iter().position(|&b| b == b'\n') {
            Some(offset) => {
                let newline = start + offset;
                let line_len = without_cr(&src[..newline]);
                if line_len > self.max_line_len {
                    self.scanned = newline;
                    return Err(self.too_long(self.max_line_len + 1));
                }
                self.scanned = 0;
                let mut line = src.split_to(newline + 1);
                line.truncate(line_len);
                Ok(Some(line.freeze()))
            }
            None => {
                self.scanned = scan_end;
                // The line is at least this long, whatever comes next.
                let line_len = without_cr(&src[..scan_end]);
                if line_len > self.max_line_len {
                    return Err(self.too_long(self.max_line_len + 1));
                }
                Ok(None)
            }
        }
    }

    /// Decodes at end of stream: whole lines first, then the unterminated
    /// remainder, if not empty, as a last line (a trailing `\r` stripped).
    ///
    /// # Errors
    ///
    /// As [`decode`](Decoder::decode). A remainder is never
    /// [`CodecError::Truncated`].
    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>, CodecError> {
        if let Some(line) = self.decode(src)? {
            return Ok(Some(line));
        }
        if src.is_empty() {
            return Ok(None);
        }
        // `decode` returned `Ok(None)`, so it scanned all of `src`, found no
        // '\n', and the remainder is within the bound.
        self.scanned = 0;
        let mut line = src.split();
        line.truncate(without_cr(&line));
        debug_assert!(line.len() <= self.max_line_len);
        Ok(Some(line.freeze()))
    }
}

impl Encoder<&[u8]> for Lines {
    /// Appends the line and `\n`.
    ///
    /// # Errors
    ///
    /// [`CodecError::LineTerminatorInItem`] if `item` contains `\n` or ends
    /// with `\r` (it would not decode as this one line), and
    /// [`CodecError::FrameTooLong`] if it is longer than
    /// [`max_line_len`](Self::max_line_len). `dst` is left unchanged.
    fn encode(&mut self, item: &[u8], dst: &mut BytesMut) -> Result<(), CodecError> {
        if let Some(at) = item.iter().position(|&b| b == b'\n') {
            return Err(CodecError::LineTerminatorInItem { at });
        }
        if item.last() == Some(&b'\r') {
            return Err(CodecError::LineTerminatorInItem { at: item.len() - 1 });
        }
        if item.len() > self.max_line_len {
            return Err(self.too_long(item.len()));
        }
        dst.reserve(item.len() + 1);
        dst.put_slice(item);
        dst.put_u8(b'\n');
        Ok(())
    }
}

impl Encoder<Bytes> for Lines {
    /// Appends the line and `\n`.
    ///
    /// # Errors
    ///
    /// As the `&[u8]` encoder: an item with `\n` or a trailing `\r`, or longer
    /// than [`max_line_len`](Self::max_line_len). `dst` is left unchanged.
    fn encode(&mut self, item: Bytes, dst: &mut BytesMut) -> Result<(), CodecError> {
        Encoder::<&[u8]>::encode(self, &item, dst)
    }
}

impl Encoder<&str> for Lines {
    /// Appends the line and `\n`.
    ///
    /// # Errors
    ///
    /// As the `&[u8]` encoder: an item with `\n` or a trailing `\r`, or longer
    /// than [`max_line_len`](Self::max_line_len) bytes. `dst` is left unchanged.
    fn encode(&mut self, item: &str, dst: &mut BytesMut) -> Result<(), CodecError> {
        Encoder::<&[u8]>::encode(self, item.as_bytes(), dst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes everything in `src`, then at end of stream.
    fn decode_all(codec: &mut Lines, src: &[u8]) -> Result<Vec<Bytes>, CodecError> {
        let mut buf = BytesMut::from(src);
        let mut lines = Vec::new();
        while let Some(line) = codec.decode(&mut buf)? {
            lines.push(line);
        }
        while let Some(line) = codec.decode_eof(&mut buf)? {
            lines.push(line);
        }
        Ok(lines)
    }

    #[test]
    fn splits_on_newline_and_strips_cr() {
        let lines = decode_all(&mut Lines::new(), b"a\nbc\r\n\n\r\nd\re\n").unwrap();
        assert_eq!(
            lines,
            [&b"a"[..], &b"bc"[..], &b""[..], &b""[..], &b"d\re"[..]]
        );
    }

    #[test]
    fn only_one_cr_is_stripped() {
        let lines = decode_all(&mut Lines::new(), b"x\r\r\n").unwrap();
        assert_eq!(lines, [&b"x\r"[..]]);
    }

    #[test]
    fn unterminated_last_line_is_yielded_at_eof() {
        assert_eq!(
            decode_all(&mut Lines::new(), b"a\nlast").unwrap(),
            [&b"a"[..], &b"last"[..]]
        );
        assert_eq!(
            decode_all(&mut Lines::new(), b"last\r").unwrap(),
            [&b"last"[..]]
        );
        // A stream ending in '\n' has no extra empty line.
        assert_eq!(decode_all(&mut Lines::new(), b"a\n").unwrap(), [&b"a"[..]]);
        assert_eq!(
            decode_all(&mut Lines::new(), b"").unwrap(),
            Vec::<Bytes>::new()
        );
    }

    #[test]
    fn waits_for_the_newline() {
        let mut codec = Lines::new();
        let mut buf = BytesMut::from(&b"abc"[..]);
        assert_eq!(codec.decode(&mut buf), Ok(None));
        assert_eq!(&buf[..], b"abc");
        buf.extend_from_slice(b"\r");
        assert_eq!(codec.decode(&mut buf), Ok(None));
        buf.extend_from_slice(b"\nrest");
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap(), &b"abc"[..]);
        assert_eq!(&buf[..], b"rest");
        assert_eq!(codec.decode(&mut buf), Ok(None));
    }

    #[test]
    fn remembers_the_scan_position() {
        let mut codec = Lines::new();
        let mut buf = BytesMut::new();
        for i in 1..=100 {
            buf.put_u8(b'x');
            assert_eq!(codec.decode(&mut buf), Ok(None));
            assert_eq!(codec.scanned, i);
        }
        buf.put_u8(b'\n');
        assert_eq!(codec.decode(&mut buf).unwrap().unwrap().len(), 100);
        assert_eq!(codec.scanned, 0);
    }

    #[test]
    fn line_exactly_at_the_bound_is_accepted_one_over_is_rejected() {
        let mut codec = Lines::with_max_line_len(3);
        assert_eq!(
            decode_all(&mut codec, b"abc\nabc\r\nabc").unwrap(),
            [&b"abc"[..], &b"abc"[..], &b"abc"[..]]
        );
        assert_eq!(
            decode_all(&mut Lines::with_max_line_len(3), b"abcd\n"),
            Err(CodecError::FrameTooLong { len: 4, max: 3 })
        );
        assert_eq!(
            decode_all(&mut Lines::with_max_line_len(3), b"abcd\r\n"),
            Err(CodecError::FrameTooLong { len: 4, max: 3 })
        );
    }

    #[test]
    fn too_long_line_is_reported_before_its_newline() {
        let mut codec = Lines::with_max_line_len(3);
        let mut buf = BytesMut::from(&b"abc"[..]);
        assert_eq!(codec.decode(&mut buf), Ok(None));
        // "abc\r" may still be "abc\r\n": wait for one more byte.
        buf.put_u8(b'\r');
        assert_eq!(codec.decode(&mut buf), Ok(None));
        buf.put_u8(b'x');
        // `len` is max + 1, whatever arrived: the error does not depend on
        // how the bytes were split.
        assert_eq!(
            codec.decode(&mut buf),
            Err(CodecError::FrameTooLong { len: 4, max: 3 })
        );

        let mut codec = Lines::with_max_line_len(3);
        let mut buf = BytesMut::from(&b"abcd"[..]);
        assert_eq!(
            codec.decode(&mut buf),
            Err(CodecError::FrameTooLong { len: 4, max: 3 })
        );
        // Nothing consumed; calling again gives the same answer.
        assert_eq!(buf.len(), 4);
        assert!(codec.decode(&mut buf).is_err());
    }

    #[test]
    fn a_huge_chunk_is_scanned_only_up_to_the_bound() {
        let mut codec = Lines::with_max_line_len(4);
        let mut buf = BytesMut::from(&vec![b'x'; 1 << 20][..]);
        buf.put_u8(b'\n');
        assert_eq!(
            codec.decode(&mut buf),
            Err(CodecError::FrameTooLong { len: 5, max: 4 })
        );
        assert!(codec.scanned <= 6);
    }

    #[test]
    fn zero_maximum_accepts_only_empty_lines() {
        let mut codec = Lines::with_max_line_len(0);
        assert_eq!(
            decode_all(&mut codec, b"\n\r\n").unwrap(),
            [&b""[..], &b""[..]]
        );
        assert!(decode_all(&mut Lines::with_max_line_len(0), b"a").is_err());
    }

    #[test]
    fn encodes_line_and_newline() {
        let mut codec = Lines::new();
        let mut out = BytesMut::new();
        codec.encode("a", &mut out).unwrap();
        codec.encode(&b""[..], &mut out).unwrap();
        codec.encode(Bytes::from_static(b"b\rc"), &mut out).unwrap();
        assert_eq!(&out[..], b"a\n\nb\rc\n");
    }

    #[test]
    fn encoder_refuses_what_would_not_round_trip() {
        let mut codec = Lines::with_max_line_len(4);
        let mut out = BytesMut::from(&b"x\n"[..]);
        assert_eq!(
            codec.encode("ab\ncd", &mut out),
            Err(CodecError::LineTerminatorInItem { at: 2 })
        );
        assert_eq!(
            codec.encode("ab\r", &mut out),
            Err(CodecError::LineTerminatorInItem { at: 2 })
        );
        assert_eq!(
            codec.encode("abcde", &mut out),
            Err(CodecError::FrameTooLong { len: 5, max: 4 })
        );
        assert_eq!(&out[..], b"x\n");
        codec.encode("abcd", &mut out).unwrap();
        assert_eq!(&out[..], b"x\nabcd\n");
    }

    #[test]
    fn decoded_line_shares_the_read_buffer() {
        let mut buf = BytesMut::from(&b"abc\n"[..]);
        let at = buf.as_ptr();
        let line = Lines::new().decode(&mut buf).unwrap().unwrap();
        assert_eq!(line.as_ptr(), at);
    }
}
