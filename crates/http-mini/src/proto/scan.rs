//! Incremental bookkeeping for a head that arrives in pieces.
//!
//! httparse is a fast push parser but starts from the first byte on every
//! call. [`HeadScan`] runs it only when that can give an answer, so a head
//! delivered one byte at a time costs one linear scan and two httparse runs,
//! not one run per byte. httparse runs:
//!
//! 1. on the first bytes of a head, before any scan: in the common case the
//!    whole head arrived in one read, and this is the only run;
//! 2. when more bytes arrived and the buffered bytes hold an empty line
//!    (`LF [CR] LF`), the only thing that can complete a head;
//! 3. when more than `max_header_bytes` are buffered, once, to report any
//!    error in the head before reporting it as too large.
//!
//! Cheap byte-by-byte checks of the first line reject garbage before its
//! end: a request line whose method or target has a byte httparse would
//! refuse, or whose target is too long; a status line that does not start
//! with `HTTP/1.`. Each agrees with the error httparse would give.
//!
//! So every outcome is a function of the bytes alone, never of how they
//! were split: httparse reads bytes in order and stops at the first it
//! refuses, so a run on a prefix that is not a whole head either asks for
//! more or fails as a run on the whole head would; the checks here also look
//! at bytes in order.

use bytes::{Buf, BytesMut};

use super::chars::{is_target_byte, is_tchar};
use super::{MAX_LEADING_EMPTY_LINES, ParseError};

/// State kept between calls while one head is being received.
#[derive(Debug, Default)]
pub(crate) struct HeadScan {
    /// Bytes of this head (other than leading empty lines) were seen.
    started: bool,
    /// Bytes of the head known not to contain its end.
    scanned: usize,
    /// Empty lines skipped before this head.
    empty_lines: usize,
    /// Request-line checks (requests only).
    line: LineScan,
}

#[derive(Debug, Default)]
struct LineScan {
    phase: LinePhase,
    pos: usize,
}

#[derive(Debug, Default, Clone, Copy)]
enum LinePhase {
    #[default]
    Method,
    Target {
        start: usize,
    },
    Done,
}

impl HeadScan {
    /// Forgets the head just parsed, ready for the next one.
    pub(crate) fn reset(&mut self) {
        *self = Self::default();
    }

    /// Whether httparse has not run on this head yet.
    pub(crate) fn is_first_look(&self) -> bool {
        self.scanned == 0
    }

    /// Whether bytes of a head (other than leading empty lines) were seen.
    pub(crate) fn in_progress(&self) -> bool {
        self.started
    }

    /// Whether nothing of the next message, not even an empty line before
    /// it, was seen.
    pub(crate) fn is_fresh(&self) -> bool {
        !self.started && self.empty_lines == 0
    }

    /// Drops the empty lines that may precede a message (at most
    /// [`MAX_LEADING_EMPTY_LINES`]). Returns whether `buf` now starts with
    /// the first byte of a head.
    pub(crate) fn skip_empty_lines(&mut self, buf: &mut BytesMut) -> Result<bool, ParseError> {
        if self.started {
            return Ok(true);
        }
        loop {
            let line = match &buf[..] {
                [b'\r', b'\n', ..] => 2,
                [b'\n', ..] => 1,
                [] | [b'\r'] => return Ok(false),
                _ => {
                    self.started = true;
                    return Ok(true);
                }
            };
            self.empty_lines += 1;
            if self.empty_lines > MAX_LEADING_EMPTY_LINES {
                return Err(ParseError::TooManyEmptyLines);
            }
            buf.advance(line);
        }
    }

    /// Checks the request line as it arrives, before its end: the method
    /// must be a token followed by one SP, then the target made of bytes
    /// httparse accepts, at most `max` of them, followed by SP. `head` is
    /// the buffered head, already cut to the head-size limit.
    ///
    /// # Errors
    ///
    /// [`ParseError::RequestLine`] at the first byte httparse would refuse
    /// (the error it would report), [`ParseError::TargetTooLong`] once
    /// `max + 1` target bytes are in, whichever comes first in the line.
    pub(crate) fn check_request_line(&mut self, head: &[u8], max: usize) -> Result<(), ParseError> {
        let l = &mut self.line;
        while l.pos < head.len() {
            match l.phase {
                LinePhase::Method => {
                    let run = head[l.pos..].iter().position(|&b| !is_tchar(b));
                    let Some(r) = run else {
                        l.pos = head.len();
                        break;
                    };
                    l.pos += r;
                    if head[l.pos] != b' ' || l.pos == 0 {
                        return Err(ParseError::RequestLine);
                    }
                    l.pos += 1;
                    l.phase = LinePhase::Target { start: l.pos };
                }
                LinePhase::Target { start } => {
                    let run = head[l.pos..].iter().position(|&b| !is_target_byte(b));
                    let stop = run.map_or(head.len(), |r| l.pos + r);
                    if stop - start > max {
                        return Err(ParseError::TargetTooLong);
                    }
                    l.pos = stop;
                    if run.is_some() {
                        if head[stop] != b' ' || stop == start {
                            return Err(ParseError::RequestLine);
                        }
                        l.phase = LinePhase::Done;
                    }
                }
                LinePhase::Done => break,
            }
        }
        Ok(())
    }

