//! The trailer section that ends a chunked body (RFC 9112 §7.1.2).
//!
//! The section is buffered until its empty line arrives, then parsed with
//! `httparse::parse_headers`. It is bounded like a head: at most
//! [`Limits::max_header_bytes`] bytes and [`Limits::max_headers`] fields.
//! Unlike a head, every line must end in CRLF, as in the rest of the
//! chunked framing.

use bytes::{Buf, BytesMut};

use super::raw::parse_trailers;
use super::{Headers, Limits, ParseError};

/// Progress through a trailer section being received.
#[derive(Debug, Default)]
pub(crate) struct TrailerScan {
    /// Bytes of the section already checked, none of them ending it.
    scanned: usize,
}

impl TrailerScan {
    /// Returns the trailer fields once the whole section (final CRLF
    /// included) is in `buf`, and removes it from `buf`.
    pub(crate) fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<Headers>, ParseError> {
        // The common case: no trailers, just the final CRLF.
        match &buf[..] {
            [] | [b'\r'] => return Ok(None),
            [b'\r', b'\n', ..] => {
                buf.advance(2);
                return Ok(Some(Headers::new()));
            }
            [b'\r' | b'\n', ..] => return Err(ParseError::ChunkedLineEnding),
            _ => {}
        }
        let cap = limits.max_header_bytes;
        let window = &buf[..buf.len().min(cap)];
        match self.find_end(window)? {
            Some(end) => parse_trailers(buf, end, limits.max_headers).map(Some),
            None if buf.len() > cap => Err(ParseError::HeadTooLarge),
            None => Ok(None),
        }
    }

    /// Finds the end of the section (just past `CRLF CRLF`) in `window`,
    /// rejecting any LF not preceded by CR and any CR that starts a line
    /// without an LF after it.
    fn find_end(&mut self, window: &[u8]) -> Result<Option<usize>, ParseError> {
        loop {
            let from = self.scanned.min(window.len());
            let Some(p) = window[from..].iter().position(|&b| b == b'\n') else {
                break;
            };
            let lf = from + p;
            if lf == 0 || window[lf - 1] != b'\r' {
                return Err(ParseError::ChunkedLineEnding);
            }
            match window.get(lf + 1..lf + 3) {
                Some(b"\r\n") => return Ok(Some(lf + 3)),
                Some([b'\r', _]) => return Err(ParseError::ChunkedLineEnding),
                // Not enough bytes to know what the next line starts with.
                None if window.len() <= lf + 2 && window.get(lf + 1) != Some(&b'\n') => {
                    self.scanned = lf;
                    return Ok(None);
                }
                _ => self.scanned = lf + 1,
            }
        }
        self.scanned = window.len();
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &[u8]) -> Result<Option<Headers>, ParseError> {
        TrailerScan::default().parse(&mut BytesMut::from(input), &Limits::default())
    }

    #[test]
    fn empty_and_present() {
        assert_eq!(parse(b"\r\n").unwrap().unwrap().len(), 0);
        let t = parse(b"A: 1\r\nB: 2\r\n\r\n").unwrap().unwrap();
        assert_eq!(t.get_str("a"), Some("1"));
        assert_eq!(t.get_str("b"), Some("2"));
        assert_eq!(parse(b"A: 1\r\n\r").unwrap(), None);
        assert_eq!(parse(b"A: 1\r\n").unwrap(), None);
    }

    #[test]
    fn strict_line_endings() {
        assert_eq!(parse(b"\n"), Err(ParseError::ChunkedLineEnding));
        assert_eq!(parse(b"\rX"), Err(ParseError::ChunkedLineEnding));
        assert_eq!(parse(b"A: 1\n\r\n"), Err(ParseError::ChunkedLineEnding));
        assert_eq!(parse(b"A: 1\r\n\n"), Err(ParseError::ChunkedLineEnding));
        assert_eq!(parse(b"A: 1\r\n\rX"), Err(ParseError::ChunkedLineEnding));
    }

    #[test]
    fn invalid_fields_and_limits() {
        assert_eq!(parse(b"A B: 1\r\n\r\n"), Err(ParseError::HeaderName));
        assert_eq!(
            parse(b"A: 1\r\n folded\r\n\r\n"),
            Err(ParseError::HeaderName)
        );
        let mut limits = Limits {
            max_headers: 1,
            ..Limits::default()
        };
        let mut buf = BytesMut::from(&b"A: 1\r\nB: 2\r\n\r\n"[..]);
        assert_eq!(
            TrailerScan::default().parse(&mut buf, &limits),
            Err(ParseError::TooManyHeaders)
        );
        limits.max_header_bytes = 8;
        let mut buf = BytesMut::from(&b"A: 12345\r\n"[..]);
        assert_eq!(
            TrailerScan::default().parse(&mut buf, &limits),
            Err(ParseError::HeadTooLarge)
        );
    }

    #[test]
    fn incremental_matches_whole() {
        let input = b"Xa: 1\r\nXb: 2\r\n\r\nREST";
        let mut scan = TrailerScan::default();
        let mut buf = BytesMut::new();
        let mut got = None;
        for &b in input {
            buf.extend_from_slice(&[b]);
            if got.is_none() {
                got = scan.parse(&mut buf, &Limits::default()).unwrap();
            }
        }
        assert_eq!(got.unwrap().len(), 2);
        assert_eq!(&buf[..], b"REST");
    }
}
