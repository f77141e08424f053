//! One server connection: bytes in, requests out to the handler, responses
//! back in request order, timeouts, and the way it ends.
//!
//! The connection owns a [`SocketHandle`], a socket without a stream (as
//! Node's HTTP server consumes its socket's handle, `parser.consume`): the
//! bytes read come straight to [`on_data`], which feeds them to the
//! connection's [`RequestParser`], and the output goes to the handle's
//! writes. An idle connection so holds no stream buffers or listeners.
//! Each parsed head opens a response *slot*; slots
//! are kept in request order and only the front one writes to the socket,
//! so pipelined responses cannot interleave. While a pass over the input
//! runs ([`process`]), the front response's output is encoded into the
//! connection's output buffer, which goes to the socket as one chunk when
//! the pass ends: a batch of pipelined requests is answered with one write.
//! Reading stops (backpressure to the client) while a request body is not
//! being consumed, or while too many responses are in flight.

use std::rc::Rc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use eventide_loop_phases::{Loop, Timer};
use eventide_reactor::slab::Key;
use eventide_streams::net::{HandleEvents, SocketHandle};
use eventide_streams::{Readable, StreamError};

use crate::proto::{BodyKind, Event, Limits, ParseError, RequestHead, RequestParser, Version};
use crate::server::chunks::Chunks;
use crate::server::request::Request;
use crate::server::response::{ResState, Response};
use crate::server::slots::Slots;
use crate::server::{ServerOptions, connection_closed, connection_opened, dispatch, http};

/// Which deadline the connection's one timer stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Deadline {
    /// Waiting for a request to begin (keep-alive idle).
    Idle,
    /// A request began; its head is not complete.
    Headers,
    /// The head is complete; its body, if any, is not.
    Request,
    /// The connection is closing: waiting for the client's FIN after the
    /// last response ([`LINGER`]) or, after an error, for the responses
    /// before the error response ([`ERROR_GRACE`]); then it is destroyed.
    Closing,
}

/// How long a closing connection waits for the client's FIN after sending
/// its own (a lingering close, as Apache's): the socket is released when the
/// client closes, or after this long if it never does.
const LINGER: Duration = Duration::from_secs(2);

/// After an error or a timeout, how long the responses in flight before the
/// error response may take before the connection is cut off.
const ERROR_GRACE: Duration = Duration::from_secs(5);

/// Output chunks up to this size are copied into the connection's output
/// buffer (one write for many small ones); larger ones are handed to the
/// socket as they are.
pub(crate) const COPY_BELOW: usize = 4096;

/// The body of one request, as it arrives.
#[derive(Default)]
pub(crate) struct BodyState {
    /// The stream handed to the handler, once it asked for it.
    pub(crate) stream: Option<Readable<Bytes>>,
    /// Body bytes that arrived before the handler asked for the stream.
    pub(crate) pending: Chunks,
    /// The parser reached the end of this body.
    pub(crate) ended: bool,
    /// The client waits for `100 Continue` before sending the body.
    pub(crate) expect_continue: bool,
    pub(crate) continue_sent: bool,
}

/// One request and its response, in request order.
pub(crate) struct Slot {
    pub(crate) seq: u64,
    pub(crate) res: ResState,
    pub(crate) body: BodyState,
    /// Output produced while an earlier response is still going out.
    pub(crate) held: Chunks,
}

/// What a connection uses only while it has input to parse or responses
/// to send. An idle connection gives it back to the loop's spare
/// ([`Http::spare_busy`](crate::server::Http)), which the next connection
/// to become busy takes: idle connections hold none of it, and busy ones
/// reuse one allocation (with its buffers' allocations).
#[derive(Default)]
pub(crate) struct Busy {
    parser: RequestParser,
    inbuf: BytesMut,
    /// Output of the front response made during a pass of [`process`]: the
    /// responses to a batch of pipelined requests are encoded into it and
    /// handed to the socket as one chunk when the pass ends.
    outbuf: BytesMut,
    /// The socket's buffered length when `outbuf` was last handed over, so
    /// that a response written into `outbuf` learns what `write` on the
    /// socket would have said.
    out_base: usize,
}

impl Busy {
    /// Whether the socket, given `outbuf`, is below its high-water mark.
    fn below_mark(&self, hwm: usize) -> bool {
        self.out_base + self.outbuf.len() < hwm
    }

    /// Whether nothing is held that the connection still needs: no input,
    /// no output, the parser between requests with nothing of the next seen.
    fn at_rest(&self) -> bool {
        self.inbuf.is_empty() && self.outbuf.is_empty() && self.parser.is_fresh()
    }

    /// Goes to `spare` if it has none, with the buffers' allocations when
    /// they are not too big to keep and have room left for a few small
    /// messages, or can be reused whole (nothing split off them is still
    /// alive); dropped otherwise. (Taking the room back to the start of the
    /// allocation only once it runs low, not after every request, is a
    /// measurable share of a keep-alive request.)
    fn give_back(mut self: Box<Self>, spare: &mut Option<Box<Busy>>) {
        if spare.is_some() {
            return;
        }
        for buf in [&mut self.inbuf, &mut self.outbuf] {
            let roomy = buf.capacity() >= FEW_SMALL || buf.try_reclaim(BUF_SIZE);
            if !(roomy && buf.capacity() <= SPARE_KEEP) {
                *buf = BytesMut::new();
            }
        }
        *spare = Some(self);
    }
}

