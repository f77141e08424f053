//! Listening sockets (Node's `net.Server`): accept connections as [`Socket`]s.
//!
//! Two limits keep a server alive under load:
//!
//! - **Maximum connections.** Past it, the server stops accepting; further
//!   connections wait in the kernel's listen queue and are accepted, in order,
//!   as open ones close. This is the reactor's high watermark applied to
//!   connections: new work waits instead of being registered with the OS.
//! - **Running out of descriptors.** When `accept` fails with `EMFILE` the
//!   connection stays queued and the listener stays readable, so a naive loop
//!   spins at 100% CPU. The server keeps one spare descriptor: it frees it,
//!   accepts the connection and closes it at once (the peer sees a reset, not
//!   a hang), and takes the spare again (libuv's `uv__emfile_trick`). If even
//!   that fails, accepting pauses for a moment instead of spinning.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use eventide_loop_phases::{Interest, IoWatch, Loop, Readiness};
use eventide_reactor::slab::{Key, Slab};
use eventide_reactor::sys::{SpareDescriptor, is_out_of_descriptors};

use crate::net::handle::SocketHandle;
use crate::net::socket::{Io, Phase, Socket, SocketOptions, new_handle, new_socket, socket};

/// Accepts per readiness event before yielding to the rest of the loop.
const ACCEPTS_PER_EVENT: usize = 64;
/// How long accepting pauses when descriptors are exhausted and the spare is gone.
const EMFILE_BACKOFF: Duration = Duration::from_millis(100);
/// Node's default listen backlog.
const DEFAULT_BACKLOG: i32 = 511;

enum Listener {
    Tcp(mio::net::TcpListener),
    Unix(mio::net::UnixListener, PathBuf),
}

impl Listener {
    /// A listening, non-blocking TCP socket on `addr`.
    fn tcp(addr: SocketAddr, options: &ServerOptions) -> io::Result<Listener> {
        let domain = socket2::Domain::for_address(addr);
        let sock =
            socket2::Socket::new(domain, socket2::Type::STREAM, Some(socket2::Protocol::TCP))?;
        // As Node and libuv: a restarted server can bind while old
        // connections linger in TIME_WAIT.
        sock.set_reuse_address(true)?;
        if options.reuse_port {
            sock.set_reuse_port(true)?;
        }
        sock.bind(&addr.into())?;
        sock.listen(options.backlog)?;
        sock.set_nonblocking(true)?;
        Ok(Listener::Tcp(mio::net::TcpListener::from_std(sock.into())))
    }

    fn accept(&self) -> io::Result<Io> {
        match self {
            Listener::Tcp(l) => l.accept().map(|(s, _)| Io::Tcp(s)),
            Listener::Unix(l, _) => l.accept().map(|(s, _)| Io::Unix(s)),
        }
    }
}

/// Receives each accepted connection.
type Receiver<T> = Box<dyn FnMut(&mut Loop, T)>;

/// What an accepted connection becomes, and who receives it.
enum OnConnection {
    Socket(Receiver<Socket>),
    Handle(Receiver<SocketHandle>),
}

struct ServerState {
    listener: Option<Listener>,
    watch: Option<IoWatch>,
    on_connection: Option<OnConnection>,
    socket_options: SocketOptions,
    max_connections: Option<usize>,
    connections: usize,
    /// Not accepting: at the connection limit, or backing off after EMFILE.
    paused: bool,
    spare: Option<SpareDescriptor>,
    stats: ServerStats,
}

/// Counters of a server since it started listening.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections accepted and handed to the callback.
    pub accepted: u64,
    /// Connections accepted only to be closed because descriptors ran out.
    pub dropped_emfile: u64,
    /// Times accepting paused at the connection limit.
    pub paused_at_limit: u64,
    /// The most connections open at once.
    pub peak_connections: usize,
}

#[derive(Default)]
struct Servers {
    slab: Slab<ServerState>,
}

/// The key of this table in loop storage (an index, not a map lookup).
static SERVERS: std::sync::LazyLock<eventide_loop_phases::ExtKey<Servers>> =
    std::sync::LazyLock::new(eventide_loop_phases::ExtKey::new);

