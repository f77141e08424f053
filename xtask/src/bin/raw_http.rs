//! The baseline for `cargo xtask bench http`: a fixed-response HTTP/1.1
//! responder written directly on mio, with no framework. It answers every
//! request head (pipelined or not) with `200` and `hello world\n`, and
//! supports nothing else (no bodies). It is the practical limit on this
//! machine, the bar Eventide's server is measured against.
//!
//! `raw_http [PORT]` prints `listening on http://ADDR`.

use std::io::{self, Read, Write};

use mio::net::TcpStream;

mod raw;

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 12\r\n\r\nhello world\n";

struct Conn {
    stream: TcpStream,
    inbuf: Vec<u8>,
    out: Vec<u8>,
}

fn main() -> io::Result<()> {
    raw::serve(
        "http://",
        |stream| {
            stream.set_nodelay(true)?;
            Ok(Conn {
                stream,
                inbuf: Vec::new(),
                out: Vec::new(),
            })
        },
        serve,
    )
}

/// Reads everything available, answers every complete head, writes what it can.
fn serve(c: &mut Conn, reads: &mut raw::Reads<'_>) -> io::Result<()> {
    loop {
        match c.stream.read(reads.buf) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                c.inbuf.extend_from_slice(&reads.buf[..n]);
                if reads.drained(n) {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let mut start = 0;
    while let Some(end) = find_head_end(&c.inbuf[start..]) {
        c.out.extend_from_slice(RESPONSE);
        start += end;
    }
    c.inbuf.drain(..start);
    while !c.out.is_empty() {
        match c.stream.write(&c.out) {
            Ok(n) => {
                c.out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn find_head_end(b: &[u8]) -> Option<usize> {
    b.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4)
}
