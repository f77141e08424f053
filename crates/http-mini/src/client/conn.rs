//! One client connection: a socket, a response parser and the request it
//! currently serves.
//!
//! The socket's events are routed here by connection key, once per
//! connection, whatever request it serves:
//!
//! - `data` is appended to the receive buffer and parsed; response body
//!   bytes are pushed into the response's body stream, and when that stream
//!   is full the socket is paused (the body's source resumes it);
//! - `end` (the server closed) ends a body read until close, or fails the
//!   request, or retries it on a new connection if this was a reused
//!   connection and no response byte came (a stale keep-alive connection);
//! - `error` and `close` fail the request the same way;
//! - `drain` lets a request body write that waited for the socket go on.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use eventide_loop_phases::{Loop, Timer};
use eventide_reactor::slab::Key;
use eventide_streams::net::{Socket, SocketOptions};

use super::agent::{self, Agent, PoolKey};
use super::error::{ClientError, from_socket_error};
use super::request;
use super::state::{conn, state};
use crate::proto::{Event, ResponseParser};

pub(crate) struct ConnEntry {
    pub(crate) socket: Socket,
    pub(crate) agent: Agent,
    pub(crate) pool: PoolKey,
    pub(crate) parser: ResponseParser,
    /// Received bytes the parser has not consumed yet.
    buf: BytesMut,
    /// The request this connection serves, if any.
    pub(crate) req: Option<Key>,
    /// Responses completed on this connection.
    served: u32,
    connected: bool,
    /// Paused because the response body stream is full.
    pub(crate) paused: bool,
    /// A byte of the current request's response arrived.
    response_started: bool,
    /// Whether the current response allows reuse.
    keep_alive: bool,
    idle_timer: Option<Timer>,
}

/// Opens a connection to `key` and wires its socket events.
pub(crate) fn open(
    lp: &mut Loop,
    agent: Agent,
    key: PoolKey,
    connect_timeout: Option<Duration>,
) -> Key {
    let mut options = SocketOptions {
        no_delay: agent.options().no_delay,
        connect_timeout,
        ..SocketOptions::default()
    };
    options.stream = options.stream.label("http-client");
    // An address needs no resolution on the work pool.
    let socket = match key.host.parse::<IpAddr>() {
        Ok(ip) => Socket::connect_tcp(lp, SocketAddr::new(ip, key.port), options),
        Err(_) => Socket::connect(lp, &key.host, key.port, options),
    };
    let ck = state(lp).conns.insert(ConnEntry {
        socket,
        agent,
        pool: key,
        parser: ResponseParser::new(),
        buf: BytesMut::new(),
        req: None,
        served: 0,
        connected: false,
        paused: false,
        response_started: false,
        keep_alive: false,
        idle_timer: None,
    });
    socket.on_connect(lp, move |lp| {
        if let Some(c) = conn(lp, ck) {
            c.connected = true;
        }
    });
    socket.on_data(lp, move |lp, chunk| on_data(lp, ck, chunk));
    socket.on_end(lp, move |lp| on_eof(lp, ck));
    socket.on_error(lp, move |lp, err| {
        let connected = conn(lp, ck).is_some_and(|c| c.connected);
        let e = from_socket_error(&err, connected);
        lose_conn(lp, ck, e);
    });
    socket.on_close(lp, move |lp| {
        lose_conn(lp, ck, ClientError::ConnectionClosed)
    });
    socket.on_drain(lp, move |lp| {
        if let Some(rk) = conn(lp, ck).and_then(|c| c.req) {
            request::socket_drained(lp, rk);
        }
    });
    ck
}

/// Starts serving request `rk` (the request side calls this from attach).
pub(crate) fn begin_request(lp: &mut Loop, ck: Key, rk: Key, method: &crate::proto::Method) {
    if let Some(c) = conn(lp, ck) {
        c.req = Some(rk);
        c.response_started = false;
        c.keep_alive = false;
        c.parser.expect_response(method);
    }
}

/// Takes an idle connection out of the idle state. Returns `false` if it is
/// gone.
pub(crate) fn take_idle(lp: &mut Loop, ck: Key) -> bool {
    let Some(socket) = conn(lp, ck).map(|c| c.socket) else {
        return false;
    };
    if socket.is_destroyed(lp) {
        return false;
    }
    let Some(c) = conn(lp, ck) else { return false };
    let timer = c.idle_timer.take();
    if let Some(t) = timer {
        lp.clear_timeout(t);
    }
    socket.set_ref(lp, true);
    true
}

/// Pools a connection as idle: unreferenced, and closed after `idle`.
pub(crate) fn make_idle(lp: &mut Loop, ck: Key, idle: Duration) {
    let Some(c) = conn(lp, ck) else { return };
    let socket = c.socket;
    socket.set_ref(lp, false);
    let t = lp.set_timeout(idle, move |lp| {
        if let Some(c) = conn(lp, ck) {
            c.idle_timer = None;
            if c.req.is_none() {
                discard_conn(lp, ck);
            }
        }
    });
    // An idle connection never keeps the loop alive, nor does its timer.
    lp.unref_handle(t);
    if let Some(c) = conn(lp, ck) {
        c.idle_timer = Some(t);
    }
}

