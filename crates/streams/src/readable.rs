//! The readable side: `push`, flowing and paused mode, `read(n)`, `end`.
//!
//! Node's rules kept here:
//!
//! - attaching `on_data` switches to flowing mode (unless paused explicitly);
//!   data flows from the next tick on;
//! - `push` returns whether the buffer is below the high-water mark, and the
//!   source is asked for more only while it is;
//! - `end` is emitted once, after the last chunk was consumed (flowing, or
//!   `read` to the end), on a tick of its own; never if nobody consumes;
//! - `pause` stops `data` events; the buffer then fills to the mark and the
//!   source is not asked again: that is backpressure.

use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;

use crate::core::Chunk;
use crate::error::StreamError;
use crate::listeners::{Callback, Emitting, ListenerId};
use crate::stream::{Source, Stream, destroy, maybe_auto_destroy};
use crate::table::{self, Event, ReadSide};

/// A source that keeps pushing synchronously gets this many rounds per flow;
/// then the flow continues from an immediate, so timers and I/O get a turn.
const SYNC_ROUNDS_PER_FLOW: usize = 64;

impl<R: Chunk, W> Stream<R, W> {
    /// Adds a chunk to the readable side (Node's `push`). Returns `false` once
    /// the buffer reached the high-water mark: the source should stop until
    /// it is asked again. In flowing mode the chunk is emitted at once when
    /// nothing is buffered ahead of it.
    pub fn push(self, lp: &mut Loop, chunk: R) -> bool {
        push(lp, self.key, chunk)
    }

    /// Ends the readable side (Node's `push(null)`): `end` follows once the
    /// buffer is consumed.
    pub fn push_eof(self, lp: &mut Loop) {
        push_eof::<R>(lp, self.key);
    }

    /// Calls `f` with every chunk (Node's `on('data')`), and switches the
    /// stream to flowing mode unless it was paused explicitly.
    pub fn on_data(self, lp: &mut Loop, f: impl FnMut(&mut Loop, R) + 'static) -> ListenerId {
        self.data_listener(lp, Callback::boxed(f))
    }

    /// [`on_data`](Self::on_data) with a plain function called as
    /// `f(lp, key, chunk)`: nothing allocated (see
    /// [`on_close_keyed`](Self::on_close_keyed)).
    pub fn on_data_keyed(self, lp: &mut Loop, key: Key, f: fn(&mut Loop, Key, R)) -> ListenerId {
        self.data_listener(lp, Callback::Keyed(f, key))
    }

    fn data_listener(self, lp: &mut Loop, f: Callback<R>) -> ListenerId {
        let id = table::next_listener_id(lp);
        let Some(side) = table::read_side::<R>(lp, self.key) else {
            return ListenerId(id);
        };
        side.on_data.add(id, f);
        if side.state.flowing() != Some(false) {
            self.resume(lp);
        }
        ListenerId(id)
    }

    /// Calls `f` once the last chunk was consumed (Node's `on('end')`).
    pub fn on_end(self, lp: &mut Loop, f: impl FnMut(&mut Loop) + 'static) -> ListenerId {
        self.listen(lp, Event::End, f)
    }

    /// [`on_end`](Self::on_end) with a plain function called as `f(lp, key)`:
    /// nothing allocated (see [`on_close_keyed`](Self::on_close_keyed)).
    pub fn on_end_keyed(self, lp: &mut Loop, key: Key, f: fn(&mut Loop, Key)) -> ListenerId {
        self.listen_callback(lp, Event::End, Callback::KeyedNoArg(f, key))
    }

    /// Calls `f` when data can be read with [`Stream::read`], or the end was
    /// reached (Node's `on('readable')`). Switches the stream to paused mode.
    pub fn on_readable(self, lp: &mut Loop, f: impl FnMut(&mut Loop) + 'static) -> ListenerId {
        let id = self.listen(lp, Event::Readable, f);
        if let Some(side) = table::read_side::<R>(lp, self.key) {
            side.state.pause();
            if side.state.has_readable() {
                schedule_readable::<R>(lp, self.key);
            } else {
                // Nothing buffered: ask the source, as Node's read(0) does.
                call_source::<R>(lp, self.key);
            }
        }
        id
    }

