//! The chunked transfer coding decoder (RFC 9112 §7.1).
//!
//! ```text
//! chunked-body = *chunk last-chunk trailer-section CRLF
//! chunk        = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! chunk-ext    = *( BWS ";" BWS name [ BWS "=" BWS ( token / quoted-string ) ] )
//! ```
//!
//! The size line is decoded byte by byte as it arrives and consumed at
//! once, so nothing is buffered for it and its length is bounded by
//! [`MAX_CHUNK_LINE`]. Every framing line must end in CRLF: a bare LF or
//! CR is an error, since lenient line endings in chunked framing are a
//! request-smuggling vector. Chunk data is handed out as zero-copy slices.

use bytes::{Buf, BytesMut};

use super::body::BodyEvent;
use super::chars::is_tchar;
use super::trailers::TrailerScan;
use super::{Limits, MAX_CHUNK_LINE, ParseError};

/// Decoder state for one chunked body.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// Decoded bytes so far, counting announced chunk sizes.
    total: u64,
}

#[derive(Debug)]
enum State {
    SizeLine(SizeLine),
    Data { remaining: u64 },
    DataCr,
    DataLf,
    Trailers(TrailerScan),
    Done,
}

/// Progress through one chunk-size line.
#[derive(Debug, Default)]
struct SizeLine {
    phase: Phase,
    /// Bytes of the line so far, CRLF excluded.
    len: usize,
    size: u64,
    /// Hex digits after the leading zeros.
    significant: u8,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No digit yet.
    #[default]
    Start,
    Digits,
    /// Whitespace after the size: only `;` may follow.
    Ws,
    /// After `;`, before the name.
    BeforeName,
    Name,
    /// Whitespace after a name: `=`, `;` or CRLF may follow.
    AfterName,
    /// After `=`, before the value.
    BeforeValue,
    TokenValue,
    /// Whitespace after a value: only `;` may follow.
    ValueWs,
    Quoted,
    QuotedEscape,
    AfterQuoted,
    /// CR seen, LF expected.
    Lf,
}

impl ChunkedDecoder {
    pub(crate) fn new() -> Self {
        Self {
            state: State::SizeLine(SizeLine::default()),
            total: 0,
        }
    }

    /// Decodes the next event from the front of `buf`.
    pub(crate) fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<BodyEvent>, ParseError> {
        loop {
            match &mut self.state {
                State::SizeLine(line) => {
                    let Some(size) = line.feed(buf)? else {
                        return Ok(None);
                    };
                    if size == 0 {
                        self.state = State::Trailers(TrailerScan::default());
                        continue;
                    }
                    self.total = self
                        .total
                        .checked_add(size)
                        .ok_or(ParseError::ChunkSizeOverflow)?;
                    if limits.body_exceeds(self.total) {
                        return Err(ParseError::BodyTooLarge);
                    }
                    self.state = State::Data { remaining: size };
                }
                State::Data { remaining } => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let n = buf
                        .len()
                        .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                    *remaining -= n as u64;
                    if *remaining == 0 {
                        self.state = State::DataCr;
                    }
                    return Ok(Some(BodyEvent::Data(buf.split_to(n).freeze())));
                }
                State::DataCr => match buf.first() {
                    None => return Ok(None),
                    Some(b'\r') => {
                        buf.advance(1);
                        self.state = State::DataLf;
                    }
                    Some(b'\n') => return Err(ParseError::ChunkedLineEnding),
                    Some(_) => return Err(ParseError::MissingChunkCrlf),
                },
                State::DataLf => match buf.first() {
                    None => return Ok(None),
                    Some(b'\n') => {
                        buf.advance(1);
                        self.state = State::SizeLine(SizeLine::default());
                    }
                    Some(_) => return Err(ParseError::MissingChunkCrlf),
                },
                State::Trailers(scan) => {
                    let Some(trailers) = scan.parse(buf, limits)? else {
                        return Ok(None);
                    };
                    self.state = State::Done;
                    return Ok(Some(BodyEvent::End(trailers)));
                }
                State::Done => return Ok(None),
            }
        }
    }

    /// Whether the body is complete (the `End` event was produced).
    pub(crate) fn is_done(&self) -> bool {
        matches!(self.state, State::Done)
    }
}

