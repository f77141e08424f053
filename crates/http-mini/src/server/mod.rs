//! The HTTP/1.1 server: [`Server::listen`] with a handler that gets each
//! [`Request`] and its [`Response`].
//!
//! Connections are kept alive (HTTP/1.1 by default, HTTP/1.0 on request) and
//! may pipeline: requests are handed to the handler as they are parsed, and
//! responses go out strictly in request order (a response that ends early
//! waits, buffered, for those before it). Everything a peer can make the
//! server hold is bounded:
//!
//! | bound | default | past it |
//! |---|---|---|
//! | head size | 16 KiB (Node) | 431 and close |
//! | header fields | 100 | 431 and close |
//! | request target | 8 KiB | 414 and close |
//! | request body | unlimited | 413 and close |
//! | unread request body | 64 KiB | stop reading the socket (backpressure) |
//! | responses in flight per connection | 64 | stop parsing until some finish |
//! | headers timeout | 60 s (Node) | 408 and close |
//! | request timeout | 300 s (Node) | 408 and close |
//! | keep-alive idle timeout | 5 s (Node) | close |
//! | closing connection waiting for the client's FIN | 2 s | destroy |
//! | responses before an error response, after the error | 5 s | destroy |
//! | requests per connection | unlimited (Node) | `Connection: close` |
//! | connections | unlimited | stop accepting until one closes |
//!
//! A malformed request gets its status (400, 413, 414, 431, 501, 505) with
//! `Connection: close`, after the responses to the requests before it; nothing
//! after it on that connection is read as a request. Every other connection
//! goes on.
//!
//! # Panics
//!
//! A handler that panics gets its exchange answered with `500` (or, if its
//! response had started, cut off) and its connection closed after it; the
//! server keeps the handler for the next request. The panic itself then
//! reaches the caller of [`Loop::run`](eventide_loop_phases::Loop::run), as
//! every callback panic does, with the loop consistent: the program decides
//! whether to log it and run the loop again (every other connection goes on)
//! or to exit.

mod chunks;
mod conn;
mod request;
mod response;
mod slots;

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, SystemTime};

use eventide_loop_phases::{Loop, Task};
use eventide_reactor::slab::{Key, Slab};
use eventide_streams::net;

pub use request::Request;
pub use response::Response;

use crate::proto::encode::http_date;
use crate::proto::{Headers, Limits};
use conn::Conn;

/// Options of a [`Server`]; `Default` gives Node's defaults.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Parser limits: head size, header count, target length, body size.
    pub limits: Limits,
    /// Time allowed from a request's first byte to the end of its head
    /// (Node's `headersTimeout`, 60 s). `None`: no limit.
    pub headers_timeout: Option<Duration>,
    /// Time allowed from a request's first byte to the end of its body
    /// (Node's `requestTimeout`, 300 s).
    pub request_timeout: Option<Duration>,
    /// How long an idle keep-alive connection stays open (Node's
    /// `keepAliveTimeout`, 5 s).
    pub keep_alive_timeout: Option<Duration>,
    /// After this many requests a connection is closed (Node's
    /// `maxRequestsPerSocket`; `None`, unlimited).
    pub max_requests_per_connection: Option<u32>,
    /// Stop accepting past this many open connections (`None`, unlimited).
    pub max_connections: Option<usize>,
    /// Responses in flight on one connection before parsing pauses.
    pub max_pipelined: usize,
    /// High-water mark of a request body stream, of a response's output
    /// buffered behind earlier responses, and of the output queued on a
    /// connection's socket (64 KiB).
    pub high_water_mark: usize,
    /// Unread request body a finished response may discard before the
    /// connection is closed instead (1 MiB).
    pub max_discard: u64,
    /// `SO_REUSEPORT`, for several loops serving one port.
    pub reuse_port: bool,
    /// `TCP_NODELAY` on accepted sockets (default `true`, as Node's http).
    pub no_delay: bool,
}

impl Default for ServerOptions {
    fn default() -> Self {
        ServerOptions {
            limits: Limits::default(),
            headers_timeout: Some(Duration::from_secs(60)),
            request_timeout: Some(Duration::from_secs(300)),
            keep_alive_timeout: Some(Duration::from_secs(5)),
            max_requests_per_connection: None,
            max_connections: None,
            max_pipelined: 64,
            high_water_mark: 64 * 1024,
            max_discard: 1024 * 1024,
            reuse_port: false,
            no_delay: true,
        }
    }
}

/// Counters of a server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerStats {
    /// Connections accepted.
    pub connections: u64,
    /// Requests whose head was parsed and handed to the handler.
    pub requests: u64,
    /// Responses fully handed to the socket.
    pub responses: u64,
    /// Requests rejected as malformed or over a limit (4xx/5xx by the server).
    pub rejected: u64,
    /// Connections cut off by the headers or request timeout.
    pub timeouts: u64,
    /// Idle keep-alive connections closed by the keep-alive timeout.
    pub idle_closed: u64,
}