    /// Switches to flowing mode (Node's `resume`): buffered chunks and then new
    /// ones are emitted as `data`, from the next tick.
    pub fn resume(self, lp: &mut Loop) {
        if let Some(side) = table::read_side::<R>(lp, self.key)
            && resume_side(side)
        {
            table::next_tick(lp, self.key, flow_tick::<R>);
        }
    }

    /// Stops `data` events (Node's `pause`). The buffer fills up to the
    /// high-water mark, then the source is no longer asked for more.
    pub fn pause(self, lp: &mut Loop) {
        if let Some(side) = table::read_side::<R>(lp, self.key) {
            side.state.pause();
        }
    }

    /// Whether the stream is explicitly paused (Node's `isPaused`).
    pub fn is_paused(self, lp: &Loop) -> bool {
        table::read_side_ref::<R>(lp, self.key).is_some_and(|s| s.state.flowing() == Some(false))
    }

    /// Node's `readableFlowing`: `None` before any consumer, then whether
    /// the stream flows.
    pub fn readable_flowing(self, lp: &Loop) -> Option<bool> {
        table::read_side_ref::<R>(lp, self.key).and_then(|s| s.state.flowing())
    }

    /// Weight buffered in the readable side (Node's `readableLength`).
    pub fn readable_length(self, lp: &Loop) -> usize {
        table::read_side_ref::<R>(lp, self.key).map_or(0, |s| s.state.length())
    }

    /// The largest weight the readable side ever buffered.
    pub fn readable_peak_length(self, lp: &Loop) -> usize {
        table::read_side_ref::<R>(lp, self.key).map_or(0, |s| s.state.peak_length())
    }

    /// The readable side's high-water mark.
    pub fn readable_high_water_mark(self, lp: &Loop) -> usize {
        table::read_side_ref::<R>(lp, self.key).map_or(0, |s| s.state.high_water_mark())
    }

    /// Whether `end` was emitted (Node's `readableEnded`).
    pub fn readable_ended(self, lp: &Loop) -> bool {
        table::read_side_ref::<R>(lp, self.key).is_some_and(|s| s.state.end_emitted())
    }

    /// Node's `read(n)` in paused mode: `None` returns everything buffered (in
    /// byte mode joined into one chunk, in object mode one item); `Some(n)`
    /// returns exactly `n` bytes when that many are buffered, else `None` and
    /// the source is asked for more (and the mark raised if `n` is above it),
    /// unless the stream ended: then what is left. Returned data is also
    /// emitted as `data`, as in Node.
    pub fn read(self, lp: &mut Loop, n: Option<usize>) -> Option<R> {
        read::<R>(lp, self.key, n)
    }
}

pub(crate) fn push<R: Chunk>(lp: &mut Loop, key: Key, chunk: R) -> bool {
    let Some(e) = table::entry(lp, key) else {
        return false;
    };
    let wants_readable = e.has_listeners(Event::Readable);
    let Some(side) = e.read_side::<R>() else {
        return false;
    };
    if side.state.push(chunk).is_err() {
        destroy(lp, key, Some(StreamError::PushAfterEof));
        return false;
    }
    // As `after_push`, with the side in hand.
    match side.state.flowing() {
        // Inside the source's read, the flow loop that asked picks it up.
        Some(true) if side.in_source_read => {}
        // `flow`, with the side in hand.
        Some(true) => {
            if let Some(next) = start_flow(side) {
                return flow_from(lp, key, next).unwrap_or_else(|| {
                    table::read_side::<R>(lp, key).is_some_and(|s| below_mark(s))
                });
            }
        }
        _ => {
            if wants_readable && !side.readable_scheduled {
                side.readable_scheduled = true;
                let below = below_mark(side);
                table::next_tick(lp, key, readable_tick::<R>);
                return below;
            }
        }
    }
    below_mark(side)
}

/// `push`'s answer, after the chunk may have flowed on: Node's
/// `length < hwm || length == 0`, and not ended.
fn below_mark<R: Chunk>(side: &ReadSide<R>) -> bool {
    let s = &side.state;
    !s.is_ended() && (s.length() < s.high_water_mark() || s.length() == 0)
}