pub(crate) struct Conn {
    pub(crate) server: Key,
    pub(crate) socket: SocketHandle,
    /// Made or taken when input arrives, given back when idle ([`Busy`]).
    busy: Option<Box<Busy>>,
    pub(crate) slots: Slots,
    next_seq: u64,
    /// The request whose body is arriving.
    pub(crate) receiving: Option<u64>,
    /// Bytes of an unread body still allowed to be discarded.
    discard_budget: Option<u64>,
    requests: u32,
    /// No request after the current ones: close once their responses are out.
    pub(crate) close_after: bool,
    /// Reading is paused; why, for resuming only when no reason is left.
    body_full: bool,
    too_many_in_flight: bool,
    processing: bool,
    /// The socket was corked in this pass of [`process`], for a chunk too
    /// large for `outbuf`: the pass's writes then leave together.
    corked: bool,
    client_ended: bool,
    timer: Option<Timer>,
    /// When the timer is set to fire.
    timer_due: LoopTime,
    /// When the current deadline passes; the timer may be set earlier and
    /// then sets itself again.
    deadline_at: LoopTime,
    /// Whether `deadline` is being timed (the timer may be queued unarmed).
    armed: bool,
    deadline: Deadline,
    /// When the current request's first byte arrived, so the request
    /// timeout counts from there, not from the end of the head.
    request_started: LoopTime,
    pub(crate) options: Rc<ServerOptionsRef>,
}

/// A loop time (`lp.now()`) in whole nanoseconds: half the room of a
/// `Duration`, and every connection keeps three.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct LoopTime(u64);

impl LoopTime {
    fn of(t: Duration) -> Self {
        LoopTime(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX))
    }

    fn get(self) -> Duration {
        Duration::from_nanos(self.0)
    }
}

/// The few options a connection consults on every request, shared by the
/// server's connections so the hot path does not look the server up.
#[derive(Clone, Copy)]
pub(crate) struct ServerOptionsRef {
    headers_timeout: Option<Duration>,
    request_timeout: Option<Duration>,
    keep_alive_timeout: Option<Duration>,
    max_requests: Option<u32>,
    max_pipelined: usize,
    pub(crate) high_water_mark: usize,
    max_discard: u64,
    limits: Limits,
}

impl From<&ServerOptions> for ServerOptionsRef {
    fn from(o: &ServerOptions) -> Self {
        ServerOptionsRef {
            headers_timeout: o.headers_timeout,
            request_timeout: o.request_timeout,
            keep_alive_timeout: o.keep_alive_timeout,
            max_requests: o.max_requests_per_connection,
            max_pipelined: o.max_pipelined.max(1),
            high_water_mark: o.high_water_mark,
            max_discard: o.max_discard,
            limits: o.limits,
        }
    }
}

pub(crate) fn conn(lp: &mut Loop, ck: Key) -> Option<&mut Conn> {
    http(lp).conns.get_mut(ck)
}

/// The slot of request `seq`, if its response is still in flight.
pub(crate) fn slot(lp: &mut Loop, ck: Key, seq: u64) -> Option<&mut Slot> {
    let c = conn(lp, ck)?;
    let i = c.slots.position(seq)?;
    c.slots.get_mut(i)
}

/// What a connection's socket reports: plain functions with the
/// connection's key, no closure per connection.
static EVENTS: HandleEvents = HandleEvents {
    on_read: on_data,
    on_eof: on_client_end,
    on_drain,
    on_close,
};

/// A connection was accepted: its socket reports to the connection.
pub(crate) fn accept(lp: &mut Loop, server: Key, socket: SocketHandle) {
    let Some(s) = http(lp).servers.get(server) else {
        socket.close(lp);
        return;
    };
    let options = Rc::clone(&s.conn_options);
    let ck = http(lp).conns.insert(Conn {
        server,
        socket,
        busy: None,
        slots: Slots::default(),
        next_seq: 0,
        receiving: None,
        discard_budget: None,
        requests: 0,
        close_after: false,
        body_full: false,
        too_many_in_flight: false,
        processing: false,
        corked: false,
        client_ended: false,
        timer: None,
        timer_due: LoopTime::default(),
        deadline_at: LoopTime::default(),
        armed: false,
        deadline: Deadline::Idle,
        request_started: LoopTime::default(),
        options,
    });
    connection_opened(lp, server);
    // A connection that never sends a complete head is cut off too.
    begin_request_timing(lp, ck);
    socket.start(lp, ck, &EVENTS);
}

fn on_data(lp: &mut Loop, ck: Key, chunk: Bytes) {
    let now = lp.now();
    let h = http(lp);
    let Some(c) = h.conns.get_mut(ck) else { return };
    let mut moved = None;
    // (Not when closing: what arrives then is discarded, never timed.)
    if c.deadline == Deadline::Idle && !c.close_after && c.slots.is_empty() && c.receiving.is_none()
    {
        moved = c.begin_request(now);
    }
    let b = c.busy(&mut h.spare_busy);
    make_room(&mut b.inbuf, chunk.len());
    b.inbuf.extend_from_slice(&chunk);
    let pass = c.begin_pass();
    move_timer(lp, ck, moved);
    if let Some(socket) = pass {
        run_pass(lp, ck, socket);
    }
}

/// The size of the input and output buffers a connection takes when it
/// becomes busy (more if a chunk needs it), and the most a spare may keep.
const BUF_SIZE: usize = 4096;
const SPARE_KEEP: usize = 16 * 1024;

/// Room for a few small messages: what an output buffer is given for a
/// pass, and what a spare buffer may keep without being taken back to the
/// start of its allocation.
const FEW_SMALL: usize = BUF_SIZE / 4;

