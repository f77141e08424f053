//! From a request path to file-system segments, and back to URL text.
//!
//! The first line of defence against path traversal: a path is decoded once,
//! split on `/` after decoding (so `%2f` cannot smuggle a separator past the
//! check), and refused if any segment is `..`. The second line is in
//! [`files`](super::files): the resolved path is canonicalized and must stay
//! under the served directory, which also catches symlinks that lead out.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

/// Why a request path is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not an origin-form path, a broken `%` escape, or a NUL byte: `400`.
    Malformed,
    /// A `..` segment: `403`.
    Traversal,
}

/// The path's segments, decoded, without empty and `.` segments.
pub(crate) fn segments(path: &str) -> Result<Vec<OsString>, Refused> {
    if !path.starts_with('/') {
        return Err(Refused::Malformed);
    }
    let decoded = percent_decode(path).ok_or(Refused::Malformed)?;
    if decoded.contains(&0) {
        return Err(Refused::Malformed);
    }
    let mut out = Vec::new();
    for seg in decoded.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => return Err(Refused::Traversal),
            s => out.push(OsString::from_vec(s.to_vec())),
        }
    }
    Ok(out)
}

/// Decodes `%XX` escapes; `None` for a `%` not followed by two hex digits.
pub(crate) fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hi = (hex[0] as char).to_digit(16)?;
            let lo = (hex[1] as char).to_digit(16)?;
            out.push((hi * 16 + lo) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// Percent-encodes one path segment (a file name, any bytes) for an `href`:
/// everything but RFC 3986's unreserved characters, so `/`, `?`, `#`, `%`,
/// quotes and spaces in names survive the round trip.
pub(crate) fn percent_encode(name: &[u8]) -> String {
    let mut out = String::with_capacity(name.len());
    for &b in name {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Escapes text for HTML content and quoted attribute values.
pub(crate) fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Result<Vec<String>, Refused> {
        segments(p).map(|v| {
            v.into_iter()
                .map(|s| s.into_string().expect("utf-8"))
                .collect()
        })
    }

    #[test]
    fn decodes_and_drops_empty_and_dot() {
        assert_eq!(segs("/"), Ok(vec![]));
        assert_eq!(segs("/a//./b%20c/"), Ok(vec!["a".into(), "b c".into()]));
        assert_eq!(segs("/%C3%A9t%c3%a9"), Ok(vec!["été".into()]));
    }

    #[test]
    fn refuses_traversal_in_every_spelling() {
        for p in [
            "/..",
            "/../etc/passwd",
            "/a/../../b",
            "/%2e%2e/etc/passwd",
            "/%2E%2E",
            "/.%2e/x",
            "/a%2f..%2fb",
        ] {
            assert_eq!(segs(p), Err(Refused::Traversal), "{p}");
        }
        // Names that only contain dots are fine.
        assert_eq!(segs("/..."), Ok(vec!["...".to_string()]));
        assert_eq!(segs("/..a"), Ok(vec!["..a".to_string()]));
    }

    #[test]
    fn refuses_malformed() {
        for p in ["", "a/b", "*", "/%", "/%2", "/%zz", "/a%00b", "/%00"] {
            assert_eq!(segs(p), Err(Refused::Malformed), "{p}");
        }
    }

    #[test]
    fn encode_round_trips() {
        let name = b"a b&<c>%?#/\"'\xff.txt";
        let enc = percent_encode(name);
        assert!(enc.bytes().all(|b| b.is_ascii_graphic() && b != b'"'));
        assert_eq!(percent_decode(&enc).as_deref(), Some(&name[..]));
        assert_eq!(percent_encode(b"plain-name_1.~"), "plain-name_1.~");
    }

    #[test]
    fn escapes_html() {
        assert_eq!(
            html_escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
