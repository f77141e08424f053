//! [`ClientRequest`] and [`RequestOptions`]: a request, its body as a
//! writable stream, and the glue that sends it on a pooled connection.
//!
//! # The request body
//!
//! The body is a [`Writable<Bytes>`] whose sink forwards to the socket of
//! the connection the request was given, so the stream rules apply:
//! `write` returns `false` at the high-water mark, `drain` follows. A chunk
//! that arrives before a connection is available waits in the sink (the
//! write stays pending, so later writes buffer in the stream and `write`
//! says when to stop); once the connection is attached it goes out.
//!
//! The framing is chosen from how the body is written, as Node does:
//!
//! | body written as | framing |
//! |---|---|
//! | `end(Some(body))`, nothing written before | `Content-Length: body.len()` |
//! | `write` (any number) then `end` | `Transfer-Encoding: chunked` |
//! | `end(None)`, method GET, HEAD, DELETE, OPTIONS, TRACE, CONNECT | no framing field |
//! | `end(None)`, any other method (POST, PUT, PATCH, ...) | `Content-Length: 0` |
//!
//! The head is sent with the first body chunk or with `end`, whichever
//! comes first, so that the framing is known.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use eventide_loop_phases::{Loop, Timer};
use eventide_reactor::slab::Key;
use eventide_streams::net::Socket;
use eventide_streams::{
    ListenerId, Readable, Sink, StreamError, StreamOptions, Writable, WriteStatus,
};

use super::agent::{self, Agent, PoolKey};
use super::conn;
use super::error::{ClientError, TimeoutKind};
use super::response::{BodySource, ClientResponse};
use super::state::{conn as conn_entry, req, state};
use super::url::Url;
use crate::proto::encode::{encode_chunk_header, encode_last_chunk, encode_request_head};
use crate::proto::{BodyKind, Framing, Headers, Method, ResponseHead};

/// The callback that receives a request's response or error.
pub type ResponseCallback = Box<dyn FnOnce(&mut Loop, Result<ClientResponse, ClientError>)>;

type InfoCallback = Box<dyn FnMut(&mut Loop, &ResponseHead)>;

/// What to send, where, and the deadlines (Node's `http.request` options).
///
/// ```
/// use eventide_http_mini::client::RequestOptions;
/// use eventide_http_mini::proto::Method;
/// use std::time::Duration;
///
/// let opts = RequestOptions::new(Method::POST, "http://127.0.0.1:8080/items".parse()?)
///     .header("Content-Type", "application/json")
///     .connect_timeout(Duration::from_secs(2))
///     .response_timeout(Duration::from_secs(10));
/// assert_eq!(opts.url.port(), 8080);
/// # Ok::<(), eventide_http_mini::client::UrlError>(())
/// ```
#[derive(Clone, Debug)]
pub struct RequestOptions {
    /// The method.
    pub method: Method,
    /// Where to send the request: host and port to connect to, and the
    /// target.
    pub url: Url,
    /// Header fields to send. `Host` is added (from the URL) unless present.
    /// Do not set `Content-Length` or `Transfer-Encoding`: the client
    /// frames the body from how it is written (see [`ClientRequest`]).
    pub headers: Headers,
    /// Give up if the TCP connection is not established within this
    /// (default: no limit). Applies when the request opens a new connection.
    pub connect_timeout: Option<Duration>,
    /// Give up if the response head does not arrive within this after the
    /// request was sent completely (default: no limit). On expiry the
    /// connection is closed and the request fails with
    /// [`ClientError::Timeout`].
    pub response_timeout: Option<Duration>,
    /// The connection pool to use (default: [`Agent::default_for`] the loop).
    pub agent: Option<Agent>,
}

impl RequestOptions {
    /// Options for `method` to `url`, with no extra headers, no deadlines,
    /// and the loop's default agent.
    pub fn new(method: Method, url: Url) -> Self {
        RequestOptions {
            method,
            url,
            headers: Headers::new(),
            connect_timeout: None,
            response_timeout: None,
            agent: None,
        }
    }

    /// Appends a header field.
    pub fn header(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.headers.append(name, value);
        self
    }

    /// Sets [`RequestOptions::connect_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = Some(timeout);
        self
    }

    /// Sets [`RequestOptions::response_timeout`].
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = Some(timeout);
        self
    }

    /// Sets [`RequestOptions::agent`].
    pub fn agent(mut self, agent: Agent) -> Self {
        self.agent = Some(agent);
        self
    }
}

