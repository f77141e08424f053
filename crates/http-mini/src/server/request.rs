//! The request a handler receives.

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;
use eventide_streams::{Readable, Source, StreamOptions};

use crate::proto::{Headers, Method, RequestHead, RequestTarget, Version};
use crate::server::conn::{body_wanted, conn, slot};

/// A request: its head, and its body as a stream (Node's `IncomingMessage`).
///
/// The head is parsed before the handler runs; the body arrives afterwards,
/// through [`Request::body`]. A body the handler does not read is not
/// buffered beyond the high-water mark: the server stops reading the socket
/// (TCP then slows the client down), and once the response finished the rest
/// is read and discarded (or the connection closed).
#[derive(Debug, Clone)]
pub struct Request {
    conn: Key,
    seq: u64,
    head: RequestHead,
}

impl Request {
    pub(crate) fn new(conn: Key, seq: u64, head: RequestHead) -> Self {
        Request { conn, seq, head }
    }

    /// The whole parsed head.
    pub fn head(&self) -> &RequestHead {
        &self.head
    }

    /// The method.
    pub fn method(&self) -> &Method {
        &self.head.method
    }

    /// The request target as sent (`/path?query`).
    pub fn target(&self) -> &RequestTarget {
        &self.head.target
    }

    /// The path part of the target.
    pub fn path(&self) -> &str {
        self.head.target.path()
    }

    /// The query part of the target, without `?`.
    pub fn query(&self) -> Option<&str> {
        self.head.target.query()
    }

    /// The protocol version.
    pub fn version(&self) -> Version {
        self.head.version
    }

    /// The header fields.
    pub fn headers(&self) -> &Headers {
        &self.head.headers
    }

    /// The body as a readable byte stream, created on first call (later calls
    /// return the same stream). Reading it sends `100 Continue` to a client
    /// that asked for it. A request without a body gives a stream that ends at
    /// once.
    pub fn body(&self, lp: &mut Loop) -> Readable<Bytes> {
        let (ck, seq) = (self.conn, self.seq);
        if let Some(stream) = slot(lp, ck, seq).and_then(|s| s.body.stream) {
            return stream;
        }
        let hwm = conn(lp, ck).map_or(64 * 1024, |c| c.options.high_water_mark);
        let options = StreamOptions {
            readable_high_water_mark: Some(hwm),
            label: "http.body",
            ..StreamOptions::default()
        };
        let stream = Readable::new(lp, BodySource { conn: ck, seq }, options);
        let Some(s) = slot(lp, ck, seq) else {
            // The exchange is over: nothing more will come.
            stream.push_eof(lp);
            return stream;
        };
        s.body.stream = Some(stream);
        let pending = s.body.pending.take();
        let ended = s.body.ended;
        for chunk in pending {
            stream.push(lp, chunk);
        }
        if ended {
            stream.push_eof(lp);
        }
        stream
    }
}

/// The body stream's source: asking for more lets the connection read on.
struct BodySource {
    conn: Key,
    seq: u64,
}

impl Source<Bytes> for BodySource {
    fn read(&mut self, lp: &mut Loop, _stream: Readable<Bytes>, _size: usize) {
        body_wanted(lp, self.conn, self.seq);
    }
}
