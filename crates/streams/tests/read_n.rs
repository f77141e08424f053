//! Paused mode: `read(n)` with Node's semantics for `n` larger than what is
//! buffered, `readable` events, the mark raised by a large read, and `end`
//! after the last byte was read.

mod util;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{Readable, StreamOptions};
use util::{ChunkSource, Log, chunk, record_lifecycle, shared};

#[test]
fn read_more_than_buffered_waits_for_enough_then_returns_exactly_n() {
    let mut lp = Loop::new_manual();
    let data: Vec<u8> = (0..100u8).collect();
    // An asynchronous source: one 10-byte chunk per request, 1 ms later.
    let src = ChunkSource::new(chunk(&data, &[10]), vec![1]);
    let r = Readable::new(&mut lp, src, StreamOptions::default().high_water_mark(16));
    let log = Log::new();
    record_lifecycle(&mut lp, r, &log);
    r.on_end(&mut lp, log.each("end"));

    assert_eq!(r.read(&mut lp, Some(25)), None, "nothing buffered yet");
    assert_eq!(
        r.readable_high_water_mark(&lp),
        32,
        "raised to the next power of two"
    );

    let got = shared(Vec::<Bytes>::new());
    let readables = shared(0usize);
    let (g, n) = (got.clone(), readables.clone());
    r.on_readable(&mut lp, move |lp| {
        *n.borrow_mut() += 1;
        while let Some(b) = r.read(lp, Some(25)) {
            g.borrow_mut().push(b);
        }
    });
    lp.run(RunMode::Default);

    let got = got.borrow();
    let sizes: Vec<usize> = got.iter().map(Bytes::len).collect();
    assert_eq!(sizes, [25, 25, 25, 25], "exactly n each time");
    assert_eq!(util::concat(&got), data);
    assert!(*readables.borrow() >= 4);
    assert_eq!(log.get(), ["end", "close"]);
}

#[test]
fn read_n_from_a_synchronous_source_does_not_stall() {
    // A source that pushes synchronously until `push` says stop.
    let mut lp = Loop::new_manual();
    let data: Vec<u8> = (0..1000u32).map(|i| i as u8).collect();
    let r = Readable::from_iter(
        &mut lp,
        chunk(&data, &[10]),
        StreamOptions::default().high_water_mark(16),
    );
    let got = shared(Vec::<u8>::new());
    let ended = shared(false);
    let (g, e) = (got.clone(), ended.clone());
    r.on_end(&mut lp, move |_| *e.borrow_mut() = true);
    r.on_readable(&mut lp, move |lp| {
        while let Some(b) = r.read(lp, Some(40)) {
            g.borrow_mut().extend_from_slice(&b);
        }
    });
    lp.run(RunMode::Default);
    assert_eq!(got.borrow().len(), data.len(), "all bytes read");
    assert_eq!(*got.borrow(), data);
    assert!(*ended.borrow(), "end after the last byte");
}

#[test]
fn read_all_returns_everything_buffered_joined() {
    let mut lp = Loop::new_manual();
    let src = ChunkSource::new(["ab", "cd", "ef"].map(Bytes::from), vec![0]);
    let r = Readable::new(&mut lp, src, StreamOptions::default());
    // A read of 0 asks the source (Node's read(0)) without returning data.
    assert_eq!(r.read(&mut lp, Some(0)), None);
    let first = r
        .read(&mut lp, None)
        .expect("the source pushed synchronously");
    assert!(!first.is_empty());
    let mut all = first.to_vec();
    while let Some(b) = r.read(&mut lp, None) {
        all.extend_from_slice(&b);
    }
    lp.run(RunMode::Default);
    while let Some(b) = r.read(&mut lp, None) {
        all.extend_from_slice(&b);
    }
    assert_eq!(all, b"abcdef");
}

#[test]
fn read_n_after_end_returns_the_rest_then_end() {
    let mut lp = Loop::new_manual();
    let src = ChunkSource::new(["abc"].map(Bytes::from), vec![0]);
    let r = Readable::new(&mut lp, src, StreamOptions::default());
    let log = Log::new();
    r.on_end(&mut lp, log.each("end"));
    record_lifecycle(&mut lp, r, &log);
    let got = shared(Vec::new());
    let g = got.clone();
    r.on_readable(&mut lp, move |lp| {
        while let Some(b) = r.read(lp, Some(10)) {
            g.borrow_mut().push(b);
        }
    });
    lp.run(RunMode::Default);
    assert_eq!(
        *got.borrow(),
        [Bytes::from_static(b"abc")],
        "what is left once ended"
    );
    assert_eq!(log.get(), ["end", "close"]);
}

#[test]
fn readable_events_stop_at_the_mark_in_paused_mode() {
    // Nobody reads: the buffer fills to the mark and the source is not asked again.
    let mut lp = Loop::new_manual();
    let asked = shared(0usize);
    let a = asked.clone();
    let chunks = (0..100).map(move |_| {
        *a.borrow_mut() += 1;
        Bytes::from_static(b"0123456789")
    });
    let r = Readable::from_iter(
        &mut lp,
        chunks,
        StreamOptions::default().high_water_mark(35),
    );
    let readables = shared(0usize);
    let n = readables.clone();
    r.on_readable(&mut lp, move |_| *n.borrow_mut() += 1);
    lp.run(RunMode::Default);
    assert_eq!(
        r.readable_length(&lp),
        40,
        "filled to the mark plus one chunk"
    );
    assert_eq!(*asked.borrow(), 4);
    assert!(*readables.borrow() >= 1);
    // Reading makes room: the source is asked again.
    let b = r.read(&mut lp, Some(30)).unwrap();
    assert_eq!(b.len(), 30);
    lp.run(RunMode::Default);
    assert!(*asked.borrow() > 4, "asked again below the mark");
    assert!(r.readable_length(&lp) < 35 + 10);
}
