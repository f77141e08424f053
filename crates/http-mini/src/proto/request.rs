//! [`RequestParser`]: the server side of the protocol core.

use bytes::BytesMut;

use super::body::{BodyDecoder, BodyEvent};
use super::framing::analyze;
use super::raw::parse_request;
use super::scan::HeadScan;
use super::{BodyKind, Event, Limits, ParseError, RequestEvent, RequestHead};

/// A push parser for the requests arriving on one connection.
///
/// Feed it the receive buffer: [`RequestParser::next_event`] consumes bytes
/// from the front of the buffer and returns `Ok(None)` when it needs more.
/// Each request comes out as a [`Event::Head`], zero or more
/// [`Event::Data`] and an [`Event::End`]; then the same parser reads the
/// next request, so keep-alive and pipelining need nothing special.
///
/// The events do not depend on how the bytes were split across reads,
/// except for where `Data` events are cut. Body bytes and head fields are
/// zero-copy slices of the buffer.
///
/// Between calls the caller may only append to `buf`. After an error the
/// parser is dead: every later call returns the same error, and the
/// connection should be answered with [`ParseError::status`] and closed.
///
/// # Examples
///
/// ```
/// use bytes::BytesMut;
/// use eventide_http_mini::proto::{BodyKind, Event, Method, RequestParser};
///
/// let mut parser = RequestParser::new();
/// let mut buf = BytesMut::from(&b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel"[..]);
///
/// let Some(Event::Head(head)) = parser.next_event(&mut buf)? else { panic!() };
/// assert_eq!(head.method, Method::POST);
/// assert_eq!(head.target.as_str(), "/echo");
/// assert_eq!(head.headers.get_str("host"), Some("a"));
/// assert_eq!(head.body, BodyKind::Length(5));
/// assert!(head.keep_alive);
///
/// assert_eq!(parser.next_event(&mut buf)?, Some(Event::Data("hel".into())));
/// assert_eq!(parser.next_event(&mut buf)?, None); // needs more bytes
/// buf.extend_from_slice(b"lo");
/// assert_eq!(parser.next_event(&mut buf)?, Some(Event::Data("lo".into())));
/// assert!(matches!(parser.next_event(&mut buf)?, Some(Event::End { .. })));
/// assert!(parser.eof().is_ok()); // a clean close between requests
/// # Ok::<(), eventide_http_mini::proto::ParseError>(())
/// ```
#[derive(Debug)]
pub struct RequestParser {
    limits: Limits,
    state: State,
    scan: HeadScan,
    /// httparse runs so far, for the tests that bound them.
    #[cfg(test)]
    httparse_runs: usize,
}

#[derive(Debug)]
enum State {
    Head,
    Body(BodyDecoder),
    Closed,
    Failed(ParseError),
}

impl Default for RequestParser {
    fn default() -> Self {
        Self::new()
    }
}

impl RequestParser {
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
            #[cfg(test)]
            httparse_runs: 0,
        }
    }

    /// The limits this parser enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether the parser is between requests with no byte of the next one
    /// seen: the point where closing an idle keep-alive connection is clean.
    pub fn is_idle(&self) -> bool {
        matches!(self.state, State::Head) && !self.scan.in_progress()
    }

    /// Whether the parser is as new: idle, and no empty line before the
    /// next request skipped either. A server may then drop it and parse the
    /// connection's next request with a new one (with the same limits).
    pub fn is_fresh(&self) -> bool {
        matches!(self.state, State::Head) && self.scan.is_fresh()
    }

    /// Consumes bytes from the front of `buf` and returns the next event,
    /// or `Ok(None)` if more bytes are needed.
    ///
    /// # Errors
    ///
    /// A [`ParseError`] when the bytes break RFC 9112 or a [`Limits`] bound;
    /// the same error is returned by every later call.
    pub fn next_event(&mut self, buf: &mut BytesMut) -> Result<Option<RequestEvent>, ParseError> {
        let result = self.step(buf);
        if let Err(e) = result {
            self.state = State::Failed(e);
        }
        result
    }

    /// Tells the parser the peer closed its side.
    ///
    /// # Errors
    ///
    /// [`ParseError::UnexpectedEof`] if the connection ended inside a head
    /// or a body (the earlier error if the parser had already failed). `Ok`
    /// means the close was clean: between requests. Afterwards
    /// [`RequestParser::next_event`] returns `Ok(None)` and consumes nothing.
    pub fn eof(&mut self) -> Result<(), ParseError> {
        let result = match &mut self.state {
            State::Failed(e) => Err(*e),
            State::Closed => Ok(()),
            State::Head if self.scan.in_progress() => Err(ParseError::UnexpectedEof),
            State::Head => Ok(()),
            // A body already complete whose `End` was not collected is fine.
            State::Body(body) => body.eof().map(drop),
        };
        self.state = match result {
            Ok(()) => State::Closed,
            Err(e) => State::Failed(e),
        };
        result
    }

    fn step(&mut self, buf: &mut BytesMut) -> Result<Option<RequestEvent>, ParseError> {
        match &mut self.state {
            State::Failed(e) => Err(*e),
            State::Closed => Ok(None),
            State::Head => {
                let Some(head) = self.parse_head(buf)? else {
                    return Ok(None);
                };
                self.scan.reset();
                self.state = State::Body(BodyDecoder::new(head.body));
                Ok(Some(Event::Head(head)))
            }
            State::Body(body) => match body.decode(buf, &self.limits)? {
                None => Ok(None),
                Some(BodyEvent::Data(data)) => Ok(Some(Event::Data(data))),
                Some(BodyEvent::End(trailers)) => {
                    self.state = State::Head;
                    Ok(Some(Event::End { trailers }))
                }
            },
        }
    }

    fn parse_head(&mut self, buf: &mut BytesMut) -> Result<Option<RequestHead>, ParseError> {
        if !self.scan.skip_empty_lines(buf)? {
            return Ok(None);
        }
        let cap = self.limits.max_header_bytes;
        let max_target = self.limits.max_target_len;
        // On the first look the line checks wait for httparse: in the common
        // case it finds the whole head, and then they could only fail on the
        // target's length, which `parse_request` checks. Otherwise they run
        // before its result is used, so their error still comes first.
        let first_look = self.scan.is_first_look();
        if !first_look {
            self.scan
                .check_request_line(&buf[..buf.len().min(cap)], max_target)?;
        }
        let max_headers = self.limits.max_headers;
        #[cfg(test)]
        let runs = &mut self.httparse_runs;
        let parsed = self.scan.parse(buf, cap, |buf, window| {
            #[cfg(test)]
            {
                *runs += 1;
            }
            parse_request(buf, window, max_headers, max_target)
        });
        let raw = match parsed {
            Ok(Some(raw)) => raw,
            // More bytes needed, or an error.
            other => {
                if first_look {
                    self.scan
                        .check_request_line(&buf[..buf.len().min(cap)], max_target)?;
                }
                return other.map(|_| None);
            }
        };
        let info = analyze(&raw.headers, raw.version)?;
        if matches!(info.body, BodyKind::Length(n) if self.limits.body_exceeds(n)) {
            return Err(ParseError::BodyTooLarge);
        }
        Ok(Some(RequestHead {
            method: raw.method,
            target: raw.target,
            version: raw.version,
            headers: raw.headers,
            body: info.body,
            keep_alive: info.keep_alive,
            expect_continue: info.expect_continue,
        }))
    }
}

#[cfg(test)]
mod tests;