/// A request in flight: a small `Copy` id whose methods take the loop
/// (Node's `http.ClientRequest`). It is the request body as a writable
/// stream; call [`ClientRequest::end`] to send it, even without a body.
///
/// See the [module docs](crate::client) for how the framing follows from `write` and
/// `end`. The response, or the error, comes to the `on_response` callback
/// given to [`request`](super::request), exactly once.
///
/// # Examples
///
/// A chunked upload: two writes, then `end`.
///
/// ```
/// use bytes::Bytes;
/// use eventide_http_mini::client::{self, RequestOptions};
/// use eventide_http_mini::proto::Method;
/// use eventide_loop_phases::{Loop, RunMode};
/// use std::io::{Read, Write};
///
/// // A server that reads a chunked request to its last chunk and answers 201.
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let port = listener.local_addr()?.port();
/// let server = std::thread::spawn(move || {
///     let (mut conn, _) = listener.accept().unwrap();
///     let mut got = Vec::new();
///     let mut buf = [0u8; 1024];
///     while !got.ends_with(b"0\r\n\r\n") {
///         let n = conn.read(&mut buf).unwrap();
///         got.extend_from_slice(&buf[..n]);
///     }
///     conn.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n").unwrap();
///     String::from_utf8(got).unwrap()
/// });
///
/// let mut lp = Loop::new();
/// let url = format!("http://127.0.0.1:{port}/upload").parse()?;
/// let req = client::request(&mut lp, RequestOptions::new(Method::POST, url), |_lp, res| {
///     assert_eq!(res.expect("a response").status(), 201);
/// });
/// req.write(&mut lp, Bytes::from_static(b"hello "));
/// req.write(&mut lp, Bytes::from_static(b"world"));
/// req.end(&mut lp, None);
/// lp.run(RunMode::Default);
///
/// let wire = server.join().unwrap();
/// assert!(wire.contains("Transfer-Encoding: chunked\r\n"));
/// assert!(wire.ends_with("\r\n\r\n6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientRequest {
    key: Key,
    body: Writable<Bytes>,
}

impl ClientRequest {
    /// Writes a body chunk (Node's `req.write`); the body is then sent with
    /// `Transfer-Encoding: chunked`. Returns `false` once the buffered
    /// weight reached the high-water mark (64 KiB): wait for
    /// [`ClientRequest::on_drain`]. After the request failed, the chunk is
    /// dropped and `false` returned.
    pub fn write(self, lp: &mut Loop, chunk: Bytes) -> bool {
        self.body.write(lp, chunk)
    }

    /// Ends the body, after writing `chunk` if given (Node's `req.end`): the
    /// request is then complete and the response timeout starts. If nothing
    /// was written before, a non-empty `chunk` is sent with
    /// `Content-Length`.
    pub fn end(self, lp: &mut Loop, chunk: Option<Bytes>) {
        let chunk = chunk.filter(|c| !c.is_empty());
        let buffered = self.body.writable_length(lp);
        if let Some(r) = req(lp, self.key)
            && r.framing.is_none()
            && buffered == 0
            && let Some(c) = &chunk
        {
            r.framing = Some(Framing::Length(c.len() as u64));
            r.replay = Some(c.clone());
        }
        self.body.end(lp, chunk);
    }

    /// Calls `f` when writing may go on after `write` returned `false`.
    pub fn on_drain(self, lp: &mut Loop, f: impl FnMut(&mut Loop) + 'static) -> ListenerId {
        self.body.on_drain(lp, f)
    }

    /// Calls `f` once the whole body was handed to the connection.
    pub fn on_finish(self, lp: &mut Loop, f: impl FnMut(&mut Loop) + 'static) -> ListenerId {
        self.body.on_finish(lp, f)
    }

    /// Calls `f` with every interim (1xx) response head, such as
    /// `100 Continue` or `103 Early Hints` (Node's `information` event).
    /// Interim responses are otherwise skipped.
    pub fn on_information(self, lp: &mut Loop, f: impl FnMut(&mut Loop, &ResponseHead) + 'static) {
        if let Some(r) = req(lp, self.key) {
            r.on_info = Some(Box::new(f));
        }
    }

