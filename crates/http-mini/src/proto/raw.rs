//! Runs httparse and turns its borrowed result into owned, zero-copy parts.
//!
//! httparse returns slices that borrow the receive buffer, and the buffer
//! must be split (a mutable borrow) before those bytes can become `Bytes`.
//! So the positions of every field are first copied into a scratch list
//! (one per thread, reused, so neither allocated nor zeroed per head), then
//! the head is split off and frozen, and each field becomes a `Bytes::slice`
//! of it. Nothing is allocated per field.

use std::mem::MaybeUninit;

use bytes::{Buf, Bytes, BytesMut};
use httparse::Status;

use super::{Headers, Method, ParseError, RequestTarget, Version};

/// Header slots kept on the stack; a larger `max_headers` uses the heap.
const STACK_HEADERS: usize = 128;

/// A byte range inside the parsed head.
type Span = (usize, usize);

/// A parsed request line and header fields.
pub(crate) struct RawRequest {
    pub(crate) method: Method,
    pub(crate) target: RequestTarget,
    pub(crate) version: Version,
    pub(crate) headers: Headers,
}

/// A parsed status line and header fields.
pub(crate) struct RawResponse {
    pub(crate) version: Version,
    pub(crate) status: u16,
    pub(crate) reason: Bytes,
    pub(crate) headers: Headers,
}

/// Position of `part` inside `base`; empty if `part` is empty or (which
/// httparse never does) points elsewhere.
fn span(base: &[u8], part: &[u8]) -> Span {
    let start = (part.as_ptr() as usize).wrapping_sub(base.as_ptr() as usize);
    match start.checked_add(part.len()) {
        Some(end) if !part.is_empty() && end <= base.len() => (start, end),
        _ => (0, 0),
    }
}

fn slice(head: &Bytes, (start, end): Span) -> Bytes {
    head.slice(start..end)
}

/// [`slice`] for the last part taken from `head`: the head itself is cut
/// down, so no reference count is taken for the part and none dropped for
/// the head.
fn into_slice(mut head: Bytes, (start, end): Span) -> Bytes {
    if start == end {
        return Bytes::new();
    }
    head.truncate(end);
    head.advance(start);
    head
}

