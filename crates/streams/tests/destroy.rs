//! `destroy(err)`: buffered data is dropped, the source and sink are told,
//! then `error` and `close` follow, each exactly once, on a later tick; no
//! `end`, `finish` or `data` after it.

mod util;

use std::cell::Cell;
use std::rc::Rc;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{
    Duplex, Readable, Sink, Source, StreamError, StreamOptions, Writable, WriteStatus,
};
use util::{ChunkSource, DelaySink, Log, record_lifecycle, record_readable, record_writable};

#[test]
fn destroy_with_error_emits_error_then_close_once() {
    let mut lp = Loop::new_manual();
    let (sink, seen) = DelaySink::<Bytes>::new(vec![5]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    let log = Log::new();
    record_writable(&mut lp, w, &log);
    w.write(&mut lp, Bytes::from_static(b"a"));
    w.write(&mut lp, Bytes::from_static(b"b"));
    w.end(&mut lp, None);
    w.destroy(&mut lp, Some(StreamError::other("boom")));
    w.destroy(&mut lp, Some(StreamError::other("again")));
    assert!(log.get().is_empty(), "events come on a later tick");
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["error:ERR_STREAM", "close"]);
    let seen = seen.borrow();
    assert!(seen.destroyed, "the sink was told");
    assert!(!seen.finished);
    assert_eq!(
        seen.items,
        [Bytes::from_static(b"a")],
        "buffered chunk dropped"
    );
}

#[test]
fn destroy_without_error_emits_close_only() {
    let mut lp = Loop::new_manual();
    let src = ChunkSource::new((0..10).map(|_| Bytes::from_static(b"xy")), vec![1]);
    let r = Readable::new(&mut lp, src, StreamOptions::default());
    let log = Log::new();
    let _ = record_readable(&mut lp, r, &log);
    lp.set_timeout(util::ms(3), move |lp| r.destroy(lp, None));
    lp.run(RunMode::Default);
    let events = log.get();
    assert_eq!(events.last().map(String::as_str), Some("close"));
    assert_eq!(log.count("close"), 1);
    assert_eq!(log.count("end"), 0);
    assert!(events.iter().all(|e| e == "data" || e == "close"));
    util::check_event_order(&events).unwrap();
}

struct CountingSource(Rc<Cell<u32>>);
impl Source<Bytes> for CountingSource {
    fn read(&mut self, _: &mut Loop, _: Readable<Bytes>, _: usize) {}
    fn destroy(&mut self, _: &mut Loop, _: Readable<Bytes>, _: Option<&StreamError>) {
        self.0.set(self.0.get() + 1);
    }
}

/// A sink that destroys its own stream from inside `write`.
struct SelfDestroying(Rc<Cell<u32>>);
impl Sink<Bytes> for SelfDestroying {
    fn write(&mut self, lp: &mut Loop, stream: Writable<Bytes>, _: Bytes) -> WriteStatus {
        stream.destroy(lp, Some(StreamError::other("inside")));
        WriteStatus::Done
    }
    fn destroy(&mut self, _: &mut Loop, _: Writable<Bytes>, _: Option<&StreamError>) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn source_and_sink_are_told_once_even_when_destroyed_from_inside() {
    let mut lp = Loop::new_manual();
    let (src_n, sink_n) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let d = Duplex::from_parts(
        &mut lp,
        CountingSource(src_n.clone()),
        SelfDestroying(sink_n.clone()),
        StreamOptions::default(),
    );
    let log = Log::new();
    record_lifecycle(&mut lp, d, &log);
    d.write(&mut lp, Bytes::from_static(b"x"));
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["error:ERR_STREAM", "close"]);
    assert_eq!(src_n.get(), 1, "source destroy hook");
    assert_eq!(
        sink_n.get(),
        1,
        "sink destroy hook, though it was busy writing"
    );
}

/// A source that pushes after its end, from inside `read`.
struct PushAfterEof(Rc<Cell<u32>>);
impl Source<Bytes> for PushAfterEof {
    fn read(&mut self, lp: &mut Loop, s: Readable<Bytes>, _: usize) {
        s.push_eof(lp);
        s.push(lp, Bytes::from_static(b"late"));
    }
    fn destroy(&mut self, _: &mut Loop, _: Readable<Bytes>, _: Option<&StreamError>) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn push_after_eof_destroys_with_that_error() {
    let mut lp = Loop::new_manual();
    let n = Rc::new(Cell::new(0));
    let r = Readable::new(&mut lp, PushAfterEof(n.clone()), StreamOptions::default());
    let log = Log::new();
    let _ = record_readable(&mut lp, r, &log);
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["error:ERR_STREAM_PUSH_AFTER_EOF", "close"]);
    assert_eq!(n.get(), 1, "source destroy hook");
}

#[test]
fn a_failed_write_destroys_with_its_error() {
    let mut lp = Loop::new_manual();
    let w = Writable::from_fn(&mut lp, StreamOptions::default(), |_, b: Bytes| {
        if &b[..] == b"bad" {
            Err(StreamError::other("bad chunk"))
        } else {
            Ok(())
        }
    });
    let log = Log::new();
    record_writable(&mut lp, w, &log);
    w.write(&mut lp, Bytes::from_static(b"ok"));
    w.write(&mut lp, Bytes::from_static(b"bad"));
    w.write(&mut lp, Bytes::from_static(b"after"));
    w.end(&mut lp, None);
    lp.run(RunMode::Default);
    assert_eq!(log.get(), ["error:ERR_STREAM", "close"]);
}