    /// The request body as a writable stream, for `pipe`: a readable piped
    /// into it is sent chunked, and `end` comes from the pipe. Writing to
    /// it directly is the same as [`ClientRequest::write`].
    pub fn writable(self) -> Writable<Bytes> {
        self.body
    }

    /// Aborts the request (Node's `req.destroy()`): its connection is
    /// closed; `on_response` gets [`ClientError::Aborted`] if no response
    /// came yet, else the response body is destroyed with that error.
    /// Does nothing once the response was complete.
    pub fn abort(self, lp: &mut Loop) {
        self.destroy(lp, ClientError::Aborted);
    }

    /// Like [`ClientRequest::abort`], reporting `err` instead.
    pub fn destroy(self, lp: &mut Loop, err: ClientError) {
        fail(lp, self.key, err);
    }

    /// Whether the request is still in progress: no error, and the
    /// response (head and body) not complete yet.
    pub fn is_pending(self, lp: &Loop) -> bool {
        lp.try_ext::<super::state::ClientState>()
            .and_then(|s| s.requests.get(self.key))
            .is_some_and(|r| !matches!(r.response, Resp::Done))
    }
}

// ----- state ------------------------------------------------------------------

/// A body write waiting for something.
enum Wait {
    /// A chunk, for a connection.
    Chunk(Bytes),
    /// The end, for a connection.
    Finish,
    /// The socket's `drain`.
    Drain,
}

/// Where the response is.
pub(crate) enum Resp {
    Waiting,
    Body(Readable<Bytes>),
    /// Complete, failed, or abandoned by the consumer.
    Done,
}

pub(crate) struct ReqEntry {
    method: Method,
    target: String,
    headers: Headers,
    pub(crate) agent: Agent,
    pub(crate) pool: PoolKey,
    pub(crate) connect_timeout: Option<Duration>,
    response_timeout: Option<Duration>,
    /// `Connection: close` was sent: never reuse the connection.
    wants_close: bool,
    on_response: Option<ResponseCallback>,
    on_info: Option<InfoCallback>,
    body_w: Option<Writable<Bytes>>,
    framing: Option<Framing>,
    /// The whole body, for a request that may be sent again.
    replay: Option<Bytes>,
    wait: Option<Wait>,
    pub(crate) conn: Option<Key>,
    pub(crate) queued: bool,
    head_sent: bool,
    /// The whole request was handed to the socket.
    body_sent: bool,
    retried: bool,
    /// Retried after the head went out once: send head and body again.
    retrying: bool,
    response_timer: Option<Timer>,
    pub(crate) response: Resp,
    writable_done: bool,
}

/// Methods whose requests carry no body by default (Node's
/// `useChunkedEncodingByDefault` is false for them).
fn no_body_by_default(m: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
        Method::CONNECT,
    ]
    .contains(m)
}

/// Methods that may be sent twice (RFC 9110 §9.2.2).
fn idempotent(m: &Method) -> bool {
    [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
    ]
    .contains(m)
}

/// Whether a `Connection` field holds the `close` option.
fn says_close(headers: &Headers) -> bool {
    headers.get_all("connection").any(|v| {
        v.split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
    })
}

// ----- creating a request ----------------------------------------------------------

/// Sends a request (Node's `http.request`): the connection comes from the
/// agent's pool, and `on_response` runs once, with the response as soon as
/// its head arrived (the body streams after) or with the error.
///
/// Write the body to the returned [`ClientRequest`] and call
/// [`ClientRequest::end`]: the request is not complete before (use
/// [`get`](super::get) for a GET without a body).
///
/// # Errors
///
/// Reported to `on_response`, never synchronously: [`ClientError::Encode`]
/// for a header that cannot be sent (reported on the next tick), then
/// connect, timeout, parse and connection errors as they happen. After the
/// head was delivered, errors destroy the response body stream instead.
///
/// # Examples
///
/// ```
/// use eventide_http_mini::client::{self, RequestOptions};
/// use eventide_http_mini::proto::Method;
/// use eventide_loop_phases::{Loop, RunMode};
/// use std::io::{Read, Write};
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
/// let port = listener.local_addr()?.port();
/// std::thread::spawn(move || {
///     let (mut conn, _) = listener.accept().unwrap();
///     let mut head = Vec::new();
///     let mut byte = [0u8; 1];
///     while !head.ends_with(b"\r\n\r\n") {
///         conn.read_exact(&mut byte).unwrap();
///         head.push(byte[0]);
///     }
///     conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello").unwrap();
/// });
///
/// let mut lp = Loop::new();
/// let url = format!("http://127.0.0.1:{port}/greeting").parse()?;
/// let body = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
/// let sink = body.clone();
/// let req = client::request(&mut lp, RequestOptions::new(Method::GET, url), move |lp, res| {
///     let res = res.expect("a response");
///     assert_eq!(res.status(), 200);
///     res.body().on_data(lp, move |_, chunk| sink.borrow_mut().extend_from_slice(&chunk));
/// });
/// req.end(&mut lp, None);
/// lp.run(RunMode::Default);
/// assert_eq!(&body.borrow()[..], b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn request(
    lp: &mut Loop,
    options: RequestOptions,
    on_response: impl FnOnce(&mut Loop, Result<ClientResponse, ClientError>) + 'static,
) -> ClientRequest {
    new_request(lp, Ok(options), Box::new(on_response))
}