/// The handler, shared with each `dispatch` so that it need not be taken
/// out of the server and put back around every call.
type Handler = Rc<RefCell<dyn FnMut(&mut Loop, Request, Response)>>;

pub(crate) struct ServerState {
    net: Option<net::Server>,
    handler: Handler,
    /// What every connection consults, shared by them.
    pub(crate) conn_options: Rc<conn::ServerOptionsRef>,
    open: usize,
    closing: bool,
    on_closed: Vec<Task>,
    pub(crate) stats: ServerStats,
}

/// Everything the HTTP server keeps in the loop.
#[derive(Default)]
pub(crate) struct Http {
    pub(crate) servers: Slab<ServerState>,
    pub(crate) conns: Slab<Conn>,
    /// The `Date` value, formatted once per second.
    pub(crate) date: DateCache,
    /// What idle connections gave back, for the next connection that reads
    /// or answers: a busy connection reuses one allocation, and an idle one
    /// holds none.
    pub(crate) spare_busy: Option<Box<conn::Busy>>,
    pub(crate) spare_slots: Option<slots::Slots>,
    pub(crate) spare_headers: Option<Headers>,
}

/// The key of this table in loop storage (an index, not a map lookup).
static HTTP: std::sync::LazyLock<eventide_loop_phases::ExtKey<Http>> =
    std::sync::LazyLock::new(eventide_loop_phases::ExtKey::new);

pub(crate) fn http(lp: &mut Loop) -> &mut Http {
    lp.ext_by(*HTTP)
}

/// The `Date` field line (`Date: ...\r\n`), and the loop time at which the
/// wall clock's second changes next (when it must be formatted again); a
/// field of its own so a response can borrow it beside its connection.
#[derive(Default)]
pub(crate) struct DateCache {
    line: Option<[u8; 37]>,
    next: Duration,
}

impl DateCache {
    /// The `Date` field line at loop time `loop_now`, formatted once per
    /// second. Between formats only the loop's cached time is read, not the
    /// wall clock.
    pub(crate) fn line_at(&mut self, loop_now: Duration) -> &[u8] {
        if self.line.is_none() || loop_now >= self.next {
            let wall = SystemTime::now();
            let into_second = wall
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(Duration::ZERO, |d| {
                    Duration::from_nanos(u64::from(d.subsec_nanos()))
                });
            self.next = loop_now + (Duration::from_secs(1) - into_second);
            let mut line = [0u8; 37];
            line[..6].copy_from_slice(b"Date: ");
            line[6..35].copy_from_slice(&http_date(wall));
            line[35..].copy_from_slice(b"\r\n");
            self.line = Some(line);
        }
        self.line.as_ref().map_or(&[], |l| &l[..])
    }
}

/// An HTTP/1.1 server on the loop (Node's `http.Server`).
///
/// ```
/// use eventide_http_mini::server::{Server, ServerOptions};
/// use eventide_loop_phases::{Loop, RunMode};
/// use std::io::{Read, Write};
///
/// let mut lp = Loop::new();
/// let server = Server::listen(&mut lp, "127.0.0.1:0".parse().unwrap(), ServerOptions::default(), |lp, req, res| {
///     let body = format!("hello from {}\n", req.path());
///     res.end(lp, Some(body.into()));
/// })?;
/// let addr = server.local_addr(&lp).unwrap();
/// let client = std::thread::spawn(move || {
///     let mut s = std::net::TcpStream::connect(addr).unwrap();
///     s.write_all(b"GET /docs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
///     let mut reply = String::new();
///     s.read_to_string(&mut reply).unwrap();
///     reply
/// });
/// // Stop once the one connection is gone.
/// lp.set_interval(std::time::Duration::from_millis(5), move |lp| {
///     if server.stats(lp).responses == 1 && server.connections(lp) == 0 {
///         server.close(lp, None);
///         lp.stop();
///     }
/// });
/// lp.run(RunMode::Default);
/// let reply = client.join().unwrap();
/// assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert!(reply.ends_with("\r\n\r\nhello from /docs\n"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Server(Key);

