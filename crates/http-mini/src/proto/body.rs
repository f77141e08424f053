//! Body decoding for the three framings: Content-Length countdown, chunked,
//! and until close.

use bytes::{Bytes, BytesMut};

use super::chunked::ChunkedDecoder;
use super::{BodyKind, Headers, Limits, ParseError};

/// What a body decoder produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum BodyEvent {
    /// Decoded body bytes, never empty.
    Data(Bytes),
    /// The body is complete; the trailer fields, if any.
    End(Headers),
}

/// Decoder for the body of one message.
#[derive(Debug)]
pub(crate) enum BodyDecoder {
    /// Bytes still expected; `End` is produced when this reaches 0.
    Length {
        remaining: u64,
        ended: bool,
    },
    Chunked(ChunkedDecoder),
    /// Bytes received so far; only [`BodyDecoder::eof`] ends the body.
    UntilClose {
        total: u64,
    },
}

impl BodyDecoder {
    /// A decoder for `kind` (`Empty` is a zero-length body).
    pub(crate) fn new(kind: BodyKind) -> Self {
        match kind {
            BodyKind::Empty => Self::Length {
                remaining: 0,
                ended: false,
            },
            BodyKind::Length(n) => Self::Length {
                remaining: n,
                ended: false,
            },
            BodyKind::Chunked => Self::Chunked(ChunkedDecoder::new()),
            BodyKind::UntilClose => Self::UntilClose { total: 0 },
        }
    }

    /// Decodes the next event from the front of `buf`; `None` when more
    /// bytes are needed. (Always inlined: every message without a body ends
    /// with a call here, and the parsers' call then costs a few instructions
    /// instead of a call returning the event through memory.)
    #[inline(always)]
    pub(crate) fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
    ) -> Result<Option<BodyEvent>, ParseError> {
        match self {
            Self::Length { ended: true, .. } => Ok(None),
            Self::Length {
                remaining: 0,
                ended,
            } => {
                *ended = true;
                Ok(Some(BodyEvent::End(Headers::new())))
            }
            Self::Length { remaining, .. } => {
                if buf.is_empty() {
                    return Ok(None);
                }
                let n = buf
                    .len()
                    .min(usize::try_from(*remaining).unwrap_or(usize::MAX));
                *remaining -= n as u64;
                Ok(Some(BodyEvent::Data(buf.split_to(n).freeze())))
            }
            Self::Chunked(chunked) => chunked.decode(buf, limits),
            Self::UntilClose { total } => {
                if buf.is_empty() {
                    return Ok(None);
                }
                // Deliver exactly the bytes under the limit, then fail, so
                // the outcome does not depend on how the bytes were split.
                let allowed = limits
                    .max_body_bytes
                    .map_or(u64::MAX, |max| max.saturating_sub(*total));
                if allowed == 0 {
                    return Err(ParseError::BodyTooLarge);
                }
                let n = buf
                    .len()
                    .min(usize::try_from(allowed).unwrap_or(usize::MAX));
                *total += n as u64;
                Ok(Some(BodyEvent::Data(buf.split_to(n).freeze())))
            }
        }
    }

    /// The end of input arrived: the `End` event if that ends the body
    /// cleanly (until-close framing, or a body already complete).
    ///
    /// # Errors
    ///
    /// [`ParseError::UnexpectedEof`] in the middle of a body.
    pub(crate) fn eof(&mut self) -> Result<Option<BodyEvent>, ParseError> {
        match self {
            Self::Length { ended: true, .. } => Ok(None),
            Self::Length { remaining: 0, .. } | Self::UntilClose { .. } => {
                *self = Self::Length {
                    remaining: 0,
                    ended: true,
                };
                Ok(Some(BodyEvent::End(Headers::new())))
            }
            Self::Chunked(chunked) if chunked.is_done() => Ok(None),
            _ => Err(ParseError::UnexpectedEof),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: BodyKind, input: &[u8], limits: &Limits) -> Result<(Vec<u8>, bool), ParseError> {
        let mut d = BodyDecoder::new(kind);
        let mut buf = BytesMut::from(input);
        let mut body = Vec::new();
        while let Some(ev) = d.decode(&mut buf, limits)? {
            match ev {
                BodyEvent::Data(b) => body.extend_from_slice(&b),
                BodyEvent::End(_) => return Ok((body, true)),
            }
        }
        Ok((body, false))
    }

    #[test]
    fn length_countdown_leaves_the_rest() {
        let mut d = BodyDecoder::new(BodyKind::Length(3));
        let mut buf = BytesMut::from(&b"abcdef"[..]);
        let l = Limits::default();
        assert_eq!(
            d.decode(&mut buf, &l),
            Ok(Some(BodyEvent::Data(Bytes::from_static(b"abc"))))
        );
        assert_eq!(
            d.decode(&mut buf, &l),
            Ok(Some(BodyEvent::End(Headers::new())))
        );
        assert_eq!(d.decode(&mut buf, &l), Ok(None));
        assert_eq!(&buf[..], b"def");
    }

    #[test]
    fn empty_ends_without_bytes() {
        assert_eq!(
            run(BodyKind::Empty, b"", &Limits::default()),
            Ok((vec![], true))
        );
        assert_eq!(
            run(BodyKind::Length(0), b"", &Limits::default()),
            Ok((vec![], true))
        );
    }

    #[test]
    fn until_close_ends_only_at_eof() {
        let mut d = BodyDecoder::new(BodyKind::UntilClose);
        let mut buf = BytesMut::from(&b"abc"[..]);
        let l = Limits::default();
        assert_eq!(
            d.decode(&mut buf, &l),
            Ok(Some(BodyEvent::Data(Bytes::from_static(b"abc"))))
        );
        assert_eq!(d.decode(&mut buf, &l), Ok(None));
        assert_eq!(d.eof(), Ok(Some(BodyEvent::End(Headers::new()))));
        assert_eq!(d.eof(), Ok(None));
    }

    #[test]
    fn until_close_limit() {
        let l = Limits {
            max_body_bytes: Some(2),
            ..Limits::default()
        };
        assert_eq!(
            run(BodyKind::UntilClose, b"ab", &l),
            Ok((b"ab".to_vec(), false))
        );
        let mut d = BodyDecoder::new(BodyKind::UntilClose);
        let mut buf = BytesMut::from(&b"abc"[..]);
        assert_eq!(
            d.decode(&mut buf, &l),
            Ok(Some(BodyEvent::Data(Bytes::from_static(b"ab"))))
        );
        assert_eq!(d.decode(&mut buf, &l), Err(ParseError::BodyTooLarge));
    }

    #[test]
    fn eof_mid_body_is_an_error() {
        let mut d = BodyDecoder::new(BodyKind::Length(3));
        let mut buf = BytesMut::from(&b"ab"[..]);
        d.decode(&mut buf, &Limits::default()).unwrap();
        assert_eq!(d.eof(), Err(ParseError::UnexpectedEof));
        assert_eq!(
            BodyDecoder::new(BodyKind::Chunked).eof(),
            Err(ParseError::UnexpectedEof)
        );
    }
}