/// Creates the request entry and its body stream; dispatches it, or fails
/// it on the next tick if it cannot be sent.
pub(crate) fn new_request(
    lp: &mut Loop,
    options: Result<RequestOptions, ClientError>,
    on_response: ResponseCallback,
) -> ClientRequest {
    let (options, mut error) = match options {
        Ok(o) => (o, None),
        Err(e) => {
            let placeholder = Url::parse("http://invalid./").expect("a valid URL");
            (RequestOptions::new(Method::GET, placeholder), Some(e))
        }
    };
    let RequestOptions {
        method,
        url,
        headers: user_headers,
        connect_timeout,
        response_timeout,
        agent,
    } = options;
    let agent = agent.unwrap_or_else(|| Agent::default_for(lp));
    let keep_alive = agent.options().keep_alive;

    // Host first (RFC 9110 §7.2), then the caller's fields in order.
    let mut headers = Headers::with_capacity(user_headers.len() + 2);
    if !user_headers.contains("host") {
        headers.append("Host", url.host_header());
    }
    for (name, value) in &user_headers {
        headers.append(Bytes::copy_from_slice(name), Bytes::copy_from_slice(value));
    }
    if !keep_alive && !headers.contains("connection") {
        headers.append("Connection", "close");
    }
    let wants_close = !keep_alive || says_close(&headers);
    let target = url.path_and_query().to_string();
    if error.is_none() {
        let mut scratch = BytesMut::new();
        error = encode_request_head(&method, &target, &headers, Framing::None, &mut scratch)
            .err()
            .map(ClientError::Encode);
    }

    let entry = ReqEntry {
        method,
        target,
        headers,
        agent,
        pool: PoolKey {
            host: url.host().to_string(),
            port: url.port(),
        },
        connect_timeout,
        response_timeout,
        wants_close,
        on_response: Some(on_response),
        on_info: None,
        body_w: None,
        framing: None,
        replay: None,
        wait: None,
        conn: None,
        queued: false,
        head_sent: false,
        body_sent: false,
        retried: false,
        retrying: false,
        response_timer: None,
        response: Resp::Waiting,
        writable_done: false,
    };
    let rk = state(lp).requests.insert(entry);
    let body = Writable::new(
        lp,
        RequestSink { req: rk },
        StreamOptions::default().label("http-request"),
    );
    if let Some(r) = req(lp, rk) {
        r.body_w = Some(body);
    }
    match error {
        // Errors are reported asynchronously, as every other one is.
        Some(e) => lp.next_tick(move |lp| fail(lp, rk, e)),
        None => agent::dispatch(lp, rk, false),
    }
    ClientRequest { key: rk, body }
}

// ----- sending ------------------------------------------------------------------------

/// The writable side's sink: forwards the body to the connection.
struct RequestSink {
    req: Key,
}

impl Sink<Bytes> for RequestSink {
    fn write(&mut self, lp: &mut Loop, _stream: Writable<Bytes>, chunk: Bytes) -> WriteStatus {
        let rk = self.req;
        let Some(r) = req(lp, rk) else {
            return WriteStatus::Failed(StreamError::Destroyed);
        };
        if chunk.is_empty() {
            return WriteStatus::Done;
        }
        r.framing.get_or_insert(Framing::Chunked);
        if r.conn.is_none() {
            r.wait = Some(Wait::Chunk(chunk));
            return WriteStatus::Pending;
        }
        if send_chunk(lp, rk, chunk) {
            WriteStatus::Done
        } else {
            set_wait(lp, rk, Wait::Drain);
            WriteStatus::Pending
        }
    }

