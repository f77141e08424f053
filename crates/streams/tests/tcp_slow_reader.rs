//! A slow reader on the far side bounds the writer's memory: a producer
//! that obeys `write`/`drain` never has more than the high-water mark plus
//! one chunk buffered in its socket, however slowly the peer reads.

mod util;

use std::io::Read;
use std::net::TcpListener;
use std::time::Duration;

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_streams::StreamOptions;
use eventide_streams::net::{Socket, SocketOptions};
use util::{Log, record_lifecycle, run_bounded, shared};

const TOTAL: usize = 16 * 1024 * 1024;
/// The reader's pace: bytes per second.
const READ_RATE: f64 = 48.0 * 1024.0 * 1024.0;
const CHUNK: usize = 16 * 1024;
const HWM: usize = 64 * 1024;

#[test]
fn writer_memory_stays_under_the_mark_plus_one_chunk() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    // A small receive window (inherited by the accepted socket).
    socket2::SockRef::from(&listener)
        .set_recv_buffer_size(32 * 1024)
        .unwrap();
    let addr = listener.local_addr().unwrap();
    // The slow reader: small reads, paced to READ_RATE by the clock (robust
    // to coarse sleeps).
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = vec![0u8; 16 * 1024];
        let (mut total, mut sum) = (0usize, 0u64);
        let start = std::time::Instant::now();
        loop {
            let n = s.read(&mut buf).unwrap();
            if n == 0 {
                return (total, sum);
            }
            total += n;
            sum = buf[..n]
                .iter()
                .fold(sum, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(*b)));
            let due = Duration::from_secs_f64(total as f64 / READ_RATE);
            if let Some(wait) = due.checked_sub(start.elapsed()) {
                std::thread::sleep(wait);
            }
        }
    });

    let mut lp = Loop::new();
    let options = SocketOptions {
        stream: StreamOptions::default()
            .high_water_mark(HWM)
            .allow_half_open(false),
        ..SocketOptions::default()
    };
    let client = Socket::connect_tcp(&mut lp, addr, options);
    let log = Log::new();
    record_lifecycle(&mut lp, *client, &log);
    client.on_finish(&mut lp, log.each("finish"));
    let data: Bytes = (0..TOTAL)
        .map(|i| (i * 7 % 256) as u8)
        .collect::<Vec<u8>>()
        .into();
    let expect_sum = data
        .iter()
        .fold(0u64, |a, b| a.wrapping_mul(31).wrapping_add(u64::from(*b)));
    let sent = shared(0usize);
    let peak_seen = shared(0usize);
    let drains = shared(0usize);
    let produce = {
        let (sent, peak, data) = (sent.clone(), peak_seen.clone(), data.clone());
        move |lp: &mut Loop| loop {
            let at = *sent.borrow();
            if at == TOTAL {
                client.end(lp, None);
                return;
            }
            let n = CHUNK.min(TOTAL - at);
            *sent.borrow_mut() += n;
            let ok = client.write(lp, data.slice(at..at + n));
            let len = client.writable_length(lp);
            let mut p = peak.borrow_mut();
            *p = (*p).max(len);
            if !ok {
                return;
            }
        }
    };
    let p = produce.clone();
    let d = drains.clone();
    client.on_drain(&mut lp, move |lp| {
        *d.borrow_mut() += 1;
        p(lp);
    });
    let p = produce;
    client.on_connect(&mut lp, move |lp| p(lp));
    // Nothing comes back: close once the peer closed.
    client.on_data(&mut lp, |_, _| {});
    run_bounded(&mut lp, 30, "slow reader");

    let (total, sum) = reader.join().unwrap();
    assert_eq!(total, TOTAL);
    assert_eq!(sum, expect_sum, "byte-exact");
    assert!(
        *peak_seen.borrow() < HWM + CHUNK,
        "buffered {}",
        *peak_seen.borrow()
    );
    assert!(
        *drains.borrow() >= 2,
        "the writer had to wait: {} drains",
        *drains.borrow()
    );
    assert_eq!(log.get(), ["finish", "close"]);
}
