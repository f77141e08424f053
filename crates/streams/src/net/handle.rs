//! Socket handles: connected sockets without a stream (libuv's `uv_tcp_t`,
//! the handle under Node's `net.Socket`).
//!
//! A [`Socket`](crate::net::Socket) is a duplex stream: buffers, listeners,
//! backpressure, `pipe`. A protocol server that parses its own input and
//! builds its own output needs none of it, and pays for it on every
//! connection, idle or not. A [`SocketHandle`] is the same socket machinery
//! (the reads, the vectored writes, the FIN, the loop's liveness rules) with
//! its events going to plain functions of its owner instead, as libuv's read,
//! write and close callbacks do: reads and writes are libuv's `uv_read_start`
//! and `uv_write`, [`SocketHandle::shutdown`] is `uv_shutdown`,
//! [`SocketHandle::close`] is `uv_close`. Handles come from a listener
//! ([`Server::listen_tcp_handles`](crate::net::Server::listen_tcp_handles)).

use std::io;
use std::net::SocketAddr;

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;

use crate::net::socket::{
    Id, Io, close_handle, handle_write, shutdown_handle, start_reading, state, state_ref,
    stop_reading, try_write,
};

/// What a [`SocketHandle`] reports to its owner: plain functions, called
/// with the key the owner gave [`SocketHandle::start`], so that a
/// connection costs no closure.
#[derive(Debug)]
pub struct HandleEvents {
    /// A chunk was read (libuv's read callback).
    pub on_read: fn(&mut Loop, Key, Bytes),
    /// The peer shut down its side (libuv's `UV_EOF`); called from the read,
    /// once. Writing may go on.
    pub on_eof: fn(&mut Loop, Key),
    /// Writes that had to wait went out, all of them (and the FIN, if
    /// [`SocketHandle::shutdown`] was called): libuv's write callback.
    pub on_drain: fn(&mut Loop, Key),
    /// The handle closed: after [`SocketHandle::close`] (with `None`) or an
    /// error of the OS (with it). On the next tick, once; nothing follows.
    pub on_close: fn(&mut Loop, Key, Option<io::Error>),
}

/// A connected TCP socket without a stream: libuv's `uv_tcp_t`.
///
/// Its owner gives it [`HandleEvents`] and a key with
/// [`start`](SocketHandle::start), writes with
/// [`try_write`](SocketHandle::try_write) and [`write`](SocketHandle::write),
/// and ends it with [`shutdown`](SocketHandle::shutdown) and
/// [`close`](SocketHandle::close). The watch keeps the loop alive while the
/// handle reads or has writes waiting, as a socket's does.
///
/// ```
/// use bytes::Bytes;
/// use eventide_loop_phases::{Loop, RunMode};
/// use eventide_reactor::slab::Key;
/// use eventide_streams::net::{HandleEvents, Server, ServerOptions, SocketHandle};
/// use std::io::{Read, Write};
///
/// // An echo server on handles. Each connection is its own owner here: the
/// // key its events are called with is its handle's.
/// struct Echo { handle: SocketHandle, peer_ended: bool }
/// fn echo(lp: &mut Loop, key: Key) -> Option<&mut Echo> {
///     lp.ext::<Vec<Echo>>().iter_mut().find(|e| e.handle.key() == key)
/// }
/// fn on_read(lp: &mut Loop, key: Key, chunk: Bytes) {
///     let Some(h) = echo(lp, key).map(|e| e.handle) else { return };
///     let sent = h.try_write(lp, &chunk).unwrap_or(0);
///     if sent < chunk.len() {
///         // (An error closed the handle: `on_close` follows.)
///         let _ = h.write(lp, chunk.slice(sent..));
///     }
/// }
/// // The peer is done: send the FIN after the echo, then close.
/// fn on_eof(lp: &mut Loop, key: Key) {
///     let Some(e) = echo(lp, key) else { return };
///     e.peer_ended = true;
///     let h = e.handle;
///     if h.shutdown(lp) {
///         h.close(lp);
///     }
/// }
/// fn on_drain(lp: &mut Loop, key: Key) {
///     let Some(e) = echo(lp, key).filter(|e| e.peer_ended) else { return };
///     let h = e.handle;
///     if h.shutdown(lp) {
///         h.close(lp);
///     }
/// }
/// fn on_close(lp: &mut Loop, key: Key, _: Option<std::io::Error>) {
///     lp.ext::<Vec<Echo>>().retain(|e| e.handle.key() != key);
/// }
/// static EVENTS: HandleEvents = HandleEvents { on_read, on_eof, on_drain, on_close };
///
/// let mut lp = Loop::new();
/// let addr = "127.0.0.1:0".parse().unwrap();
/// let server = Server::listen_tcp_handles(&mut lp, addr, ServerOptions::default(), |lp, h| {
///     lp.ext::<Vec<Echo>>().push(Echo { handle: h, peer_ended: false });
///     h.start(lp, h.key(), &EVENTS);
/// })?;
/// let addr = server.local_addr(&lp).unwrap();
/// let client = std::thread::spawn(move || {
///     let mut s = std::net::TcpStream::connect(addr).unwrap();
///     s.write_all(b"ping").unwrap();
///     s.shutdown(std::net::Shutdown::Write).unwrap();
///     let mut back = Vec::new();
///     s.read_to_end(&mut back).unwrap();
///     back
/// });
/// // Until the one connection has come and gone.
/// while server.stats(&lp).accepted == 0 || server.connections(&lp) > 0 {
///     lp.run(RunMode::Once);
/// }
/// server.close(&mut lp);
/// assert_eq!(client.join().unwrap(), b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SocketHandle(pub(crate) Key);

