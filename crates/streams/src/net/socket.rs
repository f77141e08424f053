//! Sockets as duplex byte streams: the machinery TCP and Unix sockets share.
//!
//! A socket is a [`Duplex<Bytes>`] whose source reads from the descriptor and
//! whose sink writes to it, with the OS state kept in a loop-owned table next
//! to the stream table. The descriptor is registered once, for both read and
//! write readiness (edge-triggered); liveness follows libuv: the watch keeps
//! the loop alive while the socket connects, reads, or has writes pending.
//!
//! - **Reads** go into the loop's one read buffer and are split off as `Bytes`
//!   chunks; each readiness event reads at most [`READS_PER_EVENT`] times, then
//!   the rest waits for the next iteration, so one fast peer cannot starve the
//!   others. A read that does not fill the buffer has drained the socket, as
//!   libuv's `uv__read` and tokio assume: no read is spent to hear
//!   `WouldBlock`, since data arriving later raises a new edge. Once the peer
//!   has shut down its side (an event said read-closed), reads go on to the
//!   end of the stream instead, as that event may be the last. When `push`
//!   says the readable side is full, reading stops until the consumer asks
//!   again: the kernel's buffer fills and TCP's flow control slows the peer
//!   down. A socket handed to a consumer ([`Socket::consume_keyed`], as
//!   Node's HTTP server consumes its sockets) gives its chunks straight to
//!   it instead, and reads while the consumer says so (`read_start`,
//!   `read_stop`); its readable side is released.
//! - **Writes** are vectored: the stream hands over every buffered chunk at
//!   once, and what the kernel does not take waits for write readiness.
//!   [`Socket::try_write`] writes past the stream when nothing waits; the
//!   socket keeps its own record of that (in flight, corked, ended), so the
//!   check does not look at the stream.
//! - **`end`** shuts down the writing half (a FIN); the peer sees `end` and can
//!   still write back.
//!
//! The same machinery serves a [`SocketHandle`], which has no stream: its
//! state is kept in a slab of its own, and what a stream would be told (a
//! chunk, the end, a write done, an error) goes to the handle's owner
//! ([`HandleEvents`]) instead. [`Id`] says which of the two a state belongs
//! to, and the few places that report choose by it.

use crate::core::Queue;
use std::io::{self, IoSlice, Read, Write};
use std::net::Shutdown;
use std::time::Duration;

use bytes::{Buf, Bytes};
use eventide_loop_phases::{Interest, IoWatch, Loop, Readiness, Timer};
use eventide_reactor::slab::{Key, Slab};

use crate::error::StreamError;
use crate::listeners::{Callback, ListenerId, Listeners};
use crate::net::handle::{HandleEvents, SocketHandle};
use crate::net::read_buffer::ReadBuffer;
use crate::net::server::connection_closed;
use crate::readable::emit_end;
use crate::stream::{Duplex, Readable, Sink, Source, Stream, StreamOptions, Writable, WriteStatus};
use crate::table;

/// Reads per readiness event before the socket yields to others; libuv's
/// `uv__read` makes the same 32 attempts.
pub const READS_PER_EVENT: usize = 32;

/// Chunks per vectored write (well under `IOV_MAX`, 1024 on Linux).
const IOVECS: usize = 64;

/// The OS object under a socket.
pub(crate) enum Io {
    Tcp(mio::net::TcpStream),
    Unix(mio::net::UnixStream),
}

impl Io {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Io::Tcp(s) => s.read(buf),
            Io::Unix(s) => s.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Io::Tcp(s) => s.write(buf),
            Io::Unix(s) => s.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Io::Tcp(s) => s.write_vectored(bufs),
            Io::Unix(s) => s.write_vectored(bufs),
        }
    }

    fn shutdown_write(&self) -> io::Result<()> {
        match self {
            Io::Tcp(s) => s.shutdown(Shutdown::Write),
            Io::Unix(s) => s.shutdown(Shutdown::Write),
        }
    }

    fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            Io::Tcp(s) => s.take_error(),
            Io::Unix(s) => s.take_error(),
        }
    }

    /// `Ok(())` once a non-blocking connect completed.
    fn connected(&self) -> io::Result<()> {
        match self {
            Io::Tcp(s) => s.peer_addr().map(drop),
            Io::Unix(s) => s.peer_addr().map(drop),
        }
    }

    fn watch(&mut self, lp: &mut Loop, label: &'static str, id: Id) -> io::Result<IoWatch> {
        let interest = Interest::READABLE | Interest::WRITABLE;
        // The table a readiness event looks in is told by the function.
        let (key, on_ready): (Key, fn(&mut Loop, Key, Readiness)) = match id {
            Id::Stream(key) => (key, on_stream_ready),
            Id::Handle(key) => (key, on_handle_ready),
        };
        match self {
            Io::Tcp(s) => lp.io_start_keyed(s, interest, label, key, on_ready),
            Io::Unix(s) => lp.io_start_keyed(s, interest, label, key, on_ready),
        }
    }

    pub(crate) fn tcp(&self) -> Option<&mio::net::TcpStream> {
        match self {
            Io::Tcp(s) => Some(s),
            Io::Unix(_) => None,
        }
    }
}

/// A consumer of a socket's reads ([`Socket::consume_keyed`]).
type ConsumeFn = fn(&mut Loop, Key, Bytes);

/// Where a socket's state is, and whom it reports to: a [`Socket`]'s
/// stream (the state is found by the stream's key) or a [`SocketHandle`]'s
/// owner (found by the handle's key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Id {
    Stream(Key),
    Handle(Key),
}

