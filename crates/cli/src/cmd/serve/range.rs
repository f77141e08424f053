//! `Range: bytes=...` (RFC 9110 §14): which part of a file to send.
//!
//! One range is served as `206 Partial Content`. Several ranges would need a
//! `multipart/byteranges` body; like many small servers we send the whole
//! file with `200` instead, which RFC 9110 allows (a server may ignore
//! `Range`). A header we cannot parse is ignored the same way.

/// What to send for a file of a known size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plan {
    /// The whole file, `200`.
    Full,
    /// Bytes `start..=end`, `206` with `Content-Range: bytes start-end/size`.
    Part {
        /// First byte.
        start: u64,
        /// Last byte, inclusive.
        end: u64,
    },
    /// No byte of the file is in the range: `416` with
    /// `Content-Range: bytes */size`.
    Unsatisfiable,
}

/// Plans the response to a `Range` header value (`None`: no header) for a
/// file of `size` bytes.
pub(crate) fn plan(header: Option<&str>, size: u64) -> Plan {
    let Some(spec) = header.map(str::trim).and_then(|h| {
        let (unit, spec) = h.split_once('=')?;
        unit.trim().eq_ignore_ascii_case("bytes").then_some(spec)
    }) else {
        return Plan::Full;
    };
    if spec.contains(',') {
        return Plan::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Plan::Full;
    };
    let (first, last) = (first.trim(), last.trim());
    let number = |s: &str| -> Option<u64> {
        // `u64::from_str` takes a leading `+`, which the grammar does not.
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        // Past u64: larger than any file, so treat as "to the end".
        Some(s.parse().unwrap_or(u64::MAX))
    };
    match (first.is_empty(), last.is_empty()) {
        // `bytes=-n`: the last n bytes.
        (true, false) => match number(last) {
            None => Plan::Full,
            Some(0) => Plan::Unsatisfiable,
            Some(_) if size == 0 => Plan::Unsatisfiable,
            Some(n) => Plan::Part {
                start: size.saturating_sub(n),
                end: size - 1,
            },
        },
        // `bytes=a-` and `bytes=a-b`.
        (false, open) => {
            let Some(start) = number(first) else {
                return Plan::Full;
            };
            let end = if open {
                u64::MAX
            } else {
                match number(last) {
                    Some(end) if end >= start => end,
                    // `b < a` is invalid syntax: ignore the header.
                    _ => return Plan::Full,
                }
            };
            if start >= size {
                return Plan::Unsatisfiable;
            }
            Plan::Part {
                start,
                end: end.min(size - 1),
            }
        }
        (true, true) => Plan::Full,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(start: u64, end: u64) -> Plan {
        Plan::Part { start, end }
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(plan(Some("bytes=100-199"), 1000), part(100, 199));
        assert_eq!(plan(Some("bytes=100-"), 1000), part(100, 999));
        assert_eq!(plan(Some("bytes=-100"), 1000), part(900, 999));
        assert_eq!(plan(Some("Bytes = 0-0"), 1000), part(0, 0));
    }

    #[test]
    fn clamped_to_the_file() {
        assert_eq!(plan(Some("bytes=900-5000"), 1000), part(900, 999));
        assert_eq!(plan(Some("bytes=-5000"), 1000), part(0, 999));
        assert_eq!(
            plan(Some("bytes=0-99999999999999999999999"), 10),
            part(0, 9)
        );
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(plan(Some("bytes=1000-"), 1000), Plan::Unsatisfiable);
        assert_eq!(plan(Some("bytes=1000-2000"), 1000), Plan::Unsatisfiable);
        assert_eq!(plan(Some("bytes=-0"), 1000), Plan::Unsatisfiable);
        assert_eq!(plan(Some("bytes=0-"), 0), Plan::Unsatisfiable);
        assert_eq!(plan(Some("bytes=-5"), 0), Plan::Unsatisfiable);
    }

    #[test]
    fn ignored_headers_serve_the_whole_file() {
        for h in [
            "bytes=0-1,5-6",
            "bytes=5-1",
            "bytes=-",
            "bytes=a-b",
            "bytes=+1-2",
            "items=0-1",
            "bytes 0-1",
            "",
        ] {
            assert_eq!(plan(Some(h), 1000), Plan::Full, "{h}");
        }
        assert_eq!(plan(None, 1000), Plan::Full);
    }
}