impl SizeLine {
    /// Consumes bytes of the size line from `buf`; returns the chunk size
    /// once the line's CRLF has been consumed.
    fn feed(&mut self, buf: &mut BytesMut) -> Result<Option<u64>, ParseError> {
        let mut used = 0;
        let mut result = Ok(None);
        for &b in buf.iter() {
            used += 1;
            match self.step(b) {
                Ok(false) => {}
                Ok(true) => {
                    result = Ok(Some(self.size));
                    break;
                }
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
        }
        buf.advance(used);
        result
    }

    /// One byte of the line; `Ok(true)` when the line is complete.
    fn step(&mut self, b: u8) -> Result<bool, ParseError> {
        use Phase::*;
        if self.phase == Lf {
            return if b == b'\n' {
                Ok(true)
            } else {
                Err(ParseError::ChunkedLineEnding)
            };
        }
        match (self.phase, b) {
            (_, b'\n') => return Err(ParseError::ChunkedLineEnding),
            (Digits | Name | TokenValue | AfterQuoted, b'\r') => {
                self.phase = Lf;
                return Ok(false);
            }
            _ => {}
        }
        self.len += 1;
        if self.len > MAX_CHUNK_LINE {
            return Err(ParseError::ChunkLineTooLong);
        }
        self.phase = match (self.phase, b) {
            (Start | Digits, _) if b.is_ascii_hexdigit() => {
                self.push_digit(b)?;
                Digits
            }
            (Start, _) => return Err(ParseError::InvalidChunkSize),
            (Digits | Ws, b' ' | b'\t') => Ws,
            (TokenValue | AfterQuoted | ValueWs, b' ' | b'\t') => ValueWs,
            (Digits | Ws | Name | AfterName | TokenValue | AfterQuoted | ValueWs, b';') => {
                BeforeName
            }
            (Digits | Ws, _) => return Err(ParseError::InvalidChunkSize),
            (BeforeName, b' ' | b'\t') => BeforeName,
            (BeforeName | Name, _) if is_tchar(b) => Name,
            (Name | AfterName, b' ' | b'\t') => AfterName,
            (Name | AfterName, b'=') => BeforeValue,
            (BeforeValue, b' ' | b'\t') => BeforeValue,
            (BeforeValue, b'"') => Quoted,
            (BeforeValue | TokenValue, _) if is_tchar(b) => TokenValue,
            (Quoted, b'"') => AfterQuoted,
            (Quoted, b'\\') => QuotedEscape,
            (Quoted, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff) => Quoted,
            (QuotedEscape, b'\t' | b' '..=0x7e | 0x80..=0xff) => Quoted,
            _ => return Err(ParseError::InvalidChunkExtension),
        };
        Ok(false)
    }

    fn push_digit(&mut self, b: u8) -> Result<(), ParseError> {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => b - b'A' + 10,
        };
        if self.size != 0 || digit != 0 {
            self.significant += 1;
            // 16 hex digits fill a u64 exactly.
            if self.significant > 16 {
                return Err(ParseError::ChunkSizeOverflow);
            }
        }
        self.size = (self.size << 4) | u64::from(digit);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    /// Decodes `input` fed all at once; returns the body and trailer count.
    fn decode_all(input: &[u8], limits: &Limits) -> Result<(Vec<u8>, usize, BytesMut), ParseError> {
        let mut d = ChunkedDecoder::new();
        let mut buf = BytesMut::from(input);
        let mut body = Vec::new();
        loop {
            match d.decode(&mut buf, limits)? {
                Some(BodyEvent::Data(b)) => body.extend_from_slice(&b),
                Some(BodyEvent::End(t)) => return Ok((body, t.len(), buf)),
                None => return Err(ParseError::UnexpectedEof),
            }
        }
    }

    fn decode(input: &[u8]) -> Result<Vec<u8>, ParseError> {
        decode_all(input, &Limits::default()).map(|(b, _, _)| b)
    }

    #[test]
    fn basic_body_and_leftover() {
        let (body, trailers, rest) = decode_all(
            b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\nNEXT",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!(body, b"Wikipedia");
        assert_eq!(trailers, 0);
        assert_eq!(&rest[..], b"NEXT");
    }

    #[test]
    fn uppercase_hex_leading_zeros_and_extensions() {
        assert_eq!(
            decode(b"000A\r\n0123456789\r\n0\r\n\r\n").unwrap(),
            b"0123456789"
        );
        assert_eq!(decode(b"3;a\r\nabc\r\n0\r\n\r\n").unwrap(), b"abc");
        assert_eq!(
            decode(b"3 ; a = b ;c=\"x\\\"y;\"\r\nabc\r\n0;last\r\n\r\n").unwrap(),
            b"abc"
        );
        assert_eq!(decode(b"3;a=b;c\r\nabc\r\n0\r\n\r\n").unwrap(), b"abc");
    }

    #[test]
    fn trailers_are_returned() {
        let (body, trailers, _) = decode_all(
            b"1\r\nx\r\n0\r\nX-Sum: 1\r\nX-B: 2\r\n\r\n",
            &Limits::default(),
        )
        .unwrap();
        assert_eq!((body.as_slice(), trailers), (&b"x"[..], 2));
    }

    #[test]
    fn invalid_sizes() {
        for bad in [
            &b"\r\n"[..],
            b"x\r\n",
            b"-1\r\n",
            b"+1\r\n",
            b" 1\r\n",
            b"1x\r\n",
            b"1 \r\n",
            b"1 x\r\n",
            b"0x1\r\n",
        ] {
            assert_eq!(decode(bad), Err(ParseError::InvalidChunkSize), "{bad:?}");
        }
    }

    #[test]
    fn size_overflow() {
        assert_eq!(
            decode(b"10000000000000000\r\n"),
            Err(ParseError::ChunkSizeOverflow)
        );
        // 16 significant digits plus leading zeros fit.
        let mut d = ChunkedDecoder::new();
        let mut buf = BytesMut::from(&b"00FFFFFFFFFFFFFFFF\r\nab"[..]);
        assert!(matches!(
            d.decode(&mut buf, &Limits::default()),
            Ok(Some(BodyEvent::Data(_)))
        ));
        // Two huge chunks overflow the running total.
        let mut d = ChunkedDecoder {
            state: State::SizeLine(SizeLine::default()),
            total: u64::MAX,
        };
        let mut buf = BytesMut::from(&b"1\r\n"[..]);
        assert_eq!(
            d.decode(&mut buf, &Limits::default()),
            Err(ParseError::ChunkSizeOverflow)
        );
    }

    #[test]
    fn invalid_extensions() {
        for bad in [
            &b"1;\r\n"[..],
            b"1;=a\r\n",
            b"1;a=\r\n",
            b"1;a=\"x\r\n",
            b"1;a b\r\n",
            b"1;a=b c\r\n",
            b"1;a=(\r\n",
            b"1;a=\"x\"y\r\n",
            b"1;a \r\n",
            b"1;a=b \r\n",
        ] {
            assert_eq!(
                decode(bad),
                Err(ParseError::InvalidChunkExtension),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn extension_length_is_bounded() {
        let mut line = b"1;a=".to_vec();
        line.resize(MAX_CHUNK_LINE + 10, b'b');
        assert_eq!(decode(&line), Err(ParseError::ChunkLineTooLong));
        let mut zeros = vec![b'0'; MAX_CHUNK_LINE + 1];
        zeros.push(b'1');
        assert_eq!(decode(&zeros), Err(ParseError::ChunkLineTooLong));
        // Just under the bound is fine.
        let mut ok = b"1;a=".to_vec();
        ok.resize(MAX_CHUNK_LINE, b'b');
        ok.extend_from_slice(b"\r\nx\r\n0\r\n\r\n");
        assert_eq!(decode(&ok).unwrap(), b"x");
    }

    #[test]
    fn line_endings_must_be_crlf() {
        assert_eq!(
            decode(b"1\nx\r\n0\r\n\r\n"),
            Err(ParseError::ChunkedLineEnding)
        );
        assert_eq!(decode(b"1\rx"), Err(ParseError::ChunkedLineEnding));
        assert_eq!(decode(b"1;a\nx"), Err(ParseError::ChunkedLineEnding));
        assert_eq!(
            decode(b"1\r\nx\n0\r\n\r\n"),
            Err(ParseError::ChunkedLineEnding)
        );
        assert_eq!(
            decode(b"1\r\nx\r\n0\n\r\n"),
            Err(ParseError::ChunkedLineEnding)
        );
        assert_eq!(
            decode(b"1\r\nx\r\n0\r\n\n"),
            Err(ParseError::ChunkedLineEnding)
        );
        assert_eq!(
            decode(b"1\r\nx\r\n0\r\nA: b\n\r\n"),
            Err(ParseError::ChunkedLineEnding)
        );
    }

    #[test]
    fn missing_crlf_after_data() {
        assert_eq!(decode(b"1\r\nxy\r\n"), Err(ParseError::MissingChunkCrlf));
        assert_eq!(decode(b"1\r\nx\rz"), Err(ParseError::MissingChunkCrlf));
    }

    #[test]
    fn body_limit_from_chunk_sizes() {
        let limits = Limits {
            max_body_bytes: Some(5),
            ..Limits::default()
        };
        assert_eq!(
            decode_all(b"5\r\nabcde\r\n0\r\n\r\n", &limits).unwrap().0,
            b"abcde"
        );
        let mut d = ChunkedDecoder::new();
        let mut buf = BytesMut::from(&b"3\r\nabc\r\n3\r\n"[..]);
        assert!(matches!(
            d.decode(&mut buf, &limits),
            Ok(Some(BodyEvent::Data(_)))
        ));
        // The second size line takes the total to 6 before any of its data.
        assert_eq!(d.decode(&mut buf, &limits), Err(ParseError::BodyTooLarge));
    }

    #[test]
    fn byte_at_a_time() {
        let input = b"3;x=\"q\"\r\nabc\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n";
        let mut d = ChunkedDecoder::new();
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut trailers = None;
        for &b in input {
            buf.extend_from_slice(&[b]);
            while let Some(ev) = d.decode(&mut buf, &Limits::default()).unwrap() {
                match ev {
                    BodyEvent::Data(b) => body.extend_from_slice(&b),
                    BodyEvent::End(t) => trailers = Some(t),
                }
            }
        }
        assert_eq!(body, b"abcde");
        assert_eq!(trailers.unwrap().get("t"), Some(&b"1"[..]));
        assert!(d.is_done());
        let _ = Bytes::new();
    }
}
