//! A request body the handler does not read is not buffered without bound:
//! the server stops reading the socket, so the client's send blocks. A
//! client uploading 50 MiB to a handler that never reads and never answers
//! gets only a few MiB (kernel buffers) out before its writes block, the
//! server's body buffer stays at its high-water mark, and the process does
//! not grow by the upload.

mod server_util;

use std::cell::Cell;
use std::io::{ErrorKind, Write};
use std::net::{SocketAddr, TcpStream};
use std::rc::Rc;
use std::time::Duration;

use eventide_http_mini::server::ServerOptions;
use eventide_loop_phases::Loop;
use server_util::{run_until, serve, spawn_client, test_options};

const UPLOAD: usize = 50 * 1024 * 1024;

/// Writes up to 50 MiB; stops once a write blocks for 500 ms. Returns how much
/// went out.
fn upload_until_blocked(addr: SocketAddr) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    s.write_all(
        format!("PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: {UPLOAD}\r\n\r\n").as_bytes(),
    )
    .unwrap();
    let piece = vec![0x5au8; 64 * 1024];
    let mut sent = 0;
    while sent < UPLOAD {
        match s.write(&piece) {
            Ok(n) => sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => break,
            Err(e) => panic!("upload failed: {e}"),
        }
    }
    sent
}

/// Resident set size of this process, from `/proc/self/statm` (Linux).
fn rss_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Runs one upload against `options`; `handler_stream` says whether the
/// handler creates (and never reads) the body stream. Returns (bytes the
/// client got out, the body stream's peak buffered length).
fn stalled_upload(options: ServerOptions, handler_stream: bool) -> (usize, usize) {
    let peak = Rc::new(Cell::new(0usize));
    let stream_slot = Rc::new(Cell::new(None));
    let s = stream_slot.clone();
    let (mut lp, server, addr) = serve(options, move |lp: &mut Loop, req, _res| {
        if handler_stream {
            s.set(Some(req.body(lp)));
        }
        // Never reads, never answers.
    });
    let (client, done) = spawn_client(addr, upload_until_blocked);
    let p = peak.clone();
    let stats = run_until(&mut lp, server, move |lp| {
        if let Some(stream) = stream_slot.get() {
            p.set(p.get().max(stream.readable_peak_length(lp)));
        }
        done.load(std::sync::atomic::Ordering::SeqCst)
    });
    assert_eq!(stats.requests, 1);
    (client.join().unwrap(), peak.get())
}

#[test]
fn unread_body_pauses_reading() {
    let rss_before = rss_bytes();
    let options = test_options();
    let hwm = options.high_water_mark;

    // The handler never asks for the body.
    let (sent, _) = stalled_upload(options.clone(), false);
    assert!(
        sent < 20 * 1024 * 1024,
        "the client got {} MiB out to a server that reads nothing",
        sent >> 20
    );

    // The handler holds the body stream but never reads it.
    let (sent, peak) = stalled_upload(options, true);
    assert!(sent < 20 * 1024 * 1024, "{} MiB accepted", sent >> 20);
    assert!(peak > 0, "the stream got the first bytes");
    // One socket read (64 KiB) may land past the mark before reading pauses.
    assert!(
        peak <= hwm + 64 * 1024,
        "body stream buffered {peak} bytes (mark {hwm})"
    );

    if let (Some(before), Some(after)) = (rss_before, rss_bytes()) {
        let grown = after.saturating_sub(before);
        assert!(
            grown < 16 * 1024 * 1024,
            "the process grew by {} MiB",
            grown >> 20
        );
    }
}
