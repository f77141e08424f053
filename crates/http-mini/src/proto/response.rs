//! [`ResponseParser`]: the client side of the protocol core.

use std::collections::VecDeque;

use bytes::BytesMut;

use super::body::{BodyDecoder, BodyEvent};
use super::framing::analyze;
use super::raw::parse_response;
use super::scan::HeadScan;
use super::{BodyKind, Event, Limits, Method, ParseError, ResponseEvent, ResponseHead};

/// A push parser for the responses arriving on one client connection.
///
/// Whether a response has a body depends on the request it answers, so
/// call [`ResponseParser::expect_response`] for every request sent, in
/// order (pipelining is fine). Then feed the receive buffer to
/// [`ResponseParser::next_event`] as for a
/// [`RequestParser`](super::RequestParser).
///
/// - A response to `HEAD`, a 204 and a 304 have no body, whatever their
///   Content-Length says.
/// - An interim response (1xx except 101, such as `100 Continue`) is a lone
///   [`Event::Head`] with [`ResponseHead::is_interim`]; the final response
///   to the same request follows.
/// - After a `101 Switching Protocols`, or a 2xx to `CONNECT`, the
///   connection no longer speaks HTTP/1.1: the parser produces `Head` and
///   `End`, then leaves every later byte in the buffer
///   ([`ResponseParser::is_upgraded`]).
/// - A response with neither Content-Length nor Transfer-Encoding is read
///   until the server closes: [`ResponseParser::eof`] produces its `End`.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use eventide_http_mini::proto::{BodyKind, Event, Method, ResponseParser};
///
/// let mut parser = ResponseParser::new();
/// parser.expect_response(&Method::GET);
/// let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello"[..]);
///
/// let Some(Event::Head(head)) = parser.next_event(&mut buf)? else { panic!() };
/// assert_eq!(head.status, 200);
/// assert_eq!(head.body, BodyKind::UntilClose);
/// assert!(!head.keep_alive);
/// assert_eq!(parser.next_event(&mut buf)?, Some(Event::Data("hello".into())));
/// assert_eq!(parser.next_event(&mut buf)?, None);
/// // The server closes the connection: that ends the body.
/// assert!(matches!(parser.eof()?, Some(Event::End { .. })));
/// # Ok::<(), eventide_http_mini::proto::ParseError>(())
/// ```
#[derive(Debug)]
pub struct ResponseParser {
    limits: Limits,
    state: State,
    scan: HeadScan,
    /// The requests still waiting for a final response, oldest first.
    expected: VecDeque<Expected>,
}

/// What the parser must know about a request to frame its response.
#[derive(Clone, Copy, Debug)]
struct Expected {
    head: bool,
    connect: bool,
}

#[derive(Debug)]
enum State {
    Head,
    Body { body: BodyDecoder, upgrade: bool },
    Upgraded,
    Closed,
    Failed(ParseError),
}

impl Default for ResponseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl ResponseParser {
    /// A parser with the default [`Limits`].
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A parser with the given limits.
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            state: State::Head,
            scan: HeadScan::default(),
            expected: VecDeque::new(),
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Records that a request with `method` was sent; its response is
    /// expected after those of the requests recorded before.
    pub fn expect_response(&mut self, method: &Method) {
        self.expected.push_back(Expected {
            head: method.is_head(),
            connect: method.is_connect(),
        });
    }

    /// The number of requests whose final response has not started yet.
    pub fn pending_responses(&self) -> usize {
        self.expected.len()
    }

    /// Whether a `101` or a 2xx to `CONNECT` ended HTTP on this connection.
    pub fn is_upgraded(&self) -> bool {
        matches!(self.state, State::Upgraded)
    }

