//! [`ClientError`]: why a request got no response.

use std::fmt;
use std::io;

use eventide_streams::StreamError;

use super::url::UrlError;
use crate::proto::{EncodeError, ParseError};

/// Which deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimeoutKind {
    /// The TCP connection was not established within
    /// [`RequestOptions::connect_timeout`](super::RequestOptions::connect_timeout).
    Connect,
    /// No response head arrived within
    /// [`RequestOptions::response_timeout`](super::RequestOptions::response_timeout)
    /// after the request was sent.
    Response,
}

/// Why a request failed.
///
/// A request reports at most one error, to its `on_response` callback,
/// and only if no response was delivered yet; an error after the response
/// head destroys the response body stream with the matching
/// [`StreamError`] instead (see [`From<ClientError> for StreamError`](#impl-From%3CClientError%3E-for-StreamError)).
/// An error of one request never affects another request or connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientError {
    /// The URL given to [`get`](super::get) could not be parsed.
    InvalidUrl(UrlError),
    /// The method, target or a header cannot be put on the wire (a CR or
    /// LF in a value, a `Content-Length` or `Transfer-Encoding` header).
    Encode(EncodeError),
    /// The connection could not be established; the kind says why
    /// (`ConnectionRefused`, `NotFound` for an unknown host name, ...).
    Connect(io::ErrorKind),
    /// A deadline passed; the connection was closed.
    Timeout {
        /// Which deadline.
        what: TimeoutKind,
    },
    /// The server sent something that is not a valid HTTP/1.1 response.
    Parse(ParseError),
    /// The server closed the connection before any byte of the response.
    ConnectionClosed,
    /// The connection failed after it was established, before the
    /// response head (`ConnectionReset`, `BrokenPipe`, ...).
    Io(io::ErrorKind),
    /// [`ClientRequest::abort`](super::ClientRequest::abort) was called.
    Aborted,
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidUrl(e) => write!(f, "invalid URL: {e}"),
            Self::Encode(EncodeError::FramingHeader) => f.write_str(
                "cannot send the request: do not set Content-Length or Transfer-Encoding; the \
                 client frames the body itself (end(Some(body)) sends Content-Length, write() \
                 before end() sends chunked)",
            ),
            Self::Encode(e) => write!(f, "cannot send the request: {e}"),
            Self::Connect(io::ErrorKind::ConnectionRefused) => f.write_str(
                "connection refused: no server listens on that host and port; check the URL \
                 and that the server is running",
            ),
            Self::Connect(io::ErrorKind::NotFound) => {
                f.write_str("host name not found: check the host in the URL")
            }
            Self::Connect(kind) => write!(
                f,
                "could not connect ({kind}): check the host, the port and the network"
            ),
            Self::Timeout {
                what: TimeoutKind::Connect,
            } => f.write_str(
                "connect timed out: the server did not accept the connection in time; check the \
                 host and port, or raise connect_timeout",
            ),
            Self::Timeout {
                what: TimeoutKind::Response,
            } => f.write_str(
                "response timed out: no response head arrived within response_timeout after \
                 the request was sent; raise response_timeout or check the server",
            ),
            Self::Parse(e) => write!(
                f,
                "invalid response from the server: {e}; the server does not speak valid HTTP/1.1"
            ),
            Self::ConnectionClosed => f.write_str(
                "the server closed the connection before sending a response; retry the request \
                 if it is safe to repeat",
            ),
            Self::Io(kind) => write!(
                f,
                "the connection failed before the response ({kind}); retry the request if it \
                 is safe to repeat"
            ),
            Self::Aborted => f.write_str("the request was aborted with abort() or destroy()"),
        }
    }
}

impl std::error::Error for ClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidUrl(e) => Some(e),
            Self::Encode(e) => Some(e),
            Self::Parse(e) => Some(e),
            _ => None,
        }
    }
}

impl ClientError {
    /// The nearest `io::ErrorKind`, for matching.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Self::InvalidUrl(_) | Self::Encode(_) => io::ErrorKind::InvalidInput,
            Self::Connect(k) | Self::Io(k) => *k,
            Self::Timeout { .. } => io::ErrorKind::TimedOut,
            Self::Parse(_) => io::ErrorKind::InvalidData,
            Self::ConnectionClosed => io::ErrorKind::UnexpectedEof,
            Self::Aborted => io::ErrorKind::Interrupted,
        }
    }
}

impl From<UrlError> for ClientError {
    fn from(e: UrlError) -> Self {
        Self::InvalidUrl(e)
    }
}

impl From<EncodeError> for ClientError {
    fn from(e: EncodeError) -> Self {
        Self::Encode(e)
    }
}

impl From<ParseError> for ClientError {
    fn from(e: ParseError) -> Self {
        Self::Parse(e)
    }
}

/// How a client error reaches a stream: the response body (an error after
/// the head) or the request body.
impl From<ClientError> for StreamError {
    fn from(e: ClientError) -> Self {
        match e {
            ClientError::Timeout {
                what: TimeoutKind::Connect,
            } => StreamError::TimedOut("connect"),
            ClientError::Timeout {
                what: TimeoutKind::Response,
            } => StreamError::TimedOut("response"),
            ClientError::Parse(ParseError::UnexpectedEof) | ClientError::ConnectionClosed => {
                StreamError::PrematureClose
            }
            other => StreamError::other(other.to_string()),
        }
    }
}

/// Maps a socket error to the client error: before the connection was
/// established it is a connect failure.
pub(crate) fn from_socket_error(err: &StreamError, connected: bool) -> ClientError {
    match err {
        StreamError::TimedOut(_) if !connected => ClientError::Timeout {
            what: TimeoutKind::Connect,
        },
        e if !connected => ClientError::Connect(e.kind()),
        e => ClientError::Io(e.kind()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let refused = ClientError::Connect(io::ErrorKind::ConnectionRefused).to_string();
        assert!(refused.contains("server is running"), "{refused}");
        let t = ClientError::Timeout {
            what: TimeoutKind::Response,
        };
        assert!(t.to_string().contains("raise response_timeout"));
        assert_eq!(t.kind(), io::ErrorKind::TimedOut);
        let framing = ClientError::Encode(EncodeError::FramingHeader).to_string();
        assert!(framing.contains("end(Some(body))"), "{framing}");
        assert!(
            ClientError::from(UrlError::HttpsNotSupported)
                .to_string()
                .contains("https is not supported")
        );
    }

    #[test]
    fn socket_errors_map_by_phase() {
        let refused = StreamError::from(io::Error::from(io::ErrorKind::ConnectionRefused));
        assert_eq!(
            from_socket_error(&refused, false),
            ClientError::Connect(io::ErrorKind::ConnectionRefused)
        );
        assert_eq!(
            from_socket_error(&StreamError::TimedOut("connect"), false),
            ClientError::Timeout {
                what: TimeoutKind::Connect
            }
        );
        let reset = StreamError::from(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(
            from_socket_error(&reset, true),
            ClientError::Io(io::ErrorKind::ConnectionReset)
        );
        assert_eq!(
            StreamError::from(ClientError::ConnectionClosed),
            StreamError::PrematureClose
        );
    }
}