    fn finish(&mut self, lp: &mut Loop, _stream: Writable<Bytes>) -> WriteStatus {
        let rk = self.req;
        let Some(r) = req(lp, rk) else {
            return WriteStatus::Failed(StreamError::Destroyed);
        };
        if r.framing.is_none() {
            r.framing = Some(if no_body_by_default(&r.method) {
                Framing::None
            } else {
                Framing::Length(0)
            });
        }
        if r.conn.is_none() {
            r.wait = Some(Wait::Finish);
            return WriteStatus::Pending;
        }
        send_finish(lp, rk);
        WriteStatus::Done
    }

    fn destroy(&mut self, lp: &mut Loop, _stream: Writable<Bytes>, _error: Option<&StreamError>) {
        if let Some(r) = req(lp, self.req) {
            r.writable_done = true;
            r.wait = None;
        }
        maybe_remove(lp, self.req);
    }
}

fn set_wait(lp: &mut Loop, rk: Key, wait: Wait) {
    if let Some(r) = req(lp, rk) {
        r.wait = Some(wait);
    }
}

fn socket_of(lp: &mut Loop, rk: Key) -> Option<Socket> {
    let ck = req(lp, rk)?.conn?;
    conn_entry(lp, ck).map(|c| c.socket)
}

/// A pending body write completed: let the writable go on.
fn complete_body_write(lp: &mut Loop, rk: Key) {
    if let Some(w) = req(lp, rk).and_then(|r| r.body_w) {
        w.complete_write(lp, Ok(()));
    }
}

/// Writes the head unless it went out already.
fn send_head(lp: &mut Loop, rk: Key, socket: Socket) {
    let Some(r) = req(lp, rk) else { return };
    if r.head_sent {
        return;
    }
    let mut head = BytesMut::new();
    let framing = r.framing.unwrap_or(Framing::None);
    match encode_request_head(&r.method, &r.target, &r.headers, framing, &mut head) {
        Ok(()) => {
            r.head_sent = true;
            socket.write(lp, head.freeze());
        }
        // Checked when the request was made; kept for safety.
        Err(e) => lp.next_tick(move |lp| fail(lp, rk, ClientError::Encode(e))),
    }
}

/// Sends a body chunk (with the head first if needed). Returns `false` if
/// the socket is past its high-water mark: wait for its `drain`.
fn send_chunk(lp: &mut Loop, rk: Key, chunk: Bytes) -> bool {
    let Some(socket) = socket_of(lp, rk) else {
        return false;
    };
    let chunked = req(lp, rk).is_some_and(|r| r.framing == Some(Framing::Chunked));
    // Corked: the head, the chunk size line, the data and its CRLF leave
    // in one vectored write.
    socket.cork(lp);
    send_head(lp, rk, socket);
    let below_mark = if chunked {
        let mut size_line = BytesMut::with_capacity(20);
        encode_chunk_header(chunk.len(), &mut size_line);
        socket.write(lp, size_line.freeze());
        socket.write(lp, chunk);
        socket.write(lp, Bytes::from_static(b"\r\n"))
    } else {
        socket.write(lp, chunk)
    };
    socket.uncork(lp);
    below_mark
}

/// Ends the request on the wire; the response timeout starts.
fn send_finish(lp: &mut Loop, rk: Key) {
    let Some(socket) = socket_of(lp, rk) else {
        return;
    };
    let chunked = req(lp, rk).is_some_and(|r| r.framing == Some(Framing::Chunked));
    socket.cork(lp);
    send_head(lp, rk, socket);
    if chunked {
        let mut last = BytesMut::with_capacity(5);
        if encode_last_chunk(&Headers::new(), &mut last).is_ok() {
            socket.write(lp, last.freeze());
        }
    }
    socket.uncork(lp);
    if let Some(r) = req(lp, rk) {
        r.body_sent = true;
    }
    start_response_timer(lp, rk);
}