/// Node's `resume` on a side in hand. Returns whether a flow tick is to be
/// queued (none was yet).
pub(crate) fn resume_side<R: Chunk>(side: &mut ReadSide<R>) -> bool {
    side.state.resume();
    !std::mem::replace(&mut side.flow_scheduled, true)
}

fn push_eof<R: Chunk>(lp: &mut Loop, key: Key) {
    let Some(side) = table::read_side::<R>(lp, key) else {
        return;
    };
    side.state.push_eof();
    after_push::<R>(lp, key);
}

/// New data or the end arrived: deliver it the way the mode says.
fn after_push<R: Chunk>(lp: &mut Loop, key: Key) {
    let Some(side) = table::read_side::<R>(lp, key) else {
        return;
    };
    match side.state.flowing() {
        // Inside the source's read, the flow loop that asked picks it up.
        Some(true) if side.in_source_read => {}
        Some(true) => flow::<R>(lp, key),
        _ => {
            let wants_readable =
                table::entry(lp, key).is_some_and(|e| e.has_listeners(Event::Readable));
            if wants_readable {
                schedule_readable::<R>(lp, key);
            }
        }
    }
}

/// The tick queued by `resume`.
pub(crate) fn flow_tick<R: Chunk>(lp: &mut Loop, key: Key) {
    run_flow::<R>(lp, key, true);
}

/// Emits buffered chunks while flowing, asks the source for more while below
/// the mark, and schedules `end` once the last chunk went out.
pub(crate) fn flow<R: Chunk>(lp: &mut Loop, key: Key) {
    run_flow::<R>(lp, key, false);
}

/// `flow` (and the tick of `resume` when `from_tick`). Returns `push`'s
/// answer once done, or `None` if the flow did not run (already running, or
/// the stream is gone).
fn run_flow<R: Chunk>(lp: &mut Loop, key: Key, from_tick: bool) -> Option<bool> {
    let side = table::read_side::<R>(lp, key)?;
    if from_tick {
        side.flow_scheduled = false;
    }
    let next = start_flow(side)?;
    flow_from(lp, key, next)
}

/// Starts the flow loop, the side in hand: its first step, or `None` if a
/// flow is already running (it picks new chunks up).
fn start_flow<R: Chunk>(side: &mut ReadSide<R>) -> Option<FlowStep<R>> {
    if side.flowing_now {
        return None;
    }
    side.flowing_now = true;
    Some(plan_flow(side))
}

/// What the flow loop does next.
enum FlowStep<R> {
    /// Emit this chunk to these `data` listeners (taken out of the side).
    Emit(R, Emitting<R>),
    /// Ask this source (taken out of the side) for this much.
    Ask(Box<dyn Source<R>>, usize),
    /// Asked for more, but there was no source to ask, or it was told of the
    /// stream's destruction.
    AskedNone,
    /// Done: whether to queue `end`, whether to flow again from an
    /// immediate, and `push`'s answer.
    Stop(bool, bool, bool),
}

/// Decides the flow loop's next step, the side in hand: emit the next
/// buffered chunk, schedule `end`, stop, or ask the source.
fn plan_flow<R: Chunk>(side: &mut ReadSide<R>) -> FlowStep<R> {
    if let Some(chunk) = side.state.next_flowing() {
        return FlowStep::Emit(chunk, side.on_data.take());
    }
    if side.state.end_due() {
        let end = !std::mem::replace(&mut side.end_scheduled, true);
        return stop_flowing(side, end);
    }
    if side.state.flowing() != Some(true) || !side.state.wants_more() {
        return stop_flowing(side, false);
    }
    // `invoke_source`, with the side in hand.
    match side.source.take() {
        None => {
            side.state.read_idle();
            FlowStep::AskedNone
        }
        Some(source) => {
            side.in_source_read = true;
            FlowStep::Ask(source, side.state.high_water_mark())
        }
    }
}