/// Gives an empty `buf` with less room than `at_least` bytes that room: its
/// own allocation's, taken back to the start if nothing split off it is
/// alive, or else a new allocation of at least [`BUF_SIZE`] (one, not a
/// growth by steps).
fn make_room(buf: &mut BytesMut, at_least: usize) {
    if buf.is_empty() && buf.capacity() < at_least && !buf.try_reclaim(at_least) {
        *buf = BytesMut::with_capacity(BUF_SIZE.max(at_least));
    }
}

/// Parses what arrived and acts on it, until the parser needs more bytes or
/// the connection must wait.
pub(crate) fn process(lp: &mut Loop, ck: Key) {
    if let Some(socket) = conn(lp, ck).and_then(Conn::begin_pass) {
        run_pass(lp, ck, socket);
    }
}

/// The pass of [`process`] that [`Conn::begin_pass`] began.
fn run_pass(lp: &mut Loop, ck: Key, socket: SocketHandle) {
    // Responses finished during this pass leave in one write: small ones
    // through `outbuf`, large ones with the socket corked (`write_out`).
    let mut base = Some(socket.write_queue_size(lp));
    let mut input_ended = false;
    loop {
        let h = http(lp);
        let Some(c) = h.conns.get_mut(ck) else { return };
        if let Some(base) = base.take() {
            let b = c.busy(&mut h.spare_busy);
            b.out_base = base;
            // (A large response grows it.)
            make_room(&mut b.outbuf, FEW_SMALL);
        }
        if c.body_full || c.too_many_in_flight {
            break;
        }
        let Some(b) = c.busy.as_deref_mut() else {
            break;
        };
        if c.close_after && c.receiving.is_none() && c.discard_budget.is_none() {
            // Nothing after the last request is read as a request.
            b.inbuf.clear();
            break;
        }
        if c.receiving.is_none()
            && c.discard_budget.is_none()
            && c.slots.len() >= c.options.max_pipelined
        {
            c.too_many_in_flight = true;
            socket.read_stop(lp);
            break;
        }
        // Nothing to parse between requests (the parser would say so at
        // more cost): the usual end of a pass.
        let event = if b.inbuf.is_empty() && b.parser.is_idle() {
            Ok(None)
        } else {
            b.parser.next_event(&mut b.inbuf)
        };
        match event {
            Ok(None) => {
                input_ended = c.client_ended;
                break;
            }
            Ok(Some(Event::Head(head))) => {
                if head.body == BodyKind::Empty {
                    // A request without a body ends with its head: its `End`
                    // (which has nothing to end) is taken now, not by another
                    // turn of this loop.
                    let end = b.parser.next_event(&mut b.inbuf);
                    debug_assert!(matches!(end, Ok(Some(Event::End { .. }))), "{end:?}");
                }
                on_head(lp, ck, head);
            }
            Ok(Some(Event::Data(data))) => on_body_data(lp, ck, data),
            // The end of a request without a body: nothing to end.
            Ok(Some(Event::End { .. })) if c.receiving.is_none() => {}
            Ok(Some(Event::End { .. })) => on_body_end(lp, ck),
            Err(e) => {
                reject(lp, ck, e);
                break;
            }
        }
    }
    // The pass's output goes to the socket, after the large writes held by
    // the cork, if any (`try_write` refuses while the socket is corked).
    let (over_mark, corked) = flush(lp, ck, true);
    if corked {
        socket.uncork(lp);
    }
    // Output that reached the mark in `outbuf` (a response was told to
    // wait) may have gone to the OS whole, never queued on the socket: no
    // `on_drain` comes then, so say it now.
    if over_mark && socket.is_write_idle(lp) {
        on_drain(lp, ck);
    }
    if input_ended {
        client_input_done(lp, ck);
    }
}

fn on_head(lp: &mut Loop, ck: Key, head: RequestHead) {
    let now = lp.now();
    let h = http(lp);
    let Some(c) = h.conns.get_mut(ck) else { return };
    let seq = c.next_seq;
    c.next_seq += 1;
    c.requests += 1;
    let last_allowed = c.options.max_requests.is_some_and(|m| c.requests >= m);
    let server = c.server;
    // The handler is fetched here, with the stats, for `dispatch`.
    let (closing_server, handler) = match h.servers.get_mut(server) {
        Some(s) => {
            s.stats.requests += 1;
            (s.closing, Some(Rc::clone(&s.handler)))
        }
        None => (true, None),
    };
    // (A client that sent its FIN may have pipelined this request before it:
    // it is answered, and the connection closes once the input is done.)
    let keep_alive = head.keep_alive && !last_allowed && !closing_server;
    if !keep_alive {
        c.close_after = true;
    }
    let present = head.body != BodyKind::Empty;
    let slot = Slot {
        seq,
        res: ResState::new(
            head.method.is_head(),
            head.version == Version::Http10,
            !keep_alive,
            h.spare_headers.take().unwrap_or_default(),
        ),
        body: BodyState {
            ended: !present,
            expect_continue: present && head.expect_continue,
            ..BodyState::default()
        },
        held: Chunks::default(),
    };
    c.slots.push_back(slot, &mut h.spare_slots);
    if present {
        c.receiving = Some(seq);
        // The body is timed from the request's first byte if the head was
        // being timed, else (a request pipelined behind others, whose head
        // was not) from now. Either way every body is timed.
        let started = if c.deadline == Deadline::Headers {
            c.request_started.get()
        } else {
            now
        };
        let spent = now.saturating_sub(started);
        let t = c.options.request_timeout.map(|t| t.saturating_sub(spent));
        let moved = c.set_deadline(now, Deadline::Request, t);
        move_timer(lp, ck, moved);
    } else {
        // Past the head, untimed: no stale `Headers` may time a later request.
        c.set_deadline(now, Deadline::Request, None);
    }
    dispatch(
        lp,
        handler,
        Request::new(ck, seq, head),
        Response::new(ck, seq),
    );
}