/// Sends a retried request again: the head and the whole body.
fn replay(lp: &mut Loop, rk: Key) {
    let Some(socket) = socket_of(lp, rk) else {
        return;
    };
    let body = req(lp, rk).and_then(|r| r.replay.clone());
    socket.cork(lp);
    send_head(lp, rk, socket);
    if let Some(body) = body {
        socket.write(lp, body);
    }
    socket.uncork(lp);
    start_response_timer(lp, rk);
}

fn start_response_timer(lp: &mut Loop, rk: Key) {
    let Some(r) = req(lp, rk) else { return };
    let (Some(timeout), old) = (r.response_timeout, r.response_timer.take()) else {
        return;
    };
    if let Some(t) = old {
        lp.clear_timeout(t);
    }
    let t = lp.set_timeout(timeout, move |lp| {
        let Some(r) = req(lp, rk) else { return };
        r.response_timer = None;
        if matches!(r.response, Resp::Waiting) {
            fail(
                lp,
                rk,
                ClientError::Timeout {
                    what: TimeoutKind::Response,
                },
            );
        }
    });
    if let Some(r) = req(lp, rk) {
        r.response_timer = Some(t);
    }
}

/// Gives request `rk` connection `ck`, and sends what was waiting for it.
pub(crate) fn attach(lp: &mut Loop, rk: Key, ck: Key) {
    let Some(r) = req(lp, rk) else {
        conn::discard_conn(lp, ck);
        return;
    };
    r.conn = Some(ck);
    r.queued = false;
    let method = r.method.clone();
    let retrying = std::mem::replace(&mut r.retrying, false);
    let wait = r.wait.take();
    conn::begin_request(lp, ck, rk, &method);
    if retrying {
        replay(lp, rk);
        return;
    }
    match wait {
        Some(Wait::Chunk(chunk)) => {
            if send_chunk(lp, rk, chunk) {
                complete_body_write(lp, rk);
            } else {
                set_wait(lp, rk, Wait::Drain);
            }
        }
        Some(Wait::Finish) => {
            send_finish(lp, rk);
            complete_body_write(lp, rk);
        }
        other => {
            if let Some(r) = req(lp, rk) {
                r.wait = other;
            }
        }
    }
}

/// The socket drained: a body write that waited for it completes.
pub(crate) fn socket_drained(lp: &mut Loop, rk: Key) {
    let Some(r) = req(lp, rk) else { return };
    if matches!(r.wait, Some(Wait::Drain)) {
        r.wait = None;
        complete_body_write(lp, rk);
    }
}

// ----- receiving -----------------------------------------------------------------------

/// An interim (1xx) head arrived.
pub(crate) fn deliver_info(lp: &mut Loop, rk: Key, head: &ResponseHead) {
    let Some(mut f) = req(lp, rk).and_then(|r| r.on_info.take()) else {
        return;
    };
    f(lp, head);
    if let Some(r) = req(lp, rk)
        && r.on_info.is_none()
    {
        r.on_info = Some(f);
    }
}

/// The final response head arrived: hand the response to `on_response`.
pub(crate) fn deliver_head(lp: &mut Loop, rk: Key, head: ResponseHead) {
    let Some(r) = req(lp, rk) else { return };
    if !matches!(r.response, Resp::Waiting) {
        return;
    }
    let (timer, callback) = (r.response_timer.take(), r.on_response.take());
    if let Some(t) = timer {
        lp.clear_timeout(t);
    }
    let empty = head.body == BodyKind::Empty;
    let body = Readable::new(
        lp,
        BodySource::new(rk),
        StreamOptions::default().label("http-response"),
    );
    if let Some(r) = req(lp, rk) {
        r.response = Resp::Body(body);
    }
    if let Some(cb) = callback {
        cb(lp, Ok(ClientResponse::new(head, body)));
    }
    // A body-less response (HEAD, 204, 304) nobody reads still ends and
    // frees its stream, as Node dumps an unread empty response.
    if empty && body.readable_flowing(lp).is_none() && !body.is_destroyed(lp) {
        body.resume(lp);
    }
}

/// The response body stream of `rk`, while the body is arriving.
pub(crate) fn body_of(lp: &mut Loop, rk: Key) -> Option<Readable<Bytes>> {
    match req(lp, rk)?.response {
        Resp::Body(b) => Some(b),
        _ => None,
    }
}

