//! [`Version`]: the two HTTP/1.x versions.

use std::fmt;

/// An HTTP/1.x version. Any other version is rejected by the parsers with
/// [`ParseError::Version`](super::ParseError::Version) (505).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Version {
    /// `HTTP/1.0`: no persistent connections unless `Connection: keep-alive`,
    /// no chunked transfer coding.
    Http10,
    /// `HTTP/1.1`.
    Http11,
}

impl Version {
    /// The version as it appears on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Http10 => "HTTP/1.0",
            Self::Http11 => "HTTP/1.1",
        }
    }

    /// From httparse's minor version number.
    pub(crate) const fn from_minor(minor: u8) -> Self {
        if minor == 0 {
            Self::Http10
        } else {
            Self::Http11
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
