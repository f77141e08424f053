//! Parsed message heads, body framing and parser events.

use std::fmt;

use bytes::Bytes;

use super::{Headers, Method, Version};

/// How the body of a parsed message is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BodyKind {
    /// No body: a request without Content-Length or Transfer-Encoding, or a
    /// response that cannot have one (to HEAD, 1xx, 204, 304, 2xx to
    /// CONNECT).
    Empty,
    /// Exactly this many bytes (`Content-Length`, possibly 0).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the server closes the connection (responses only,
    /// when neither Content-Length nor Transfer-Encoding is present).
    UntilClose,
}

/// A request target (`/path?query`, `*`, `host:port` or an absolute URI),
/// a zero-copy slice of the received head.
///
/// The parser only accepts targets made of visible ASCII and valid UTF-8, so
/// [`RequestTarget::as_str`] never loses anything.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct RequestTarget(Bytes);

impl RequestTarget {
    pub(crate) fn from_parsed(bytes: Bytes) -> Self {
        Self(bytes)
    }

    /// The target as text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }

    /// The raw bytes of the target.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The part before `?` (the whole target if there is no query).
    pub fn path(&self) -> &str {
        let s = self.as_str();
        s.split_once('?').map_or(s, |(p, _)| p)
    }

    /// The part after the first `?`, if any.
    pub fn query(&self) -> Option<&str> {
        self.as_str().split_once('?').map(|(_, q)| q)
    }
}

impl fmt::Debug for RequestTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for RequestTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A parsed request head and the framing facts derived from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// The method.
    pub method: Method,
    /// The request target.
    pub target: RequestTarget,
    /// The protocol version.
    pub version: Version,
    /// The header fields, zero-copy slices of the head buffer.
    pub headers: Headers,
    /// How the body is delimited: [`BodyKind::Empty`], [`BodyKind::Length`]
    /// or [`BodyKind::Chunked`] (never `UntilClose` for a request).
    pub body: BodyKind,
    /// Whether the client wants the connection kept open after this
    /// exchange: HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
    /// `Connection: keep-alive`.
    pub keep_alive: bool,
    /// Whether an HTTP/1.1 client sent `Expect: 100-continue` and waits for
    /// an interim `100 Continue` before sending the body.
    pub expect_continue: bool,
}

/// A parsed response head and the framing facts derived from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// The protocol version.
    pub version: Version,
    /// The status code, `100..=999`.
    pub status: u16,
    /// The reason phrase (may be empty; empty too if it was not ASCII).
    pub reason: Bytes,
    /// The header fields, zero-copy slices of the head buffer.
    pub headers: Headers,
    /// How the body is delimited, given the request it answers.
    pub body: BodyKind,
    /// Whether the connection may carry another exchange after this one:
    /// HTTP/1.1 unless `Connection: close`, HTTP/1.0 only with
    /// `Connection: keep-alive`, and never for [`BodyKind::UntilClose`].
    pub keep_alive: bool,
}

impl ResponseHead {
    /// Whether this is an interim response (1xx other than 101): the final
    /// response to the same request follows, and no `Data` or `End` event
    /// belongs to this head.
    pub fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }

    /// The reason phrase as text.
    pub fn reason_str(&self) -> &str {
        std::str::from_utf8(&self.reason).unwrap_or("")
    }
}

/// What a parser produced from the bytes it was given.
///
/// Per message: one `Head`, any number of `Data`, one `End`. (An interim 1xx
/// response is a lone `Head`.) How the body is cut into `Data` events depends
/// on how the bytes arrived; everything else does not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event<H> {
    /// The head of a new message.
    Head(H),
    /// Body bytes, with any chunked framing removed; never empty.
    Data(Bytes),
    /// The end of the message, with its trailer fields (empty unless the
    /// body was chunked and had trailers).
    End {
        /// The trailer fields.
        trailers: Headers,
    },
}

/// An event of a [`RequestParser`](super::RequestParser).
pub type RequestEvent = Event<RequestHead>;

/// An event of a [`ResponseParser`](super::ResponseParser).
pub type ResponseEvent = Event<ResponseHead>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_path_and_query() {
        let t = RequestTarget::from_parsed(Bytes::from_static(b"/a/b?x=1&y=2"));
        assert_eq!(t.path(), "/a/b");
        assert_eq!(t.query(), Some("x=1&y=2"));
        let t = RequestTarget::from_parsed(Bytes::from_static(b"*"));
        assert_eq!((t.path(), t.query()), ("*", None));
        assert_eq!(t.to_string(), "*");
    }
}
