//! The response a handler writes.

use bytes::{BufMut, Bytes, BytesMut};
use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;
use eventide_streams::{Sink, StreamOptions, Writable, WriteStatus};

use crate::proto::encode::{encode_chunk_header, encode_response_head, encode_response_head_with};
use crate::proto::{EncodeError, Framing, Headers};
use crate::server::conn::{COPY_BELOW, HeadTarget, conn, head_target, response_ended, send, slot};

const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

type Callback = Box<dyn FnMut(&mut Loop)>;

#[derive(Default)]
struct ResListeners {
    drain: Vec<Callback>,
    finish: Vec<Callback>,
    close: Vec<Callback>,
}

/// The response side of one exchange, held in the connection's slot.
pub(crate) struct ResState {
    head_request: bool,
    http10: bool,
    /// Send `Connection: close` and close after this response.
    pub(crate) close: bool,
    status: u16,
    headers: Headers,
    pub(crate) head_sent: bool,
    framing: Framing,
    /// For `Length` framing: bytes still owed.
    remaining: u64,
    body_allowed: bool,
    pub(crate) ended: bool,
    need_drain: bool,
    listeners: Option<Box<ResListeners>>,
    writable: Option<Writable<Bytes>>,
    writable_waiting: bool,
}

impl ResState {
    /// A response not begun; `headers` is an empty map to fill (one whose
    /// allocation a finished response gave back, or a new one).
    pub(crate) fn new(head_request: bool, http10: bool, close: bool, headers: Headers) -> Self {
        debug_assert!(headers.is_empty());
        ResState {
            head_request,
            http10,
            close,
            status: 200,
            headers,
            head_sent: false,
            framing: Framing::None,
            remaining: 0,
            body_allowed: true,
            ended: false,
            need_drain: false,
            listeners: None,
            writable: None,
            writable_waiting: false,
        }
    }

    /// Whether [`ResState::finished`] has anything to tell: a response
    /// writable waiting for its last write, or `finish` listeners.
    pub(crate) fn finish_needs_loop(&self) -> bool {
        (self.writable_waiting && self.writable.is_some())
            || self
                .listeners
                .as_ref()
                .is_some_and(|l| !l.finish.is_empty())
    }

    /// The response was handed to the socket in full: `finish` listeners run
    /// on the next tick, as Node emits `finish`.
    pub(crate) fn finished(self, lp: &mut Loop) {
        if let Some(w) = self.writable.filter(|_| self.writable_waiting) {
            w.complete_write(lp, Ok(()));
        }
        if let Some(l) = self.listeners {
            let ResListeners { finish, .. } = *l;
            if !finish.is_empty() {
                lp.next_tick(move |lp| finish.into_iter().for_each(|mut f| f(lp)));
            }
        }
    }

    /// Marks the response ended and settles what its framing asks of the
    /// connection. Returns whether a chunked body's last chunk must follow.
    fn mark_ended(&mut self) -> bool {
        self.ended = true;
        match self.framing {
            Framing::Chunked => self.body_allowed,
            Framing::Length(_) => {
                // Fewer bytes than declared: the client would wait for the
                // rest, so the connection cannot carry another response.
                if self.remaining > 0 && self.body_allowed {
                    self.close = true;
                }
                false
            }
            // The end of the body is the end of the connection.
            Framing::None => {
                self.close = true;
                false
            }
        }
    }

    /// Counts body bytes against a declared length; bytes past it are dropped
    /// (they would be read as the next response).
    fn take_owed(&mut self, mut body: Bytes) -> Bytes {
        if let Framing::Length(_) = self.framing {
            let owed = usize::try_from(self.remaining).unwrap_or(usize::MAX);
            if body.len() > owed {
                body.truncate(owed);
                self.close = true;
            }
            self.remaining -= body.len() as u64;
        }
        body
    }

    /// The header map, emptied, for the next response to fill.
    pub(crate) fn take_headers(&mut self) -> Headers {
        let mut headers = std::mem::take(&mut self.headers);
        headers.clear();
        headers
    }

    /// The server answers in the handler's place (its request turned out
    /// malformed or too slow before the handler responded): what the handler
    /// set is dropped; the handler's later calls do nothing, as the response
    /// is then ended. Returns the response writable, if any, to destroy.
    pub(crate) fn take_over(&mut self) -> Option<Writable<Bytes>> {
        self.writable_waiting = false;
        self.status = 200;
        self.headers = Headers::new();
        self.close = true;
        self.writable.take()
    }

