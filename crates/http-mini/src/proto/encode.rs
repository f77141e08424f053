//! The serializer: message heads, chunked framing and the `Date` value.
//!
//! Every function appends to a `BytesMut` and checks everything it writes:
//! a header name must be a token, a value must hold no CR, LF, NUL or other
//! control, so nothing a handler passes can split a line or inject a field.
//! On error nothing is appended.
//!
//! The body framing is an argument ([`Framing`]), never a header field the
//! caller writes: the serializer owns Content-Length and Transfer-Encoding,
//! so a message can never carry two contradicting framings.
//!
//! Heads are always written as HTTP/1.1. To answer an HTTP/1.0 client, do
//! not use [`Framing::Chunked`] (it cannot decode it): use
//! [`Framing::Length`], or [`Framing::None`] and close the connection.
//!
//! # Examples
//!
//! ```
//! use bytes::BytesMut;
//! use eventide_http_mini::proto::encode::{encode_chunk, encode_last_chunk, encode_response_head};
//! use eventide_http_mini::proto::{Framing, Headers};
//!
//! let mut headers = Headers::new();
//! headers.append("Content-Type", "text/plain");
//! let mut out = BytesMut::new();
//! let send_body = encode_response_head(200, None, &headers, Framing::Chunked, false, &mut out)?;
//! assert!(send_body);
//! encode_chunk(b"hello", &mut out);
//! encode_last_chunk(&Headers::new(), &mut out)?;
//! assert_eq!(
//!     &out[..],
//!     &b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"[..]
//! );
//! # Ok::<(), eventide_http_mini::proto::EncodeError>(())
//! ```

use bytes::{BufMut, BytesMut};

pub use super::date::http_date;

use super::chars::{is_field_value, is_field_value_byte, is_target_byte, is_token, name_eq};
use super::{EncodeError, Headers, Method, reason_phrase};

/// How the body after a head is delimited; chosen by the caller.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Framing {
    /// No framing field. A request then has no body. A response that can
    /// have a body is then delimited by closing the connection: the caller
    /// must close it after the body (and should send `Connection: close`).
    None,
    /// `Content-Length: n`; exactly `n` body bytes follow.
    Length(u64),
    /// `Transfer-Encoding: chunked`; the body is written with
    /// [`encode_chunk`] and ended by [`encode_last_chunk`]. HTTP/1.1 peers
    /// only.
    Chunked,
}

/// Writes a request head: request line, `headers`, the framing field and
/// the empty line.
///
/// ```
/// use bytes::BytesMut;
/// use eventide_http_mini::proto::encode::encode_request_head;
/// use eventide_http_mini::proto::{Framing, Headers, Method};
///
/// let mut headers = Headers::new();
/// headers.append("Host", "example.com");
/// let mut out = BytesMut::new();
/// encode_request_head(&Method::POST, "/upload", &headers, Framing::Length(3), &mut out)?;
/// assert_eq!(&out[..], &b"POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 3\r\n\r\n"[..]);
/// # Ok::<(), eventide_http_mini::proto::EncodeError>(())
/// ```
///
/// # Errors
///
/// [`EncodeError::InvalidTarget`] for an empty target or one with
/// whitespace or controls; [`EncodeError::InvalidHeaderName`],
/// [`EncodeError::InvalidHeaderValue`] for a field that could inject;
/// [`EncodeError::FramingHeader`] if `headers` holds Content-Length or
/// Transfer-Encoding. Nothing is written then.
pub fn encode_request_head(
    method: &Method,
    target: &str,
    headers: &Headers,
    framing: Framing,
    dst: &mut BytesMut,
) -> Result<(), EncodeError> {
    if target.is_empty() || !target.bytes().all(is_target_byte) {
        return Err(EncodeError::InvalidTarget);
    }
    transactional(dst, |dst| {
        dst.reserve(head_size_hint(headers) + target.len() + 64);
        dst.put_slice(method.as_str().as_bytes());
        dst.put_u8(b' ');
        dst.put_slice(target.as_bytes());
        dst.put_slice(b" HTTP/1.1\r\n");
        put_fields(headers, dst)?;
        put_framing_and_end(framing, dst);
        Ok(())
    })
}