    /// Checks that a status line starts with `HTTP/1.`, as far as it has
    /// arrived.
    ///
    /// # Errors
    ///
    /// [`ParseError::Version`], the error httparse would report.
    pub(crate) fn check_status_line(head: &[u8]) -> Result<(), ParseError> {
        const PREFIX: &[u8] = b"HTTP/1.";
        let n = head.len().min(PREFIX.len());
        if head[..n] == PREFIX[..n] {
            Ok(())
        } else {
            Err(ParseError::Version)
        }
    }

    /// Runs httparse, through `parse`, on the buffered head cut to `cap`
    /// (the head-size limit) when that can give an answer (see the module
    /// docs). `parse` gets the buffer and the number of bytes to look at, and
    /// consumes the head if it is complete. `Ok(None)` asks for more bytes.
    ///
    /// # Errors
    ///
    /// `parse`'s error, once any split of the same bytes would report it: a
    /// first look at part of a head keeps it until the head's end (or the
    /// limit) arrives, when httparse runs again and finds it again.
    /// [`ParseError::HeadTooLarge`] when more than `cap` bytes are buffered
    /// without the end of a head.
    ///
    /// Always inlined: it is a few checks around `parse`, which it runs once.
    #[inline(always)]
    pub(crate) fn parse<T>(
        &mut self,
        buf: &mut BytesMut,
        cap: usize,
        parse: impl FnOnce(&mut BytesMut, usize) -> Result<Option<T>, ParseError>,
    ) -> Result<Option<T>, ParseError> {
        let window = buf.len().min(cap);
        let over = buf.len() > cap;
        let first_look = self.is_first_look();
        if !first_look && !over {
            // Two bytes of overlap: an empty line may straddle the old end.
            let from = self.scanned.saturating_sub(2).min(window);
            if !has_empty_line(&buf[from..window]) {
                self.scanned = window;
                return Ok(None);
            }
        }
        match parse(buf, window) {
            Ok(None) if over => Err(ParseError::HeadTooLarge),
            Ok(None) => {
                self.scanned = window;
                Ok(None)
            }
            Err(_) if first_look && !over && !has_empty_line(&buf[..window]) => {
                self.scanned = window;
                Ok(None)
            }
            result => result,
        }
    }
}

/// Whether `s` holds `LF LF` or `LF CR LF`: the end of a head that accepts
/// bare LF line endings, as httparse does.
fn has_empty_line(s: &[u8]) -> bool {
    let mut i = 0;
    while let Some(p) = s[i..].iter().position(|&b| b == b'\n') {
        let lf = i + p;
        match s.get(lf + 1..) {
            Some([b'\n', ..] | [b'\r', b'\n', ..]) => return true,
            _ => i = lf + 1,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_line_detection() {
        assert!(has_empty_line(b"GET / HTTP/1.1\r\n\r\n"));
        assert!(has_empty_line(b"a\n\n"));
        assert!(has_empty_line(b"a\n\r\n"));
        assert!(!has_empty_line(b"a\r\nb\r\n\r"));
        assert!(!has_empty_line(b"a\r\n"));
        assert!(!has_empty_line(b""));
    }

    #[test]
    fn leading_empty_lines_are_bounded() {
        let mut s = HeadScan::default();
        let mut buf = BytesMut::from(&b"\r\n\nG"[..]);
        assert_eq!(s.skip_empty_lines(&mut buf), Ok(true));
        assert_eq!(&buf[..], b"G");

        let mut s = HeadScan::default();
        let mut buf = BytesMut::from(&b"\r"[..]);
        assert_eq!(s.skip_empty_lines(&mut buf), Ok(false));
        assert_eq!(&buf[..], b"\r");

        let mut s = HeadScan::default();
        let mut buf = BytesMut::from("\r\n".repeat(MAX_LEADING_EMPTY_LINES + 1).as_bytes());
        assert_eq!(
            s.skip_empty_lines(&mut buf),
            Err(ParseError::TooManyEmptyLines)
        );
    }

    #[test]
    fn request_line_check_is_incremental() {
        let mut s = HeadScan::default();
        assert_eq!(s.check_request_line(b"GET /aaa", 4), Ok(()));
        assert_eq!(
            s.check_request_line(b"GET /aaaa", 4),
            Err(ParseError::TargetTooLong)
        );

        let mut s = HeadScan::default();
        assert_eq!(s.check_request_line(b"GET /aaa HTTP/1.1\r\n", 4), Ok(()));
        let bad: [&[u8]; 6] = [
            b"G(T",
            b" GET",
            b"GET  /",
            b"GET /\x01",
            b"GET /\r\n",
            b"GET\r\n",
        ];
        for line in bad {
            let mut s = HeadScan::default();
            assert_eq!(
                s.check_request_line(line, 4),
                Err(ParseError::RequestLine),
                "{line:?}"
            );
        }
        // The first problem in the line wins.
        let mut s = HeadScan::default();
        assert_eq!(
            s.check_request_line(b"GET /aaaaa\x01", 4),
            Err(ParseError::TargetTooLong)
        );
    }

    #[test]
    fn status_line_check() {
        assert_eq!(HeadScan::check_status_line(b"HTT"), Ok(()));
        assert_eq!(HeadScan::check_status_line(b"HTTP/1.1 200"), Ok(()));
        assert_eq!(
            HeadScan::check_status_line(b"HTTX"),
            Err(ParseError::Version)
        );
        assert_eq!(
            HeadScan::check_status_line(b"HTTP/2 200"),
            Err(ParseError::Version)
        );
    }
}