fn server(lp: &mut Loop, key: Key) -> Option<&mut ServerState> {
    lp.ext_by(*SERVERS).slab.get_mut(key)
}

fn server_ref(lp: &Loop, key: Key) -> Option<&ServerState> {
    lp.try_ext::<Servers>()?.slab.get(key)
}

/// Options for a listening server.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Options applied to every accepted socket.
    pub socket: SocketOptions,
    /// Stop accepting while this many connections are open (default: none).
    pub max_connections: Option<usize>,
    /// Set `SO_REUSEPORT`, so several loops (threads or processes) can listen
    /// on one port and the kernel spreads connections (default `false`).
    pub reuse_port: bool,
    /// The listen queue length (default 511, as Node).
    pub backlog: i32,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            socket: SocketOptions::default(),
            max_connections: None,
            reuse_port: false,
            backlog: DEFAULT_BACKLOG,
        }
    }
}

/// A listening TCP or Unix socket (Node's `net.Server`).
///
/// ```
/// use bytes::Bytes;
/// use eventide_loop_phases::{Loop, RunMode};
/// use eventide_streams::net::{Server, ServerOptions, Socket, SocketOptions};
///
/// let mut lp = Loop::new();
/// // An echo server: every connection is piped into itself.
/// let server = Server::listen_tcp(&mut lp, "127.0.0.1:0".parse().unwrap(), ServerOptions::default(), |lp, conn| {
///     conn.pipe(lp, conn.stream());
/// })?;
/// let addr = server.local_addr(&lp).unwrap();
///
/// let client = Socket::connect_tcp(&mut lp, addr, SocketOptions::default());
/// client.end(&mut lp, Some(Bytes::from_static(b"ping")));
/// let echoed = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
/// let e = echoed.clone();
/// client.on_data(&mut lp, move |_, b| e.borrow_mut().extend_from_slice(&b));
/// client.on_close(&mut lp, move |lp| server.close(lp));
/// lp.run(RunMode::Default);
/// assert_eq!(&echoed.borrow()[..], b"ping");
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Server(Key);

impl Server {
    /// Listens on a TCP address; `on_connection` receives each accepted socket.
    ///
    /// # Errors
    ///
    /// The OS error from `socket`, `bind` or `listen` (`AddrInUse` when the
    /// port is taken).
    pub fn listen_tcp(
        lp: &mut Loop,
        addr: SocketAddr,
        options: ServerOptions,
        on_connection: impl FnMut(&mut Loop, Socket) + 'static,
    ) -> io::Result<Server> {
        let on_connection = OnConnection::Socket(Box::new(on_connection));
        Self::start(lp, Listener::tcp(addr, &options)?, options, on_connection)
    }

    /// Listens on a TCP address; `on_handle` receives each accepted
    /// connection as a [`SocketHandle`], a socket without a stream, for a
    /// protocol server that reads and writes bytes itself (the handle's
    /// docs have an example). The stream options of `options.socket` are
    /// not used, but its label.
    ///
    /// # Errors
    ///
    /// As [`Server::listen_tcp`].
    pub fn listen_tcp_handles(
        lp: &mut Loop,
        addr: SocketAddr,
        options: ServerOptions,
        on_handle: impl FnMut(&mut Loop, SocketHandle) + 'static,
    ) -> io::Result<Server> {
        let on_connection = OnConnection::Handle(Box::new(on_handle));
        Self::start(lp, Listener::tcp(addr, &options)?, options, on_connection)
    }

    /// Listens on a Unix socket path (the file must not exist).
    ///
    /// # Errors
    ///
    /// The OS error from `bind` (`AddrInUse` if the path exists).
    pub fn listen_unix(
        lp: &mut Loop,
        path: impl AsRef<Path>,
        options: ServerOptions,
        on_connection: impl FnMut(&mut Loop, Socket) + 'static,
    ) -> io::Result<Server> {
        let path = path.as_ref().to_path_buf();
        let listener = mio::net::UnixListener::bind(&path)?;
        Self::start(
            lp,
            Listener::Unix(listener, path),
            options,
            OnConnection::Socket(Box::new(on_connection)),
        )
    }