impl Id {
    /// The socket's stream, if it has one.
    fn stream(self) -> Option<Stream<Bytes, Bytes>> {
        match self {
            Id::Stream(key) => Some(Stream::from_key(key)),
            Id::Handle(_) => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Waiting for a host name to resolve.
    Resolving,
    /// A non-blocking connect is in progress.
    Connecting,
    Open,
}

pub(crate) struct SocketState {
    /// A [`Socket`]'s stream, which finds it (a handle's is unused).
    stream: Key,
    pub(crate) io: Option<Io>,
    watch: Option<IoWatch>,
    pub(crate) phase: Phase,
    want_read: bool,
    /// Reads go to this function with this key, not to the readable side
    /// ([`Socket::consume_keyed`], or a handle's owner).
    consumer: Option<(ConsumeFn, Key)>,
    /// A handle's owner's events (called with the consumer's key).
    pub(crate) events: Option<&'static HandleEvents>,
    read_ready: bool,
    /// An event said the peer's side is closed (or the socket failed): no
    /// event may follow, so reads go on until end of stream or an error.
    read_closing: bool,
    /// Inside `read` for this socket: the read loop goes on by itself.
    in_read: bool,
    /// A readable feed is queued: one is enough.
    feed_queued: bool,
    eof: bool,
    unsent: Queue<Bytes>,
    write_in_flight: bool,
    shutdown_pending: bool,
    /// The writable side is corked (its `on_cork`), or has ended: writes
    /// wait, and `try_write` refuses, without looking at the side. A
    /// handle's own cork ([`SocketHandle::cork`](crate::net::SocketHandle::cork)).
    pub(crate) corked: bool,
    pub(crate) write_ended: bool,
    /// Made when first needed: most sockets (accepted, no idle timeout)
    /// never do.
    pub(crate) extras: Option<Box<SocketExtras>>,
    pub(crate) server: Option<Key>,
    pub(crate) no_delay: bool,
    referenced: bool,
    bytes_read: u64,
    bytes_written: u64,
}

/// The part of a socket's state that only some sockets use: one that
/// connects, or has an idle timeout.
#[derive(Default)]
pub(crate) struct SocketExtras {
    idle_timeout: Option<Duration>,
    idle_timer: Option<Timer>,
    pub(crate) connect_timer: Option<Timer>,
    /// Resolved addresses not tried yet: the next one is tried when a
    /// connect fails (`localhost` is often `::1` then `127.0.0.1`).
    pub(crate) next_addrs: Vec<std::net::SocketAddr>,
    on_timeout: Listeners<()>,
    on_connect: Listeners<()>,
}

impl SocketState {
    /// Whether activity must restart an idle timer (checked before
    /// [`touch`], which would look the socket up again for nothing).
    fn times_idle(&self) -> bool {
        self.extras
            .as_ref()
            .is_some_and(|e| e.idle_timeout.is_some())
    }

    /// The socket's watch and whether it should count as active now.
    fn activity(&self) -> Option<(IoWatch, bool)> {
        let active = match self.phase {
            Phase::Resolving | Phase::Connecting => true,
            Phase::Open => (self.want_read && !self.eof) || self.write_in_flight,
        };
        Some((self.watch?, active))
    }

    /// Whether a write would reach the OS now: connected, nothing queued,
    /// in flight or corked, not ending (see [`Socket::is_write_idle`]).
    pub(crate) fn write_idle(&self) -> bool {
        self.phase == Phase::Open
            && !(self.write_in_flight || self.shutdown_pending || self.corked || self.write_ended)
    }

    /// Bytes queued for the OS.
    pub(crate) fn unsent_len(&self) -> usize {
        self.unsent.iter().map(Bytes::len).sum()
    }

    /// Reads go to `f` with `key` from now on.
    pub(crate) fn set_consumer(&mut self, f: ConsumeFn, key: Key) {
        self.consumer = Some((f, key));
    }

    /// A handle's owner: its events and the key they are called with.
    fn owner(&self) -> Option<(&'static HandleEvents, Key)> {
        Some((self.events?, self.consumer?.1))
    }

    /// Shuts down the writing half (the FIN); a socket whose peer is
    /// already gone has nothing to shut down.
    fn send_fin(&self) -> io::Result<()> {
        self.io
            .as_ref()
            .map_or(Ok(()), Io::shutdown_write)
            .or_else(ignore_not_connected)
    }

    /// The extras, made if the socket has none yet.
    pub(crate) fn extras(&mut self) -> &mut SocketExtras {
        self.extras.get_or_insert_default()
    }
}

/// Socket states: a [`Socket`]'s indexed by its stream's slot (stream ids
/// are dense), a [`SocketHandle`]'s in a slab of their own; and the read
/// buffer they share, reached with a socket in one lookup.
#[derive(Default)]
pub(crate) struct Sockets {
    slots: Vec<Option<SocketState>>,
    handles: Slab<SocketState>,
    read_buffer: ReadBuffer,
}

/// The key of this table in loop storage (an index, not a map lookup).
static SOCKETS: std::sync::LazyLock<eventide_loop_phases::ExtKey<Sockets>> =
    std::sync::LazyLock::new(eventide_loop_phases::ExtKey::new);

/// The state of the [`Socket`] whose stream is `key`.
pub(crate) fn socket(lp: &mut Loop, key: Key) -> Option<&mut SocketState> {
    state(lp, Id::Stream(key))
}

pub(crate) fn state(lp: &mut Loop, id: Id) -> Option<&mut SocketState> {
    state_and_buffer(lp, id).map(|(s, _)| s)
}

/// A socket's state and the loop's read buffer, together.
fn state_and_buffer(lp: &mut Loop, id: Id) -> Option<(&mut SocketState, &mut ReadBuffer)> {
    let Sockets {
        slots,
        handles,
        read_buffer,
    } = lp.ext_by(*SOCKETS);
    let s = match id {
        Id::Stream(key) => slots
            .get_mut(key.index() as usize)?
            .as_mut()
            .filter(|s| s.stream == key)?,
        Id::Handle(key) => handles.get_mut(key)?,
    };
    Some((s, read_buffer))
}

pub(crate) fn state_ref(lp: &Loop, id: Id) -> Option<&SocketState> {
    let sockets = lp.try_ext_by(*SOCKETS)?;
    match id {
        Id::Stream(key) => sockets
            .slots
            .get(key.index() as usize)?
            .as_ref()
            .filter(|s| s.stream == key),
        Id::Handle(key) => sockets.handles.get(key),
    }
}

fn socket_ref(lp: &Loop, key: Key) -> Option<&SocketState> {
    state_ref(lp, Id::Stream(key))
}

/// A TCP or Unix socket: a duplex byte stream (Node's `net.Socket`).
///
/// It dereferences to its [`Duplex<Bytes>`], so every stream method applies
/// (`write`, `end`, `on_data`, `pipe`, `destroy`, ...); the methods here are
/// the socket's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Socket(pub(crate) Duplex<Bytes>);

impl std::ops::Deref for Socket {
    type Target = Duplex<Bytes>;
    fn deref(&self) -> &Duplex<Bytes> {
        &self.0
    }
}

impl From<Socket> for Duplex<Bytes> {
    fn from(s: Socket) -> Self {
        s.0
    }
}

/// Options for a socket, connecting or accepted.
#[derive(Debug, Clone)]
pub struct SocketOptions {
    /// The stream options; `allow_half_open` defaults to `false` for sockets,
    /// as Node's `net`: when the peer ends, the socket ends its side too.
    pub stream: StreamOptions,
    /// Disable Nagle's algorithm (`TCP_NODELAY`). Default `false`.
    pub no_delay: bool,
    /// Give up connecting after this long ([`StreamError::TimedOut`]).
    pub connect_timeout: Option<Duration>,
    /// Emit `timeout` after this long without reads or writes.
    pub idle_timeout: Option<Duration>,
}

impl Default for SocketOptions {
    fn default() -> Self {
        SocketOptions {
            stream: StreamOptions::default()
                .allow_half_open(false)
                .label("socket"),
            no_delay: false,
            connect_timeout: None,
            idle_timeout: None,
        }
    }
}

impl Socket {
    /// The socket's duplex stream.
    pub fn stream(self) -> Duplex<Bytes> {
        self.0
    }

    /// Calls `f` when the connection is established (Node's `on('connect')`).
    pub fn on_connect(self, lp: &mut Loop, mut f: impl FnMut(&mut Loop) + 'static) -> ListenerId {
        let id = table::next_listener_id(lp);
        if let Some(s) = socket(lp, self.0.key) {
            s.extras().on_connect.add(
                id,
                Callback::Boxed {
                    f: Box::new(move |lp, ()| f(lp)),
                    once: true,
                },
            );
        }
        ListenerId(id)
    }

    /// Calls `f` each time the socket was idle (no read, no write) for the
    /// timeout set with [`Socket::set_timeout`] (Node's `on('timeout')`). The
    /// socket is not closed: `f` decides, typically with `destroy`.
    pub fn on_timeout(self, lp: &mut Loop, mut f: impl FnMut(&mut Loop) + 'static) -> ListenerId {
        let id = table::next_listener_id(lp);
        if let Some(s) = socket(lp, self.0.key) {
            s.extras()
                .on_timeout
                .add(id, Callback::boxed(move |lp, ()| f(lp)));
        }
        ListenerId(id)
    }

    /// Writes what the OS takes of `data` now, queueing nothing (libuv's
    /// `uv_try_write`, which Node's `net` tries before it queues a write).
    /// Returns how many bytes went; write the rest, if any, with
    /// [`Stream::write`], which keeps the order. No event follows: nothing
    /// was buffered, so there is nothing to drain.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::WouldBlock`] when no byte can go now: the OS buffer
    /// is full, the socket is not connected yet or is ending, or writes are
    /// buffered, in flight or corked on the stream (they go first). Another
    /// error is the OS's, returned as it is: the stream is not destroyed
    /// (a `write` reports it the usual way).
    ///
    /// ```no_run
    /// # use eventide_loop_phases::Loop;
    /// # use eventide_streams::net::Socket;
    /// # use bytes::Bytes;
    /// fn send(lp: &mut Loop, socket: Socket, data: Bytes) {
    ///     let sent = socket.try_write(lp, &data).unwrap_or(0);
    ///     if sent < data.len() {
    ///         socket.write(lp, data.slice(sent..));
    ///     }
    /// }
    /// ```
    pub fn try_write(self, lp: &mut Loop, data: &[u8]) -> io::Result<usize> {
        try_write(lp, Id::Stream(self.0.key), data)
    }

    /// Hands every chunk read from now on straight to `f(lp, key, chunk)`:
    /// libuv's `uv_read_start` with its read callback, which Node's HTTP
    /// server uses in the same way (`parser.consume(socket._handle)`) so that
    /// a chunk costs no trip through the stream machinery. The readable side
    /// is released, and its memory with it: for the rest of the socket's
    /// life, `data` listeners, `pipe`, `read`, `pause` and `resume` do not
    /// apply to it, and reading is started and stopped by the consumer alone
    /// ([`Socket::read_stop`], [`Socket::read_start`]). What the readable
    /// side held is handed to `f` first, as one chunk. The end of the stream
    /// is still emitted as `end` (on the next tick), errors as `error`, and
    /// `close` comes as usual; the writable side is untouched.
    ///
    /// ```no_run
    /// # use eventide_loop_phases::Loop;
    /// # use eventide_reactor::slab::Key;
    /// # use eventide_streams::net::Socket;
    /// # use bytes::Bytes;
    /// fn on_bytes(lp: &mut Loop, parser: Key, chunk: Bytes) {
    ///     // Parse `chunk`; call `read_stop` on the socket while the parser
    ///     // cannot take more, and `read_start` when it can.
    /// }
    /// fn accepted(lp: &mut Loop, socket: Socket, parser: Key) {
    ///     socket.consume_keyed(lp, parser, on_bytes);
    /// }
    /// ```
    pub fn consume_keyed(self, lp: &mut Loop, key: Key, f: ConsumeFn) {
        let Some(s) = socket(lp, self.0.key) else {
            return;
        };
        s.consumer = Some((f, key));
        // The readable side has no use any more: its memory goes, and what it
        // held goes to the consumer first.
        let side = table::entry(lp, self.0.key).and_then(|e| e.take_read_side::<Bytes>());
        let (held, eof_read) = side.map_or((None, false), |mut side| {
            (side.state.read(None).data, side.state.is_ended())
        });
        self.read_start(lp);
        if let Some(chunk) = held {
            f(lp, key, chunk);
        }
        if eof_read {
            table::next_tick(lp, self.0.key, emit_end);
        }
    }

    /// Starts reading again after [`Socket::read_stop`] (libuv's
    /// `uv_read_start`). Only for a socket handed to a consumer with
    /// [`Socket::consume_keyed`]; the stream's `resume` governs another.
    pub fn read_start(self, lp: &mut Loop) {
        start_reading(lp, Id::Stream(self.0.key), true);
    }

    /// Stops reading (libuv's `uv_read_stop`): no chunk reaches the
    /// consumer, not even from inside the read that delivers the current
    /// one, until [`Socket::read_start`]; the kernel's buffer fills and TCP
    /// slows the peer down. Only for a socket handed to a consumer with
    /// [`Socket::consume_keyed`]; the stream's `pause` governs another.
    pub fn read_stop(self, lp: &mut Loop) {
        stop_reading(lp, Id::Stream(self.0.key));
    }

    /// Whether a write would go straight to the OS: the socket is
    /// connected, and nothing is buffered, in flight or corked on it, and it
    /// is not ending. [`Socket::try_write`] refuses otherwise. Read from the
    /// socket's own state: cheaper than the stream's `writable_length`,
    /// which is 0 whenever this is `true`.
    pub fn is_write_idle(self, lp: &mut Loop) -> bool {
        socket(lp, self.0.key).is_some_and(|s| s.write_idle())
    }

    /// Sets (or with `None` clears) the idle timeout (Node's `setTimeout`).
    pub fn set_timeout(self, lp: &mut Loop, timeout: Option<Duration>) {
        let key = self.0.key;
        let Some(s) = socket(lp, key) else { return };
        let e = s.extras();
        e.idle_timeout = timeout;
        if let Some(t) = e.idle_timer.take() {
            lp.clear_timeout(t);
        }
        touch(lp, Id::Stream(key));
    }

    /// Sets `TCP_NODELAY` (Node's `setNoDelay`); applied once connected.
    ///
    /// # Errors
    ///
    /// The OS error from `setsockopt`.
    pub fn set_no_delay(self, lp: &mut Loop, on: bool) -> io::Result<()> {
        let Some(s) = socket(lp, self.0.key) else {
            return Err(gone());
        };
        s.no_delay = on;
        match s.io.as_ref().and_then(Io::tcp) {
            Some(t) if s.phase == Phase::Open => t.set_nodelay(on),
            _ => Ok(()),
        }
    }

    /// Sets TCP keep-alive probes after `idle` (Node's `setKeepAlive`), or
    /// turns them off with `None`.
    ///
    /// # Errors
    ///
    /// The OS error from `setsockopt`; `NotFound` for a closed socket.
    pub fn set_keep_alive(self, lp: &mut Loop, idle: Option<Duration>) -> io::Result<()> {
        let Some(s) = socket(lp, self.0.key) else {
            return Err(gone());
        };
        let Some(t) = s.io.as_ref().and_then(Io::tcp) else {
            return Ok(());
        };
        let sock = socket2::SockRef::from(t);
        match idle {
            Some(idle) => sock.set_tcp_keepalive(&socket2::TcpKeepalive::new().with_time(idle)),
            None => sock.set_keepalive(false),
        }
    }

    /// The peer's address, for a connected TCP socket.
    pub fn peer_addr(self, lp: &Loop) -> Option<std::net::SocketAddr> {
        socket_ref(lp, self.0.key)?
            .io
            .as_ref()?
            .tcp()?
            .peer_addr()
            .ok()
    }

    /// The local address, for a TCP socket.
    pub fn local_addr(self, lp: &Loop) -> Option<std::net::SocketAddr> {
        socket_ref(lp, self.0.key)?
            .io
            .as_ref()?
            .tcp()?
            .local_addr()
            .ok()
    }

    /// Whether the connection is established.
    pub fn is_connected(self, lp: &Loop) -> bool {
        socket_ref(lp, self.0.key).is_some_and(|s| s.phase == Phase::Open)
    }

    /// Bytes read from and written to the socket so far.
    pub fn bytes(self, lp: &Loop) -> (u64, u64) {
        socket_ref(lp, self.0.key).map_or((0, 0), |s| (s.bytes_read, s.bytes_written))
    }

    /// Whether the socket keeps the loop alive while active (default) or not
    /// (Node's `ref` / `unref`).
    pub fn set_ref(self, lp: &mut Loop, on: bool) {
        let Some(s) = socket(lp, self.0.key) else {
            return;
        };
        s.referenced = on;
        if let Some(w) = s.watch {
            if on {
                lp.ref_handle(w);
            } else {
                lp.unref_handle(w);
            }
        }
    }
}

/// [`Socket::try_write`], for a socket or a handle.
pub(crate) fn try_write(lp: &mut Loop, id: Id, data: &[u8]) -> io::Result<usize> {
    if data.is_empty() {
        return Ok(0);
    }
    let would_block = || io::Error::from(io::ErrorKind::WouldBlock);
    let Some(s) = state(lp, id) else {
        return Err(gone());
    };
    if !s.write_idle() {
        return Err(would_block());
    }
    let Some(io) = s.io.as_mut() else {
        return Err(gone());
    };
    let mut sent = 0;
    while sent < data.len() {
        match io.write(&data[sent..]) {
            Ok(0) => break,
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || sent > 0 => break,
            Err(e) => return Err(e),
        }
    }
    if sent == 0 {
        return Err(would_block());
    }
    s.bytes_written += sent as u64;
    if s.times_idle() {
        touch(lp, id);
    }
    Ok(sent)
}

/// A socket's state before it has an OS object or an owner.
fn new_state(stream: Key, phase: Phase, options: &SocketOptions) -> SocketState {
    SocketState {
        stream,
        io: None,
        watch: None,
        phase,
        want_read: true,
        consumer: None,
        events: None,
        read_ready: false,
        read_closing: false,
        in_read: false,
        feed_queued: false,
        eof: false,
        unsent: Queue::default(),
        write_in_flight: false,
        shutdown_pending: false,
        corked: false,
        write_ended: false,
        extras: options.idle_timeout.map(|t| {
            Box::new(SocketExtras {
                idle_timeout: Some(t),
                ..SocketExtras::default()
            })
        }),
        server: None,
        no_delay: options.no_delay,
        referenced: true,
        bytes_read: 0,
        bytes_written: 0,
    }
}

/// Creates the stream and its socket state; registers `io` if given.
pub(crate) fn new_socket(
    lp: &mut Loop,
    io: Option<Io>,
    phase: Phase,
    options: &SocketOptions,
) -> Socket {
    let stream = Duplex::from_parts(lp, SocketSource, SocketSink, options.stream.clone());
    let key = stream.key;
    if let Some(side) = table::write_side::<Bytes>(lp, key) {
        side.on_cork = Some(corked);
    }
    let state = new_state(key, phase, options);
    let slots = &mut lp.ext_by(*SOCKETS).slots;
    let i = key.index() as usize;
    if slots.len() <= i {
        slots.resize_with(i + 1, || None);
    }
    slots[i] = Some(state);
    let id = Id::Stream(key);
    if let Some(io) = io {
        register(lp, id, io, options.stream.label);
    }
    if phase == Phase::Open {
        opened(lp, id);
    }
    touch(lp, id);
    Socket(stream)
}

/// Creates a connected handle of `server`'s and registers `io`; reading
/// waits for its owner ([`SocketHandle::start`]). `None` if registering
/// failed: the descriptor is closed, and the server told.
pub(crate) fn new_handle(
    lp: &mut Loop,
    io: Io,
    options: &SocketOptions,
    server: Key,
) -> Option<SocketHandle> {
    let mut s = new_state(Key::from_parts(u32::MAX, u32::MAX), Phase::Open, options);
    s.want_read = false;
    s.server = Some(server);
    let key = lp.ext_by(*SOCKETS).handles.insert(s);
    let id = Id::Handle(key);
    register(lp, id, io, options.stream.label);
    state(lp, id)?;
    opened(lp, id);
    Some(SocketHandle(key))
}

/// The writable side was corked or uncorked (its `on_cork`).
fn corked(lp: &mut Loop, key: Key, on: bool) {
    if let Some(s) = socket(lp, key) {
        s.corked = on;
    }
}

/// Gives a connecting [`Socket`] its OS object and registers it; an error
/// destroys the socket.
pub(crate) fn attach_io(lp: &mut Loop, key: Key, io: Io) {
    let label = table::entry(lp, key).map_or("socket", |e| e.label);
    register(lp, Id::Stream(key), io, label);
}

/// Gives a socket its OS object and registers it; an error fails the socket.
fn register(lp: &mut Loop, id: Id, mut io: Io, label: &'static str) {
    match io.watch(lp, label, id) {
        Ok(watch) => {
            if let Some(s) = state(lp, id) {
                s.io = Some(io);
                s.watch = Some(watch);
            }
            update_active(lp, id);
        }
        Err(e) => fail(lp, id, e),
    }
}

/// The socket failed: its stream is destroyed with the error, or the handle
/// is closed with it.
fn fail(lp: &mut Loop, id: Id, e: io::Error) {
    match id {
        Id::Stream(key) => crate::stream::destroy(lp, key, Some(e.into())),
        Id::Handle(key) => close_handle(lp, key, Some(e)),
    }
}

/// The watch is active (keeps the loop alive) while the socket connects,
/// wants to read, or has writes pending.
fn update_active(lp: &mut Loop, id: Id) {
    let Some(s) = state(lp, id) else { return };
    let activity = s.activity();
    set_active(lp, activity);
}

/// [`update_active`] for a caller that has the socket's state in hand.
fn set_active(lp: &mut Loop, activity: Option<(IoWatch, bool)>) {
    match activity {
        Some((w, true)) => {
            lp.handle_start(w.id());
        }
        Some((w, false)) => {
            lp.handle_stop(w.id());
        }
        None => {}
    }
}

/// Restarts the idle timer after activity.
fn touch(lp: &mut Loop, id: Id) {
    let Some(e) = state(lp, id).and_then(|s| s.extras.as_deref_mut()) else {
        return;
    };
    let Some(timeout) = e.idle_timeout else {
        return;
    };
    if let Some(t) = e.idle_timer
        && lp.refresh(t)
    {
        return;
    }
    let t = lp.set_timeout(timeout, move |lp| {
        let Some(s) = state(lp, id) else { return };
        let e = s.extras();
        e.idle_timer = None;
        let taken = e.on_timeout.take();
        let kept = taken.call(lp, ());
        if let Some(s) = state(lp, id) {
            s.extras().on_timeout.restore(kept);
        }
    });
    // An idle timer alone never keeps the loop alive (Node's unref'd timers).
    lp.unref_handle(t);
    if let Some(s) = state(lp, id) {
        s.extras().idle_timer = Some(t);
    }
}

fn on_stream_ready(lp: &mut Loop, key: Key, r: Readiness) {
    on_ready(lp, Id::Stream(key), r);
}

fn on_handle_ready(lp: &mut Loop, key: Key, r: Readiness) {
    on_ready(lp, Id::Handle(key), r);
}

fn on_ready(lp: &mut Loop, id: Id, r: Readiness) {
    let Some(s) = state(lp, id) else { return };
    // This may be the queued feed (or a real event that makes it redundant).
    s.feed_queued = false;
    match s.phase {
        Phase::Resolving => {}
        Phase::Connecting => {
            if r.is_writable() || r.is_error() || r.is_write_closed() || r.is_read_closed() {
                finish_connect(lp, id);
            }
        }
        Phase::Open => {
            let readable = r.is_readable() || r.is_read_closed() || r.is_error();
            let writable = r.is_writable() || r.is_error() || r.is_write_closed();
            if readable {
                s.read_ready = true;
                s.read_closing |= r.is_read_closed() || r.is_error();
            }
            // [`read`], with the lookups it shares with this event folded:
            // one before, one after (which also sees whether a write waits).
            let read_now = readable && s.want_read && !s.in_read;
            if read_now {
                s.in_read = true;
                read_budget(lp, id);
            }
            if !(read_now || writable) {
                return;
            }
            let Some(s) = state(lp, id) else { return };
            if read_now {
                s.in_read = false;
            }
            if writable && s.write_in_flight {
                flush_and_complete(lp, id);
            }
        }
    }
}

/// A non-blocking connect reported progress: done, failed, or spurious.
/// (Only a [`Socket`] connects: a handle is accepted connected.)
fn finish_connect(lp: &mut Loop, id: Id) {
    let Id::Stream(key) = id else { return };
    let Some(s) = socket(lp, key) else { return };
    let Some(io) = s.io.as_ref() else { return };
    let result = match io.take_error() {
        Ok(Some(e)) | Err(e) => Err(e),
        Ok(None) => io.connected(),
    };
    match result {
        Ok(()) => {
            s.phase = Phase::Open;
            if let Some(t) = s.extras.as_mut().and_then(|e| e.connect_timer.take()) {
                lp.clear_timeout(t);
            }
            opened(lp, id);
            let Some(s) = socket(lp, key) else { return };
            let taken = s.extras().on_connect.take();
            let kept = taken.call(lp, ());
            if let Some(s) = socket(lp, key) {
                s.extras().on_connect.restore(kept);
            }
            resume_after_connect(lp, key);
        }
        Err(e) if e.kind() == io::ErrorKind::NotConnected => {}
        Err(e) => crate::net::connect::try_next_address(lp, key, e),
    }
}

/// Closes the OS object of a socket whose connect failed, keeping the
/// stream, so that another address can be tried.
pub(crate) fn detach_io(lp: &mut Loop, key: Key) {
    let Some(s) = socket(lp, key) else { return };
    let (watch, io) = (s.watch.take(), s.io.take());
    s.read_ready = false;
    s.read_closing = false;
    s.feed_queued = false;
    // Deregister while the descriptor is still open, then close it.
    if let Some(w) = watch {
        lp.close(w, None);
    }
    drop(io);
}

/// Applies options that need an open socket.
fn opened(lp: &mut Loop, id: Id) {
    let Some(s) = state(lp, id) else { return };
    if s.no_delay
        && let Some(t) = s.io.as_ref().and_then(Io::tcp)
    {
        let _ = t.set_nodelay(true);
    }
    update_active(lp, id);
}

/// Writes queued while connecting go out; a pending `end` shuts down.
fn resume_after_connect(lp: &mut Loop, key: Key) {
    let id = Id::Stream(key);
    let Some(s) = socket(lp, key) else { return };
    if s.write_in_flight {
        flush_and_complete(lp, id);
    } else if s.shutdown_pending {
        s.shutdown_pending = false;
        let r = s.send_fin();
        Stream::<Bytes, Bytes>::from_key(key).complete_write(lp, r.map_err(Into::into));
    }
    if socket(lp, key).is_some_and(|s| s.want_read) {
        read(lp, id);
    }
}

fn ignore_not_connected(e: io::Error) -> io::Result<()> {
    if e.kind() == io::ErrorKind::NotConnected {
        Ok(())
    } else {
        Err(e)
    }
}

/// Reads while the consumer wants data, up to the per-event budget. Marks
/// the socket as reading meanwhile, so that a consumer asking for more from
/// a `data` listener does not queue a feed (the loop reads on anyway).
fn read(lp: &mut Loop, id: Id) {
    let Some(s) = state(lp, id) else { return };
    if s.in_read {
        return;
    }
    s.in_read = true;
    read_budget(lp, id);
    if let Some(s) = state(lp, id) {
        s.in_read = false;
    }
}

/// The read loop of [`read`].
fn read_budget(lp: &mut Loop, id: Id) {
    let stream = id.stream();
    let mut budget_left = false;
    for _ in 0..READS_PER_EVENT {
        let Some((s, buffer)) = state_and_buffer(lp, id) else {
            break;
        };
        if !s.want_read || s.eof || s.phase != Phase::Open {
            break;
        }
        let Some(io) = s.io.as_mut() else { break };
        let space = buffer.space();
        let room = space.len();
        match io.read(space) {
            Ok(0) => {
                s.eof = true;
                s.read_ready = false;
                let (consumed, owner) = (s.consumer.is_some(), s.owner());
                update_active(lp, id);
                match (stream, owner) {
                    (Some(stream), _) if !consumed => stream.push_eof(lp),
                    // No readable side to end: `end` comes as it would
                    // from one, on the next tick.
                    (Some(stream), _) => table::next_tick(lp, stream.key, emit_end),
                    (None, Some((events, owner))) => (events.on_eof)(lp, owner),
                    (None, None) => {}
                }
                return;
            }
            Ok(n) => {
                s.bytes_read += n as u64;
                // Short of the room given: the kernel had no more.
                let drained = n < room && !s.read_closing;
                if drained {
                    s.read_ready = false;
                }
                let (idle_timed, consumer) = (s.times_idle(), s.consumer);
                let chunk = buffer.split(n);
                if idle_timed {
                    touch(lp, id);
                }
                if let Some((f, consumer_key)) = consumer {
                    // The consumer stops reading with `read_stop`, which the
                    // next turn of this loop sees.
                    f(lp, consumer_key, chunk);
                } else if let Some(stream) = stream
                    && !stream.push(lp, chunk)
                {
                    // Full: stop until the consumer asks again (backpressure).
                    if let Some(s) = state(lp, id) {
                        s.want_read = false;
                    }
                    update_active(lp, id);
                    break;
                }
                if drained {
                    break;
                }
                budget_left = true;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                s.read_ready = false;
                budget_left = false;
                break;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                fail(lp, id, e);
                return;
            }
        }
    }
    // Out of budget with data still there: the loop delivers readability
    // again in its next poll phase, one budget per iteration, as a
    // level-triggered poller would.
    if budget_left && state(lp, id).is_some_and(|s| s.want_read && s.read_ready) {
        feed_readable(lp, id);
    }
}

/// Has the loop deliver readability again in its next poll phase (edge
/// triggering reports no new edge for data already there), at most once at
/// a time: each queued feed reads up to the budget, and a feed per pushed
/// chunk would multiply (32 feeds queueing 32 each) and starve the loop.
fn feed_readable(lp: &mut Loop, id: Id) {
    let Some(s) = state(lp, id) else { return };
    if s.feed_queued || s.phase != Phase::Open {
        return;
    }
    let Some(w) = s.watch else { return };
    s.feed_queued = true;
    lp.io_feed(w, Readiness::READABLE);
}

/// Reading is wanted (by the readable side, or by the consumer if
/// `consumer_only`): the watch counts as active, and data already there is
/// read in the next poll phase.
pub(crate) fn start_reading(lp: &mut Loop, id: Id, consumer_only: bool) {
    let Some(s) = state(lp, id) else { return };
    if consumer_only && s.consumer.is_none() {
        return;
    }
    s.want_read = true;
    // Asked from inside our own read loop (a consumer took the chunk we
    // pushed): that loop goes on reading by itself.
    let feed = s.read_ready && !s.in_read;
    let activity = s.activity();
    set_active(lp, activity);
    // Edge-triggered: data that arrived while reading was off raised no new
    // event, so look again in the next poll phase.
    if feed {
        feed_readable(lp, id);
    }
}

/// The consumer stops reading (libuv's `uv_read_stop`).
pub(crate) fn stop_reading(lp: &mut Loop, id: Id) {
    let Some(s) = state(lp, id) else { return };
    if s.consumer.is_none() {
        return;
    }
    s.want_read = false;
    let activity = s.activity();
    set_active(lp, activity);
}

/// Writes as much of the unsent queue as the kernel takes.
/// `Ok(true)` when everything went out. A chunk written whole goes back to
/// the read buffer, which keeps it if it can read into it next.
fn flush(s: &mut SocketState, read_buffer: &mut ReadBuffer) -> io::Result<bool> {
    let Some(io) = s.io.as_mut() else {
        return Err(gone());
    };
    while !s.unsent.is_empty() {
        // One chunk (the common case) is a plain write; several, a vectored
        // one, from a stack array.
        let written = if s.unsent.len() == 1 {
            io.write(s.unsent.front().expect("one chunk"))
        } else {
            let mut slices = [IoSlice::new(&[]); IOVECS];
            let n = s.unsent.len().min(IOVECS);
            for (slot, chunk) in slices.iter_mut().zip(s.unsent.iter()) {
                *slot = IoSlice::new(chunk);
            }
            io.write_vectored(&slices[..n])
        };
        match written {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(mut n) => {
                s.bytes_written += n as u64;
                while n > 0 {
                    let front = s.unsent.front_mut().expect("wrote bytes of a queued chunk");
                    if front.len() <= n {
                        n -= front.len();
                        if let Some(chunk) = s.unsent.pop_front() {
                            read_buffer.recycle(chunk);
                        }
                    } else {
                        front.advance(n);
                        n = 0;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// Write readiness for a write in flight: flush, and complete it when done.
fn flush_and_complete(lp: &mut Loop, id: Id) {
    let Some((s, read_buffer)) = state_and_buffer(lp, id) else {
        return;
    };
    let result = flush(s, read_buffer);
    match result {
        Ok(false) => {}
        Ok(true) => {
            s.write_in_flight = false;
            if s.times_idle() {
                touch(lp, id);
            }
            update_active(lp, id);
            write_done(lp, id);
        }
        Err(e) => match id.stream() {
            Some(stream) => stream.complete_write(lp, Err(e.into())),
            None => fail(lp, id, e),
        },
    }
}

/// Everything queued went out: the stream's write completes; a handle sends
/// the FIN it was asked for, and tells its owner.
fn write_done(lp: &mut Loop, id: Id) {
    match id {
        Id::Stream(key) => Stream::<Bytes, Bytes>::from_key(key).complete_write(lp, Ok(())),
        Id::Handle(key) => {
            let Some(s) = state(lp, id) else { return };
            if std::mem::take(&mut s.shutdown_pending)
                && let Err(e) = s.send_fin()
            {
                return close_handle(lp, key, Some(e));
            }
            if let Some((events, owner)) = s.owner() {
                (events.on_drain)(lp, owner);
            }
        }
    }
}

/// Queues chunks for the socket and writes what the kernel takes now
/// (only queues while a handle is corked).
pub(crate) fn queue_and_flush(
    lp: &mut Loop,
    id: Id,
    chunks: impl IntoIterator<Item = Bytes>,
) -> WriteStatus {
    let Some((s, read_buffer)) = state_and_buffer(lp, id) else {
        return WriteStatus::Failed(StreamError::Destroyed);
    };
    // A handle's owner, told of bytes queued before this call (still queued,
    // or gone but not yet reported), waits for `on_drain`: if they all go
    // now, the loop still brings it (as libuv calls write callbacks from the
    // loop, never from inside a write).
    let handle = matches!(id, Id::Handle(_));
    let drain_owed = handle && (!s.unsent.is_empty() || s.write_in_flight);
    for chunk in chunks.into_iter().filter(|c| !c.is_empty()) {
        s.unsent.push_back(chunk);
    }
    if s.unsent.is_empty() && !s.write_in_flight {
        return WriteStatus::Done;
    }
    // A corked handle holds its writes. (A stream's writable side holds its
    // own while corked, and hands them over when ending, still corked.)
    if handle && s.corked && !s.write_in_flight {
        return WriteStatus::Pending;
    }
    s.write_in_flight = true;
    if s.phase != Phase::Open {
        update_active(lp, id);
        return WriteStatus::Pending; // goes out once connected
    }
    match flush(s, read_buffer) {
        Ok(true) if drain_owed => {
            // Still in flight: the write event completes it.
            if let Some(w) = s.watch {
                lp.io_feed(w, Readiness::WRITABLE);
            }
            update_active(lp, id);
            WriteStatus::Pending
        }
        Ok(true) => {
            s.write_in_flight = false;
            if s.times_idle() {
                touch(lp, id);
            }
            WriteStatus::Done
        }
        Ok(false) => {
            update_active(lp, id);
            WriteStatus::Pending
        }
        Err(e) => WriteStatus::Failed(e.into()),
    }
}

struct SocketSource;

impl Source<Bytes> for SocketSource {
    fn read(&mut self, lp: &mut Loop, stream: Readable<Bytes>, _size: usize) {
        start_reading(lp, Id::Stream(stream.key), false);
    }

    fn destroy(&mut self, lp: &mut Loop, stream: Readable<Bytes>, _error: Option<&StreamError>) {
        teardown(lp, Id::Stream(stream.key));
    }
}

struct SocketSink;

impl Sink<Bytes> for SocketSink {
    fn write(&mut self, lp: &mut Loop, stream: Writable<Bytes>, chunk: Bytes) -> WriteStatus {
        queue_and_flush(lp, Id::Stream(stream.key), std::iter::once(chunk))
    }

    fn accepts_batches(&self) -> bool {
        true
    }

    fn writev(
        &mut self,
        lp: &mut Loop,
        stream: Writable<Bytes>,
        chunks: Vec<Bytes>,
    ) -> WriteStatus {
        queue_and_flush(lp, Id::Stream(stream.key), chunks)
    }

    fn finish(&mut self, lp: &mut Loop, stream: Writable<Bytes>) -> WriteStatus {
        let Some(s) = socket(lp, stream.key) else {
            return WriteStatus::Done;
        };
        s.write_ended = true;
        if s.phase != Phase::Open {
            s.shutdown_pending = true;
            return WriteStatus::Pending;
        }
        match s.send_fin() {
            Ok(()) => WriteStatus::Done,
            Err(e) => WriteStatus::Failed(e.into()),
        }
    }

    fn destroy(&mut self, lp: &mut Loop, stream: Writable<Bytes>, _error: Option<&StreamError>) {
        teardown(lp, Id::Stream(stream.key));
    }
}

/// Queues chunks on a handle and writes what the OS takes now; a failure
/// closes the handle with the OS's error.
pub(crate) fn handle_write(lp: &mut Loop, key: Key, chunks: impl IntoIterator<Item = Bytes>) {
    if let WriteStatus::Failed(e) = queue_and_flush(lp, Id::Handle(key), chunks) {
        let e = match e {
            StreamError::Io(e) => std::rc::Rc::try_unwrap(e)
                .unwrap_or_else(|e| io::Error::new(e.kind(), e.to_string())),
            e => io::Error::new(e.kind(), e.to_string()),
        };
        close_handle(lp, key, Some(e));
    }
}

/// Sends a handle's FIN once what is queued went out (libuv's
/// `uv_shutdown`); returns whether it went. An error closes the handle.
pub(crate) fn shutdown_handle(lp: &mut Loop, key: Key) -> bool {
    let id = Id::Handle(key);
    let Some(s) = state(lp, id) else { return false };
    if s.write_ended {
        return !s.shutdown_pending;
    }
    s.write_ended = true;
    if std::mem::take(&mut s.corked) {
        // What the cork holds goes first.
        handle_write(lp, key, None);
    }
    let Some(s) = state(lp, id) else { return false };
    if s.write_in_flight {
        s.shutdown_pending = true;
        return false;
    }
    match s.send_fin() {
        Ok(()) => true,
        Err(e) => {
            close_handle(lp, key, Some(e));
            false
        }
    }
}

/// Closes a handle: the OS side now, and its owner hears of it (with the
/// error, if one closed it) on the next tick. Nothing if already closed.
pub(crate) fn close_handle(lp: &mut Loop, key: Key, error: Option<io::Error>) {
    let Some(owner) = state(lp, Id::Handle(key)).map(|s| s.owner()) else {
        return;
    };
    teardown(lp, Id::Handle(key));
    if let Some((events, owner)) = owner {
        lp.next_tick(move |lp| (events.on_close)(lp, owner, error));
    }
}

/// Closes the OS side of a socket: timers, the watch, the descriptor.
fn teardown(lp: &mut Loop, id: Id) {
    let state = {
        let Sockets { slots, handles, .. } = lp.ext_by(*SOCKETS);
        match id {
            Id::Stream(key) => match slots.get_mut(key.index() as usize) {
                Some(slot) if slot.as_ref().is_some_and(|s| s.stream == key) => slot.take(),
                _ => None,
            },
            Id::Handle(key) => handles.remove(key),
        }
    };
    let Some(mut s) = state else { return };
    if let Some(e) = s.extras.as_mut() {
        for t in [e.idle_timer.take(), e.connect_timer.take()]
            .into_iter()
            .flatten()
        {
            lp.clear_timeout(t);
        }
    }
    // Deregister while the descriptor is still open, then close it.
    if let Some(w) = s.watch.take() {
        lp.close(w, None);
    }
    drop(s.io.take());
    if let Some(server) = s.server {
        connection_closed(lp, server);
    }
}

/// The error for an operation on a closed socket.
pub(crate) fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "the socket is closed")
}

/// Destroys the socket with a timeout error (connect timeout).
pub(crate) fn time_out(lp: &mut Loop, key: Key, what: &'static str) {
    crate::stream::destroy(lp, key, Some(StreamError::TimedOut(what)));
}