fn on_body_data(lp: &mut Loop, ck: Key, data: Bytes) {
    let Some(c) = conn(lp, ck) else { return };
    let Some(seq) = c.receiving else { return };
    let hwm = c.options.high_water_mark;
    if let Some(budget) = c.discard_budget {
        // The response is done and nobody will read this body: drop it,
        // within a budget, so the connection can carry the next request.
        match budget.checked_sub(data.len() as u64) {
            Some(left) => c.discard_budget = Some(left),
            None => close_now(lp, ck),
        }
        return;
    }
    let Some(s) = slot(lp, ck, seq) else { return };
    let full = match s.body.stream {
        Some(stream) => !stream.push(lp, data),
        None => s.body.pending.push(data) >= hwm,
    };
    if full {
        pause_for_body(lp, ck);
    }
}

fn on_body_end(lp: &mut Loop, ck: Key) {
    let Some(c) = conn(lp, ck) else { return };
    let Some(seq) = c.receiving.take() else {
        return;
    };
    if c.discard_budget.take().is_some() {
        after_request_done(lp, ck);
        return;
    }
    if let Some(s) = slot(lp, ck, seq) {
        s.body.ended = true;
        if let Some(stream) = s.body.stream {
            stream.push_eof(lp);
        }
    }
    after_request_done(lp, ck);
}

/// The request's last byte arrived: its deadline no longer applies.
fn after_request_done(lp: &mut Loop, ck: Key) {
    if conn(lp, ck).is_some_and(|c| c.deadline == Deadline::Request) {
        disarm(lp, ck);
    }
    maybe_idle(lp, ck);
}

/// A malformed request: answer with its status after the responses before
/// it, and read nothing more from this connection.
fn reject(lp: &mut Loop, ck: Key, e: ParseError) {
    let Some(c) = conn(lp, ck) else { return };
    let server = c.server;
    if let Some(s) = http(lp).servers.get_mut(server) {
        s.stats.rejected += 1;
    }
    fail(
        lp,
        ck,
        e.status(),
        &e.to_string(),
        StreamError::other(e.to_string()),
    );
}

/// The request being read failed (malformed, over a limit, or too slow):
/// stop reading, answer `status`, and close once the responses are out.
///
/// An error inside a request's body belongs to that request: the server
/// answers in the handler's place if its response has not started, and
/// sends nothing more if it has (a second response to one request would be
/// read by the client as the answer to a request it never sent). An error
/// in a head gets a response of its own, after those before it.
fn fail(lp: &mut Loop, ck: Key, status: u16, message: &str, body_error: StreamError) {
    let Some(c) = conn(lp, ck) else { return };
    c.close_after = true;
    if let Some(b) = c.busy.as_deref_mut() {
        b.inbuf = BytesMut::new();
    }
    c.discard_budget = None;
    let socket = c.socket;
    let receiving = c.receiving.take();
    socket.read_stop(lp);
    // If the responses in flight never finish, do not wait for them forever
    // (closing normally replaces this deadline with the linger one).
    arm(lp, ck, Deadline::Closing, Some(ERROR_GRACE));
    // A body that was streaming to the handler ends with the error.
    if let Some(seq) = receiving
        && let Some(stream) = slot(lp, ck, seq).and_then(|s| s.body.stream)
    {
        stream.destroy(lp, Some(body_error));
    }
    match receiving {
        None => error_response(lp, ck, status, message),
        Some(seq) => match slot(lp, ck, seq) {
            Some(s) if !s.res.head_sent && !s.res.ended => {
                if let Some(w) = s.res.take_over() {
                    w.destroy(lp, None);
                }
                answer_error(lp, Response::new(ck, seq), status, message);
            }
            // Its response has begun: the connection closes after it.
            Some(s) => s.res.close = true,
            // Already answered; the rest of the body was being discarded.
            None => maybe_idle(lp, ck),
        },
    }
}

/// Queues a server-made error response that closes the connection.
fn error_response(lp: &mut Loop, ck: Key, status: u16, message: &str) {
    let h = http(lp);
    let Some(c) = h.conns.get_mut(ck) else { return };
    let seq = c.next_seq;
    c.next_seq += 1;
    let slot = Slot {
        seq,
        res: ResState::new(
            false,
            false,
            true,
            h.spare_headers.take().unwrap_or_default(),
        ),
        body: BodyState::default(),
        held: Chunks::default(),
    };
    c.slots.push_back(slot, &mut h.spare_slots);
    answer_error(lp, Response::new(ck, seq), status, message);
}

fn answer_error(lp: &mut Loop, res: Response, status: u16, message: &str) {
    res.set_status(lp, status);
    let _ = res.set_header(lp, "Content-Type", "text/plain; charset=utf-8");
    res.end(lp, Some(Bytes::from(format!("{message}\n"))));
}