    fn start(
        lp: &mut Loop,
        mut listener: Listener,
        options: ServerOptions,
        on_connection: OnConnection,
    ) -> io::Result<Server> {
        let key = lp.ext_by(*SERVERS).slab.insert(ServerState {
            listener: None,
            watch: None,
            on_connection: Some(on_connection),
            socket_options: options.socket,
            max_connections: options.max_connections,
            connections: 0,
            paused: false,
            spare: SpareDescriptor::new().ok(),
            stats: ServerStats::default(),
        });
        let cb = move |lp: &mut Loop, _: IoWatch, _: Readiness| accept(lp, key);
        let watch = match &mut listener {
            Listener::Tcp(l) => lp.io_start(l, Interest::READABLE, "listener", cb),
            Listener::Unix(l, _) => lp.io_start(l, Interest::READABLE, "listener", cb),
        };
        let watch = match watch {
            Ok(w) => w,
            Err(e) => {
                lp.ext_by(*SERVERS).slab.remove(key);
                return Err(e);
            }
        };
        let s = server(lp, key).expect("just inserted");
        s.listener = Some(listener);
        s.watch = Some(watch);
        Ok(Server(key))
    }

    /// The bound address of a TCP server (with the port picked for port 0).
    pub fn local_addr(self, lp: &Loop) -> Option<SocketAddr> {
        match server_ref(lp, self.0)?.listener.as_ref()? {
            Listener::Tcp(l) => l.local_addr().ok(),
            Listener::Unix(..) => None,
        }
    }

    /// Connections open now.
    pub fn connections(self, lp: &Loop) -> usize {
        server_ref(lp, self.0).map_or(0, |s| s.connections)
    }

    /// Counters since the server started.
    pub fn stats(self, lp: &Loop) -> ServerStats {
        server_ref(lp, self.0).map_or_else(ServerStats::default, |s| s.stats)
    }

    /// Whether accepting is paused (at the limit, or out of descriptors).
    pub fn is_paused(self, lp: &Loop) -> bool {
        server_ref(lp, self.0).is_some_and(|s| s.paused)
    }

    /// Changes the connection limit; raising it resumes accepting.
    pub fn set_max_connections(self, lp: &mut Loop, max: Option<usize>) {
        let Some(s) = server(lp, self.0) else { return };
        s.max_connections = max;
        maybe_resume(lp, self.0);
    }

    /// Whether the server keeps the loop alive (default) or not.
    pub fn set_ref(self, lp: &mut Loop, on: bool) {
        if let Some(w) = server(lp, self.0).and_then(|s| s.watch) {
            if on {
                lp.ref_handle(w);
            } else {
                lp.unref_handle(w);
            }
        }
    }

    /// Stops accepting and closes the listening socket (Node's
    /// `server.close`). Open connections are not touched; the loop exits once
    /// they close too.
    pub fn close(self, lp: &mut Loop) {
        let Some(s) = server(lp, self.0) else { return };
        let watch = s.watch.take();
        let listener = s.listener.take();
        s.on_connection = None;
        if let Some(w) = watch {
            lp.close(w, None);
        }
        if let Some(Listener::Unix(_, path)) = &listener {
            let _ = std::fs::remove_file(path);
        }
        drop(listener);
        if server(lp, self.0).is_some_and(|s| s.connections == 0) {
            lp.ext_by(*SERVERS).slab.remove(self.0);
        }
    }

    /// Whether the server is still listening.
    pub fn is_listening(self, lp: &Loop) -> bool {
        server_ref(lp, self.0).is_some_and(|s| s.listener.is_some())
    }
}

