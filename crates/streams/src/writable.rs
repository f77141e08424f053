//! The writable side: `write`, `cork`, `end`, `drain`, `finish`.
//!
//! Node's rules kept here: `write` returns `false` once the buffered weight
//! reaches the high-water mark, and `drain` comes once the buffer emptied
//! after that; the sink gets one write at a time (or one batch, if it takes
//! batches, of everything corked or buffered); after `end`, once everything is
//! written, the sink's final step runs, then `finish`, then `close`; a write
//! after `end` destroys the stream with `WriteAfterEnd` (an `error` event,
//! never a panic).

use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;

use crate::core::{Chunk, Refused, WriteAction};
use crate::error::StreamError;
use crate::listeners::{Callback, ListenerId};
use crate::stream::{Sink, Stream, WriteStatus, destroy, maybe_auto_destroy};
use crate::table::{self, Event, TickFn, WriteSide};

impl<R, W: Chunk> Stream<R, W> {
    /// Writes a chunk (Node's `write`). Returns `false` once the buffered
    /// weight reached the high-water mark: stop writing until `drain`.
    ///
    /// A write after `end` destroys the stream with
    /// [`StreamError::WriteAfterEnd`]; a write to a destroyed stream is
    /// dropped. Both return `false`.
    pub fn write(self, lp: &mut Loop, chunk: W) -> bool {
        write(lp, self.key, chunk)
    }

    /// Ends the writable side, after writing `chunk` if given (Node's `end`):
    /// once everything was written, `finish` is emitted. Ending twice does
    /// nothing.
    pub fn end(self, lp: &mut Loop, chunk: Option<W>) {
        if let Some(chunk) = chunk {
            write(lp, self.key, chunk);
        }
        end::<W>(lp, self.key);
    }

    /// Holds writes back until [`Stream::uncork`] (Node's `cork`), so that a
    /// sink that takes batches writes them together.
    pub fn cork(self, lp: &mut Loop) {
        if let Some(side) = table::write_side::<W>(lp, self.key) {
            side.state.cork();
            if side.state.corked() == 1
                && let Some(on_cork) = side.on_cork
            {
                on_cork(lp, self.key, true);
            }
        }
    }

    /// Undoes one `cork`; when none is left, the held writes go out.
    pub fn uncork(self, lp: &mut Loop) {
        if let Some(side) = table::write_side::<W>(lp, self.key)
            && side.state.uncork()
        {
            if let Some(on_cork) = side.on_cork {
                on_cork(lp, self.key, false);
            }
            pump::<W>(lp, self.key);
        }
    }

    /// Calls `f` when writing may go on after `write` returned `false` (Node's
    /// `on('drain')`).
    pub fn on_drain(self, lp: &mut Loop, f: impl FnMut(&mut Loop) + 'static) -> ListenerId {
        self.listen(lp, Event::Drain, f)
    }

    /// [`on_drain`](Self::on_drain) with a plain function called as
    /// `f(lp, key)`: nothing allocated (see
    /// [`on_close_keyed`](Self::on_close_keyed)).
    pub fn on_drain_keyed(self, lp: &mut Loop, key: Key, f: fn(&mut Loop, Key)) -> ListenerId {
        self.listen_callback(lp, Event::Drain, Callback::KeyedNoArg(f, key))
    }

    /// Calls `f` once everything was written after `end` (Node's
    /// `on('finish')`).
    pub fn on_finish(self, lp: &mut Loop, f: impl FnMut(&mut Loop) + 'static) -> ListenerId {
        self.listen(lp, Event::Finish, f)
    }

    /// Weight buffered or being written (Node's `writableLength`).
    pub fn writable_length(self, lp: &Loop) -> usize {
        table::write_side_ref::<W>(lp, self.key).map_or(0, |s| s.state.length())
    }

    /// The largest weight the writable side ever held.
    pub fn writable_peak_length(self, lp: &Loop) -> usize {
        table::write_side_ref::<W>(lp, self.key).map_or(0, |s| s.state.peak_length())
    }

    /// The writable side's high-water mark.
    pub fn writable_high_water_mark(self, lp: &Loop) -> usize {
        table::write_side_ref::<W>(lp, self.key).map_or(0, |s| s.state.high_water_mark())
    }

    /// Whether a `write` returned `false` and `drain` has not come yet (Node's
    /// `writableNeedDrain`).
    pub fn writable_need_drain(self, lp: &Loop) -> bool {
        table::write_side_ref::<W>(lp, self.key).is_some_and(|s| s.state.need_drain())
    }

    /// Whether `end` was called (Node's `writableEnded`).
    pub fn writable_ended(self, lp: &Loop) -> bool {
        table::write_side_ref::<W>(lp, self.key).is_none_or(|s| s.state.is_ending())
    }

    /// Whether `finish` was emitted (Node's `writableFinished`).
    pub fn writable_finished(self, lp: &Loop) -> bool {
        table::entry_ref(lp, self.key).is_some_and(|e| e.finished == Some(true))
    }

    /// For [`Sink`](crate::Sink) implementations: the write (or final step)
    /// that returned [`WriteStatus::Pending`] finished. An error destroys the
    /// stream with it.
    pub fn complete_write(self, lp: &mut Loop, result: Result<(), StreamError>) {
        complete_write::<W>(lp, self.key, result);
    }
}

