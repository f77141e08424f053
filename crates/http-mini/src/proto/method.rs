//! [`Method`]: the request method, a token.

use std::fmt;

use bytes::Bytes;

use super::EncodeError;
use super::chars::is_token;

/// A request method.
///
/// The nine methods of RFC 9110 are constants that need no allocation; any
/// other token is an extension method. Methods are case-sensitive: `get` is
/// an extension method, not [`Method::GET`].
///
/// ```
/// use eventide_http_mini::proto::Method;
/// assert_eq!(Method::from_bytes(b"GET").unwrap(), Method::GET);
/// assert_eq!(Method::from_bytes(b"PURGE").unwrap().as_str(), "PURGE");
/// assert!(Method::from_bytes(b"GE T").is_err());
/// assert!(Method::HEAD.is_head());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Method(Inner);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Inner {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Connect,
    Trace,
    /// A validated token that is none of the above.
    Extension(Bytes),
}

impl Method {
    /// `GET`.
    pub const GET: Self = Self(Inner::Get);
    /// `HEAD`.
    pub const HEAD: Self = Self(Inner::Head);
    /// `POST`.
    pub const POST: Self = Self(Inner::Post);
    /// `PUT`.
    pub const PUT: Self = Self(Inner::Put);
    /// `DELETE`.
    pub const DELETE: Self = Self(Inner::Delete);
    /// `OPTIONS`.
    pub const OPTIONS: Self = Self(Inner::Options);
    /// `PATCH`.
    pub const PATCH: Self = Self(Inner::Patch);
    /// `CONNECT`.
    pub const CONNECT: Self = Self(Inner::Connect);
    /// `TRACE`.
    pub const TRACE: Self = Self(Inner::Trace);

    /// Parses a method, copying it only if it is an extension method.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InvalidMethod`] if `bytes` is empty or not a token.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EncodeError> {
        match standard(bytes) {
            Some(m) => Ok(m),
            None if is_token(bytes) => Ok(Self(Inner::Extension(Bytes::copy_from_slice(bytes)))),
            None => Err(EncodeError::InvalidMethod),
        }
    }

    /// A method the parser already validated (the parser uses
    /// [`Method::from_parsed_in`]).
    #[cfg(test)]
    pub(crate) fn from_parsed(token: Bytes) -> Self {
        Self::from_parsed_in(&token, 0, token.len())
    }

    /// A method the parser already validated, at `start..end` in `head`:
    /// the head is sliced (a reference count taken) only for an extension
    /// method.
    pub(crate) fn from_parsed_in(head: &Bytes, start: usize, end: usize) -> Self {
        standard(&head[start..end])
            .unwrap_or_else(|| Self(Inner::Extension(head.slice(start..end))))
    }

    /// The method as it appears on the wire.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            Inner::Get => "GET",
            Inner::Head => "HEAD",
            Inner::Post => "POST",
            Inner::Put => "PUT",
            Inner::Delete => "DELETE",
            Inner::Options => "OPTIONS",
            Inner::Patch => "PATCH",
            Inner::Connect => "CONNECT",
            Inner::Trace => "TRACE",
            // Extension methods are validated tokens, which are ASCII.
            Inner::Extension(b) => std::str::from_utf8(b).unwrap_or(""),
        }
    }

    /// Whether this is `HEAD`, whose responses never carry a body.
    pub fn is_head(&self) -> bool {
        self.0 == Inner::Head
    }

    /// Whether this is `CONNECT`, whose 2xx responses turn the connection
    /// into a tunnel.
    pub fn is_connect(&self) -> bool {
        self.0 == Inner::Connect
    }
}

fn standard(bytes: &[u8]) -> Option<Method> {
    Some(Method(match bytes {
        b"GET" => Inner::Get,
        b"HEAD" => Inner::Head,
        b"POST" => Inner::Post,
        b"PUT" => Inner::Put,
        b"DELETE" => Inner::Delete,
        b"OPTIONS" => Inner::Options,
        b"PATCH" => Inner::Patch,
        b"CONNECT" => Inner::Connect,
        b"TRACE" => Inner::Trace,
        _ => return None,
    }))
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_methods_round_trip() {
        for m in [
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::OPTIONS,
            Method::PATCH,
            Method::CONNECT,
            Method::TRACE,
        ] {
            assert_eq!(Method::from_bytes(m.as_str().as_bytes()).unwrap(), m);
            assert_eq!(
                Method::from_parsed(Bytes::copy_from_slice(m.as_str().as_bytes())),
                m
            );
        }
    }

    #[test]
    fn extension_and_case() {
        let m = Method::from_bytes(b"get").unwrap();
        assert_ne!(m, Method::GET);
        assert_eq!(m.to_string(), "get");
        assert!(!m.is_head());
        assert!(Method::CONNECT.is_connect());
    }

    #[test]
    fn invalid_methods() {
        for bad in [&b""[..], b"G ET", b"GET\r\n", b"G:T", b"\xc3\xa9"] {
            assert_eq!(
                Method::from_bytes(bad),
                Err(EncodeError::InvalidMethod),
                "{bad:?}"
            );
        }
    }
}
