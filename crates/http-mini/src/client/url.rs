//! [`Url`]: the minimal `http://` URL the client needs.
//!
//! Only what an HTTP/1.1 client without TLS uses: the `http` scheme, a host
//! (a name, an IPv4 address, or a bracketed IPv6 address), a port (80 by
//! default) and the path with its query (`/` by default). A fragment is
//! dropped, as browsers do: it is never sent. Nothing is percent-decoded or
//! re-encoded; the path goes on the wire as written.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// A parsed `http://host[:port][/path][?query]` URL.
///
/// ```
/// use eventide_http_mini::client::Url;
///
/// let url = Url::parse("http://Example.com:8080/a/b?x=1#top")?;
/// assert_eq!(url.host(), "example.com"); // host names are case-insensitive
/// assert_eq!(url.port(), 8080);
/// assert_eq!(url.path_and_query(), "/a/b?x=1"); // the fragment is not sent
/// assert_eq!(url.host_header(), "example.com:8080");
///
/// let v6 = Url::parse("http://[::1]/")?;
/// assert_eq!((v6.host(), v6.port()), ("::1", 80));
/// assert_eq!(v6.host_header(), "[::1]");
///
/// assert!(Url::parse("https://example.com/").unwrap_err().to_string().contains("https is not supported"));
/// # Ok::<(), eventide_http_mini::client::UrlError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Url {
    /// Lowercase host name or address, without brackets.
    host: String,
    port: u16,
    /// Path and query, starting with `/`.
    path: String,
    /// Whether `host` is an IPv6 address (bracketed in the authority).
    ipv6: bool,
}

/// Why a string is not an `http://` URL this client can use.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// No `scheme://` prefix.
    MissingScheme,
    /// The scheme is `https`: this client has no TLS.
    HttpsNotSupported,
    /// A scheme other than `http` or `https`.
    UnsupportedScheme(String),
    /// `user:password@` in the authority.
    UserInfo,
    /// No host after `http://`.
    EmptyHost,
    /// A host with characters that are not allowed in a host name, or a
    /// bracketed address that is not IPv6.
    InvalidHost,
    /// A port that is not a number in `1..=65535`.
    InvalidPort,
    /// A path or query with spaces or control characters.
    InvalidPath,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MissingScheme => {
                f.write_str("missing scheme: write the URL as http://host[:port]/path")
            }
            Self::HttpsNotSupported => f.write_str(
                "https is not supported: this client speaks plain HTTP only; use an http:// URL \
                 or a TLS-terminating proxy",
            ),
            Self::UnsupportedScheme(s) => {
                write!(f, "unsupported scheme {s:?}: only http:// URLs are supported")
            }
            Self::UserInfo => f.write_str(
                "credentials in the URL are not supported: remove user:password@ and send an \
                 Authorization header instead",
            ),
            Self::EmptyHost => f.write_str("missing host: write the URL as http://host[:port]/path"),
            Self::InvalidHost => f.write_str(
                "invalid host: use a host name (letters, digits, '-', '.'), an IPv4 address, or \
                 an IPv6 address in brackets such as [::1]",
            ),
            Self::InvalidPort => f.write_str("invalid port: it must be a number from 1 to 65535"),
            Self::InvalidPath => f.write_str(
                "invalid path: spaces and control characters must be percent-encoded (a space is %20)",
            ),
        }
    }
}

impl std::error::Error for UrlError {}

impl Url {
    /// Parses an `http://` URL. Leading and trailing ASCII whitespace is
    /// ignored; the scheme and host are case-insensitive.
    ///
    /// # Errors
    ///
    /// [`UrlError::HttpsNotSupported`] for `https://`,
    /// [`UrlError::MissingScheme`] / [`UrlError::UnsupportedScheme`] for
    /// anything else that is not `http://`, and the other [`UrlError`]
    /// variants for a bad host, port or path.
    pub fn parse(input: &str) -> Result<Url, UrlError> {
        let input = input.trim_matches(|c: char| c.is_ascii_whitespace());
        let (scheme, rest) = input.split_once("://").ok_or(UrlError::MissingScheme)?;
        if scheme.eq_ignore_ascii_case("https") {
            return Err(UrlError::HttpsNotSupported);
        }
        if !scheme.eq_ignore_ascii_case("http") {
            if scheme.is_empty() {
                return Err(UrlError::MissingScheme);
            }
            return Err(UrlError::UnsupportedScheme(scheme.to_ascii_lowercase()));
        }
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.contains('@') {
            return Err(UrlError::UserInfo);
        }
        let (host, port, ipv6) = parse_authority(authority)?;
        let path = parse_path(tail)?;
        Ok(Url {
            host,
            port,
            path,
            ipv6,
        })
    }