impl Server {
    /// Listens on `addr` and calls `handler` for every request.
    ///
    /// # Errors
    ///
    /// The OS error from binding (`AddrInUse` when the port is taken).
    pub fn listen(
        lp: &mut Loop,
        addr: SocketAddr,
        options: ServerOptions,
        handler: impl FnMut(&mut Loop, Request, Response) + 'static,
    ) -> io::Result<Server> {
        let key = http(lp).servers.insert(ServerState {
            net: None,
            handler: Rc::new(RefCell::new(handler)),
            conn_options: Rc::new(conn::ServerOptionsRef::from(&options)),
            open: 0,
            closing: false,
            on_closed: Vec::new(),
            stats: ServerStats::default(),
        });
        let mut net_options = net::ServerOptions {
            max_connections: options.max_connections,
            reuse_port: options.reuse_port,
            ..net::ServerOptions::default()
        };
        net_options.socket.stream.label = "http";
        net_options.socket.no_delay = options.no_delay;
        // Connections read and write their sockets' bytes themselves: a
        // handle each, no stream (whose buffers and listeners an idle
        // connection would hold).
        let listened = net::Server::listen_tcp_handles(lp, addr, net_options, move |lp, handle| {
            conn::accept(lp, key, handle);
        });
        match listened {
            Ok(net) => {
                if let Some(s) = http(lp).servers.get_mut(key) {
                    s.net = Some(net);
                }
                Ok(Server(key))
            }
            Err(e) => {
                http(lp).servers.remove(key);
                Err(e)
            }
        }
    }

    /// The bound address (with the port chosen for port 0).
    pub fn local_addr(self, lp: &Loop) -> Option<SocketAddr> {
        let s = lp.try_ext_by(*HTTP)?.servers.get(self.0)?;
        s.net?.local_addr(lp)
    }

    /// Open connections.
    pub fn connections(self, lp: &Loop) -> usize {
        lp.try_ext_by(*HTTP)
            .and_then(|h| h.servers.get(self.0))
            .map_or(0, |s| s.open)
    }

    /// Counters since the server started.
    pub fn stats(self, lp: &Loop) -> ServerStats {
        lp.try_ext_by(*HTTP)
            .and_then(|h| h.servers.get(self.0))
            .map_or_else(ServerStats::default, |s| s.stats)
    }

    /// Whether the server keeps the loop alive while listening (default) or not.
    pub fn set_ref(self, lp: &mut Loop, on: bool) {
        if let Some(net) = http(lp).servers.get(self.0).and_then(|s| s.net) {
            net.set_ref(lp, on);
        }
    }

    /// Graceful shutdown (Node's `server.close` and `closeIdleConnections`):
    /// stops accepting, closes idle connections now, lets requests in flight
    /// finish (their responses say `Connection: close`), and calls `on_closed`
    /// once the last connection is gone. The loop can then exit.
    pub fn close(self, lp: &mut Loop, on_closed: Option<Task>) {
        let Some(s) = http(lp).servers.get_mut(self.0) else {
            if let Some(cb) = on_closed {
                lp.next_tick(cb);
            }
            return;
        };
        s.closing = true;
        if let Some(cb) = on_closed {
            s.on_closed.push(cb);
        }
        if let Some(net) = s.net.take() {
            net.close(lp);
        }
        let conns: Vec<Key> = http(lp)
            .conns
            .iter()
            .filter(|(_, c)| c.server == self.0)
            .map(|(k, _)| k)
            .collect();
        for ck in conns {
            conn::shut_down(lp, ck);
        }
        maybe_closed(lp, self.0);
    }
}

/// A connection of `server` opened.
pub(crate) fn connection_opened(lp: &mut Loop, server: Key) {
    if let Some(s) = http(lp).servers.get_mut(server) {
        s.open += 1;
        s.stats.connections += 1;
    }
}

/// A connection of `server` closed.
pub(crate) fn connection_closed(lp: &mut Loop, server: Key) {
    if let Some(s) = http(lp).servers.get_mut(server) {
        s.open -= 1;
    }
    maybe_closed(lp, server);
}

/// Calls the `close` callbacks once a closing server has no connection left.
fn maybe_closed(lp: &mut Loop, server: Key) {
    let Some(s) = http(lp).servers.get(server) else {
        return;
    };
    if !s.closing || s.open > 0 {
        return;
    }
    let s = http(lp).servers.remove(server).expect("present above");
    for cb in s.on_closed {
        lp.next_tick(cb);
    }
}

/// Runs the server's handler for one request (`None`: the server is gone).
/// A handler already running further up the stack (a request of the same
/// server dispatched from inside it) cannot be entered again: `503`.
fn dispatch(lp: &mut Loop, handler: Option<Handler>, req: Request, res: Response) {
    let Some(mut handler) = handler.as_deref().and_then(|h| h.try_borrow_mut().ok()) else {
        res.set_status(lp, 503);
        res.end(lp, None);
        return;
    };
    let (ck, seq) = res.parts();
    // The handler is user code: if it panics, the server still has it for
    // the next request, and the exchange it left half done must end.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler(lp, req, res)));
    drop(handler);
    if let Err(panic) = outcome {
        conn::handler_panicked(lp, ck, seq);
        // The loop's policy: the panic reaches the caller of `run`, with the
        // loop consistent, so the program decides (log and run again, or exit).
        std::panic::resume_unwind(panic);
    }
}