/// Writes a response head: status line, `headers`, the framing field and
/// the empty line. Returns whether body bytes may follow.
///
/// `reason` defaults to the registered phrase of `status` (empty if none).
/// The body rules of RFC 9110 / RFC 9112 are applied here:
///
/// - 1xx and 204: no framing field is written whatever `framing` says, and
///   there is no body (returns `false`).
/// - 304, and any response to `HEAD` (`request_was_head`): the framing
///   field is written as for the full response (`Content-Length` with the
///   would-be length, or `Transfer-Encoding: chunked`), as RFC 9110 §8.6
///   allows, but no body is sent (returns `false`).
/// - Otherwise returns `true`: the caller sends the body framed as
///   `framing` says.
///
/// ```
/// use bytes::BytesMut;
/// use eventide_http_mini::proto::encode::encode_response_head;
/// use eventide_http_mini::proto::{Framing, Headers};
///
/// let mut out = BytesMut::new();
/// let send_body = encode_response_head(200, None, &Headers::new(), Framing::Length(5), true, &mut out)?;
/// assert!(!send_body); // a response to HEAD
/// assert_eq!(&out[..], &b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"[..]);
/// # Ok::<(), eventide_http_mini::proto::EncodeError>(())
/// ```
///
/// # Errors
///
/// [`EncodeError::InvalidStatus`] outside `100..=999`;
/// [`EncodeError::InvalidReason`] for a reason with CR, LF or controls;
/// the header errors of [`encode_request_head`]. Nothing is written then.
pub fn encode_response_head(
    status: u16,
    reason: Option<&str>,
    headers: &Headers,
    framing: Framing,
    request_was_head: bool,
    dst: &mut BytesMut,
) -> Result<bool, EncodeError> {
    encode_response_head_with(status, reason, headers, &[], framing, request_was_head, dst)
}

/// [`encode_response_head`] with `extra` field lines written after
/// `headers`: each a whole line, `Name: value\r\n`, as a server keeps its
/// own `Date` and `Connection` ready. They are trusted (not checked), and
/// cost no change to the caller's header map.
///
/// ```
/// use bytes::BytesMut;
/// use eventide_http_mini::proto::encode::encode_response_head_with;
/// use eventide_http_mini::proto::{Framing, Headers};
///
/// let mut out = BytesMut::new();
/// let extra: [&[u8]; 1] = [b"Connection: close\r\n"];
/// encode_response_head_with(404, None, &Headers::new(), &extra, Framing::Length(0), false, &mut out)?;
/// assert_eq!(
///     &out[..],
///     &b"HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"[..]
/// );
/// # Ok::<(), eventide_http_mini::proto::EncodeError>(())
/// ```
///
/// # Errors
///
/// As [`encode_response_head`].
pub fn encode_response_head_with(
    status: u16,
    reason: Option<&str>,
    headers: &Headers,
    extra: &[&[u8]],
    framing: Framing,
    request_was_head: bool,
    dst: &mut BytesMut,
) -> Result<bool, EncodeError> {
    if !(100..=999).contains(&status) {
        return Err(EncodeError::InvalidStatus);
    }
    if reason.is_some_and(|r| !r.bytes().all(is_field_value_byte)) {
        return Err(EncodeError::InvalidReason);
    }
    let no_body_at_all = status < 200 || status == 204;
    transactional(dst, |dst| {
        let extra_len: usize = extra.iter().map(|line| line.len()).sum();
        dst.reserve(head_size_hint(headers) + extra_len + 64 + reason.map_or(0, str::len));
        match reason {
            // The usual status lines are written whole.
            None if status == 200 => dst.put_slice(b"HTTP/1.1 200 OK\r\n"),
            _ => put_status_line(status, reason, dst),
        }
        put_fields(headers, dst)?;
        for line in extra {
            dst.put_slice(line);
        }
        put_framing_and_end(
            if no_body_at_all {
                Framing::None
            } else {
                framing
            },
            dst,
        );
        Ok(())
    })?;
    Ok(!(no_body_at_all || status == 304 || request_was_head))
}

/// `HTTP/1.1 {status} {reason}\r\n`, the reason defaulting to the
/// registered phrase (empty if none).
fn put_status_line(status: u16, reason: Option<&str>, dst: &mut BytesMut) {
    let reason = reason.or(reason_phrase(status)).unwrap_or("");
    let mut line = *b"HTTP/1.1 000 ";
    line[9] = b'0' + (status / 100) as u8;
    line[10] = b'0' + (status / 10 % 10) as u8;
    line[11] = b'0' + (status % 10) as u8;
    dst.put_slice(&line);
    dst.put_slice(reason.as_bytes());
    dst.put_slice(b"\r\n");
}

/// Writes one chunk: `{size in hex}\r\n{data}\r\n`. An empty `data` writes
/// nothing, since a zero-size chunk would end the body.
///
/// ```
/// use bytes::BytesMut;
/// use eventide_http_mini::proto::encode::encode_chunk;
///
/// let mut out = BytesMut::new();
/// encode_chunk(&[b'x'; 26], &mut out);
/// encode_chunk(b"", &mut out);
/// assert_eq!(&out[..4], b"1a\r\n");
/// assert_eq!(out.len(), 4 + 26 + 2);
/// ```
pub fn encode_chunk(data: &[u8], dst: &mut BytesMut) {
    if data.is_empty() {
        return;
    }
    dst.reserve(data.len() + 20);
    encode_chunk_header(data.len(), dst);
    dst.put_slice(data);
    dst.put_slice(b"\r\n");
}

