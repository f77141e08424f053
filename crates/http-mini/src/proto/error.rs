//! The two error types of the protocol core: [`ParseError`] for bytes that
//! came from the network, [`EncodeError`] for values that came from code.

use std::fmt;

/// Why a message received from the peer was rejected.
///
/// Every variant is fatal for the connection: after a parser returns one, it
/// returns the same error from every later call, so nothing that follows a
/// framing error can be mistaken for a message. [`ParseError::status`] is the
/// status code a server should answer with before closing.
///
/// On the client side ([`ResponseParser`](super::ResponseParser)) the same
/// variants describe a malformed response; the status code then only says
/// which class of problem it was (a client usually reports 502 upstream).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseError {
    /// A byte that is not allowed in a header field name, or whitespace
    /// before the colon, or an obsolete folded line.
    HeaderName,
    /// A byte that is not allowed in a header field value.
    HeaderValue,
    /// A line ending that is neither CRLF nor LF in the head.
    NewLine,
    /// An invalid method or request target in the request line.
    RequestLine,
    /// An invalid response status line.
    StatusLine,
    /// An HTTP version other than HTTP/1.0 or HTTP/1.1.
    Version,
    /// More header (or trailer) fields than [`Limits::max_headers`](super::Limits::max_headers).
    TooManyHeaders,
    /// A head (or trailer section) longer than [`Limits::max_header_bytes`](super::Limits::max_header_bytes).
    HeadTooLarge,
    /// A request target longer than [`Limits::max_target_len`](super::Limits::max_target_len).
    TargetTooLong,
    /// More empty lines before a message than [`MAX_LEADING_EMPTY_LINES`](super::MAX_LEADING_EMPTY_LINES).
    TooManyEmptyLines,
    /// A body longer than [`Limits::max_body_bytes`](super::Limits::max_body_bytes).
    BodyTooLarge,
    /// A Content-Length that is empty, not a decimal number, signed or too big.
    InvalidContentLength,
    /// Several Content-Length values that differ.
    ConflictingContentLength,
    /// Both Content-Length and Transfer-Encoding in one message.
    ContentLengthWithTransferEncoding,
    /// A Transfer-Encoding that does not end in `chunked`, names `chunked`
    /// twice, or is empty.
    InvalidTransferEncoding,
    /// A Transfer-Encoding in an HTTP/1.0 message.
    TransferEncodingInHttp10,
    /// A transfer coding other than `chunked` (for example `gzip, chunked`).
    UnsupportedTransferCoding,
    /// A chunk size that is empty, not hexadecimal, or followed by junk.
    InvalidChunkSize,
    /// A chunk size with more than 16 significant hex digits, or a body total
    /// that would overflow `u64`.
    ChunkSizeOverflow,
    /// A chunk extension that does not follow `;name[=token|quoted-string]`.
    InvalidChunkExtension,
    /// A chunk-size line longer than [`MAX_CHUNK_LINE`](super::MAX_CHUNK_LINE) bytes.
    ChunkLineTooLong,
    /// Chunk data not followed by CRLF.
    MissingChunkCrlf,
    /// A line of the chunked framing ending in a bare LF or a bare CR.
    ChunkedLineEnding,
    /// The connection ended in the middle of a message.
    UnexpectedEof,
    /// Response bytes arrived although no request was outstanding.
    UnsolicitedResponse,
}

impl ParseError {
    /// The status code a server should send for this error before closing
    /// the connection.
    ///
    /// ```
    /// use eventide_http_mini::proto::ParseError;
    /// assert_eq!(ParseError::HeadTooLarge.status(), 431);
    /// assert_eq!(ParseError::UnsupportedTransferCoding.status(), 501);
    /// ```
    pub const fn status(self) -> u16 {
        match self {
            Self::Version => 505,
            Self::TooManyHeaders | Self::HeadTooLarge => 431,
            Self::TargetTooLong => 414,
            Self::BodyTooLarge => 413,
            Self::UnsupportedTransferCoding => 501,
            _ => 400,
        }
    }

