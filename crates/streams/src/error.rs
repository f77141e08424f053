//! The streams' error type.

use std::fmt;
use std::io;
use std::rc::Rc;

use crate::codec::CodecError;

/// Why a stream failed. Cheap to clone: every `error` listener gets a copy.
#[derive(Debug, Clone)]
pub enum StreamError {
    /// `write` after `end` (Node's `ERR_STREAM_WRITE_AFTER_END`).
    WriteAfterEnd,
    /// `push` after end of stream (Node's `ERR_STREAM_PUSH_AFTER_EOF`).
    PushAfterEof,
    /// An operation on a destroyed stream (Node's `ERR_STREAM_DESTROYED`).
    Destroyed,
    /// The stream closed before it ended or finished (Node's
    /// `ERR_STREAM_PREMATURE_CLOSE`), reported by `finished` and `pipeline`.
    PrematureClose,
    /// A deadline passed: a connect timeout, an idle timeout.
    TimedOut(&'static str),
    /// The OS reported an error.
    Io(Rc<io::Error>),
    /// A framing codec rejected the bytes.
    Codec(CodecError),
    /// Any other failure, with a message.
    Other(Rc<str>),
}

impl StreamError {
    /// An error with a message.
    pub fn other(message: impl Into<Rc<str>>) -> Self {
        StreamError::Other(message.into())
    }

    /// The nearest `io::ErrorKind`, for matching.
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            StreamError::Io(e) => e.kind(),
            StreamError::TimedOut(_) => io::ErrorKind::TimedOut,
            StreamError::Codec(_) => io::ErrorKind::InvalidData,
            StreamError::WriteAfterEnd | StreamError::Destroyed => io::ErrorKind::BrokenPipe,
            StreamError::PrematureClose => io::ErrorKind::UnexpectedEof,
            StreamError::PushAfterEof | StreamError::Other(_) => io::ErrorKind::Other,
        }
    }

    /// Node's error code name, for messages and tests.
    pub fn code(&self) -> &'static str {
        match self {
            StreamError::WriteAfterEnd => "ERR_STREAM_WRITE_AFTER_END",
            StreamError::PushAfterEof => "ERR_STREAM_PUSH_AFTER_EOF",
            StreamError::Destroyed => "ERR_STREAM_DESTROYED",
            StreamError::PrematureClose => "ERR_STREAM_PREMATURE_CLOSE",
            StreamError::TimedOut(_) => "ETIMEDOUT",
            StreamError::Io(e) => match e.kind() {
                io::ErrorKind::ConnectionReset => "ECONNRESET",
                io::ErrorKind::ConnectionRefused => "ECONNREFUSED",
                io::ErrorKind::BrokenPipe => "EPIPE",
                io::ErrorKind::AddrInUse => "EADDRINUSE",
                io::ErrorKind::NotFound => "ENOENT",
                io::ErrorKind::PermissionDenied => "EACCES",
                _ => "EIO",
            },
            StreamError::Codec(_) => "ERR_FRAMING",
            StreamError::Other(_) => "ERR_STREAM",
        }
    }
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::WriteAfterEnd => {
                f.write_str("write after end: the stream was ended; write before calling end")
            }
            StreamError::PushAfterEof => {
                f.write_str("push after end of stream: the source already pushed its end")
            }
            StreamError::Destroyed => f.write_str("the stream was destroyed; create a new one"),
            StreamError::PrematureClose => {
                f.write_str("premature close: the stream closed before it ended or finished")
            }
            StreamError::TimedOut(what) => write!(f, "{what} timed out"),
            StreamError::Io(e) => write!(f, "{e}"),
            StreamError::Codec(e) => write!(f, "{e}"),
            StreamError::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for StreamError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StreamError::Io(e) => Some(&**e),
            StreamError::Codec(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for StreamError {
    fn from(e: io::Error) -> Self {
        StreamError::Io(Rc::new(e))
    }
}

impl From<CodecError> for StreamError {
    fn from(e: CodecError) -> Self {
        StreamError::Codec(e)
    }
}

impl PartialEq for StreamError {
    /// Errors are equal when their codes and messages are.
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code() && self.to_string() == other.to_string()
    }
}
