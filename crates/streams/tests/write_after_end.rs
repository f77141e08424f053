//! A write after `end` is an `error` event (`WriteAfterEnd`) followed by
//! `close` on that stream, never a panic; nothing is written after the end.

mod util;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{StreamError, StreamOptions, Writable};
use util::{DelaySink, Log, record_writable};

#[test]
fn write_after_end_is_an_error_event_then_close() {
    for delay in [0, 3] {
        let mut lp = Loop::new_manual();
        let (sink, seen) = DelaySink::new(vec![delay]);
        let w = Writable::new(&mut lp, sink, StreamOptions::default());
        let log = Log::new();
        record_writable(&mut lp, w, &log);
        assert!(w.write(&mut lp, Bytes::from_static(b"a")));
        w.end(&mut lp, None);
        assert!(!w.write(&mut lp, Bytes::from_static(b"b")), "refused");
        assert!(w.is_destroyed(&lp));
        assert_eq!(w.error(&lp), Some(StreamError::WriteAfterEnd));
        lp.run(RunMode::Default);
        // As Node: the destroy wins over the pending finish.
        assert_eq!(
            log.get(),
            ["error:ERR_STREAM_WRITE_AFTER_END", "close"],
            "delay {delay}"
        );
        assert_eq!(seen.borrow().items, [Bytes::from_static(b"a")]);
        assert!(w.is_destroyed(&lp), "the id is stale after close");
    }
}

#[test]
fn end_with_a_chunk_after_end_is_the_same_error() {
    let mut lp = Loop::new_manual();
    let (sink, _) = DelaySink::<Bytes>::new(vec![0]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    let log = Log::new();
    record_writable(&mut lp, w, &log);
    w.end(&mut lp, None);
    w.end(&mut lp, Some(Bytes::from_static(b"late")));
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["error:ERR_STREAM_WRITE_AFTER_END", "close"]);
}

#[test]
fn ending_twice_is_not_an_error() {
    let mut lp = Loop::new_manual();
    let (sink, seen) = DelaySink::<Bytes>::new(vec![1]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    let log = Log::new();
    record_writable(&mut lp, w, &log);
    w.end(&mut lp, Some(Bytes::from_static(b"x")));
    w.end(&mut lp, None);
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["finish", "close"]);
    assert!(seen.borrow().finished);
}

#[test]
fn writes_to_a_closed_stream_are_ignored() {
    let mut lp = Loop::new_manual();
    let w = Writable::from_fn(&mut lp, StreamOptions::default(), |_, _: Bytes| Ok(()));
    w.end(&mut lp, None);
    lp.run(RunMode::Default);
    assert!(w.is_destroyed(&lp));
    assert!(!w.write(&mut lp, Bytes::from_static(b"x")));
    w.end(&mut lp, None);
    w.destroy(&mut lp, None);
    lp.run(RunMode::Default);
}