    const fn message(self) -> &'static str {
        match self {
            Self::HeaderName => {
                "invalid header field name (bad character, whitespace before ':' or obsolete line folding)"
            }
            Self::HeaderValue => "invalid byte in a header field value",
            Self::NewLine => "invalid line ending in the message head",
            Self::RequestLine => "invalid method or request target in the request line",
            Self::StatusLine => "invalid response status line",
            Self::Version => "unsupported HTTP version (only HTTP/1.0 and HTTP/1.1 are supported)",
            Self::TooManyHeaders => "too many header fields",
            Self::HeadTooLarge => "header section too large",
            Self::TargetTooLong => "request target too long",
            Self::TooManyEmptyLines => "too many empty lines before the message",
            Self::BodyTooLarge => "message body too large",
            Self::InvalidContentLength => "invalid Content-Length (must be a decimal number)",
            Self::ConflictingContentLength => "several different Content-Length values",
            Self::ContentLengthWithTransferEncoding => {
                "both Content-Length and Transfer-Encoding present"
            }
            Self::InvalidTransferEncoding => {
                "invalid Transfer-Encoding (chunked must be the last coding, once)"
            }
            Self::TransferEncodingInHttp10 => "Transfer-Encoding is not allowed in HTTP/1.0",
            Self::UnsupportedTransferCoding => {
                "unsupported transfer coding (only chunked is implemented)"
            }
            Self::InvalidChunkSize => "invalid chunk size",
            Self::ChunkSizeOverflow => "chunk size too large",
            Self::InvalidChunkExtension => "invalid chunk extension",
            Self::ChunkLineTooLong => "chunk size line too long",
            Self::MissingChunkCrlf => "chunk data not followed by CRLF",
            Self::ChunkedLineEnding => "chunked framing line not terminated by CRLF",
            Self::UnexpectedEof => "connection closed in the middle of a message",
            Self::UnsolicitedResponse => "response received while no request was outstanding",
        }
    }

    pub(crate) const fn from_httparse(e: httparse::Error, response: bool) -> Self {
        match e {
            httparse::Error::HeaderName => Self::HeaderName,
            httparse::Error::HeaderValue => Self::HeaderValue,
            httparse::Error::NewLine => Self::NewLine,
            httparse::Error::Status => Self::StatusLine,
            httparse::Error::Token if response => Self::StatusLine,
            httparse::Error::Token => Self::RequestLine,
            httparse::Error::TooManyHeaders => Self::TooManyHeaders,
            httparse::Error::Version => Self::Version,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message(), self.status())
    }
}

impl std::error::Error for ParseError {}

/// Why a value from code cannot be put on the wire.
///
/// Returned by [`Headers::try_append`](super::Headers::try_append),
/// [`Method::from_bytes`](super::Method::from_bytes) and the functions of
/// [`encode`](super::encode), which refuse anything that could inject a line
/// or a header field.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// A header name that is empty or not a token.
    InvalidHeaderName,
    /// A header value containing CR, LF, NUL or another control byte.
    InvalidHeaderValue,
    /// A method that is empty or not a token.
    InvalidMethod,
    /// A request target that is empty or contains whitespace or controls.
    InvalidTarget,
    /// A status code outside `100..=999`.
    InvalidStatus,
    /// A reason phrase containing CR, LF or another control byte.
    InvalidReason,
    /// A Content-Length or Transfer-Encoding field in the headers: the body
    /// framing is passed as a [`Framing`](super::Framing) argument instead.
    FramingHeader,
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidHeaderName => "invalid header name (must be a non-empty token)",
            Self::InvalidHeaderValue => "invalid header value (CR, LF, NUL and controls are not allowed)",
            Self::InvalidMethod => "invalid method (must be a non-empty token)",
            Self::InvalidTarget => "invalid request target (must be non-empty visible ASCII or UTF-8)",
            Self::InvalidStatus => "invalid status code (must be 100..=999)",
            Self::InvalidReason => "invalid reason phrase (CR, LF and controls are not allowed)",
            Self::FramingHeader => {
                "Content-Length / Transfer-Encoding in headers: pass the body framing as a Framing instead"
            }
        })
    }
}

impl std::error::Error for EncodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_problem_and_status() {
        let s = ParseError::TargetTooLong.to_string();
        assert!(s.contains("target") && s.contains("414"), "{s}");
        assert_eq!(ParseError::Version.status(), 505);
        assert_eq!(ParseError::InvalidChunkSize.status(), 400);
        assert!(EncodeError::FramingHeader.to_string().contains("Framing"));
    }

    #[test]
    fn httparse_mapping() {
        assert_eq!(
            ParseError::from_httparse(httparse::Error::Token, false),
            ParseError::RequestLine
        );
        assert_eq!(
            ParseError::from_httparse(httparse::Error::Token, true),
            ParseError::StatusLine
        );
        assert_eq!(
            ParseError::from_httparse(httparse::Error::TooManyHeaders, false).status(),
            431
        );
    }
}
