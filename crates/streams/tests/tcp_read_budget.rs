//! The per-iteration read budget: while one connection floods the server,
//! another connection's small messages still get answered promptly and
//! timers still fire, because a socket reads at most `READS_PER_EVENT`
//! times per readiness before the loop moves on.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use eventide_loop_phases::{Loop, Phase};
use eventide_streams::net::{Server, ServerOptions};
use util::{run_bounded, shared};

#[test]
fn a_flood_does_not_starve_other_connections_or_timers() {
    let mut lp = Loop::new();
    let flooded = shared(0usize);
    let pings = shared(0usize);
    let (f, p) = (flooded.clone(), pings.clone());
    let server = Server::listen_tcp(
        &mut lp,
        "127.0.0.1:0".parse().unwrap(),
        ServerOptions::default(),
        move |lp, conn| {
            let (f, p) = (f.clone(), p.clone());
            conn.on_data(lp, move |lp, chunk: Bytes| {
                if chunk[0] == b'x' {
                    *f.borrow_mut() += chunk.len();
                } else {
                    // A ping: answer each byte.
                    *p.borrow_mut() += chunk.len();
                    conn.write(lp, Bytes::from(vec![b'!'; chunk.len()]));
                }
            });
        },
    )
    .unwrap();
    let addr = server.local_addr(&lp).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let flooder = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(addr).unwrap();
            s.set_write_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            let block = vec![b'x'; 256 * 1024];
            let mut sent = 0usize;
            while !stop.load(Ordering::Relaxed) {
                match s.write(&block) {
                    Ok(n) => sent += n,
                    Err(_) => continue,
                }
            }
            sent
        })
    };
    // Give the flood a head start, then measure ping round trips.
    let pinger = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_nodelay(true).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut worst = Duration::ZERO;
        for _ in 0..30 {
            let start = Instant::now();
            s.write_all(b"p").unwrap();
            let mut b = [0u8; 1];
            s.read_exact(&mut b).unwrap();
            worst = worst.max(start.elapsed());
            std::thread::sleep(Duration::from_millis(10));
        }
        worst
    });

    let ticks = shared(0u32);
    let t = ticks.clone();
    let interval = lp.set_interval(Duration::from_millis(5), move |_| *t.borrow_mut() += 1);
    lp.unref_handle(interval);
    let started = Instant::now();
    let pinger_cell = shared(Some(pinger));
    let worst = shared(None);
    let (pc, w, st) = (pinger_cell.clone(), worst.clone(), stop.clone());
    let watch = lp.set_interval(Duration::from_millis(10), move |lp| {
        if pc.borrow().as_ref().is_some_and(|h| h.is_finished()) {
            *w.borrow_mut() = Some(pc.borrow_mut().take().unwrap().join().unwrap());
            st.store(true, Ordering::Relaxed);
            server.close(lp);
            lp.stop();
        }
    });
    lp.unref_handle(watch);
    let before = lp.metrics();
    run_bounded(&mut lp, 20, "read budget");
    let elapsed = started.elapsed();
    stop.store(true, Ordering::Relaxed);
    let sent = flooder.join().unwrap();
    let after = lp.metrics();

    let worst = worst.borrow().expect("the pinger finished");
    let iterations = after.iterations - before.iterations;
    let pending = after.callbacks_in(Phase::Pending) - before.callbacks_in(Phase::Pending);
    eprintln!(
        "flooded {} of {sent} bytes, worst ping {worst:?}, {} ticks in {elapsed:?}, {iterations} iterations, {pending} pending callbacks",
        flooded.borrow(),
        ticks.borrow()
    );
    assert_eq!(*pings.borrow(), 30);
    assert!(*flooded.borrow() > 8 * 1024 * 1024, "the flood was real");
    assert!(
        worst < Duration::from_millis(250),
        "a ping waited {worst:?}"
    );
    let expected_ticks = elapsed.as_millis() as u32 / 5;
    assert!(
        *ticks.borrow() * 3 >= expected_ticks,
        "timer starved: {} of {expected_ticks}",
        ticks.borrow()
    );
    // Re-delivered readiness stays proportional to the loop's iterations.
    assert!(
        pending <= iterations * 20,
        "{pending} pending callbacks in {iterations} iterations"
    );
}