/// The flow loop, from its first step. Each pass makes one call (to the
/// `data` listeners or to the source), which may re-enter the stream, then
/// looks the side up once to finish it (put the listeners or the source
/// back) and plan the next. A source that keeps pushing synchronously is
/// asked at most [`SYNC_ROUNDS_PER_FLOW`] times.
fn flow_from<R: Chunk>(lp: &mut Loop, key: Key, mut next: FlowStep<R>) -> Option<bool> {
    let mut asked = 0;
    loop {
        let mut source = None;
        let emitted = match next {
            FlowStep::Emit(chunk, taken) => Some(taken.call(lp, chunk)),
            FlowStep::Ask(mut s, size) => {
                s.read(lp, Stream::from_key(key), size);
                source = Some(s);
                None
            }
            FlowStep::AskedNone => None,
            FlowStep::Stop(end, more, below) => {
                if end {
                    table::next_tick(lp, key, end_readable::<R>);
                }
                if more {
                    // Out of synchronous rounds: let the rest of the loop run first.
                    lp.set_immediate(move |lp| flow::<R>(lp, key));
                }
                return Some(below);
            }
        };
        let Some(side) = table::read_side::<R>(lp, key) else {
            if let Some(mut source) = source {
                // Gone during its own `read`: nobody else can tell it.
                source.destroy(lp, Stream::from_key(key), None);
            }
            return None;
        };
        if let Some(kept) = emitted {
            side.on_data.restore(kept);
            next = plan_flow(side);
            continue;
        }
        if let Some(mut source) = source {
            side.in_source_read = false;
            if side.state.is_destroyed() {
                // Destroyed from inside its own `read` (a push after EOF, a
                // destroy by the source): `destroy` found no source to tell,
                // so tell it now.
                let err = table::entry(lp, key).and_then(|e| e.error.clone());
                source.destroy(lp, Stream::from_key(key), err.as_ref());
                next = FlowStep::AskedNone;
                continue;
            }
            if side.source.is_none() {
                side.source = Some(source);
            }
        }
        // The source answers later if the side still waits for it: it will
        // push and flow again. A source that answered synchronously, even
        // with an empty chunk (which is not buffered), is asked again
        // (nothing else would ask it), unless it was asked enough times.
        asked += 1;
        next = if side.state.is_reading() || asked == SYNC_ROUNDS_PER_FLOW {
            stop_flowing(side, false)
        } else {
            plan_flow(side)
        };
    }
}

/// Leaves the flow loop (see [`FlowStep::Stop`]).
fn stop_flowing<R: Chunk>(side: &mut ReadSide<R>, end: bool) -> FlowStep<R> {
    side.flowing_now = false;
    let more = side.state.flowing() == Some(true)
        && (!side.state.is_empty() || side.state.end_due() || side.state.may_ask_source());
    FlowStep::Stop(end, more, below_mark(side))
}

/// Emits one chunk to the `data` listeners.
fn emit_data<R: Chunk>(lp: &mut Loop, key: Key, chunk: R) {
    let Some(side) = table::read_side::<R>(lp, key) else {
        return;
    };
    let taken = side.on_data.take();
    let kept = taken.call(lp, chunk);
    if let Some(side) = table::read_side::<R>(lp, key) {
        side.on_data.restore(kept);
    }
}

/// Asks the source for more if the state allows (below the mark, not ended,
/// not already waiting for it). Returns whether it asked.
pub(crate) fn call_source<R: Chunk>(lp: &mut Loop, key: Key) -> bool {
    let Some(side) = table::read_side::<R>(lp, key) else {
        return false;
    };
    if !side.state.wants_more() {
        return false;
    }
    invoke_source::<R>(lp, key);
    true
}

/// Calls the source's `read`; the state was already marked as reading.
fn invoke_source<R: Chunk>(lp: &mut Loop, key: Key) {
    let Some(side) = table::read_side::<R>(lp, key) else {
        return;
    };
    let Some(mut source) = side.source.take() else {
        side.state.read_idle();
        return;
    };
    let size = side.state.high_water_mark();
    side.in_source_read = true;
    source.read(lp, Stream::from_key(key), size);
    if let Some(side) = table::read_side::<R>(lp, key) {
        side.in_source_read = false;
        if !side.state.is_destroyed() {
            if side.source.is_none() {
                side.source = Some(source);
            }
            return;
        }
    }
    // Destroyed from inside its own `read` (a push after EOF, a destroy by
    // the source): `destroy` found no source to tell, so tell it now.
    let err = table::entry(lp, key).and_then(|e| e.error.clone());
    source.destroy(lp, Stream::from_key(key), err.as_ref());
}