    /// Consumes bytes from the front of `buf` and returns the next event,
    /// or `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    ///
    /// A [`ParseError`] when the bytes break RFC 9112 or a [`Limits`] bound,
    /// or [`ParseError::UnsolicitedResponse`] when bytes arrive while no
    /// request is outstanding; the same error is returned by every later
    /// call.
    pub fn next_event(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseEvent>, ParseError> {
        let result = self.step(buf);
        if let Err(e) = result {
            self.state = State::Failed(e);
        }
        result
    }

    /// Tells the parser the server closed the connection. Returns the `End`
    /// of a response read until close.
    ///
    /// A close between responses is clean (`Ok(None)`) even if requests are
    /// still waiting: check [`ResponseParser::pending_responses`] to decide
    /// whether to retry them. Afterwards [`ResponseParser::next_event`]
    /// returns `Ok(None)` and consumes nothing.
    ///
    /// # Errors
    ///
    /// [`ParseError::UnexpectedEof`] if the connection ended inside a head
    /// or inside a body framed by Content-Length or chunked (the earlier
    /// error if the parser had already failed).
    pub fn eof(&mut self) -> Result<Option<ResponseEvent>, ParseError> {
        let result = match &mut self.state {
            State::Failed(e) => Err(*e),
            State::Closed | State::Upgraded => Ok(None),
            State::Head if self.scan.in_progress() => Err(ParseError::UnexpectedEof),
            State::Head => Ok(None),
            State::Body { body, .. } => body.eof().map(|ev| match ev {
                Some(BodyEvent::End(trailers)) => Some(Event::End { trailers }),
                _ => None,
            }),
        };
        self.state = match result {
            Ok(_) => State::Closed,
            Err(e) => State::Failed(e),
        };
        result
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseEvent>, ParseError> {
        match &mut self.state {
            State::Failed(e) => Err(*e),
            State::Closed | State::Upgraded => Ok(None),
            State::Head => {
                let Some((head, upgrade)) = self.parse_head(buf)? else {
                    return Ok(None);
                };
                self.scan.reset();
                if !head.is_interim() {
                    self.expected.pop_front();
                    self.state = State::Body {
                        body: BodyDecoder::new(head.body),
                        upgrade,
                    };
                }
                Ok(Some(Event::Head(head)))
            }
            State::Body { body, upgrade } => match body.decode(buf, &self.limits)? {
                None => Ok(None),
                Some(BodyEvent::Data(data)) => Ok(Some(Event::Data(data))),
                Some(BodyEvent::End(trailers)) => {
                    self.state = if *upgrade {
                        State::Upgraded
                    } else {
                        State::Head
                    };
                    Ok(Some(Event::End { trailers }))
                }
            },
        }
    }

    /// Parses a head; also says whether HTTP ends after this response.
    fn parse_head(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<(ResponseHead, bool)>, ParseError> {
        if !self.scan.skip_empty_lines(buf)? {
            return Ok(None);
        }
        let Some(&expected) = self.expected.front() else {
            return Err(ParseError::UnsolicitedResponse);
        };
        let cap = self.limits.max_header_bytes;
        HeadScan::check_status_line(&buf[..buf.len().min(cap)])?;
        let max_headers = self.limits.max_headers;
        let parsed = self.scan.parse(buf, cap, |buf, window| {
            parse_response(buf, window, max_headers)
        })?;
        let Some(raw) = parsed else {
            return Ok(None);
        };
        if raw.status < 100 {
            return Err(ParseError::StatusLine);
        }
        // Framing fields are checked even where they cannot apply: a 304
        // with both Content-Length and Transfer-Encoding is still invalid.
        let info = analyze(&raw.headers, raw.version)?;
        let (body, upgrade) = match raw.status {
            101 => (BodyKind::Empty, true),
            100..=199 | 204 | 304 => (BodyKind::Empty, false),
            _ if expected.head => (BodyKind::Empty, false),
            200..=299 if expected.connect => (BodyKind::Empty, true),
            _ => match info.body {
                BodyKind::Empty => (BodyKind::UntilClose, false),
                framed => (framed, false),
            },
        };
        if matches!(body, BodyKind::Length(n) if self.limits.body_exceeds(n)) {
            return Err(ParseError::BodyTooLarge);
        }
        let keep_alive = info.keep_alive && !upgrade && body != BodyKind::UntilClose;
        let head = ResponseHead {
            version: raw.version,
            status: raw.status,
            reason: raw.reason,
            headers: raw.headers,
            body,
            keep_alive,
        };
        Ok(Some((head, upgrade)))
    }
}

#[cfg(test)]
mod tests;