/// The handler of request `seq` panicked. That exchange cannot be trusted:
/// answer 500 if nothing was sent yet, else cut the response off; either way
/// the connection closes after it. Other connections are not touched.
pub(crate) fn handler_panicked(lp: &mut Loop, ck: Key, seq: u64) {
    let Some(c) = conn(lp, ck) else { return };
    c.close_after = true;
    match slot(lp, ck, seq) {
        Some(s) if !s.res.head_sent && !s.res.ended => {
            if let Some(w) = s.res.take_over() {
                w.destroy(lp, None);
            }
            answer_error(
                lp,
                Response::new(ck, seq),
                500,
                "Internal Server Error (the request handler panicked)",
            );
        }
        Some(s) if !s.res.ended => close_now(lp, ck),
        _ => maybe_idle(lp, ck),
    }
}

/// Output of response `seq`: straight to the socket if it is the front
/// response, else held until the ones before it are done. Returns whether
/// more may be written (Node's `write` result).
pub(crate) fn send(lp: &mut Loop, ck: Key, seq: u64, data: Bytes) -> bool {
    let Some(c) = conn(lp, ck) else { return false };
    let hwm = c.options.high_water_mark;
    if c.slots.front().is_some_and(|s| s.seq == seq) {
        return write_out(lp, ck, data);
    }
    let Some(s) = slot(lp, ck, seq) else {
        return false;
    };
    s.held.push(data) < hwm
}

/// Writes to the socket, in order with what waits in `outbuf`: during a
/// pass of [`process`] a small chunk is copied into `outbuf`, else
/// `outbuf` goes first and the chunk after it. Returns what the socket's
/// `write` says (or would say, had the chunk gone to it).
fn write_out(lp: &mut Loop, ck: Key, data: Bytes) -> bool {
    let Some(c) = conn(lp, ck) else { return false };
    let hwm = c.options.high_water_mark;
    if c.processing
        && data.len() <= COPY_BELOW
        && let Some(b) = c.busy.as_deref_mut()
    {
        b.outbuf.extend_from_slice(&data);
        return b.below_mark(hwm);
    }
    let socket = c.socket;
    // In a pass, the socket is corked at its first large chunk, so that the
    // pass's writes still leave together (`process` uncorks).
    let cork = c.processing && !c.corked;
    c.corked |= cork;
    let out = c.busy.as_deref_mut().and_then(|b| {
        let out = b.take_out();
        b.out_base += data.len();
        out
    });
    if cork {
        socket.cork(lp);
    }
    if let Some(out) = out {
        let _ = socket.write(lp, out); // (an error closes: the next says so)
    }
    // A closed socket takes nothing more: stop (its `on_close` follows).
    socket.write(lp, data).is_ok_and(|queued| queued < hwm)
}

/// Hands what waits in `outbuf` to the socket (see [`flush`]). Returns
/// whether `outbuf` had reached the mark (so a response may wait for a
/// drain).
fn flush_out(lp: &mut Loop, ck: Key) -> bool {
    flush(lp, ck, false).0
}

/// Hands what waits in `outbuf` to the socket: straight to the OS if
/// nothing waits on the socket (as Node's `net` tries `uv_try_write` before
/// queueing), so `outbuf` keeps its allocation for the next response; what
/// the OS does not take is queued on the socket as one chunk (its
/// allocation is used again once the socket has written it).
///
/// With `end_pass`, this ends a pass of [`process`] too (in the same
/// look-ups of the connection): the pass is over, its busy parts go back if
/// nothing is in flight, and whether the pass corked the socket is
/// returned, for the caller to uncork after.
///
/// Returns whether `outbuf` had reached the mark, and whether the pass
/// corked the socket.
fn flush(lp: &mut Loop, ck: Key, end_pass: bool) -> (bool, bool) {
    let Some(c) = conn(lp, ck) else {
        return (false, false);
    };
    let corked = end_pass && std::mem::take(&mut c.corked);
    let (socket, hwm) = (c.socket, c.options.high_water_mark);
    let mut over_mark = false;
    let mut queued = 0;
    let mut rest = None;
    if let Some(b) = c.busy.as_deref_mut().filter(|b| !b.outbuf.is_empty()) {
        over_mark = !b.below_mark(hwm);
        let mut out = std::mem::take(&mut b.outbuf);
        if let Ok(n) = socket.try_write(lp, &out) {
            if n == out.len() {
                out.clear();
            } else {
                out.advance(n);
            }
        }
        if !out.is_empty() {
            let data = out.split().freeze();
            queued = data.len();
            // (An error closes the socket: its `on_close` follows.)
            let _ = socket.write(lp, data);
        }
        rest = Some(out);
    } else if !end_pass {
        return (false, false);
    }
    let h = http(lp);
    let Some(c) = h.conns.get_mut(ck) else {
        return (over_mark, corked);
    };
    if let Some(b) = c.busy.as_deref_mut() {
        b.out_base += queued;
        if let Some(out) = rest.filter(|_| b.outbuf.is_empty()) {
            b.outbuf = out;
        }
    }
    if end_pass {
        c.processing = false;
        if c.slots.is_empty() {
            c.rest(&mut h.spare_busy);
        }
    }
    (over_mark, corked)
}

/// What a response needs to write its head: its slot, the `Date` line,
/// and the connection's `outbuf` if the head may be encoded straight into
/// it (it is the front response, during a pass of [`process`]).
pub(crate) struct HeadTarget<'a> {
    pub(crate) slot: &'a mut Slot,
    pub(crate) date_line: &'a [u8],
    pub(crate) direct: Option<Direct<'a>>,
}

/// The connection's `outbuf`, and how much it may hold before the socket
/// would be at its high-water mark.
pub(crate) struct Direct<'a> {
    pub(crate) buf: &'a mut BytesMut,
    room: usize,
}

