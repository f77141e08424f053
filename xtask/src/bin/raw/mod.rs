//! The accept-and-dispatch loop the raw mio baselines share: one `Poll`, a
//! listener on 127.0.0.1, connections by token in a map, one 64 KiB read
//! buffer. What a connection does when it is ready is each baseline's own.

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
    mut ready: impl FnMut(&mut C, &mut [u8]) -> io::Result<()>,
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
    let mut conns: HashMap<usize, C> = HashMap::new();
    let mut next = 0usize;
    let mut events = Events::with_capacity(1024);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        poll.poll(&mut events, None)?;
        for ev in &events {
            if ev.token() == LISTENER {
                while let Ok((mut stream, _)) = listener.accept() {
                    next += 1;
                    poll.registry().register(
                        &mut stream,
                        Token(next),
                        Interest::READABLE | Interest::WRITABLE,
                    )?;
                    conns.insert(next, open(stream)?);
                }
                continue;
            }
            let id = ev.token().0;
            let Some(c) = conns.get_mut(&id) else {
                continue;
            };
            if ready(c, &mut buf).is_err() {
                conns.remove(&id);
            }
        }
    }
}