/// Writes only the `{size in hex}\r\n` line of a chunk of `len` bytes, for
/// vectored writes that send the data from its own buffer; the caller then
/// sends the data and `\r\n`. `len == 0` writes nothing.
///
/// ```
/// use bytes::BytesMut;
/// use eventide_http_mini::proto::encode::encode_chunk_header;
///
/// let mut out = BytesMut::new();
/// encode_chunk_header(4096, &mut out);
/// assert_eq!(&out[..], b"1000\r\n");
/// ```
pub fn encode_chunk_header(len: usize, dst: &mut BytesMut) {
    if len == 0 {
        return;
    }
    let mut digits = [0u8; 16];
    let mut at = digits.len();
    let mut n = len as u64;
    while n > 0 {
        at -= 1;
        digits[at] = b"0123456789abcdef"[(n & 0xf) as usize];
        n >>= 4;
    }
    dst.put_slice(&digits[at..]);
    dst.put_slice(b"\r\n");
}

/// Ends a chunked body: `0\r\n`, the trailer fields, `\r\n`.
///
/// ```
/// use bytes::BytesMut;
/// use eventide_http_mini::proto::Headers;
/// use eventide_http_mini::proto::encode::encode_last_chunk;
///
/// let mut trailers = Headers::new();
/// trailers.append("X-Checksum", "abc");
/// let mut out = BytesMut::new();
/// encode_last_chunk(&trailers, &mut out)?;
/// assert_eq!(&out[..], b"0\r\nX-Checksum: abc\r\n\r\n");
/// # Ok::<(), eventide_http_mini::proto::EncodeError>(())
/// ```
///
/// # Errors
///
/// The header errors of [`encode_request_head`] (framing fields are not
/// allowed in trailers either). Nothing is written then.
pub fn encode_last_chunk(trailers: &Headers, dst: &mut BytesMut) -> Result<(), EncodeError> {
    transactional(dst, |dst| {
        dst.put_slice(b"0\r\n");
        put_fields(trailers, dst)?;
        dst.put_slice(b"\r\n");
        Ok(())
    })
}

/// Runs `write`, and removes whatever it appended if it fails.
fn transactional<T>(
    dst: &mut BytesMut,
    write: impl FnOnce(&mut BytesMut) -> Result<T, EncodeError>,
) -> Result<T, EncodeError> {
    let start = dst.len();
    let result = write(dst);
    if result.is_err() {
        dst.truncate(start);
    }
    result
}

fn head_size_hint(headers: &Headers) -> usize {
    headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum()
}

fn put_fields(headers: &Headers, dst: &mut BytesMut) -> Result<(), EncodeError> {
    for (name, value, checked) in headers.fields_for_encoding() {
        // Fields added without a check could inject; checked ones were
        // validated once already.
        if !checked && !is_token(name) {
            return Err(EncodeError::InvalidHeaderName);
        }
        if !checked && !is_field_value(value) {
            return Err(EncodeError::InvalidHeaderValue);
        }
        if name_eq(name, "content-length") || name_eq(name, "transfer-encoding") {
            return Err(EncodeError::FramingHeader);
        }
        dst.put_slice(name);
        dst.put_slice(b": ");
        dst.put_slice(value);
        dst.put_slice(b"\r\n");
    }
    Ok(())
}

/// The framing field and the empty line that ends the head, in one write.
fn put_framing_and_end(framing: Framing, dst: &mut BytesMut) {
    match framing {
        Framing::None => dst.put_slice(b"\r\n"),
        Framing::Length(n) => {
            const PREFIX: &[u8] = b"Content-Length: ";
            let mut line = [0u8; PREFIX.len() + 20 + 4];
            line[..PREFIX.len()].copy_from_slice(PREFIX);
            let end = PREFIX.len() + write_decimal(n, &mut line[PREFIX.len()..]);
            line[end..end + 4].copy_from_slice(b"\r\n\r\n");
            dst.put_slice(&line[..end + 4]);
        }
        Framing::Chunked => dst.put_slice(b"Transfer-Encoding: chunked\r\n\r\n"),
    }
}

/// Writes `n` in decimal at the start of `out` (room for 20 digits);
/// returns how many digits.
fn write_decimal(n: u64, out: &mut [u8]) -> usize {
    let len = n.checked_ilog10().map_or(1, |d| d as usize + 1);
    let mut rest = n;
    for digit in out[..len].iter_mut().rev() {
        *digit = b'0' + (rest % 10) as u8;
        rest /= 10;
    }
    len
}

#[cfg(test)]
mod tests;
