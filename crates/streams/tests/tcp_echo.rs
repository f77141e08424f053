//! 64 MiB through an echo server over 127.0.0.1: the client writes random
//! sized chunks obeying `write`/`drain`, the server pipes each socket into
//! itself, and every byte comes back once, in order.

mod util;

use std::cell::Cell;
use std::rc::Rc;

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_streams::net::{Socket, SocketOptions};
use util::{Log, Rng, echo_server, record_lifecycle, run_bounded};

const TOTAL: usize = 64 * 1024 * 1024;
/// A prime period, so that chunk boundaries never line up with it.
const PERIOD: usize = 1_000_003;
const MAX_CHUNK: usize = 256 * 1024;

#[test]
fn echo_64_mib_with_random_chunking_is_byte_exact() {
    let mut lp = Loop::new();
    let mut rng = Rng::new(0xEC40);
    let pattern = rng.bytes(PERIOD);
    // The pattern twice: any window shorter than the period is one slice.
    let big = Bytes::from([pattern.clone(), pattern].concat());

    let server = echo_server(&mut lp);
    let addr = server.local_addr(&lp).unwrap();
    let client = Socket::connect_tcp(&mut lp, addr, SocketOptions::default());
    let log = Log::new();
    record_lifecycle(&mut lp, *client, &log);
    client.on_end(&mut lp, log.each("end"));
    client.on_close(&mut lp, move |lp| server.close(lp));

    // Producer: random sizes, stops at `false`, goes on at `drain`.
    let sent = Rc::new(Cell::new(0usize));
    let max_written = Rc::new(Cell::new(0usize));
    let produce = {
        let (sent, big, max_written) = (sent.clone(), big.clone(), max_written.clone());
        let rng = Rc::new(std::cell::RefCell::new(rng));
        move |lp: &mut Loop| loop {
            let at = sent.get();
            if at >= TOTAL {
                client.end(lp, None);
                return;
            }
            let n = rng.borrow_mut().range(1, MAX_CHUNK).min(TOTAL - at);
            let off = at % PERIOD;
            let n = n.min(PERIOD);
            sent.set(at + n);
            let ok = client.write(lp, big.slice(off..off + n));
            max_written.set(max_written.get().max(client.writable_length(lp)));
            if !ok {
                return;
            }
        }
    };
    let p = produce.clone();
    client.on_drain(&mut lp, move |lp| p(lp));
    let p = produce;
    client.on_connect(&mut lp, move |lp| p(lp));

    // Consumer: compares each chunk with the pattern at its offset.
    let received = Rc::new(Cell::new(0usize));
    let mismatch = Rc::new(Cell::new(None));
    let (r, m, b) = (received.clone(), mismatch.clone(), big.clone());
    client.on_data(&mut lp, move |_, chunk: Bytes| {
        let at = r.get();
        let off = at % PERIOD;
        if m.get().is_none() && (at + chunk.len() > TOTAL || chunk[..] != b[off..off + chunk.len()])
        {
            m.set(Some(at));
        }
        r.set(at + chunk.len());
    });

    run_bounded(&mut lp, 60, "64 MiB echo");
    assert_eq!(mismatch.get(), None, "first differing offset");
    assert_eq!(received.get(), TOTAL);
    assert_eq!(log.get(), ["end", "close"]);
    let hwm = 64 * 1024;
    assert!(
        max_written.get() < hwm + MAX_CHUNK,
        "writer buffered {} (hwm {hwm} + one chunk {MAX_CHUNK})",
        max_written.get()
    );
}
