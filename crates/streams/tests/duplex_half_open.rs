//! A Duplex's sides are independent; with `allow_half_open(false)` the end
//! of the readable side ends the writable side, and `close` waits for both.

mod util;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{Duplex, StreamOptions};
use util::{ChunkSource, DelaySink, Log, check_event_order, ms};

fn duplex(
    lp: &mut Loop,
    half_open: bool,
) -> (Duplex<Bytes>, Log, util::Shared<util::SinkLog<Bytes>>) {
    let src = ChunkSource::new([Bytes::from_static(b"in")], vec![1]);
    let (sink, seen) = DelaySink::new(vec![1]);
    let d = Duplex::from_parts(
        lp,
        src,
        sink,
        StreamOptions::default().allow_half_open(half_open),
    );
    let log = Log::new();
    let _ = util::record_readable(lp, d, &log);
    d.on_finish(lp, log.each("finish"));
    (d, log, seen)
}

#[test]
fn without_half_open_the_end_ends_the_writable_side() {
    let mut lp = Loop::new_manual();
    let (d, log, seen) = duplex(&mut lp, false);
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["data", "end", "finish", "close"]);
    assert!(seen.borrow().finished, "final step ran");
    assert!(d.writable_ended(&lp));
}

#[test]
fn with_half_open_the_writable_side_stays_open() {
    let mut lp = Loop::new_manual();
    let (d, log, seen) = duplex(&mut lp, true);
    lp.set_timeout(ms(20), move |lp| {
        assert!(!d.writable_ended(lp), "still writable after end");
        d.write(lp, Bytes::from_static(b"late"));
        d.end(lp, None);
    });
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["data", "end", "finish", "close"]);
    assert_eq!(seen.borrow().items, [Bytes::from_static(b"late")]);
    check_event_order(&log.get()).unwrap();
}

#[test]
fn writable_side_may_finish_first() {
    let mut lp = Loop::new_manual();
    let src = ChunkSource::new([Bytes::from_static(b"in")], vec![30]);
    let (sink, _) = DelaySink::new(vec![0]);
    let d = Duplex::from_parts(&mut lp, src, sink, StreamOptions::default());
    let log = Log::new();
    let _ = util::record_readable(&mut lp, d, &log);
    d.on_finish(&mut lp, log.each("finish"));
    d.end(&mut lp, Some(Bytes::from_static(b"out")));
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["finish", "data", "end", "close"]);
}
