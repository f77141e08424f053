//! Body framing, persistence and expectations derived from a parsed head
//! (RFC 9112 §6.1, §6.3, §9.3; RFC 9110 §10.1.1).

use super::chars::{list_elements, name_eq};
use super::{BodyKind, Headers, ParseError, Version};

/// What the framing header fields of a message say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FramingInfo {
    /// From Content-Length / Transfer-Encoding alone: `Empty` when neither
    /// is present (the caller turns that into `UntilClose` for responses).
    pub(crate) body: BodyKind,
    /// From Connection and the version.
    pub(crate) keep_alive: bool,
    /// `Expect: 100-continue` in an HTTP/1.1 message.
    pub(crate) expect_continue: bool,
}

/// Reads Content-Length, Transfer-Encoding, Connection and Expect in one
/// pass over the fields and applies the strict rules of RFC 9112.
///
/// The rules are the same for requests and responses. RFC 9112 §6.3 lets a
/// response with both Content-Length and Transfer-Encoding be read as
/// chunked, but such a message is the classic request-smuggling shape and no
/// correct server sends it, so it is rejected on both sides; likewise a
/// response whose Transfer-Encoding does not end in `chunked` is rejected
/// instead of being read until close.
///
/// Always inlined into the two parsers: for a head without framing fields
/// the call (saved registers, the result returned through memory) cost
/// more than the work.
#[inline(always)]
pub(crate) fn analyze(headers: &Headers, version: Version) -> Result<FramingInfo, ParseError> {
    let mut content_length: Option<u64> = None;
    let mut te = TransferCodings::default();
    let mut close = false;
    let mut keep_alive_token = false;
    let mut expect_continue = false;

    for (name, value) in headers {
        // Dispatch on length first: most fields are none of these four.
        match name.len() {
            14 if name_eq(name, "content-length") => {
                content_length = Some(merge_content_length(content_length, value)?);
            }
            17 if name_eq(name, "transfer-encoding") => te.add(value),
            10 if name_eq(name, "connection") => {
                for token in list_elements(value) {
                    close |= token.eq_ignore_ascii_case(b"close");
                    keep_alive_token |= token.eq_ignore_ascii_case(b"keep-alive");
                }
            }
            6 if name_eq(name, "expect") => {
                expect_continue |=
                    list_elements(value).any(|e| e.eq_ignore_ascii_case(b"100-continue"));
            }
            _ => {}
        }
    }

    let body = if te.present {
        if content_length.is_some() {
            return Err(ParseError::ContentLengthWithTransferEncoding);
        }
        if version == Version::Http10 {
            return Err(ParseError::TransferEncodingInHttp10);
        }
        te.check()?;
        BodyKind::Chunked
    } else {
        content_length.map_or(BodyKind::Empty, BodyKind::Length)
    };

    let keep_alive = !close && (version == Version::Http11 || keep_alive_token);
    Ok(FramingInfo {
        body,
        keep_alive,
        expect_continue: expect_continue && version == Version::Http11,
    })
}

/// Parses one Content-Length field value (a single number or a list of
/// them) and checks it agrees with any earlier value.
fn merge_content_length(earlier: Option<u64>, value: &[u8]) -> Result<u64, ParseError> {
    let mut current = earlier;
    let mut any = false;
    for element in value.split(|&b| b == b',') {
        let n = parse_decimal(super::chars::trim_ows(element))?;
        match current {
            Some(c) if c != n => return Err(ParseError::ConflictingContentLength),
            _ => current = Some(n),
        }
        any = true;
    }
    match current {
        Some(n) if any => Ok(n),
        _ => Err(ParseError::InvalidContentLength),
    }
}

/// `1*DIGIT` as a `u64`: no sign, no whitespace, no overflow.
fn parse_decimal(digits: &[u8]) -> Result<u64, ParseError> {
    if digits.is_empty() {
        return Err(ParseError::InvalidContentLength);
    }
    digits.iter().try_fold(0u64, |acc, &b| {
        if !b.is_ascii_digit() {
            return Err(ParseError::InvalidContentLength);
        }
        acc.checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(b - b'0')))
            .ok_or(ParseError::InvalidContentLength)
    })
}

/// The transfer codings of every Transfer-Encoding field, in order.
#[derive(Default)]
struct TransferCodings {
    present: bool,
    codings: usize,
    chunked: usize,
    last_is_chunked: bool,
}

impl TransferCodings {
    fn add(&mut self, value: &[u8]) {
        self.present = true;
        for coding in list_elements(value) {
            let is_chunked = coding.eq_ignore_ascii_case(b"chunked");
            self.codings += 1;
            self.chunked += usize::from(is_chunked);
            self.last_is_chunked = is_chunked;
        }
    }