    /// The connection closed before the response finished.
    pub(crate) fn closed(self, lp: &mut Loop) {
        if let Some(w) = self.writable {
            w.destroy(lp, None);
        }
        if let Some(l) = self.listeners {
            let ResListeners { close, .. } = *l;
            if !close.is_empty() {
                lp.next_tick(move |lp| close.into_iter().for_each(|mut f| f(lp)));
            }
        }
    }
}

/// A response (Node's `ServerResponse`): set the status and headers, then
/// write the body with [`Response::write`] and finish with [`Response::end`].
///
/// `end` with the whole body and nothing written before sends
/// `Content-Length`; writing before `end` streams with chunked encoding
/// (HTTP/1.1) or until close (HTTP/1.0). `write` follows the stream rules: it
/// returns `false` once the socket's buffer is full; wait for
/// [`Response::on_drain`]. Responses to `HEAD`, and 204 and 304, carry no
/// body whatever is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Response {
    conn: Key,
    seq: u64,
}

impl Response {
    pub(crate) fn new(conn: Key, seq: u64) -> Self {
        Response { conn, seq }
    }

    pub(crate) fn parts(self) -> (Key, u64) {
        (self.conn, self.seq)
    }

    fn state(self, lp: &mut Loop) -> Option<&mut ResState> {
        slot(lp, self.conn, self.seq).map(|s| &mut s.res)
    }

    /// Sets the status code (default 200). Ignored once the head was sent.
    pub fn set_status(self, lp: &mut Loop, status: u16) {
        if let Some(r) = self.state(lp).filter(|r| !r.head_sent) {
            r.status = status;
        }
    }

    /// The status code.
    pub fn status(self, lp: &mut Loop) -> u16 {
        self.state(lp).map_or(0, |r| r.status)
    }

