//! [`ClientResponse`]: the response head, and the body as a readable stream.

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;
use eventide_streams::{Readable, Source, StreamError};

use super::conn;
use super::request;
use super::state::req;
use crate::proto::{Headers, ResponseHead, Version};

/// A response whose head arrived (Node's `http.IncomingMessage`).
///
/// The body is a [`Readable<Bytes>`] ([`ClientResponse::body`]) with the
/// streams' backpressure: while nobody reads it (no `on_data`, or paused)
/// it buffers up to its high-water mark (64 KiB) plus at most one socket
/// read, then the connection's socket is paused, so the server is slowed
/// down by TCP flow control; reading again resumes the socket.
///
/// Consume the body (or `destroy` it): the connection is only reused once
/// the body was read to its end, and a body destroyed early closes the
/// connection. A response without a body (to `HEAD`, a 204, a 304) ends at
/// once, and its stream is resumed for you if you attach nothing to it.
/// A body framed by neither Content-Length nor chunked ends when the
/// server closes the connection.
#[derive(Debug)]
pub struct ClientResponse {
    head: ResponseHead,
    body: Readable<Bytes>,
}

impl ClientResponse {
    pub(crate) fn new(head: ResponseHead, body: Readable<Bytes>) -> Self {
        ClientResponse { head, body }
    }

    /// The status code.
    pub fn status(&self) -> u16 {
        self.head.status
    }

    /// The reason phrase (empty if it is not UTF-8).
    pub fn reason(&self) -> &str {
        self.head.reason_str()
    }

    /// The HTTP version of the response.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.head.headers
    }

    /// The whole head: status, reason, version, headers, framing and
    /// persistence.
    pub fn head(&self) -> &ResponseHead {
        &self.head
    }

    /// The body stream.
    pub fn body(&self) -> Readable<Bytes> {
        self.body
    }

    /// The head and the body stream.
    pub fn into_parts(self) -> (ResponseHead, Readable<Bytes>) {
        (self.head, self.body)
    }
}

/// The body stream's source: bytes are pushed by the connection as they
/// are parsed; a read (the consumer wants more) resumes the socket the
/// connection paused when the stream was full.
pub(crate) struct BodySource {
    req: Key,
}

impl BodySource {
    pub(crate) fn new(req: Key) -> Self {
        BodySource { req }
    }
}

impl Source<Bytes> for BodySource {
    fn read(&mut self, lp: &mut Loop, _stream: Readable<Bytes>, _size: usize) {
        if request::body_of(lp, self.req).is_none() {
            return;
        }
        if let Some(ck) = req(lp, self.req).and_then(|r| r.conn) {
            conn::resume(lp, ck);
        }
    }

    fn destroy(&mut self, lp: &mut Loop, _stream: Readable<Bytes>, _error: Option<&StreamError>) {
        request::body_abandoned(lp, self.req);
    }
}
