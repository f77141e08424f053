//! `finished` and `pipeline` (Node's `stream.finished`, `stream.pipeline`).

use std::cell::Cell;
use std::rc::Rc;

use eventide_loop_phases::Loop;

use crate::core::{Chunk, NoWrite};
use crate::error::StreamError;
use crate::stream::{AnyStream, Readable, Stream, destroy};
use crate::table::{self, Event};

/// The callback of [`finished`] and [`Pipeline::finish`].
pub type DoneCb = Box<dyn FnOnce(&mut Loop, Result<(), StreamError>)>;

/// Calls `done` exactly once when the stream is done: with `Ok` once it ended
/// (readable side) and finished (writable side), with the error if it errors,
/// with [`StreamError::PrematureClose`] if it closes before that (Node's
/// `stream.finished`). A stream already done or gone is reported on the next
/// tick.
pub fn finished(
    lp: &mut Loop,
    stream: impl Into<AnyStream>,
    done: impl FnOnce(&mut Loop, Result<(), StreamError>) + 'static,
) {
    let key = stream.into().0;
    let once: Rc<Cell<Option<DoneCb>>> = Rc::new(Cell::new(Some(Box::new(done))));
    let fire = move |once: &Rc<Cell<Option<DoneCb>>>, lp: &mut Loop, r| {
        if let Some(cb) = once.take() {
            cb(lp, r);
        }
    };
    let Some(e) = table::entry(lp, key) else {
        lp.next_tick(move |lp| fire(&once, lp, Err(StreamError::PrematureClose)));
        return;
    };
    let complete = e.ended.is_none_or(|x| x) && e.finished.is_none_or(|x| x);
    if e.destroyed || complete {
        let result = match (&e.error, complete) {
            (Some(err), _) => Err(err.clone()),
            (None, true) => Ok(()),
            (None, false) => Err(StreamError::PrematureClose),
        };
        lp.next_tick(move |lp| fire(&once, lp, result));
        return;
    }
    let s = Stream::<NoWrite, NoWrite>::from_key(key);
    let o = once.clone();
    s.on_error(lp, move |lp, err| fire(&o, lp, Err(err)));
    let both_done = move |lp: &mut Loop| {
        table::entry(lp, key)
            .is_some_and(|e| e.ended.is_none_or(|x| x) && e.finished.is_none_or(|x| x))
    };
    let o = once.clone();
    s.listen(lp, Event::End, move |lp| {
        if both_done(lp) {
            fire(&o, lp, Ok(()));
        }
    });
    let o = once.clone();
    s.listen(lp, Event::Finish, move |lp| {
        if both_done(lp) {
            fire(&o, lp, Ok(()));
        }
    });
    s.on_close(lp, move |lp| {
        let result = match table::entry(lp, key) {
            Some(e) if e.ended.is_none_or(|x| x) && e.finished.is_none_or(|x| x) => Ok(()),
            Some(e) => Err(e.error.clone().unwrap_or(StreamError::PrematureClose)),
            None => Err(StreamError::PrematureClose),
        };
        fire(&once, lp, result);
    });
}

impl AnyStream {
    /// Destroys the stream (see [`Stream::destroy`]).
    pub fn destroy(self, lp: &mut Loop, err: Option<StreamError>) {
        destroy(lp, self.0, err);
    }

    /// Whether the stream was destroyed (or its id is stale).
    pub fn is_destroyed(self, lp: &Loop) -> bool {
        table::entry_ref(lp, self.0).is_none_or(|e| e.destroyed)
    }
}

/// A chain of streams under construction (Node's `stream.pipeline`): each
/// stage is piped into the next; when any stage fails, every stage is
/// destroyed and the callback gets the error, exactly once.
///
/// ```
/// use bytes::Bytes;
/// use eventide_loop_phases::{Loop, RunMode};
/// use eventide_streams::{Pipeline, Readable, StreamOptions, Transform, Writable};
///
/// let mut lp = Loop::new_manual();
/// let src = Readable::from_iter(&mut lp, ["a", "b", "c"].map(Bytes::from), StreamOptions::default());
/// let upper = Transform::sync(&mut lp, StreamOptions::default(), |lp, ctx, b: Bytes| {
///     ctx.push(lp, Bytes::from(b.to_ascii_uppercase()));
///     Ok(())
/// });
/// let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
/// let s = seen.clone();
/// let sink = Writable::from_fn(&mut lp, StreamOptions::default(), move |_, b: Bytes| {
///     s.borrow_mut().extend_from_slice(&b);
///     Ok(())
/// });
/// let result = std::rc::Rc::new(std::cell::Cell::new(None));
/// let r = result.clone();
/// Pipeline::new(src).pipe(&mut lp, upper).finish(&mut lp, sink, move |_, res| r.set(Some(res.is_ok())));
/// lp.run(RunMode::Default);
/// assert_eq!(&seen.borrow()[..], b"ABC");
/// assert_eq!(result.get(), Some(true));
/// ```
#[derive(Debug)]
pub struct Pipeline<T> {
    last: Readable<T>,
    stages: Vec<AnyStream>,
}

impl<T: Chunk> Pipeline<T> {
    /// Starts a pipeline at `src`.
    pub fn new<W>(src: Stream<T, W>) -> Self {
        Pipeline {
            last: Stream::from_key(src.key),
            stages: vec![src.any()],
        }
    }

    /// Pipes the chain into `stage` (a transform or duplex) and continues
    /// from its readable side.
    pub fn pipe<O: Chunk>(mut self, lp: &mut Loop, stage: Stream<O, T>) -> Pipeline<O> {
        self.last.pipe(lp, stage);
        self.stages.push(stage.any());
        Pipeline {
            last: Stream::from_key(stage.key),
            stages: self.stages,
        }
    }

    /// Pipes the chain into `dst` and calls `done` exactly once: `Ok` when
    /// `dst` finished, or the first error of any stage (after destroying every
    /// stage).
    pub fn finish<X: 'static>(
        mut self,
        lp: &mut Loop,
        dst: Stream<X, T>,
        done: impl FnOnce(&mut Loop, Result<(), StreamError>) + 'static,
    ) {
        self.last.pipe(lp, dst);
        self.stages.push(dst.any());
        let once: Rc<Cell<Option<DoneCb>>> = Rc::new(Cell::new(Some(Box::new(done))));
        let stages: Rc<[AnyStream]> = self.stages.into();
        let n = stages.len();
        for (i, stage) in stages.iter().enumerate() {
            let (once, all) = (once.clone(), stages.clone());
            finished(lp, *stage, move |lp, result| match result {
                Err(e) => {
                    if let Some(cb) = once.take() {
                        for s in all.iter() {
                            s.destroy(lp, Some(e.clone()));
                        }
                        cb(lp, Err(e));
                    }
                }
                Ok(()) if i == n - 1 => {
                    if let Some(cb) = once.take() {
                        cb(lp, Ok(()));
                    }
                }
                Ok(()) => {}
            });
        }
    }
}
