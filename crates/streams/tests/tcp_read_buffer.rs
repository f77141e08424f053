//! Reads go into one loop-owned buffer and chunks are split off it without
//! copying: consecutive chunks of a connection are adjacent in memory.

mod util;

use std::io::Write;
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_streams::net::{Server, ServerOptions};
use util::{run_bounded, shared};

#[test]
fn chunks_are_split_off_one_buffer() {
    let mut lp = Loop::new();
    let chunks = shared(Vec::<Bytes>::new());
    let c = chunks.clone();
    let server = Server::listen_tcp(
        &mut lp,
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions::default(),
        move |lp, conn| {
            let c = c.clone();
            conn.on_data(lp, move |_, b| c.borrow_mut().push(b));
        },
    )
    .unwrap();
    let addr = server.local_addr(&lp).unwrap();
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        for piece in [&b"first"[..], b"second", b"third", b"fourth"] {
            s.write_all(piece).unwrap();
            // Separate reads on the server side.
            std::thread::sleep(Duration::from_millis(50));
        }
    });
    let c = chunks.clone();
    let check = lp.set_interval(Duration::from_millis(10), move |lp| {
        if c.borrow().iter().map(Bytes::len).sum::<usize>() == 22 {
            server.close(lp);
            lp.stop();
        }
    });
    run_bounded(&mut lp, 10, "read buffer");
    lp.clear_interval(check);
    client.join().unwrap();
    let chunks = chunks.borrow();
    // Separate writes 50 ms apart: separate reads (TCP may still merge some).
    assert!(chunks.len() >= 2, "{} reads", chunks.len());
    for pair in chunks.windows(2) {
        let end_of_first = pair[0].as_ptr() as usize + pair[0].len();
        assert_eq!(
            pair[1].as_ptr() as usize,
            end_of_first,
            "split off the same buffer, no copy"
        );
    }
}
