//! Making connections: to an address, to a host name resolved on the work
//! pool (libuv's `getaddrinfo`), or to a Unix socket path.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;

use crate::net::socket::{
    Io, Phase, Socket, SocketOptions, attach_io, detach_io, new_socket, socket, time_out,
};

impl Socket {
    /// Connects to a TCP address (Node's `net.connect`). The socket is usable
    /// at once: writes wait until the connection is established; `connect`
    /// is emitted then. A failure or the connect timeout destroys the socket
    /// with the error.
    pub fn connect_tcp(lp: &mut Loop, addr: SocketAddr, options: SocketOptions) -> Socket {
        let sock = new_socket(lp, None, Phase::Connecting, &options);
        arm_connect_timeout(lp, sock.key, &options);
        start_tcp(lp, sock.key, addr);
        sock
    }

    /// Connects to `host:port`, resolving the host name on the work pool
    /// first (so `localhost:8080` works); the addresses are tried in order.
    ///
    /// An unresolvable name destroys the socket with a `NotFound`-kind error.
    pub fn connect(lp: &mut Loop, host: &str, port: u16, options: SocketOptions) -> Socket {
        let sock = new_socket(lp, None, Phase::Resolving, &options);
        arm_connect_timeout(lp, sock.key, &options);
        let key = sock.key;
        let target = (host.to_string(), port);
        lp.spawn_blocking(
            move || {
                target
                    .to_socket_addrs()
                    .map(Iterator::collect::<Vec<SocketAddr>>)
            },
            move |lp, result| {
                let addrs = match result {
                    Ok(Ok(addrs)) if !addrs.is_empty() => addrs,
                    Ok(Ok(_)) => {
                        return fail(
                            lp,
                            key,
                            io::Error::new(io::ErrorKind::NotFound, "host name has no address"),
                        );
                    }
                    Ok(Err(e)) => return fail(lp, key, e),
                    Err(e) => return fail(lp, key, io::Error::other(e.to_string())),
                };
                let Some(s) = socket(lp, key) else { return };
                s.phase = Phase::Connecting;
                start_tcp_any(lp, key, addrs);
            },
        );
        sock
    }

    /// Connects to the first of `addrs` that accepts the connection, trying
    /// them in order (what [`Socket::connect`] does with the addresses a name
    /// resolves to). With no address, the socket is destroyed with a
    /// `NotFound`-kind error; when all fail, with the last one's error.
    pub fn connect_tcp_any(
        lp: &mut Loop,
        addrs: Vec<SocketAddr>,
        options: SocketOptions,
    ) -> Socket {
        let sock = new_socket(lp, None, Phase::Connecting, &options);
        arm_connect_timeout(lp, sock.key, &options);
        start_tcp_any(lp, sock.key, addrs);
        sock
    }

    /// Connects to a Unix socket path.
    pub fn connect_unix(lp: &mut Loop, path: impl AsRef<Path>, options: SocketOptions) -> Socket {
        let sock = new_socket(lp, None, Phase::Connecting, &options);
        arm_connect_timeout(lp, sock.key, &options);
        match mio::net::UnixStream::connect(path) {
            Ok(s) => attach_io(lp, sock.key, Io::Unix(s)),
            Err(e) => fail(lp, sock.key, e),
        }
        sock
    }
}

fn arm_connect_timeout(lp: &mut Loop, key: Key, options: &SocketOptions) {
    let Some(timeout) = options.connect_timeout else {
        return;
    };
    let t = lp.set_timeout(timeout, move |lp| {
        let connecting = socket(lp, key).is_some_and(|s| s.phase != Phase::Open);
        if connecting {
            time_out(lp, key, "connect");
        }
    });
    if let Some(s) = socket(lp, key) {
        s.extras().connect_timer = Some(t);
    }
}

fn start_tcp(lp: &mut Loop, key: Key, addr: SocketAddr) {
    match mio::net::TcpStream::connect(addr) {
        Ok(s) => attach_io(lp, key, Io::Tcp(s)),
        Err(e) => fail(lp, key, e),
    }
}

/// Tries the resolved addresses in order until one starts connecting; the
/// rest are kept for [`try_next_address`], since a non-blocking connect
/// usually fails only later (a refused `::1` before a listening
/// `127.0.0.1`).
fn start_tcp_any(lp: &mut Loop, key: Key, addrs: Vec<SocketAddr>) {
    let mut last = None;
    let mut addrs = addrs.into_iter();
    while let Some(addr) = addrs.next() {
        match mio::net::TcpStream::connect(addr) {
            Ok(s) => {
                if let Some(state) = socket(lp, key) {
                    state.extras().next_addrs = addrs.collect();
                }
                return attach_io(lp, key, Io::Tcp(s));
            }
            Err(e) => last = Some(e),
        }
    }
    fail(
        lp,
        key,
        last.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address to connect to")),
    );
}

/// A connect failed: try the next resolved address, or destroy the socket
/// with the error if none is left.
pub(crate) fn try_next_address(lp: &mut Loop, key: Key, e: io::Error) {
    let rest = socket(lp, key)
        .and_then(|s| s.extras.as_mut())
        .map(|e| std::mem::take(&mut e.next_addrs))
        .unwrap_or_default();
    if rest.is_empty() {
        crate::stream::destroy(lp, key, Some(e.into()));
        return;
    }
    detach_io(lp, key);
    start_tcp_any(lp, key, rest);
}

/// Destroys the socket with a connect error, on the next tick as Node does.
fn fail(lp: &mut Loop, key: Key, e: io::Error) {
    lp.next_tick(move |lp| crate::stream::destroy(lp, key, Some(e.into())));
}
