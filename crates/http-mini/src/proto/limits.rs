//! Bounds on everything a parser buffers or accepts.

/// How many empty lines (CRLF or LF) may precede a message.
///
/// RFC 9112 §2.2 asks servers to ignore at least one empty line before a
/// request line (some clients send an extra CRLF after a POST body). A few
/// are accepted; an endless stream of them is an error rather than a way to
/// keep a connection busy.
pub const MAX_LEADING_EMPTY_LINES: usize = 8;

/// The longest chunk-size line (hex size plus extensions, without CRLF), in
/// bytes.
///
/// Chunk extensions are parsed and ignored; this bound keeps a peer from
/// making the decoder walk an endless extension. 4 KiB is far above anything
/// a real client sends.
pub const MAX_CHUNK_LINE: usize = 4096;

/// Limits a parser enforces; the defaults follow Node.js.
///
/// ```
/// use eventide_http_mini::proto::{Limits, RequestParser};
/// let mut limits = Limits::default();
/// limits.max_body_bytes = Some(1 << 20);
/// let parser = RequestParser::with_limits(limits);
/// # let _ = parser;
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest head, in bytes: request or status line, header fields and
    /// the empty line that ends them (16 KiB, Node's default). Leading empty
    /// lines do not count. A trailer section is bounded by the same value on
    /// its own. Exceeding it gives [`ParseError::HeadTooLarge`](super::ParseError::HeadTooLarge)
    /// (431) as soon as that many bytes are buffered without a complete head.
    pub max_header_bytes: usize,
    /// The most header fields in one head, or trailer fields in one trailer
    /// section (100). Exceeding it gives
    /// [`ParseError::TooManyHeaders`](super::ParseError::TooManyHeaders) (431).
    pub max_headers: usize,
    /// The longest request target, in bytes (8 KiB). Exceeding it gives
    /// [`ParseError::TargetTooLong`](super::ParseError::TargetTooLong) (414),
    /// even before the request line is complete.
    pub max_target_len: usize,
    /// The largest decoded body, in bytes (`None`: unlimited). Exceeding it
    /// gives [`ParseError::BodyTooLarge`](super::ParseError::BodyTooLarge)
    /// (413): from Content-Length before any body byte is read, or from the
    /// chunk size that takes the running total over the limit.
    pub max_body_bytes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_target_len: 8 * 1024,
            max_body_bytes: None,
        }
    }
}

impl Limits {
    /// Whether a body of `len` bytes is over [`Limits::max_body_bytes`].
    pub(crate) fn body_exceeds(&self, len: u64) -> bool {
        self.max_body_bytes.is_some_and(|max| len > max)
    }
}
