//! The writable side's events: `write` returns `false` once the length
//! reaches the mark, `drain` comes once the buffer emptied after that (and
//! only then), `end(chunk)` writes the chunk then `finish`, then `close`.

mod util;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{StreamOptions, Writable};
use util::{DelaySink, Log, record_writable};

#[test]
fn default_byte_mark_is_64_kib() {
    let mut lp = Loop::new_manual();
    let (sink, _) = DelaySink::<Bytes>::new(vec![1]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    assert_eq!(w.writable_high_water_mark(&lp), 64 * 1024);
    assert!(w.write(&mut lp, Bytes::from(vec![0; 64 * 1024 - 1])));
    assert!(!w.write(&mut lp, Bytes::from(vec![0; 1])), "64 KiB reached");
}

#[test]
fn false_then_drain_once_when_empty() {
    let mut lp = Loop::new_manual();
    let (sink, seen) = DelaySink::<Bytes>::new(vec![1]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default().high_water_mark(10));
    let log = Log::new();
    record_writable(&mut lp, w, &log);
    assert!(w.write(&mut lp, Bytes::from(vec![1; 4])));
    assert!(w.write(&mut lp, Bytes::from(vec![2; 5])), "9 < 10");
    assert!(!w.write(&mut lp, Bytes::from(vec![3; 1])), "10 >= 10");
    assert!(w.writable_need_drain(&lp));
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["drain"], "one drain, no finish without end");
    assert!(!w.writable_need_drain(&lp));
    assert_eq!(seen.borrow().items.len(), 3);
    // Writes that never returned false bring no drain.
    assert!(w.write(&mut lp, Bytes::from(vec![4; 2])));
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["drain"]);
    w.end(&mut lp, Some(Bytes::from_static(b"last")));
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["drain", "finish", "close"]);
    assert_eq!(
        seen.borrow().items.last().unwrap(),
        &Bytes::from_static(b"last")
    );
    assert!(seen.borrow().finished);
}

#[test]
fn no_drain_when_ended_meanwhile() {
    let mut lp = Loop::new_manual();
    let (sink, _) = DelaySink::<Bytes>::new(vec![1]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default().high_water_mark(2));
    let log = Log::new();
    record_writable(&mut lp, w, &log);
    assert!(!w.write(&mut lp, Bytes::from_static(b"abc")));
    w.end(&mut lp, None);
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["finish", "close"], "Node: no drain once ending");
}

#[test]
fn finish_before_close_and_writable_finished() {
    let mut lp = Loop::new_manual();
    let (sink, _) = DelaySink::<Bytes>::new(vec![0]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    let log = Log::new();
    record_writable(&mut lp, w, &log);
    let l = log.clone();
    w.on_finish(&mut lp, move |lp| {
        l.push(format!("finished={}", w.writable_finished(lp)));
    });
    w.end(&mut lp, None);
    assert!(w.writable_ended(&lp));
    assert!(!w.writable_finished(&lp));
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["finish", "finished=true", "close"]);
}