fn accept(lp: &mut Loop, key: Key) {
    for _ in 0..ACCEPTS_PER_EVENT {
        let Some(s) = server(lp, key) else { return };
        if s.paused {
            return;
        }
        if s.max_connections.is_some_and(|m| s.connections >= m) {
            s.paused = true;
            s.stats.paused_at_limit += 1;
            return;
        }
        let Some(listener) = s.listener.as_ref() else {
            return;
        };
        match listener.accept() {
            Ok(io) => {
                // (Taken while it runs; a connection accepted meanwhile, from
                // inside it, is closed: nobody would receive it.)
                let Some(mut cb) = s.on_connection.take() else {
                    return;
                };
                s.connections += 1;
                s.stats.accepted += 1;
                s.stats.peak_connections = s.stats.peak_connections.max(s.connections);
                let options = s.socket_options.clone();
                match &mut cb {
                    OnConnection::Socket(f) => {
                        let sock = new_socket(lp, Some(io), Phase::Open, &options);
                        if let Some(state) = socket(lp, sock.key) {
                            state.server = Some(key);
                        }
                        f(lp, sock);
                    }
                    // (One that fails to register is closed, and counted so.)
                    OnConnection::Handle(f) => {
                        if let Some(handle) = new_handle(lp, io, &options, key) {
                            f(lp, handle);
                        }
                    }
                }
                lp.drain_ticks();
                if let Some(s) = server(lp, key)
                    && s.on_connection.is_none()
                    && s.listener.is_some()
                {
                    s.on_connection = Some(cb);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if is_out_of_descriptors(&e) => {
                if !drop_one_connection(lp, key) {
                    return;
                }
            }
            // The peer gave up before we accepted; the next one may be fine.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::ConnectionAborted | io::ErrorKind::Interrupted
                ) => {}
            Err(_) => return,
        }
    }
    // Budget spent with connections possibly still queued: continue next iteration.
    if let Some(w) = server(lp, key).and_then(|s| s.watch) {
        lp.io_feed(w, Readiness::READABLE);
    }
}

/// The EMFILE trick: accept with the spare descriptor and close at once.
/// Returns whether accepting may go on.
fn drop_one_connection(lp: &mut Loop, key: Key) -> bool {
    let Some(s) = server(lp, key) else {
        return false;
    };
    let (Some(spare), Some(listener)) = (s.spare.as_mut(), s.listener.as_ref()) else {
        return back_off(lp, key);
    };
    // Close the connection inside the closure: the spare is taken again
    // right after it, and needs the descriptor the connection held.
    let accepted = spare.release_for(|| listener.accept().map(drop));
    let spare_back = spare.is_held();
    match accepted {
        Ok(()) => {
            s.stats.dropped_emfile += 1;
            if spare_back { true } else { back_off(lp, key) }
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
        Err(_) => back_off(lp, key),
    }
}

/// Pauses accepting for a moment (descriptors exhausted, spare gone).
fn back_off(lp: &mut Loop, key: Key) -> bool {
    let Some(s) = server(lp, key) else {
        return false;
    };
    s.paused = true;
    let t = lp.set_timeout(EMFILE_BACKOFF, move |lp| {
        if let Some(s) = server(lp, key) {
            if s.spare.as_ref().is_none_or(|sp| !sp.is_held()) {
                s.spare = SpareDescriptor::new().ok();
            }
            s.paused = false;
            maybe_resume(lp, key);
        }
    });
    lp.unref_handle(t);
    false
}

/// A connection of this server closed.
pub(crate) fn connection_closed(lp: &mut Loop, key: Key) {
    let Some(s) = server(lp, key) else { return };
    s.connections -= 1;
    if s.listener.is_none() && s.connections == 0 {
        lp.ext_by(*SERVERS).slab.remove(key);
        return;
    }
    let at_limit = s.max_connections.is_some_and(|m| s.connections >= m);
    if s.paused && !at_limit {
        s.paused = false;
        maybe_resume(lp, key);
    }
}

/// Accepts what waited in the listen queue while paused: the listener's
/// readiness edge came while we were not looking.
fn maybe_resume(lp: &mut Loop, key: Key) {
    let Some(s) = server(lp, key) else { return };
    if s.max_connections.is_some_and(|m| s.connections >= m) {
        return;
    }
    s.paused = false;
    if let Some(w) = s.watch {
        lp.io_feed(w, Readiness::READABLE);
    }
}