    /// Sets a header field, replacing fields of the same name. Names and
    /// values are `Bytes`, `&'static str` or `String` (no copy is made). A
    /// `Content-Length` set here is used as the framing (the body must then
    /// have exactly that length).
    ///
    /// # Errors
    ///
    /// [`EncodeError::InvalidHeaderName`] or [`EncodeError::InvalidHeaderValue`]
    /// for a name or value that could inject into the head.
    pub fn set_header(
        self,
        lp: &mut Loop,
        name: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<(), EncodeError> {
        let Some(r) = self.state(lp).filter(|r| !r.head_sent) else {
            return Ok(());
        };
        r.headers.try_insert(name, value)
    }

    /// Adds a header field, keeping fields of the same name.
    ///
    /// # Errors
    ///
    /// As [`Response::set_header`].
    pub fn append_header(
        self,
        lp: &mut Loop,
        name: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<(), EncodeError> {
        let Some(r) = self.state(lp).filter(|r| !r.head_sent) else {
            return Ok(());
        };
        r.headers.try_append(name, value)
    }

    /// Whether the head was sent (Node's `headersSent`).
    pub fn headers_sent(self, lp: &mut Loop) -> bool {
        self.state(lp).is_none_or(|r| r.head_sent)
    }

    /// Whether `end` was called (or the connection is gone).
    pub fn is_ended(self, lp: &mut Loop) -> bool {
        self.state(lp).is_none_or(|r| r.ended)
    }

    /// Writes body bytes, sending the head first if needed. Returns `false`
    /// when the caller should wait for `drain` before writing more.
    pub fn write(self, lp: &mut Loop, chunk: Bytes) -> bool {
        let Some(r) = self.state(lp) else {
            return false;
        };
        if r.ended {
            return false;
        }
        if !r.head_sent {
            self.send_head(lp, None, None);
        }
        self.send_body(lp, chunk)
    }

    /// Ends the response, after `chunk` if given. With nothing written before,
    /// the head says `Content-Length: chunk.len()`.
    pub fn end(self, lp: &mut Loop, chunk: Option<Bytes>) {
        let Some(target) = head_target(lp, self.conn, self.seq) else {
            return;
        };
        let r = &target.slot.res;
        if r.ended {
            return;
        }
        let chunk = chunk.unwrap_or_default();
        if !r.head_sent {
            // The whole response at once (the common case): the head, the
            // body and the end in one pass over the slot.
            let len = chunk.len() as u64;
            let written = encode_head(target, Some(len), Some(chunk), true);
            self.hand_over(lp, written);
            response_ended(lp, self.conn);
            return;
        }
        self.send_body(lp, chunk);
        let Some(r) = self.state(lp) else { return };
        if r.mark_ended() {
            send(lp, self.conn, self.seq, Bytes::from_static(LAST_CHUNK));
        }
        response_ended(lp, self.conn);
    }

    /// Calls `f` when writing may go on after `write` returned `false`.
    pub fn on_drain(self, lp: &mut Loop, f: impl FnMut(&mut Loop) + 'static) {
        if let Some(r) = self.state(lp) {
            r.listeners.get_or_insert_default().drain.push(Box::new(f));
        }
    }

    /// Calls `f` once the whole response was handed to the socket.
    pub fn on_finish(self, lp: &mut Loop, f: impl FnMut(&mut Loop) + 'static) {
        if let Some(r) = self.state(lp) {
            r.listeners.get_or_insert_default().finish.push(Box::new(f));
        }
    }

    /// Calls `f` if the connection closes before the response finished.
    pub fn on_close(self, lp: &mut Loop, f: impl FnMut(&mut Loop) + 'static) {
        if let Some(r) = self.state(lp) {
            r.listeners.get_or_insert_default().close.push(Box::new(f));
        }
    }

    /// The body as a [`Writable`], so a readable can be `pipe`d into it;
    /// ending it ends the response.
    pub fn writable(self, lp: &mut Loop) -> Writable<Bytes> {
        if let Some(w) = self.state(lp).and_then(|r| r.writable) {
            return w;
        }
        let label = StreamOptions::default().label("http.response");
        let w = Writable::new(lp, ResponseSink { res: self }, label);
        match self.state(lp) {
            Some(r) => r.writable = Some(w),
            None => w.destroy(lp, None),
        }
        w
    }

    /// The socket accepted what was buffered: tell whoever waits.
    pub(crate) fn drained(self, lp: &mut Loop) {
        let Some(r) = self.state(lp) else { return };
        if !r.need_drain {
            return;
        }
        r.need_drain = false;
        let waiting = std::mem::take(&mut r.writable_waiting)
            .then_some(r.writable)
            .flatten();
        let mut listeners = r
            .listeners
            .as_mut()
            .map(|l| std::mem::take(&mut l.drain))
            .unwrap_or_default();
        if let Some(w) = waiting {
            w.complete_write(lp, Ok(()));
        }
        for f in &mut listeners {
            f(lp);
        }
        if let Some(r) = self.state(lp) {
            let l = r.listeners.get_or_insert_default();
            listeners.append(&mut l.drain);
            l.drain = listeners;
        }
    }

    /// Decides the framing and writes the head (and `body`, when small).
    fn send_head(self, lp: &mut Loop, known_len: Option<u64>, body: Option<Bytes>) {
        if let Some(target) = head_target(lp, self.conn, self.seq) {
            let written = encode_head(target, known_len, body, false);
            self.hand_over(lp, written);
        }
    }

    /// Gives the socket what [`encode_head`] left to send, and notes whether
    /// the response must wait for `drain`.
    fn hand_over(self, lp: &mut Loop, written: HeadWritten) {
        let (ck, seq) = (self.conn, self.seq);
        let mut below = written.below;
        if let Some(head) = written.head {
            below = send(lp, ck, seq, head);
        }
        if let Some(body) = written.rest {
            below = send(lp, ck, seq, body);
        }
        if !below && let Some(r) = self.state(lp) {
            r.need_drain = true;
        }
    }

    fn send_body(self, lp: &mut Loop, chunk: Bytes) -> bool {
        let Some(r) = self.state(lp) else {
            return false;
        };
        if chunk.is_empty() || !r.body_allowed {
            return true;
        }
        let framing = r.framing;
        let chunk = r.take_owed(chunk);
        if chunk.is_empty() {
            return true;
        }
        let (ck, seq) = (self.conn, self.seq);
        let below = match framing {
            Framing::Chunked => {
                let mut head = BytesMut::with_capacity(16 + chunk.len().min(COPY_BELOW) + 2);
                encode_chunk_header(chunk.len(), &mut head);
                if chunk.len() <= COPY_BELOW {
                    head.put_slice(&chunk);
                    head.put_slice(b"\r\n");
                    send(lp, ck, seq, head.freeze())
                } else {
                    send(lp, ck, seq, head.freeze());
                    send(lp, ck, seq, chunk);
                    send(lp, ck, seq, Bytes::from_static(b"\r\n"))
                }
            }
            Framing::Length(_) | Framing::None => send(lp, ck, seq, chunk),
        };
        if !below && let Some(r) = self.state(lp) {
            r.need_drain = true;
        }
        below
    }

    /// Whether the connection this response belongs to is still open.
    pub fn is_connected(self, lp: &mut Loop) -> bool {
        conn(lp, self.conn).is_some()
    }
}

/// What [`encode_head`] leaves for the socket: the head (with a small body)
/// when it could not go into the connection's output buffer, a large body,
/// and what the socket's `write` says (or would) of the buffered bytes.
struct HeadWritten {
    head: Option<Bytes>,
    rest: Option<Bytes>,
    below: bool,
}

/// Decides the framing and encodes the head (and `body`, when small) of the
/// response in `target`; with `ending`, also marks it ended, as
/// [`Response::end`] would after it. Touches only the connection, not the
/// loop, so that `end` reaches the slot once.
fn encode_head(
    HeadTarget {
        slot: s,
        date_line,
        mut direct,
    }: HeadTarget<'_>,
    known_len: Option<u64>,
    body: Option<Bytes>,
    ending: bool,
) -> HeadWritten {
    // A final response to a client still waiting for `100 Continue`:
    // whether the body follows is the client's choice, so the connection
    // cannot carry another request; say so (RFC 9110 §10.1.1).
    let b = &s.body;
    if b.expect_continue && !b.continue_sent && !b.ended {
        s.res.close = true;
    }
    let r = &mut s.res;
    r.head_sent = true;
    // One pass over the handler's fields: a Content-Length it set is the
    // framing (and is written by the encoder), a Date it set is kept.
    let (mut declared, mut has_date, mut has_length) = (None, false, false);
    for (name, value) in &r.headers {
        if name.eq_ignore_ascii_case(b"content-length") {
            has_length = true;
            declared = std::str::from_utf8(value)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok());
        } else if name.eq_ignore_ascii_case(b"date") {
            has_date = true;
        }
    }
    if has_length {
        r.headers.remove("content-length");
    }
    r.framing = match (declared, known_len) {
        (Some(n), _) | (None, Some(n)) => Framing::Length(n),
        (None, None) if r.http10 => Framing::None,
        (None, None) => Framing::Chunked,
    };
    r.remaining = match r.framing {
        Framing::Length(n) => n,
        _ => 0,
    };
    if r.framing == Framing::None {
        r.close = true;
    }
    // The server's own fields go straight to the encoder, as whole lines.
    let mut extra: [&[u8]; 2] = [b""; 2];
    let mut n = 0;
    if !has_date {
        extra[n] = date_line;
        n += 1;
    }
    if r.close {
        extra[n] = b"Connection: close\r\n";
        n += 1;
    } else if r.http10 {
        extra[n] = b"Connection: keep-alive\r\n";
        n += 1;
    }
    // The front response, during a pass over the connection's input, is
    // encoded into the connection's output buffer; any other into its own.
    let mut own = BytesMut::new();
    let out = match direct.as_mut() {
        Some(d) => &mut *d.buf,
        None => &mut own,
    };
    out.reserve(256 + body.as_ref().map_or(0, |b| b.len().min(COPY_BELOW)));
    let start = out.len();
    let encoded = encode_response_head_with(
        r.status,
        None,
        &r.headers,
        &extra[..n],
        r.framing,
        r.head_request,
        out,
    );
    let body_allowed = match encoded {
        Ok(allowed) => allowed,
        Err(_) => {
            // A status the encoder refuses: answer 500 instead.
            out.truncate(start);
            r.close = true;
            r.framing = Framing::Length(0);
            let _ =
                encode_response_head(500, None, &Headers::new(), r.framing, r.head_request, out);
            false
        }
    };
    r.body_allowed = body_allowed;
    let mut rest = None;
    if let Some(body) = body.filter(|b| !b.is_empty() && body_allowed) {
        let body = r.take_owed(body);
        if body.len() <= COPY_BELOW {
            out.put_slice(&body);
        } else {
            rest = Some(body);
        }
    }
    if ending {
        // Framed by a length here: no last chunk to send.
        r.mark_ended();
    }
    match direct {
        Some(d) => HeadWritten {
            head: None,
            rest,
            below: d.below_mark(),
        },
        None => HeadWritten {
            head: Some(own.freeze()),
            rest,
            below: true,
        },
    }
}

/// The [`Response::writable`] adapter.
struct ResponseSink {
    res: Response,
}

impl Sink<Bytes> for ResponseSink {
    fn write(&mut self, lp: &mut Loop, _stream: Writable<Bytes>, chunk: Bytes) -> WriteStatus {
        if self.res.write(lp, chunk) {
            return WriteStatus::Done;
        }
        match self.res.state(lp) {
            Some(r) => {
                r.writable_waiting = true;
                WriteStatus::Pending
            }
            None => WriteStatus::Failed(eventide_streams::StreamError::PrematureClose),
        }
    }

    fn finish(&mut self, lp: &mut Loop, _stream: Writable<Bytes>) -> WriteStatus {
        self.res.end(lp, None);
        WriteStatus::Done
    }
}