impl Direct<'_> {
    /// What the socket's `write` would say, given what `buf` holds now.
    pub(crate) fn below_mark(&self) -> bool {
        self.buf.len() < self.room
    }
}

/// The [`HeadTarget`] of response `seq`, if it is still in flight.
pub(crate) fn head_target(lp: &mut Loop, ck: Key, seq: u64) -> Option<HeadTarget<'_>> {
    let now = lp.now();
    let h = http(lp);
    let date_line = h.date.line_at(now);
    let c = h.conns.get_mut(ck)?;
    let i = c.slots.position(seq)?;
    let hwm = c.options.high_water_mark;
    let direct = match c.busy.as_deref_mut() {
        Some(b) if i == 0 && c.processing => Some(Direct {
            room: hwm.saturating_sub(b.out_base),
            buf: &mut b.outbuf,
        }),
        _ => None,
    };
    let slot = c.slots.get_mut(i)?;
    Some(HeadTarget {
        slot,
        date_line,
        direct,
    })
}

/// A response of the connection ended: if it is the front one, it is done,
/// and the next ones go out.
pub(crate) fn response_ended(lp: &mut Loop, ck: Key) {
    // A response behind the front waits for it: `advance` then stops at the
    // front at once.
    advance(lp, ck);
}

/// Retires finished responses at the front and starts the next one.
fn advance(lp: &mut Loop, ck: Key) {
    let resume = loop {
        let h = http(lp);
        let Some(c) = h.conns.get_mut(ck) else { return };
        if !c.slots.front().is_some_and(|front| front.res.ended) {
            break c.take_resume();
        }
        let mut slot = c.slots.pop_front().expect("front exists");
        // Its header map's allocation serves the next response.
        if h.spare_headers.is_none() {
            h.spare_headers = Some(slot.res.take_headers());
        }
        if slot.res.close {
            c.close_after = true;
        }
        let unread_body = c.receiving == Some(slot.seq);
        if let Some(s) = h.servers.get_mut(c.server) {
            s.stats.responses += 1;
        }
        // A response with no one to tell and no body left to read is done
        // without the loop, and the connection stays in hand.
        let c = if unread_body || slot.res.finish_needs_loop() {
            if unread_body {
                discard_rest(lp, ck, &slot.body);
            }
            slot.res.finished(lp);
            let Some(c) = conn(lp, ck) else { return };
            c
        } else {
            c
        };
        // Nothing else in flight (a keep-alive request): done.
        let Some(next) = c.slots.front_mut() else {
            break c.take_resume();
        };
        // The next response's held output goes out now, in order.
        let seq = next.seq;
        let held = next.held.take();
        let continue_wanted =
            next.body.expect_continue && !next.body.continue_sent && next.body.stream.is_some();
        let mut below_mark = true;
        for chunk in held {
            below_mark = write_out(lp, ck, chunk);
        }
        if continue_wanted {
            send_continue(lp, ck, seq);
        }
        if below_mark {
            // Its writes were refused while it waited its turn: it may go on.
            Response::new(ck, seq).drained(lp);
        }
    };
    if let Some((socket, read_on)) = resume {
        if read_on {
            socket.read_start(lp);
        }
        process(lp, ck);
    }
    maybe_idle(lp, ck);
}

/// The response finished before its request body was read: read the rest
/// and throw it away, or close if that could take long.
fn discard_rest(lp: &mut Loop, ck: Key, body: &BodyState) {
    let Some(c) = conn(lp, ck) else { return };
    // A client waiting for 100 Continue will not send the body; a client
    // sending it anyway would be misread. Neither can be kept alive.
    if body.expect_continue && !body.continue_sent {
        c.close_after = true;
        c.receiving = None;
        return;
    }
    c.discard_budget = Some(c.options.max_discard);
    if c.body_full {
        c.body_full = false;
        let socket = c.socket;
        socket.read_start(lp);
    }
}

/// When nothing is in flight: close if that was decided, else wait for the
/// next request under the keep-alive timeout.
fn maybe_idle(lp: &mut Loop, ck: Key) {
    let now = lp.now();
    let h = http(lp);
    let Some(c) = h.conns.get_mut(ck) else { return };
    if !c.slots.is_empty() || c.receiving.is_some() {
        return;
    }
    // Nothing in flight: the queue's memory is for the next busy connection,
    // and so is the rest, unless a pass of `process` runs (it gives them
    // back when it ends) or input waits.
    c.slots.give_back(&mut h.spare_slots);
    if !c.processing {
        c.rest(&mut h.spare_busy);
    }
    // After the client's FIN, requests it sent before may still wait in
    // `inbuf` (or in the pass of `process` running now): close only once
    // they are parsed.
    let input_left = c.processing || c.input_waiting();
    if c.close_after || (c.client_ended && !input_left) {
        let socket = c.socket;
        let client_ended = c.client_ended;
        // Reading may have paused for a body or for a rejection; nothing
        // after this point is parsed, so it can go on.
        c.body_full = false;
        c.too_many_in_flight = false;
        flush_out(lp, ck);
        let fin_sent = socket.shutdown(lp);
        if client_ended {
            // Both sides are done once the FIN is out (`on_drain` if not now).
            disarm(lp, ck);
            if fin_sent {
                socket.close(lp);
            }
        } else {
            // Lingering close: the socket (allowing half-open) is released
            // only once the client's FIN is read, so read on, discarding, and
            // cut off a client that never closes. Reading also keeps unread
            // bytes from turning the close into a reset, which could destroy
            // the last response before the client reads it.
            socket.read_start(lp);
            arm(lp, ck, Deadline::Closing, Some(LINGER));
        }
        return;
    }
    if !c.input_waiting() {
        let t = c.options.keep_alive_timeout;
        let moved = c.set_deadline(now, Deadline::Idle, t);
        move_timer(lp, ck, moved);
    } else {
        // Pipelined bytes are already here: the next request begins now, and
        // is timed even if they are only part of its head (a pass of
        // `process` running now would otherwise leave it untimed).
        let processing = c.processing;
        let moved = c.begin_request(now);
        move_timer(lp, ck, moved);
        if !processing {
            process(lp, ck);
        }
    }
}