    /// The host name or address, lowercase, without brackets (`::1`, not
    /// `[::1]`): what to resolve and connect to.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port (80 unless the URL names one).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the host is an IPv6 address.
    pub fn is_ipv6(&self) -> bool {
        self.ipv6
    }

    /// The request target: the path and query, always starting with `/`.
    pub fn path_and_query(&self) -> &str {
        &self.path
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.path.split_once('?').map_or(&self.path, |(p, _)| p)
    }

    /// The query, without the `?`.
    pub fn query(&self) -> Option<&str> {
        self.path.split_once('?').map(|(_, q)| q)
    }

    /// `host:port`, with an IPv6 host in brackets.
    pub fn authority(&self) -> String {
        format!("{}:{}", self.bracketed_host(), self.port)
    }

    /// The value of the `Host` header: the host, bracketed if IPv6, with
    /// `:port` unless the port is 80.
    pub fn host_header(&self) -> String {
        if self.port == 80 {
            self.bracketed_host()
        } else {
            self.authority()
        }
    }

    fn bracketed_host(&self) -> String {
        if self.ipv6 {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        }
    }
}

/// Splits `host[:port]` or `[v6][:port]`.
fn parse_authority(authority: &str) -> Result<(String, u16, bool), UrlError> {
    if authority.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    if let Some(rest) = authority.strip_prefix('[') {
        let (addr, after) = rest.split_once(']').ok_or(UrlError::InvalidHost)?;
        // Zone ids (`%eth0`) and IPvFuture are not supported.
        let v6: Ipv6Addr = addr.parse().map_err(|_| UrlError::InvalidHost)?;
        let port = match after {
            "" => 80,
            p => parse_port(p.strip_prefix(':').ok_or(UrlError::InvalidHost)?)?,
        };
        return Ok((v6.to_string(), port, true));
    }
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) => (h, parse_port(p)?),
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err(UrlError::EmptyHost);
    }
    let valid = host
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    if !valid {
        return Err(UrlError::InvalidHost);
    }
    Ok((host.to_ascii_lowercase(), port, false))
}

/// An empty port (`http://h:/`) means the default, as WHATWG URLs have it.
fn parse_port(p: &str) -> Result<u16, UrlError> {
    if p.is_empty() {
        return Ok(80);
    }
    if !p.bytes().all(|b| b.is_ascii_digit()) {
        return Err(UrlError::InvalidPort);
    }
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(UrlError::InvalidPort),
        Ok(n) => Ok(n),
    }
}

/// The path and query, fragment dropped, `/` by default.
fn parse_path(tail: &str) -> Result<String, UrlError> {
    let tail = tail.split_once('#').map_or(tail, |(t, _)| t);
    if tail.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return Err(UrlError::InvalidPath);
    }
    Ok(if tail.starts_with('/') {
        tail.to_string()
    } else {
        // Empty, or a query right after the authority: `http://h?x`.
        format!("/{tail}")
    })
}

impl FromStr for Url {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Url, UrlError> {
        Url::parse(s)
    }
}

impl fmt::Display for Url {
    /// The URL in normal form: `http://`, the `Host` value, the target.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.host_header(), self.path)
    }
}

/// Anything [`get`](super::get) accepts as a URL: a [`Url`] or a string to
/// parse.
pub trait IntoUrl {
    /// Converts into a [`Url`].
    ///
    /// # Errors
    ///
    /// The [`UrlError`] of [`Url::parse`] for a string.
    fn into_url(self) -> Result<Url, UrlError>;
}

impl IntoUrl for Url {
    fn into_url(self) -> Result<Url, UrlError> {
        Ok(self)
    }
}

impl IntoUrl for &Url {
    fn into_url(self) -> Result<Url, UrlError> {
        Ok(self.clone())
    }
}

impl IntoUrl for &str {
    fn into_url(self) -> Result<Url, UrlError> {
        Url::parse(self)
    }
}

impl IntoUrl for String {
    fn into_url(self) -> Result<Url, UrlError> {
        Url::parse(&self)
    }
}