/// Copies the field positions out of httparse's result.
fn record(base: &[u8], fields: &[httparse::Header<'_>], spans: &mut Vec<(Span, Span)>) -> usize {
    spans.clear();
    spans.extend(
        fields
            .iter()
            .map(|h| (span(base, h.name.as_bytes()), span(base, h.value))),
    );
    fields.len()
}

thread_local! {
    /// The field positions of the head being parsed. (A `RefCell`: a borrow
    /// costs a flag check, less than taking the list out and putting it back;
    /// nothing here re-enters.)
    static SPANS: std::cell::RefCell<Vec<(Span, Span)>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with the thread's scratch list of field positions.
fn with_spans<R>(f: impl FnOnce(&mut Vec<(Span, Span)>) -> R) -> R {
    SPANS.with_borrow_mut(f)
}

fn build_headers(head: &Bytes, spans: &[(Span, Span)]) -> Headers {
    let mut headers = Headers::with_capacity(spans.len());
    for &(name, value) in spans {
        headers.push_parsed(slice(head, name), slice(head, value));
    }
    headers
}

/// Declares the httparse header slots, on the stack
/// unless `max_headers` is larger than [`STACK_HEADERS`]. With `uninit`
/// the slots are `MaybeUninit` (for httparse's `*_with_uninit_headers`
/// entry points), so nothing is written to them before parsing.
macro_rules! slots {
    (uninit, $max:expr => $slots:ident) => {
        let max = $max;
        let mut stack: [MaybeUninit<httparse::Header<'_>>; STACK_HEADERS] =
            [const { MaybeUninit::uninit() }; STACK_HEADERS];
        let mut heap: Vec<MaybeUninit<httparse::Header<'_>>> = Vec::new();
        let $slots: &mut [MaybeUninit<httparse::Header<'_>>] = if max <= STACK_HEADERS {
            &mut stack[..max]
        } else {
            heap.resize_with(max, MaybeUninit::uninit);
            &mut heap[..]
        };
    };
    (init, $max:expr => $slots:ident) => {
        let max = $max;
        let mut stack: [httparse::Header<'_>; STACK_HEADERS] =
            [httparse::EMPTY_HEADER; STACK_HEADERS];
        let mut heap: Vec<httparse::Header<'_>> = Vec::new();
        let $slots: &mut [httparse::Header<'_>] = if max <= STACK_HEADERS {
            &mut stack[..max]
        } else {
            heap.resize(max, httparse::EMPTY_HEADER);
            &mut heap[..]
        };
    };
}

/// Parses a request head from the first `window` bytes of `buf` and, when
/// complete, splits it off `buf`.
///
/// Uses httparse's default (strict) configuration: no obsolete line
/// folding, no whitespace between a field name and the colon, one SP
/// between the parts of the request line.
///
/// # Errors
///
/// httparse's error, or [`ParseError::TargetTooLong`] for a complete head
/// whose target is longer than `max_target` (`buf` is then left as is).
pub(crate) fn parse_request(
    buf: &mut BytesMut,
    window: usize,
    max_headers: usize,
    max_target: usize,
) -> Result<Option<RawRequest>, ParseError> {
    with_spans(|spans| parse_request_in(buf, window, max_headers, max_target, spans))
}

fn parse_request_in(
    buf: &mut BytesMut,
    window: usize,
    max_headers: usize,
    max_target: usize,
    spans: &mut Vec<(Span, Span)>,
) -> Result<Option<RawRequest>, ParseError> {
    slots!(uninit, max_headers => slots);
    let (len, method, target, minor, count) = {
        let base = &buf[..window];
        let mut req = httparse::Request::new(&mut []);
        let status = httparse::ParserConfig::default()
            .parse_request_with_uninit_headers(&mut req, base, slots);
        match status.map_err(|e| ParseError::from_httparse(e, false))? {
            Status::Partial => return Ok(None),
            Status::Complete(len) => {
                let (Some(method), Some(path), Some(minor)) = (req.method, req.path, req.version)
                else {
                    return Err(ParseError::RequestLine);
                };
                if path.len() > max_target {
                    return Err(ParseError::TargetTooLong);
                }
                let count = record(base, req.headers, spans);
                (
                    len,
                    span(base, method.as_bytes()),
                    span(base, path.as_bytes()),
                    minor,
                    count,
                )
            }
        }
    };
    let head = buf.split_to(len).freeze();
    Ok(Some(RawRequest {
        method: Method::from_parsed_in(&head, method.0, method.1),
        version: Version::from_minor(minor),
        headers: build_headers(&head, &spans[..count]),
        target: RequestTarget::from_parsed(into_slice(head, target)),
    }))
}

/// Parses a response head from the first `window` bytes of `buf` and, when
/// complete, splits it off `buf`. Strict configuration, as for requests.
pub(crate) fn parse_response(
    buf: &mut BytesMut,
    window: usize,
    max_headers: usize,
) -> Result<Option<RawResponse>, ParseError> {
    with_spans(|spans| parse_response_in(buf, window, max_headers, spans))
}

fn parse_response_in(
    buf: &mut BytesMut,
    window: usize,
    max_headers: usize,
    spans: &mut Vec<(Span, Span)>,
) -> Result<Option<RawResponse>, ParseError> {
    slots!(uninit, max_headers => slots);
    let (len, minor, status, reason, count) = {
        let base = &buf[..window];
        let mut res = httparse::Response::new(&mut []);
        let parsed = httparse::ParserConfig::default()
            .parse_response_with_uninit_headers(&mut res, base, slots);
        match parsed.map_err(|e| ParseError::from_httparse(e, true))? {
            Status::Partial => return Ok(None),
            Status::Complete(len) => {
                let (Some(minor), Some(code)) = (res.version, res.code) else {
                    return Err(ParseError::StatusLine);
                };
                let reason = span(base, res.reason.unwrap_or("").as_bytes());
                let count = record(base, res.headers, spans);
                (len, minor, code, reason, count)
            }
        }
    };
    let head = buf.split_to(len).freeze();
    Ok(Some(RawResponse {
        version: Version::from_minor(minor),
        status,
        reason: slice(&head, reason),
        headers: build_headers(&head, &spans[..count]),
    }))
}

/// Parses a trailer section that ends exactly at `end` (found by the
/// caller) and splits it off `buf`.
pub(crate) fn parse_trailers(
    buf: &mut BytesMut,
    end: usize,
    max_headers: usize,
) -> Result<Headers, ParseError> {
    with_spans(|spans| parse_trailers_in(buf, end, max_headers, spans))
}

fn parse_trailers_in(
    buf: &mut BytesMut,
    end: usize,
    max_headers: usize,
    spans: &mut Vec<(Span, Span)>,
) -> Result<Headers, ParseError> {
    slots!(init, max_headers => slots);
    let (len, count) = {
        let base = &buf[..end];
        match httparse::parse_headers(base, slots)
            .map_err(|e| ParseError::from_httparse(e, false))?
        {
            // The caller found the empty line, so httparse cannot want more.
            Status::Partial => return Err(ParseError::NewLine),
            Status::Complete((len, fields)) => (len, record(base, fields, spans)),
        }
    };
    let section = buf.split_to(len).freeze();
    Ok(build_headers(&section, &spans[..count]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_slices_of_the_head() {
        let mut buf = BytesMut::from(&b"GET /x HTTP/1.1\r\nHost: a\r\nX-Empty:\r\n\r\nBODY"[..]);
        let n = buf.len();
        let raw = parse_request(&mut buf, n, 100, 100).unwrap().unwrap();
        assert_eq!(&buf[..], b"BODY");
        assert_eq!(raw.method, Method::GET);
        assert_eq!(raw.target.as_str(), "/x");
        assert_eq!(raw.headers.get("host"), Some(&b"a"[..]));
        assert_eq!(raw.headers.get("x-empty"), Some(&b""[..]));
    }

    #[test]
    fn large_header_limits_use_the_heap() {
        let mut head = String::from("GET / HTTP/1.1\r\n");
        for i in 0..200 {
            head.push_str(&format!("X-{i}: {i}\r\n"));
        }
        head.push_str("\r\n");
        let mut buf = BytesMut::from(head.as_bytes());
        let n = buf.len();
        let raw = parse_request(&mut buf, n, 300, 100).unwrap().unwrap();
        assert_eq!(raw.headers.len(), 200);
        assert_eq!(raw.headers.get_str("x-199"), Some("199"));
        let mut buf = BytesMut::from(head.as_bytes());
        assert!(matches!(
            parse_request(&mut buf, n, 150, 100),
            Err(ParseError::TooManyHeaders)
        ));
    }

    #[test]
    fn empty_reason_and_obs_text_reason() {
        let mut buf = BytesMut::from(&b"HTTP/1.1 200\r\n\r\n"[..]);
        let n = buf.len();
        let raw = parse_response(&mut buf, n, 10).unwrap().unwrap();
        assert_eq!((raw.status, &raw.reason[..]), (200, &b""[..]));
        let mut buf = BytesMut::from(&b"HTTP/1.1 200 \xffok\r\n\r\n"[..]);
        let n = buf.len();
        let raw = parse_response(&mut buf, n, 10).unwrap().unwrap();
        assert_eq!(&raw.reason[..], b"");
    }
}
