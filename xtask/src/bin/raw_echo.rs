//! The baseline for the TCP echo benchmark: an echo server written directly
//! on mio, with no framework, reading into one buffer and writing back what
//! it read, pausing reads while a connection's unsent bytes exceed 1 MiB.
//!
//! `raw_echo [PORT]` prints `listening on ADDR`.

use std::collections::HashMap;
use std::io::{self, Read, Write};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

const LISTENER: Token = Token(usize::MAX);
const MAX_UNSENT: usize = 1024 * 1024;

struct Conn {
    stream: TcpStream,
    /// Bytes read and not yet echoed are `out[sent..]`.
    out: Vec<u8>,
    sent: usize,
}

fn main() -> io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(([127, 0, 0, 1], port).into())?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    println!("listening on {}", listener.local_addr()?);
    let mut conns: HashMap<usize, Conn> = HashMap::new();
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
                    conns.insert(
                        next,
                        Conn {
                            stream,
                            out: Vec::new(),
                            sent: 0,
                        },
                    );
                }
                continue;
            }
            let id = ev.token().0;
            let Some(c) = conns.get_mut(&id) else {
                continue;
            };
            if echo(c, &mut buf).is_err() {
                conns.remove(&id);
            }
        }
    }
}

fn echo(c: &mut Conn, buf: &mut [u8]) -> io::Result<()> {
    loop {
        flush(c)?;
        if c.out.len() - c.sent > MAX_UNSENT {
            return Ok(()); // wait for write readiness
        }
        match c.stream.read(buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => c.out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return flush(c),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes from an offset, so a partial write does not shift the buffer.
fn flush(c: &mut Conn) -> io::Result<()> {
    while c.sent < c.out.len() {
        match c.stream.write(&c.out[c.sent..]) {
            Ok(n) => {
                c.sent += n;
                if c.sent == c.out.len() {
                    c.out.clear();
                    c.sent = 0;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}
