//! The baseline for the TCP echo benchmark: an echo server written directly
//! on mio, with no framework, reading into one buffer and writing back what
//! it read, pausing reads while a connection's unsent bytes exceed 1 MiB.
//!
//! `raw_echo [PORT]` prints `listening on ADDR`.

use std::io::{self, Read, Write};

use mio::net::TcpStream;

mod raw;

const MAX_UNSENT: usize = 1024 * 1024;

struct Conn {
    stream: TcpStream,
    /// Bytes read and not yet echoed are `out[sent..]`.
    out: Vec<u8>,
    sent: usize,
}

fn main() -> io::Result<()> {
    raw::serve(
        "",
        |stream| {
            Ok(Conn {
                stream,
                out: Vec::new(),
                sent: 0,
            })
        },
        echo,
    )
}

fn echo(c: &mut Conn, reads: &mut raw::Reads<'_>) -> io::Result<()> {
    loop {
        flush(c)?;
        if c.out.len() - c.sent > MAX_UNSENT {
            return Ok(()); // wait for write readiness
        }
        match c.stream.read(reads.buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                c.out.extend_from_slice(&reads.buf[..n]);
                if reads.drained(n) {
                    return flush(c);
                }
            }
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
