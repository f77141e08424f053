//! `pipeline`: stages are piped in order; `done` is called exactly once, with
//! `Ok` once the last stage finished, or with the first error of any stage
//! after every stage was destroyed.

mod util;

use std::cell::Cell;
use std::rc::Rc;

use bytes::Bytes;
use eventide_loop_phases::{Loop, RunMode};
use eventide_streams::{
    AnyStream, Pipeline, Readable, StreamError, StreamOptions, Transform, Writable,
};
use util::{ChunkSource, DelaySink, Log, chunk, concat, record_lifecycle, shared};

type Done = Rc<std::cell::RefCell<Vec<Result<(), String>>>>;

fn done_log() -> (
    Done,
    impl FnOnce(&mut Loop, Result<(), StreamError>) + 'static,
) {
    let log: Done = shared(Vec::new());
    let l = log.clone();
    (log, move |_: &mut Loop, r: Result<(), StreamError>| {
        l.borrow_mut().push(r.map_err(|e| e.to_string()));
    })
}

#[test]
fn error_in_the_middle_stage_destroys_every_stage_and_calls_done_once() {
    let mut lp = Loop::new_manual();
    let input: Vec<u8> = (0..200u8).collect();
    let src = ChunkSource::new(chunk(&input, &[10]), vec![1]);
    let r = Readable::new(&mut lp, src, StreamOptions::default());
    let upper = Transform::pass_through(&mut lp, StreamOptions::default());
    let n = Cell::new(0);
    let failing = Transform::sync(
        &mut lp,
        StreamOptions::default(),
        move |lp, ctx, b: Bytes| {
            n.set(n.get() + 1);
            if n.get() == 4 {
                return Err(StreamError::other("stage 3 failed"));
            }
            ctx.push(lp, b);
            Ok(())
        },
    );
    let (sink, seen) = DelaySink::new(vec![0, 2]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    let logs: Vec<Log> = (0..4).map(|_| Log::new()).collect();
    record_lifecycle(&mut lp, r, &logs[0]);
    record_lifecycle(&mut lp, upper, &logs[1]);
    record_lifecycle(&mut lp, failing, &logs[2]);
    record_lifecycle(&mut lp, w, &logs[3]);
    let stages: [AnyStream; 4] = [r.any(), upper.any(), failing.any(), w.any()];
    let (done, cb) = done_log();
    let d = done.clone();
    let cb = move |lp: &mut Loop, res| {
        // When done runs, every stage is destroyed already.
        assert!(
            stages.iter().all(|s| s.is_destroyed(lp)),
            "all destroyed before done"
        );
        cb(lp, res);
    };
    Pipeline::new(r)
        .pipe(&mut lp, upper)
        .pipe(&mut lp, failing)
        .finish(&mut lp, w, cb);
    lp.run(RunMode::Default);
    assert_eq!(
        *d.borrow(),
        [Err("stage 3 failed".to_string())],
        "done once, with the error"
    );
    for (i, l) in logs.iter().enumerate() {
        assert_eq!(l.count("close"), 1, "stage {i}: {:?}", l.get());
        util::check_event_order(&l.get()).unwrap();
    }
    assert_eq!(logs[2].get(), ["error:ERR_STREAM", "close"]);
    assert!(seen.borrow().destroyed && !seen.borrow().finished);
    assert_eq!(
        concat(&seen.borrow().items),
        input[..concat(&seen.borrow().items).len()]
    );
}

#[test]
fn success_calls_done_once_with_ok_after_the_last_stage_finished() {
    let mut lp = Loop::new_manual();
    let input: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let src = ChunkSource::new(chunk(&input, &[7, 100, 1]), vec![0, 1]);
    let r = Readable::new(&mut lp, src, StreamOptions::default().high_water_mark(64));
    let t = Transform::pass_through(&mut lp, StreamOptions::default().high_water_mark(32));
    let (sink, seen) = DelaySink::new(vec![0, 1, 3]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default().high_water_mark(50));
    let (done, cb) = done_log();
    Pipeline::new(r).pipe(&mut lp, t).finish(&mut lp, w, cb);
    lp.run(RunMode::Default);
    assert_eq!(*done.borrow(), [Ok(())]);
    assert_eq!(concat(&seen.borrow().items), input);
    assert!(seen.borrow().finished);
}

#[test]
fn error_in_the_source_or_the_sink_is_reported_once() {
    for failing_stage in [0, 2] {
        let mut lp = Loop::new_manual();
        let src = ChunkSource::new((0..50).map(|_| Bytes::from_static(b"abc")), vec![1]);
        let r = Readable::new(&mut lp, src, StreamOptions::default());
        let t = Transform::pass_through(&mut lp, StreamOptions::default());
        let (sink, _) = DelaySink::<Bytes>::new(vec![1]);
        let w = Writable::new(&mut lp, sink, StreamOptions::default());
        let stages = [r.any(), t.any(), w.any()];
        let (done, cb) = done_log();
        Pipeline::new(r).pipe(&mut lp, t).finish(&mut lp, w, cb);
        let victim = stages[failing_stage];
        lp.set_timeout(util::ms(10), move |lp| {
            victim.destroy(lp, Some(StreamError::other("gone")))
        });
        lp.run(RunMode::Default);
        assert_eq!(
            *done.borrow(),
            [Err("gone".to_string())],
            "stage {failing_stage}"
        );
        assert!(stages.iter().all(|s| s.is_destroyed(&lp)));
    }
}

#[test]
fn a_stage_destroyed_without_error_is_a_premature_close() {
    let mut lp = Loop::new_manual();
    let src = ChunkSource::new((0..50).map(|_| Bytes::from_static(b"abc")), vec![1]);
    let r = Readable::new(&mut lp, src, StreamOptions::default());
    let (sink, _) = DelaySink::<Bytes>::new(vec![1]);
    let w = Writable::new(&mut lp, sink, StreamOptions::default());
    let (done, cb) = done_log();
    Pipeline::new(r).finish(&mut lp, w, cb);
    lp.set_timeout(util::ms(10), move |lp| r.destroy(lp, None));
    lp.run(RunMode::Default);
    assert_eq!(done.borrow().len(), 1);
    assert_eq!(
        done.borrow()[0],
        Err(StreamError::PrematureClose.to_string())
    );
    assert!(w.is_destroyed(&lp));
}
