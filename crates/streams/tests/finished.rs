//! `finished(stream, done)`: `Ok` once the stream ended and finished, the
//! error if it errored, `PrematureClose` if it closed before that; exactly
//! once, also for a stream already done or gone.

mod util;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{Readable, StreamError, StreamOptions, Writable, finished};
use util::{ChunkSource, DelaySink, shared};

fn watch(
    lp: &mut Loop,
    s: impl Into<eventide_streams::AnyStream>,
) -> util::Shared<Vec<Result<(), StreamError>>> {
    let out = shared(Vec::new());
    let o = out.clone();
    finished(lp, s, move |_, r| o.borrow_mut().push(r));
    out
}

#[test]
fn a_readable_destroyed_before_its_end_is_a_premature_close() {
    let mut lp = Loop::new_manual();
    let src = ChunkSource::new([Bytes::from_static(b"a")], vec![1]);
    let r = Readable::new(&mut lp, src, StreamOptions::default());
    r.push(&mut lp, Bytes::from_static(b"buffered"));
    let out = watch(&mut lp, r);
    r.destroy(&mut lp, None);
    lp.run(RunMode::Default);
    assert_eq!(*out.borrow(), [Err(StreamError::PrematureClose)]);
}

#[test]
fn a_writable_destroyed_before_finish_is_a_premature_close() {
    let mut lp = Loop::new_manual();
    let (sink, _) = DelaySink::<Bytes>::new(vec![5]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    w.write(&mut lp, Bytes::from_static(b"x"));
    w.end(&mut lp, None);
    let out = watch(&mut lp, w);
    lp.set_timeout(util::ms(1), move |lp| w.destroy(lp, None));
    lp.run(RunMode::Default);
    assert_eq!(*out.borrow(), [Err(StreamError::PrematureClose)]);
}

#[test]
fn a_stream_that_ended_reports_ok_once() {
    let mut lp = Loop::new_manual();
    let r = Readable::from_iter(
        &mut lp,
        [Bytes::from_static(b"a")],
        StreamOptions::default(),
    );
    let out = watch(&mut lp, r);
    r.on_data(&mut lp, |_, _| {});
    lp.run(RunMode::Default);
    assert_eq!(*out.borrow(), [Ok(())]);
}

#[test]
fn an_error_is_reported_as_itself_once() {
    let mut lp = Loop::new_manual();
    let (sink, _) = DelaySink::<Bytes>::new(vec![1]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    let out = watch(&mut lp, w);
    w.destroy(&mut lp, Some(StreamError::other("nope")));
    lp.run(RunMode::Default);
    assert_eq!(*out.borrow(), [Err(StreamError::other("nope"))]);
}

#[test]
fn a_closed_stream_is_reported_on_the_next_tick() {
    let mut lp = Loop::new_manual();
    let (sink, _) = DelaySink::<Bytes>::new(vec![0]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    w.destroy(&mut lp, None);
    lp.run(RunMode::Default);
    let out = watch(&mut lp, w);
    assert!(out.borrow().is_empty(), "not synchronously");
    lp.run(RunMode::Default);
    assert_eq!(*out.borrow(), [Err(StreamError::PrematureClose)]);
}
