//! The accept-and-dispatch loop the raw mio baselines share: one `Poll`, a
//! listener on 127.0.0.1, connections by token in a map, one 64 KiB read
//! buffer. What a connection does when it is ready is each baseline's own.
//!
//! A baseline stops reading after a read short of the buffer (the socket is
//! drained; a later arrival raises a new edge), as libuv, tokio and Eventide
//! do, unless the peer's side was reported closed: then it reads to the end.

use std::collections::HashMap;
use std::io;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);

/// Listens on the port given as the first argument (0 or none picks one),
/// prints `listening on {scheme}ADDR`, and runs forever: `open` makes each
/// accepted connection's state, `ready` serves it whenever it is readable or
/// writable (an error drops the connection).
pub(crate) fn serve<C>(
    scheme: &str,
    open: impl Fn(TcpStream) -> io::Result<C>,
    mut ready: impl FnMut(&mut C, &mut Reads<'_>) -> io::Result<()>,
) -> io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(([127, 0, 0, 1], port).into())?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("listening on {scheme}{}", listener.local_addr()?);
    // Each connection with whether its peer's side was reported closed.
    let mut conns: HashMap<usize, (C, bool)> = HashMap::new();
    let mut next = 0usize;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match poll.poll(&mut events, None) {
            // A signal (a profiler attaching) is not a failure: poll again.
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => result?,
        }
        for ev in &events {
            if ev.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    next += 1;
                    poll.registry().register(
                        &mut stream,
                        Token(next),
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    conns.insert(next, (open(stream)?, false));
                }
                continue;
            }
            let id = ev.token().0;
            let Some((c, peer_closed)) = conns.get_mut(&id) else {
                continue;
            };
            *peer_closed |= ev.is_read_closed() || ev.is_error();
            let mut reads = Reads {
                buf: &mut buf,
                peer_closed: *peer_closed,
            };
            if ready(c, &mut reads).is_err() {
                conns.remove(&id);
            }
        }
    }
}

/// The shared read buffer, and when a read has drained the socket.
pub(crate) struct Reads<'a> {
    pub(crate) buf: &'a mut [u8],
    peer_closed: bool,
}

impl Reads<'_> {
    /// Whether a read of `n` bytes left nothing behind in the kernel.
    pub(crate) fn drained(&self, n: usize) -> bool {
        n < self.buf.len() && !self.peer_closed
    }
}
