//! `cork`/`uncork`: corked writes are held back and go to a sink that takes
//! batches as one vectored write; nested corks need as many uncorks; `end`
//! flushes what is corked.

mod util;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{StreamOptions, Writable};
use util::{DelaySink, Log, record_writable};

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

#[test]
fn uncork_hands_the_sink_one_batch() {
    let mut lp = Loop::new_manual();
    let (mut sink, seen) = DelaySink::new(vec![0]);
    sink.batches = true;
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    w.cork(&mut lp);
    w.write(&mut lp, b("a"));
    w.write(&mut lp, b("b"));
    w.write(&mut lp, b("c"));
    assert!(seen.borrow().batches.is_empty(), "held while corked");
    assert_eq!(w.writable_length(&lp), 3);
    w.uncork(&mut lp);
    assert_eq!(seen.borrow().batches, [3], "one vectored write");
    assert_eq!(seen.borrow().items, [b("a"), b("b"), b("c")]);
    assert_eq!(w.writable_length(&lp), 0);
}

#[test]
fn nested_corks_need_as_many_uncorks() {
    let mut lp = Loop::new_manual();
    let (mut sink, seen) = DelaySink::new(vec![0]);
    sink.batches = true;
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    w.cork(&mut lp);
    w.cork(&mut lp);
    w.write(&mut lp, b("a"));
    w.write(&mut lp, b("b"));
    w.uncork(&mut lp);
    assert!(seen.borrow().items.is_empty());
    w.uncork(&mut lp);
    assert_eq!(seen.borrow().batches, [2]);
}

#[test]
fn writes_during_a_write_in_flight_go_out_together() {
    let mut lp = Loop::new_manual();
    let (mut sink, seen) = DelaySink::new(vec![2]);
    sink.batches = true;
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    for s in ["a", "b", "c", "d"] {
        w.write(&mut lp, b(s));
    }
    w.end(&mut lp, None);
    lp.run(RunMode::Default);
    assert_eq!(seen.borrow().batches, [1, 3]);
    assert!(seen.borrow().finished);
}

#[test]
fn a_sink_without_batches_gets_corked_chunks_one_by_one() {
    let mut lp = Loop::new_manual();
    let (sink, seen) = DelaySink::new(vec![0]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    w.cork(&mut lp);
    w.write(&mut lp, b("a"));
    w.write(&mut lp, b("b"));
    w.uncork(&mut lp);
    assert_eq!(seen.borrow().batches, [1, 1]);
    assert_eq!(seen.borrow().items, [b("a"), b("b")]);
}

#[test]
fn end_flushes_corked_writes_then_finishes() {
    let mut lp = Loop::new_manual();
    let (mut sink, seen) = DelaySink::new(vec![0]);
    sink.batches = true;
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    let log = Log::new();
    record_writable(&mut lp, w, &log);
    w.cork(&mut lp);
    w.write(&mut lp, b("a"));
    w.end(&mut lp, Some(b("z")));
    lp.run(RunMode::Default);
    assert_eq!(seen.borrow().batches, [2]);
    assert!(seen.borrow().finished);
    assert_eq!(log.get(), ["finish", "close"]);
}