impl IntoUrl for &String {
    fn into_url(self) -> Result<Url, UrlError> {
        Url::parse(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Url {
        Url::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn defaults() {
        let u = ok("http://example.com");
        assert_eq!(
            (u.host(), u.port(), u.path_and_query()),
            ("example.com", 80, "/")
        );
        assert_eq!(u.host_header(), "example.com");
        assert_eq!(u.authority(), "example.com:80");
        assert_eq!(u.to_string(), "http://example.com/");
        assert!(!u.is_ipv6());
    }

    #[test]
    fn port_path_query_fragment() {
        let u = ok("http://127.0.0.1:8080/a/b?x=1&y=2#frag");
        assert_eq!(u.host(), "127.0.0.1");
        assert_eq!(u.port(), 8080);
        assert_eq!(u.path_and_query(), "/a/b?x=1&y=2");
        assert_eq!(u.path(), "/a/b");
        assert_eq!(u.query(), Some("x=1&y=2"));
        assert_eq!(u.host_header(), "127.0.0.1:8080");
        assert_eq!(u.to_string(), "http://127.0.0.1:8080/a/b?x=1&y=2");
        assert_eq!(ok("http://h?q=1").path_and_query(), "/?q=1");
        assert_eq!(ok("http://h#f").path_and_query(), "/");
        assert_eq!(ok("http://h:/x").port(), 80);
        assert_eq!(ok("http://h:80/").host_header(), "h");
        assert_eq!(ok("http://h:65535/").port(), 65535);
    }

    #[test]
    fn case_and_whitespace() {
        let u = ok("  HTTP://LocalHost:81/Path  ");
        assert_eq!(u.host(), "localhost");
        assert_eq!(u.path(), "/Path"); // paths are case-sensitive
    }

    #[test]
    fn ipv6() {
        let u = ok("http://[::1]:8080/x");
        assert_eq!((u.host(), u.port()), ("::1", 8080));
        assert!(u.is_ipv6());
        assert_eq!(u.host_header(), "[::1]:8080");
        assert_eq!(u.to_string(), "http://[::1]:8080/x");
        assert_eq!(ok("http://[0:0:0:0:0:0:0:1]").host(), "::1");
        assert_eq!(ok("http://[::1]").host_header(), "[::1]");
        assert_eq!(Url::parse("http://[::1"), Err(UrlError::InvalidHost));
        assert_eq!(Url::parse("http://[zz]/"), Err(UrlError::InvalidHost));
        assert_eq!(Url::parse("http://[::1]x/"), Err(UrlError::InvalidHost));
        assert_eq!(Url::parse("http://::1/"), Err(UrlError::InvalidHost));
    }

    #[test]
    fn errors() {
        assert_eq!(
            Url::parse("https://example.com/"),
            Err(UrlError::HttpsNotSupported)
        );
        assert!(
            UrlError::HttpsNotSupported
                .to_string()
                .contains("https is not supported")
        );
        assert_eq!(
            Url::parse("ftp://example.com/"),
            Err(UrlError::UnsupportedScheme("ftp".into()))
        );
        assert_eq!(Url::parse("example.com/"), Err(UrlError::MissingScheme));
        assert_eq!(Url::parse("://example.com/"), Err(UrlError::MissingScheme));
        assert_eq!(Url::parse("http://"), Err(UrlError::EmptyHost));
        assert_eq!(Url::parse("http:///path"), Err(UrlError::EmptyHost));
        assert_eq!(Url::parse("http://:80/"), Err(UrlError::EmptyHost));
        assert_eq!(Url::parse("http://u:p@h/"), Err(UrlError::UserInfo));
        assert_eq!(Url::parse("http://h:0/"), Err(UrlError::InvalidPort));
        assert_eq!(Url::parse("http://h:65536/"), Err(UrlError::InvalidPort));
        assert_eq!(Url::parse("http://h:-1/"), Err(UrlError::InvalidPort));
        assert_eq!(Url::parse("http://h:8x/"), Err(UrlError::InvalidPort));
        assert_eq!(Url::parse("http://h o/"), Err(UrlError::InvalidHost));
        assert_eq!(Url::parse("http://h%41/"), Err(UrlError::InvalidHost));
        assert_eq!(Url::parse("http://h/a b"), Err(UrlError::InvalidPath));
        assert_eq!(Url::parse("http://h/a\r\nX: y"), Err(UrlError::InvalidPath));
        assert_eq!(Url::parse("http://h/\x7f"), Err(UrlError::InvalidPath));
    }

    #[test]
    fn into_url_and_from_str() {
        let u: Url = "http://h/x".parse().unwrap();
        assert_eq!(u.clone().into_url(), Ok(u.clone()));
        assert_eq!((&u).into_url(), Ok(u.clone()));
        assert_eq!(String::from("http://h/x").into_url(), Ok(u.clone()));
        assert_eq!((&String::from("http://h/x")).into_url(), Ok(u));
    }
}