    /// `chunked` must be the final coding and appear once (RFC 9112 §6.1);
    /// any coding before it is one this core does not implement.
    fn check(&self) -> Result<(), ParseError> {
        if self.codings == 0 || self.chunked > 1 || !self.last_is_chunked {
            Err(ParseError::InvalidTransferEncoding)
        } else if self.codings > 1 {
            Err(ParseError::UnsupportedTransferCoding)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(
        version: Version,
        fields: &[(&'static str, &'static str)],
    ) -> Result<FramingInfo, ParseError> {
        let mut h = Headers::new();
        for &(n, v) in fields {
            h.append(n, v);
        }
        analyze(&h, version)
    }

    fn body(fields: &[(&'static str, &'static str)]) -> Result<BodyKind, ParseError> {
        info(Version::Http11, fields).map(|i| i.body)
    }

    #[test]
    fn content_length_rules() {
        assert_eq!(body(&[]), Ok(BodyKind::Empty));
        assert_eq!(body(&[("Content-Length", "0")]), Ok(BodyKind::Length(0)));
        assert_eq!(
            body(&[("content-length", "0042")]),
            Ok(BodyKind::Length(42))
        );
        assert_eq!(
            body(&[("Content-Length", "5"), ("Content-Length", "5")]),
            Ok(BodyKind::Length(5))
        );
        assert_eq!(
            body(&[("Content-Length", "5, 5,5")]),
            Ok(BodyKind::Length(5))
        );
        assert_eq!(
            body(&[("Content-Length", "18446744073709551615")]),
            Ok(BodyKind::Length(u64::MAX))
        );
        for bad in [
            "",
            "abc",
            "+5",
            "-1",
            "5a",
            "0x5",
            "18446744073709551616",
            "5 5",
            ",",
            "5,",
        ] {
            assert_eq!(
                body(&[("Content-Length", bad)]),
                Err(ParseError::InvalidContentLength),
                "{bad:?}"
            );
        }
        assert_eq!(
            body(&[("Content-Length", "5"), ("Content-Length", "6")]),
            Err(ParseError::ConflictingContentLength)
        );
        assert_eq!(
            body(&[("Content-Length", "5, 6")]),
            Err(ParseError::ConflictingContentLength)
        );
    }

    #[test]
    fn transfer_encoding_rules() {
        assert_eq!(
            body(&[("Transfer-Encoding", "chunked")]),
            Ok(BodyKind::Chunked)
        );
        assert_eq!(
            body(&[("Transfer-Encoding", "CHUNKED")]),
            Ok(BodyKind::Chunked)
        );
        let e = |v| body(&[("Transfer-Encoding", v)]);
        assert_eq!(e("chunked, gzip"), Err(ParseError::InvalidTransferEncoding));
        assert_eq!(e("gzip"), Err(ParseError::InvalidTransferEncoding));
        assert_eq!(
            e("chunked, chunked"),
            Err(ParseError::InvalidTransferEncoding)
        );
        assert_eq!(e(""), Err(ParseError::InvalidTransferEncoding));
        assert_eq!(e("chunked;x=1"), Err(ParseError::InvalidTransferEncoding));
        assert_eq!(
            e("gzip, chunked"),
            Err(ParseError::UnsupportedTransferCoding)
        );
        assert_eq!(e("gzip, chunked").unwrap_err().status(), 501);
        assert_eq!(
            body(&[
                ("Transfer-Encoding", "chunked"),
                ("Transfer-Encoding", "chunked")
            ]),
            Err(ParseError::InvalidTransferEncoding)
        );
        assert_eq!(
            body(&[
                ("Transfer-Encoding", "gzip"),
                ("Transfer-Encoding", "chunked")
            ]),
            Err(ParseError::UnsupportedTransferCoding)
        );
        assert_eq!(
            body(&[("Content-Length", "5"), ("Transfer-Encoding", "chunked")]),
            Err(ParseError::ContentLengthWithTransferEncoding)
        );
        assert_eq!(
            body(&[("Transfer-Encoding", "chunked"), ("Content-Length", "5")]),
            Err(ParseError::ContentLengthWithTransferEncoding)
        );
        assert_eq!(
            info(Version::Http10, &[("Transfer-Encoding", "chunked")]).map(|i| i.body),
            Err(ParseError::TransferEncodingInHttp10)
        );
    }

    #[test]
    fn keep_alive_rules() {
        let ka = |v, f: &[(&'static str, &'static str)]| info(v, f).unwrap().keep_alive;
        assert!(ka(Version::Http11, &[]));
        assert!(!ka(Version::Http11, &[("Connection", "close")]));
        assert!(!ka(Version::Http11, &[("connection", "Upgrade, CLOSE")]));
        assert!(!ka(
            Version::Http11,
            &[("Connection", "upgrade"), ("Connection", "close")]
        ));
        assert!(ka(Version::Http11, &[("Connection", "closed")]));
        assert!(!ka(Version::Http10, &[]));
        assert!(ka(Version::Http10, &[("Connection", "Keep-Alive")]));
        assert!(ka(Version::Http10, &[("Connection", "foo, keep-alive")]));
        assert!(!ka(Version::Http10, &[("Connection", "keep-alive, close")]));
    }

    #[test]
    fn expect_continue_rules() {
        let ex = |v, f: &[(&'static str, &'static str)]| info(v, f).unwrap().expect_continue;
        assert!(ex(Version::Http11, &[("Expect", "100-continue")]));
        assert!(ex(Version::Http11, &[("expect", "100-Continue")]));
        assert!(!ex(Version::Http11, &[("Expect", "200-ok")]));
        assert!(!ex(Version::Http11, &[]));
        assert!(!ex(Version::Http10, &[("Expect", "100-continue")]));
    }
}