impl SocketHandle {
    /// The handle's own key (distinct from every other open handle's).
    pub fn key(self) -> Key {
        self.0
    }

    fn id(self) -> Id {
        Id::Handle(self.0)
    }

    /// Gives the handle its owner, `events` called with `key`, and starts
    /// reading. Events before this are not reported; calling it again
    /// changes the owner.
    pub fn start(self, lp: &mut Loop, key: Key, events: &'static HandleEvents) {
        let Some(s) = state(lp, self.id()) else {
            return;
        };
        s.events = Some(events);
        s.set_consumer(events.on_read, key);
        start_reading(lp, self.id(), true);
    }

    /// Reads again after [`read_stop`](Self::read_stop) (libuv's
    /// `uv_read_start`).
    pub fn read_start(self, lp: &mut Loop) {
        start_reading(lp, self.id(), true);
    }

    /// Stops reading (libuv's `uv_read_stop`): no chunk reaches the owner,
    /// not even from the read under way, until
    /// [`read_start`](Self::read_start); the kernel's buffer fills and TCP
    /// slows the peer down.
    pub fn read_stop(self, lp: &mut Loop) {
        stop_reading(lp, self.id());
    }

    /// Writes what the OS takes of `data` now, queueing nothing (libuv's
    /// `uv_try_write`); returns how many bytes went.
    ///
    /// # Errors
    ///
    /// [`io::ErrorKind::WouldBlock`] when no byte can go now: the OS buffer
    /// is full, or writes are queued or corked (they go first), or the
    /// handle is shutting down. Another error is the OS's; the handle is
    /// not closed by it.
    pub fn try_write(self, lp: &mut Loop, data: &[u8]) -> io::Result<usize> {
        try_write(lp, self.id(), data)
    }

    /// Queues `data` after what waits and writes what the OS takes now
    /// (libuv's `uv_write`). Returns the bytes still queued (libuv's
    /// `write_queue_size`), for the owner's backpressure: once they have
    /// all gone, [`HandleEvents::on_drain`] is called, from the loop (never
    /// from inside a `write`).
    ///
    /// # Errors
    ///
    /// `BrokenPipe` after [`shutdown`](Self::shutdown), as libuv refuses
    /// it (nothing is queued); `NotConnected` if the handle is closed, by
    /// an error of the OS in this write (which [`HandleEvents::on_close`]
    /// reports) or before.
    pub fn write(self, lp: &mut Loop, data: Bytes) -> io::Result<usize> {
        if state_ref(lp, self.id()).is_some_and(|s| s.write_ended) {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            ));
        }
        handle_write(lp, self.0, Some(data));
        state_ref(lp, self.id())
            .map(|s| s.unsent_len())
            .ok_or_else(crate::net::socket::gone)
    }

    /// Bytes queued and not yet taken by the OS.
    pub fn write_queue_size(self, lp: &Loop) -> usize {
        state_ref(lp, self.id()).map_or(0, |s| s.unsent_len())
    }

    /// Whether a write would go straight to the OS: nothing queued or
    /// corked, not shutting down ([`try_write`](Self::try_write) refuses
    /// otherwise).
    pub fn is_write_idle(self, lp: &Loop) -> bool {
        state_ref(lp, self.id()).is_some_and(|s| s.write_idle())
    }

    /// Holds writes in the queue until [`uncork`](Self::uncork), so that
    /// they leave together in one vectored write (Node's `cork`, one level).
    pub fn cork(self, lp: &mut Loop) {
        if let Some(s) = state(lp, self.id()) {
            s.corked = true;
        }
    }

    /// Writes what the cork held ([`HandleEvents::on_drain`] follows once
    /// it has all gone, as after a `write` that left bytes queued).
    pub fn uncork(self, lp: &mut Loop) {
        let Some(s) = state(lp, self.id()) else {
            return;
        };
        if std::mem::take(&mut s.corked) {
            handle_write(lp, self.0, None);
        }
    }

    /// Sends the FIN once everything queued went out (libuv's
    /// `uv_shutdown`); reading goes on. Returns whether it went now; if not,
    /// [`HandleEvents::on_drain`] says when. Calling it again only asks the
    /// same. An error of the OS closes the handle.
    pub fn shutdown(self, lp: &mut Loop) -> bool {
        shutdown_handle(lp, self.0)
    }

    /// Closes the handle now: the descriptor is deregistered and closed,
    /// queued writes are dropped, and [`HandleEvents::on_close`] follows on
    /// the next tick. Closing a closed handle does nothing.
    pub fn close(self, lp: &mut Loop) {
        close_handle(lp, self.0, None);
    }

    /// Whether the handle is open (not closed, by its owner or an error).
    pub fn is_open(self, lp: &Loop) -> bool {
        state_ref(lp, self.id()).is_some()
    }

    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    ///
    /// The OS error from `setsockopt`; `NotConnected` for a closed handle.
    pub fn set_no_delay(self, lp: &Loop, on: bool) -> io::Result<()> {
        self.tcp(lp)?.set_nodelay(on)
    }

    /// The peer's address.
    pub fn peer_addr(self, lp: &Loop) -> Option<SocketAddr> {
        self.tcp(lp).ok()?.peer_addr().ok()
    }

    /// The local address.
    pub fn local_addr(self, lp: &Loop) -> Option<SocketAddr> {
        self.tcp(lp).ok()?.local_addr().ok()
    }

    fn tcp(self, lp: &Loop) -> io::Result<&mio::net::TcpStream> {
        state_ref(lp, self.id())
            .and_then(|s| s.io.as_ref())
            .and_then(Io::tcp)
            .ok_or_else(crate::net::socket::gone)
    }
}