fn read<R: Chunk>(lp: &mut Loop, key: Key, n: Option<usize>) -> Option<R> {
    let side = table::read_side::<R>(lp, key)?;
    let mut out = side.state.read(n);
    if out.call_source {
        invoke_source::<R>(lp, key);
        // The source may have pushed synchronously: try once more (Node
        // recomputes how much to read after `_read`).
        if out.data.is_none()
            && let Some(side) = table::read_side::<R>(lp, key)
            && !side.state.is_empty()
        {
            let again = side.state.read(n);
            out.data = again.data;
            out.emit_readable |= again.emit_readable;
            out.emit_end |= again.emit_end;
            // The second read may decide to ask the source again (the source's
            // push cleared `reading`), and has then marked the side as
            // reading: ask it, or no one ever will and the stream stalls.
            // Node asks it from `maybeReadMore` on the next tick instead.
            if again.call_source {
                invoke_source::<R>(lp, key);
            }
        }
    }
    if out.emit_readable {
        schedule_readable::<R>(lp, key);
    }
    if out.emit_end {
        schedule_end::<R>(lp, key);
    }
    if let Some(data) = &out.data {
        emit_data(lp, key, data.clone());
    }
    out.data
}

fn schedule_readable<R: Chunk>(lp: &mut Loop, key: Key) {
    let Some(side) = table::read_side::<R>(lp, key) else {
        return;
    };
    if side.readable_scheduled {
        return;
    }
    side.readable_scheduled = true;
    table::next_tick(lp, key, readable_tick::<R>);
}

fn readable_tick<R: Chunk>(lp: &mut Loop, key: Key) {
    let Some(side) = table::read_side::<R>(lp, key) else {
        return;
    };
    side.readable_scheduled = false;
    if side.state.has_readable() && !side.state.is_destroyed() {
        table::emit(lp, key, Event::Readable);
    } else {
        // The source answered with nothing to read (an empty chunk): ask
        // it again, as Node's `maybeReadMore` does, or no one will.
        call_source::<R>(lp, key);
    }
    // After `readable`, a stream with nothing to read and at its end ends.
    if let Some(side) = table::read_side::<R>(lp, key)
        && side.state.end_due()
    {
        schedule_end::<R>(lp, key);
    }
}

pub(crate) fn schedule_end<R: Chunk>(lp: &mut Loop, key: Key) {
    let Some(side) = table::read_side::<R>(lp, key) else {
        return;
    };
    if side.end_scheduled {
        return;
    }
    side.end_scheduled = true;
    table::next_tick(lp, key, end_readable::<R>);
}

/// Emits `end` ([`emit_end`]) if the readable side's state says it is due.
fn end_readable<R: Chunk>(lp: &mut Loop, key: Key) {
    let Some(side) = table::read_side::<R>(lp, key) else {
        return;
    };
    if !side.state.end_due() || !side.state.mark_end_emitted() {
        return;
    }
    emit_end(lp, key);
}

/// Emits `end` once, then ends the writable side of a duplex that does not
/// allow half-open, and destroys the stream if it is done. Called directly
/// for a stream whose readable side was taken out (a consumed socket).
pub(crate) fn emit_end(lp: &mut Loop, key: Key) {
    let Some(e) = table::entry(lp, key) else {
        return;
    };
    if e.destroyed || e.ended != Some(false) {
        return;
    }
    e.ended = Some(true);
    table::emit(lp, key, Event::End);
    let Some(e) = table::entry(lp, key) else {
        return;
    };
    if !e.allow_half_open
        && e.finished == Some(false)
        && let Some(end_write) = e.end_write
    {
        end_write(lp, key);
    }
    maybe_auto_destroy(lp, key);
}