fn pause_for_body(lp: &mut Loop, ck: Key) {
    let Some(c) = conn(lp, ck) else { return };
    c.body_full = true;
    let socket = c.socket;
    socket.read_stop(lp);
}

/// The handler reads the body: send `100 Continue` if the client waits for
/// it, and read on if reading paused for this body.
pub(crate) fn body_wanted(lp: &mut Loop, ck: Key, seq: u64) {
    let is_front = conn(lp, ck).is_some_and(|c| c.slots.front().is_some_and(|s| s.seq == seq));
    if is_front {
        send_continue(lp, ck, seq);
    }
    let Some(c) = conn(lp, ck) else { return };
    if c.body_full && c.receiving == Some(seq) {
        c.body_full = false;
        let socket = c.socket;
        if !c.too_many_in_flight {
            socket.read_start(lp);
        }
        process(lp, ck);
    }
}

fn send_continue(lp: &mut Loop, ck: Key, seq: u64) {
    let Some(s) = slot(lp, ck, seq) else { return };
    if !s.body.expect_continue || s.body.continue_sent || s.res.head_sent {
        return;
    }
    s.body.continue_sent = true;
    write_out(lp, ck, Bytes::from_static(b"HTTP/1.1 100 Continue\r\n\r\n"));
}

/// What waited on the socket went out (with the FIN, if it was sent).
fn on_drain(lp: &mut Loop, ck: Key) {
    let Some(c) = conn(lp, ck) else { return };
    let Some(front) = c.slots.front() else {
        // Closing, after the client's FIN: the last bytes and ours are out.
        if c.close_after && c.client_ended {
            maybe_idle(lp, ck);
        }
        return;
    };
    let seq = front.seq;
    Response::new(ck, seq).drained(lp);
}

/// The client sent its FIN: finish what is in flight, then close.
fn on_client_end(lp: &mut Loop, ck: Key) {
    let Some(c) = conn(lp, ck) else { return };
    c.client_ended = true;
    // Requests that arrived before the FIN may not be parsed yet (parsing
    // pauses for backpressure and for `max_pipelined`): they are still
    // answered. The end is judged in `process`, once everything before it
    // was parsed (telling the parser earlier would make it drop them).
    process(lp, ck);
    maybe_idle(lp, ck);
}

/// The client ended and every byte it sent was parsed: no request follows,
/// and one cut short cannot be answered.
fn client_input_done(lp: &mut Loop, ck: Key) {
    let Some(c) = conn(lp, ck) else { return };
    c.close_after = true;
    // Nothing busy: the connection was idle, between requests.
    if c.busy.as_mut().is_some_and(|b| b.parser.eof().is_err()) {
        // Ended in the middle of a request.
        if let Some(seq) = c.receiving
            && let Some(stream) = slot(lp, ck, seq).and_then(|s| s.body.stream)
        {
            stream.destroy(lp, Some(StreamError::PrematureClose));
        }
        if let Some(c) = conn(lp, ck) {
            c.receiving = None;
            c.discard_budget = None;
        }
    }
    maybe_idle(lp, ck);
}

/// The socket closed (done, reset, or cut off): everything in flight on it
/// is over.
fn on_close(lp: &mut Loop, ck: Key, _error: Option<std::io::Error>) {
    let Some(c) = http(lp).conns.remove(ck) else {
        return;
    };
    if let Some(t) = c.timer {
        lp.clear_timeout(t);
    }
    for s in c.slots {
        if let Some(stream) = s.body.stream
            && !s.body.ended
        {
            stream.destroy(lp, Some(StreamError::PrematureClose));
        }
        s.res.closed(lp);
    }
    connection_closed(lp, c.server);
}

/// Closes at once (a budget or a deadline was exceeded).
fn close_now(lp: &mut Loop, ck: Key) {
    if let Some(c) = conn(lp, ck) {
        let socket = c.socket;
        socket.close(lp);
    }
}

/// Graceful shutdown of one connection: idle ones close now, busy ones after
/// their responses.
pub(crate) fn shut_down(lp: &mut Loop, ck: Key) {
    let Some(c) = conn(lp, ck) else { return };
    c.close_after = true;
    for s in c.slots.iter_mut() {
        s.res.close = true;
    }
    // An idle one closes now (as any connection that is done).
    maybe_idle(lp, ck);
}

/// When the connection's timer must be moved to (`at`, which is `after`
/// from now): returned by the deadline setters, for [`set_timer`].
type TimerMove = Option<(Duration, Duration)>;

impl Busy {
    /// What waits in `outbuf`, split off for the socket (which then buffers
    /// that much more).
    fn take_out(&mut self) -> Option<Bytes> {
        if self.outbuf.is_empty() {
            return None;
        }
        let data = self.outbuf.split().freeze();
        self.out_base += data.len();
        Some(data)
    }
}