fn write<W: Chunk>(lp: &mut Loop, key: Key, chunk: W) -> bool {
    let Some(side) = table::write_side::<W>(lp, key) else {
        return false;
    };
    match side.state.write(chunk) {
        Ok(below_mark) => {
            // `pump`, with the side in hand.
            if let Some(next) = next_for_sink(side) {
                run_sink(lp, key, next);
            }
            below_mark
        }
        Err(Refused::AfterEnd) => {
            destroy(lp, key, Some(StreamError::WriteAfterEnd));
            false
        }
        Err(Refused::Destroyed) => false,
    }
}

pub(crate) fn end<W: Chunk>(lp: &mut Loop, key: Key) {
    let Some(side) = table::write_side::<W>(lp, key) else {
        return;
    };
    if side.state.end().is_ok() {
        pump::<W>(lp, key);
    }
}

/// Hands the sink whatever the state says is next, for as long as the sink
/// completes synchronously.
pub(crate) fn pump<W: Chunk>(lp: &mut Loop, key: Key) {
    if let Some(side) = table::write_side::<W>(lp, key)
        && let Some(next) = next_for_sink(side)
    {
        run_sink(lp, key, next);
    }
}

/// What the sink is to do next, with the sink taken out of the side for the
/// call; `None` while a call is in progress or there is nothing to do.
fn next_for_sink<W: Chunk>(side: &mut WriteSide<W>) -> Option<(WriteAction<W>, Box<dyn Sink<W>>)> {
    if side.pumping {
        return None;
    }
    let action = side.state.next_action(side.max_batch)?;
    let sink = side.sink.take()?;
    side.pumping = true;
    side.final_in_flight = matches!(action, WriteAction::Final);
    Some((action, sink))
}

/// The loop of [`pump`], from a first call taken out by [`next_for_sink`]:
/// each pass calls the sink, then looks the side up once to put the sink
/// back, complete a synchronous write, and take the next call out.
fn run_sink<W: Chunk>(lp: &mut Loop, key: Key, next: (WriteAction<W>, Box<dyn Sink<W>>)) {
    let (mut action, mut sink) = next;
    loop {
        let stream = Stream::from_key(key);
        let status = match action {
            WriteAction::One(chunk) => sink.write(lp, stream, chunk),
            WriteAction::Write(batch) => sink.writev(lp, stream, batch),
            WriteAction::Final => sink.finish(lp, stream),
        };
        let t = table::table(lp);
        let Some(side) = t.entries.get_mut(key).and_then(|e| e.write_side::<W>()) else {
            return;
        };
        side.pumping = false;
        if side.state.is_destroyed() {
            // Destroyed from inside the sink's own call: `destroy` found no
            // sink to tell, so tell it now.
            let err = table::entry(lp, key).and_then(|e| e.error.clone());
            sink.destroy(lp, stream, err.as_ref());
            return;
        }
        if side.sink.is_none() {
            side.sink = Some(sink);
        }
        let tick = match status {
            WriteStatus::Done => after_write(side),
            // Completed from inside the sink (`complete_write`): go on.
            WriteStatus::Pending if !side.state.is_writing() => None,
            WriteStatus::Pending => return,
            WriteStatus::Failed(e) => {
                destroy(lp, key, Some(e));
                return;
            }
        };
        let queued = tick.map(|f| t.ticks.queue(key, f));
        let next = next_for_sink(side);
        if let Some(queued) = queued {
            queued.schedule(lp);
        }
        let Some(next) = next else {
            return;
        };
        (action, sink) = next;
    }
}

fn complete_write<W: Chunk>(lp: &mut Loop, key: Key, result: Result<(), StreamError>) {
    let Some(side) = table::write_side::<W>(lp, key) else {
        return;
    };
    if !side.state.is_writing() || side.state.is_destroyed() {
        return;
    }
    match result {
        Err(e) => destroy(lp, key, Some(e)),
        Ok(()) => {
            let tick = after_write(side);
            let next = next_for_sink(side);
            if let Some(tick) = tick {
                table::next_tick(lp, key, tick);
            }
            if let Some(next) = next {
                run_sink(lp, key, next);
            }
        }
    }
}

/// The write (or final step) in flight completed: returns the tick that
/// emits `finish` or `drain`, if one is due and not queued yet.
fn after_write<W: Chunk>(side: &mut WriteSide<W>) -> Option<TickFn> {
    if side.final_in_flight {
        side.final_in_flight = false;
        side.state.complete_final();
        Some(finish_tick)
    } else if side.state.complete() && !side.drain_scheduled {
        side.drain_scheduled = true;
        Some(drain_tick::<W>)
    } else {
        None
    }
}

fn finish_tick(lp: &mut Loop, key: Key) {
    let Some(e) = table::entry(lp, key) else {
        return;
    };
    if e.destroyed {
        return;
    }
    e.finished = Some(true);
    table::emit(lp, key, Event::Finish);
    maybe_auto_destroy(lp, key);
}

/// Emits `drain` if it is still due (Node decides when it emits).
fn drain_tick<W: Chunk>(lp: &mut Loop, key: Key) {
    let Some(e) = table::entry(lp, key) else {
        return;
    };
    let Some(side) = e.write_side::<W>() else {
        return;
    };
    side.drain_scheduled = false;
    if side.state.take_drain() && !e.on_drain.is_empty() {
        let taken = e.on_drain.take();
        table::call_and_restore(lp, key, Event::Drain, taken);
    }
}