/// Resumes the socket if the body stream had paused it.
pub(crate) fn resume(lp: &mut Loop, ck: Key) {
    let Some(c) = conn(lp, ck) else { return };
    if c.paused {
        c.paused = false;
        let socket = c.socket;
        socket.resume(lp);
    }
}

fn on_data(lp: &mut Loop, ck: Key, chunk: Bytes) {
    let Some(c) = conn(lp, ck) else { return };
    if c.req.is_some() {
        c.response_started = true;
    }
    c.buf.extend_from_slice(&chunk);
    process(lp, ck);
}

/// Parses what was received, delivering each event to the request.
fn process(lp: &mut Loop, ck: Key) {
    loop {
        // Re-read every round: a user callback may have aborted the request
        // or destroyed the body, which detaches or drops the connection.
        let Some(c) = conn(lp, ck) else { return };
        let Some(rk) = c.req else {
            if !c.buf.is_empty() {
                // Bytes on an idle connection: the server is confused.
                discard_conn(lp, ck);
            }
            return;
        };
        let event = match c.parser.next_event(&mut c.buf) {
            Ok(Some(event)) => event,
            Ok(None) => return,
            Err(e) => return lose_conn(lp, ck, ClientError::Parse(e)),
        };
        match event {
            Event::Head(head) if head.is_interim() => request::deliver_info(lp, rk, &head),
            Event::Head(head) => {
                if let Some(c) = conn(lp, ck) {
                    c.keep_alive = head.keep_alive;
                }
                request::deliver_head(lp, rk, head);
            }
            Event::Data(data) => {
                let Some(body) = request::body_of(lp, rk) else {
                    continue;
                };
                if !body.push(lp, data)
                    && !body.is_destroyed(lp)
                    && let Some(c) = conn(lp, ck)
                    && c.req == Some(rk)
                    && !c.paused
                {
                    // The consumer is behind: stop reading until it asks.
                    c.paused = true;
                    let socket = c.socket;
                    socket.pause(lp);
                }
            }
            Event::End { .. } => return response_complete(lp, ck, rk),
        }
    }
}

/// The response to `rk` ended: pool the connection if it can serve another
/// request, else close it.
fn response_complete(lp: &mut Loop, ck: Key, rk: Key) {
    let request_sent = request::finish_response(lp, rk);
    let Some(c) = conn(lp, ck) else { return };
    c.served += 1;
    c.req = None;
    c.response_started = false;
    let reusable = c.keep_alive && request_sent && c.buf.is_empty() && !c.parser.is_upgraded();
    let socket = c.socket;
    let reusable = reusable && !socket.is_destroyed(lp);
    if reusable {
        resume(lp, ck);
        agent::release(lp, ck);
    } else {
        discard_conn(lp, ck);
    }
}

/// The server closed its side.
fn on_eof(lp: &mut Loop, ck: Key) {
    let Some(c) = conn(lp, ck) else { return };
    match c.parser.eof() {
        Ok(Some(Event::End { .. })) => match c.req {
            Some(rk) => response_complete(lp, ck, rk),
            None => discard_conn(lp, ck),
        },
        Ok(_) => lose_conn(lp, ck, ClientError::ConnectionClosed),
        Err(e) => lose_conn(lp, ck, ClientError::Parse(e)),
    }
}

/// Removes a connection from the table and its pool and closes its socket.
/// Returns the entry so that the caller deals with its request.
fn remove_conn(lp: &mut Loop, ck: Key) -> Option<ConnEntry> {
    let c = state(lp).conns.remove(ck)?;
    if let Some(t) = c.idle_timer {
        lp.clear_timeout(t);
    }
    agent::forget_conn(lp, c.agent, &c.pool, ck);
    if !c.socket.is_destroyed(lp) {
        c.socket.destroy(lp, None);
    }
    Some(c)
}

/// Closes a connection that serves no request (or whose request was
/// already detached), and lets a waiting request have its place.
pub(crate) fn discard_conn(lp: &mut Loop, ck: Key) {
    if let Some(c) = remove_conn(lp, ck) {
        agent::pump_queue(lp, c.agent, &c.pool);
    }
}

/// The connection is lost: retry its request if a stale keep-alive
/// connection is the likely cause, else fail the request with `err`.
pub(crate) fn lose_conn(lp: &mut Loop, ck: Key, err: ClientError) {
    let Some(c) = remove_conn(lp, ck) else { return };
    let Some(rk) = c.req else {
        agent::pump_queue(lp, c.agent, &c.pool);
        return;
    };
    // Node's rule: a reused connection that fails before any response
    // byte was most likely closed by the server while idle; the request
    // never reached a handler, so it is sent again (once) on a new one.
    let stale = c.served > 0 && !c.response_started;
    if stale && request::retry(lp, rk) {
        agent::pump_queue(lp, c.agent, &c.pool);
        return;
    }
    agent::pump_queue(lp, c.agent, &c.pool);
    request::fail(lp, rk, err);
}