impl Conn {
    /// The busy parts, taken from the loop's spare (or made) if the
    /// connection was idle; the parser is new, with this server's limits.
    fn busy(&mut self, spare: &mut Option<Box<Busy>>) -> &mut Busy {
        let limits = self.options.limits;
        self.busy.get_or_insert_with(|| {
            let mut b = spare.take().unwrap_or_default();
            b.parser = RequestParser::with_limits(limits);
            b
        })
    }

    /// Begins a pass of [`process`], unless one runs (it then picks up
    /// whatever changed): returns the socket for the pass.
    fn begin_pass(&mut self) -> Option<SocketHandle> {
        if self.processing {
            return None;
        }
        self.processing = true;
        Some(self.socket)
    }

    /// Gives the busy parts back to `spare` if nothing in them is needed.
    fn rest(&mut self, spare: &mut Option<Box<Busy>>) {
        if let Some(b) = self.busy.take_if(|b| b.at_rest()) {
            b.give_back(spare);
        }
    }

    /// Whether received bytes wait to be parsed.
    fn input_waiting(&self) -> bool {
        self.busy.as_ref().is_some_and(|b| !b.inbuf.is_empty())
    }

    /// Reading paused for too many requests in flight may go on once fewer
    /// are: clears the pause and returns the socket, and whether to resume
    /// it (not while a body is full), for [`process`] to run after.
    fn take_resume(&mut self) -> Option<(SocketHandle, bool)> {
        if !(self.too_many_in_flight && self.slots.len() < self.options.max_pipelined) {
            return None;
        }
        self.too_many_in_flight = false;
        Some((self.socket, !self.body_full))
    }

    /// A request began: the headers deadline starts now.
    fn begin_request(&mut self, now: Duration) -> TimerMove {
        self.request_started = LoopTime::of(now);
        // The head must also arrive within the whole request's time.
        let t = match (self.options.headers_timeout, self.options.request_timeout) {
            (Some(h), Some(r)) => Some(h.min(r)),
            (h, r) => h.or(r),
        };
        self.set_deadline(now, Deadline::Headers, t)
    }

    /// Sets the deadline that applies now. The connection's one timer is
    /// moved only when the new deadline comes before the time it is set
    /// for; a later deadline is left to the timer, which, firing early, sets
    /// itself again for the rest (see [`on_deadline`]). So a busy keep-alive
    /// connection, whose deadline moves with every request, touches no
    /// timer per request.
    fn set_deadline(
        &mut self,
        now: Duration,
        deadline: Deadline,
        after: Option<Duration>,
    ) -> TimerMove {
        self.deadline = deadline; // even untimed, so it is never stale
        self.armed = after.is_some();
        let after = after?;
        let at = now + after;
        self.deadline_at = LoopTime::of(at);
        if self.timer.is_some() && self.timer_due <= self.deadline_at {
            return None;
        }
        Some((at, after))
    }
}

/// A request began: the headers deadline starts now.
fn begin_request_timing(lp: &mut Loop, ck: Key) {
    let now = lp.now();
    let Some(c) = conn(lp, ck) else { return };
    let moved = c.begin_request(now);
    move_timer(lp, ck, moved);
}

/// Sets the deadline that applies now (see [`Conn::set_deadline`]).
fn arm(lp: &mut Loop, ck: Key, deadline: Deadline, after: Option<Duration>) {
    let now = lp.now();
    let Some(c) = conn(lp, ck) else { return };
    let moved = c.set_deadline(now, deadline, after);
    move_timer(lp, ck, moved);
}

fn move_timer(lp: &mut Loop, ck: Key, moved: TimerMove) {
    if let Some((at, after)) = moved {
        set_timer(lp, ck, at, after);
    }
}

/// Points the connection's timer at `at` (which is `after` from now).
fn set_timer(lp: &mut Loop, ck: Key, at: Duration, after: Duration) {
    let Some(c) = conn(lp, ck) else { return };
    c.timer_due = LoopTime::of(at);
    if let Some(t) = c.timer
        && lp.restart_timer(t, after)
    {
        return;
    }
    let t = lp.set_timeout_keyed(after, ck, on_deadline);
    // Deadlines never keep the loop alive by themselves; the socket does.
    lp.unref_handle(t);
    if let Some(c) = conn(lp, ck) {
        c.timer = Some(t);
    }
}

/// No deadline applies now. The timer stays queued (moving it later is
/// cheaper than a new timer) and does nothing if it fires unarmed.
fn disarm(lp: &mut Loop, ck: Key) {
    if let Some(c) = conn(lp, ck) {
        c.armed = false;
    }
}

fn on_deadline(lp: &mut Loop, ck: Key) {
    let now = lp.now();
    let Some(c) = conn(lp, ck) else { return };
    c.timer = None;
    if !c.armed {
        return;
    }
    let at = c.deadline_at.get();
    if at > now {
        // The deadline moved on since the timer was set: wait for the rest.
        let after = at - now;
        set_timer(lp, ck, at, after);
        return;
    }
    c.armed = false;
    let server = c.server;
    match c.deadline {
        Deadline::Idle => {
            if let Some(s) = http(lp).servers.get_mut(server) {
                s.stats.idle_closed += 1;
            }
            close_now(lp, ck);
        }
        Deadline::Closing => close_now(lp, ck),
        Deadline::Headers | Deadline::Request => {
            if let Some(s) = http(lp).servers.get_mut(server) {
                s.stats.timeouts += 1;
            }
            fail(
                lp,
                ck,
                408,
                "Request Timeout",
                StreamError::TimedOut("request"),
            );
        }
    }
}
