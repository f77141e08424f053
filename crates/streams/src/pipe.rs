//! `pipe` and `unpipe` (Node's `Readable.prototype.pipe`).
//!
//! Every chunk from the source is written to each destination. When a
//! destination's `write` returns `false` the source pauses, and it resumes
//! only once every destination that said so has emitted `drain` (Node's
//! `awaitDrainWriters`). When the source ends, each destination is ended
//! (unless asked not to). A destination that errors or closes is unpiped.

use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;

use crate::core::Chunk;
use crate::listeners::ListenerId;
use crate::readable::{flow_tick, resume_side};
use crate::stream::{Stream, off};
use crate::table;

/// A pipe from one readable side to one writable side; pass it to
/// [`Stream::unpipe`] to undo it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pipe {
    src: Key,
    dst: Key,
    on_data: ListenerId,
    on_end: Option<ListenerId>,
    on_drain: ListenerId,
    on_dst_error: ListenerId,
    on_dst_close: ListenerId,
}

/// Options for [`Stream::pipe_with`].
#[derive(Debug, Clone, Copy)]
pub struct PipeOptions {
    /// End the destination when the source ends (default `true`).
    pub end: bool,
}

impl Default for PipeOptions {
    fn default() -> Self {
        PipeOptions { end: true }
    }
}

impl<R: Chunk, W> Stream<R, W> {
    /// Pipes the readable side into `dst` (Node's `pipe`), ending `dst` when
    /// this stream ends. Several destinations may be piped from one source.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use eventide_loop_phases::{Loop, RunMode};
    /// use eventide_streams::{Readable, StreamOptions, Transform};
    ///
    /// let mut lp = Loop::new_manual();
    /// let chunks = (0..5).map(|i| Bytes::from(format!("{i}")));
    /// let src = Readable::from_iter(&mut lp, chunks, StreamOptions::default());
    /// let through = Transform::<Bytes>::pass_through(&mut lp, StreamOptions::default());
    /// src.pipe(&mut lp, through);
    /// let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    /// let o = out.clone();
    /// through.on_data(&mut lp, move |_, b| o.borrow_mut().extend_from_slice(&b));
    /// lp.run(RunMode::Default);
    /// assert_eq!(&out.borrow()[..], b"01234");
    /// ```
    pub fn pipe<X: 'static>(self, lp: &mut Loop, dst: Stream<X, R>) -> Pipe {
        self.pipe_with(lp, dst, PipeOptions::default())
    }

    /// [`Stream::pipe`] with options.
    pub fn pipe_with<X: 'static>(
        self,
        lp: &mut Loop,
        dst: Stream<X, R>,
        options: PipeOptions,
    ) -> Pipe {
        let (src_key, dst_key) = (self.key, dst.key);
        let on_drain = dst.on_drain(lp, move |lp| {
            let t = table::table(lp);
            let Some(side) = t.entries.get_mut(src_key).and_then(|e| e.read_side::<R>()) else {
                return;
            };
            let Some(pipes) = side.pipes.as_mut() else {
                return;
            };
            let before = pipes.await_drain.len();
            pipes.await_drain.retain(|k| *k != dst_key);
            // The source's `resume`, with its side in hand.
            if before > 0 && pipes.await_drain.is_empty() && resume_side(side) {
                t.ticks.queue(src_key, flow_tick::<R>).schedule(lp);
            }
        });
        let on_data = self.on_data(lp, move |lp, chunk| {
            if !dst.write(lp, chunk) {
                let Some(side) = table::read_side::<R>(lp, src_key) else {
                    return;
                };
                side.pipes.get_or_insert_default().wait_for_drain(dst_key);
                // The source's `pause`.
                side.state.pause();
            }
        });
        let on_end = options
            .end
            .then(|| self.on_end(lp, move |lp| dst.end(lp, None)));
        let pipe_cell = std::rc::Rc::new(std::cell::Cell::new(None::<Pipe>));
        let (c1, c2) = (pipe_cell.clone(), pipe_cell.clone());
        let on_dst_error = dst.on_error(lp, move |lp, _| {
            if let Some(p) = c1.take() {
                Stream::<R, W>::from_key(src_key).unpipe(lp, p);
            }
        });
        let on_dst_close = dst.on_close(lp, move |lp| {
            if let Some(p) = c2.take() {
                Stream::<R, W>::from_key(src_key).unpipe(lp, p);
            }
        });
        let pipe = Pipe {
            src: src_key,
            dst: dst_key,
            on_data,
            on_end,
            on_drain,
            on_dst_error,
            on_dst_close,
        };
        pipe_cell.set(Some(pipe));
        if let Some(side) = table::read_side::<R>(lp, src_key) {
            side.pipes.get_or_insert_default().count += 1;
        }
        // As Node's `pipe`: wait for a destination that already needs a
        // drain; otherwise flow, even if the source was paused (by an earlier
        // `unpipe`, or explicitly), which `on_data` alone would not undo.
        if dst.writable_need_drain(lp) {
            if let Some(side) = table::read_side::<R>(lp, src_key) {
                side.pipes.get_or_insert_default().wait_for_drain(dst_key);
            }
            self.pause(lp);
        } else if self.readable_flowing(lp) != Some(true) {
            self.resume(lp);
        }
        pipe
    }

    /// Undoes a [`Stream::pipe`] (Node's `unpipe`): chunks no longer go to that
    /// destination, and it is not ended. The source pauses when it has no
    /// destination left.
    pub fn unpipe(self, lp: &mut Loop, pipe: Pipe) {
        if pipe.src != self.key {
            return;
        }
        for id in [Some(pipe.on_data), pipe.on_end].into_iter().flatten() {
            off(lp, pipe.src, id);
        }
        for id in [pipe.on_drain, pipe.on_dst_error, pipe.on_dst_close] {
            off(lp, pipe.dst, id);
        }
        let Some(side) = table::read_side::<R>(lp, self.key) else {
            return;
        };
        let pipes = side.pipes.get_or_insert_default();
        pipes.await_drain.retain(|k| *k != pipe.dst);
        pipes.count = pipes.count.saturating_sub(1);
        if pipes.count == 0 {
            side.state.pause();
        } else if pipes.await_drain.is_empty() {
            self.resume(lp);
        }
    }
}