/// The response ended. Returns whether the request side allows the
/// connection to be reused: the whole request was sent and no
/// `Connection: close` was asked for.
pub(crate) fn finish_response(lp: &mut Loop, rk: Key) -> bool {
    let Some(r) = req(lp, rk) else { return false };
    let resp = std::mem::replace(&mut r.response, Resp::Done);
    r.conn = None;
    let reusable = r.body_sent && !r.wants_close;
    if let Resp::Body(body) = resp {
        body.push_eof(lp);
    }
    // If the server answered before the whole body was sent, the rest is
    // not wanted (and the connection is closed).
    close_writable(lp, rk, None);
    maybe_remove(lp, rk);
    reusable
}

/// The consumer destroyed the response body before its end: the rest of it
/// cannot be skipped on the wire, so the connection is closed.
pub(crate) fn body_abandoned(lp: &mut Loop, rk: Key) {
    let Some(r) = req(lp, rk) else { return };
    if !matches!(r.response, Resp::Body(_)) {
        return;
    }
    r.response = Resp::Done;
    let ck = r.conn.take();
    detach_and_discard(lp, rk, ck);
    close_writable(lp, rk, None);
    maybe_remove(lp, rk);
}

// ----- failing and retrying ------------------------------------------------------------------

/// Sends the request again on a new connection, if that is safe: it was
/// not retried before, and either nothing was sent yet, or the whole request
/// was sent, its method is idempotent and its body was kept. Returns
/// whether it did.
pub(crate) fn retry(lp: &mut Loop, rk: Key) -> bool {
    let Some(r) = req(lp, rk) else { return false };
    let replayable = idempotent(&r.method) && r.framing != Some(Framing::Chunked);
    let allowed = !r.retried
        && matches!(r.response, Resp::Waiting)
        && (!r.head_sent || (r.body_sent && replayable));
    if !allowed {
        return false;
    }
    r.retried = true;
    r.conn = None;
    if r.head_sent {
        r.head_sent = false;
        r.retrying = true;
    }
    if let Some(t) = r.response_timer.take() {
        lp.clear_timeout(t);
    }
    agent::dispatch(lp, rk, true);
    true
}

/// Fails the request with `err`: to `on_response` if no response came yet,
/// else to the response body stream. Its connection (if still attached) is
/// closed and its body stream destroyed; other requests are not affected.
pub(crate) fn fail(lp: &mut Loop, rk: Key, err: ClientError) {
    let Some(r) = req(lp, rk) else { return };
    let resp = std::mem::replace(&mut r.response, Resp::Done);
    let callback = r.on_response.take();
    let timer = r.response_timer.take();
    let queued = std::mem::replace(&mut r.queued, false);
    let (ck, agent, pool) = (r.conn.take(), r.agent, r.pool.clone());
    r.wait = None;
    if let Some(t) = timer {
        lp.clear_timeout(t);
    }
    if queued {
        agent::unqueue(lp, agent, &pool, rk);
    }
    detach_and_discard(lp, rk, ck);
    close_writable(lp, rk, Some(err.clone()));
    match resp {
        Resp::Waiting => {
            if let Some(cb) = callback {
                cb(lp, Err(err));
            }
        }
        Resp::Body(body) => body.destroy(lp, Some(err.into())),
        Resp::Done => {}
    }
    maybe_remove(lp, rk);
}

/// Closes connection `ck` if it still serves `rk`.
fn detach_and_discard(lp: &mut Loop, rk: Key, ck: Option<Key>) {
    let Some(ck) = ck else { return };
    if let Some(c) = conn_entry(lp, ck)
        && c.req == Some(rk)
    {
        c.req = None;
        conn::discard_conn(lp, ck);
    }
}

/// Destroys the request body stream unless the whole body was sent (its
/// `finish` then comes as usual).
fn close_writable(lp: &mut Loop, rk: Key, err: Option<ClientError>) {
    let Some(r) = req(lp, rk) else { return };
    if r.body_sent {
        return;
    }
    let Some(w) = r.body_w else { return };
    if !w.is_destroyed(lp) {
        w.destroy(lp, err.map(Into::into));
    }
}

/// Frees the entry once nothing refers to it any more.
fn maybe_remove(lp: &mut Loop, rk: Key) {
    let done = req(lp, rk).is_some_and(|r| {
        matches!(r.response, Resp::Done) && r.writable_done && r.conn.is_none() && !r.queued
    });
    if done {
        state(lp).requests.remove(rk);
    }
}
