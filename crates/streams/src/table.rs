//! Where streams live: one loop-owned table, reached through `Copy` ids.
//!
//! Each entry has the lifecycle common to every stream (destroyed, error,
//! close) and up to two typed sides, boxed as `dyn Any`: a readable side of
//! item type `R` and a writable side of item type `W`. A side is reached by
//! downcasting, so the readable half of a `Duplex<R, W>` can be used without
//! knowing `W` (a source pushes into it, `pipe` reads from it).

use std::any::Any;
use std::collections::VecDeque;

use eventide_loop_phases::Loop;
use eventide_reactor::slab::{Key, Slab};

use crate::core::{Chunk, ReadableState, WritableState};
use crate::error::StreamError;
use crate::listeners::{Emitting, Listeners};
use crate::stream::{Sink, Source, StreamOptions};

#[derive(Default)]
pub(crate) struct Streams {
    pub(crate) entries: Slab<Entry>,
    next_listener: u64,
    pub(crate) ticks: Ticks,
}

/// Work on one stream for the next tick: a plain function and the stream's key.
pub(crate) type TickFn = fn(&mut Loop, Key);

/// Stream work for the next tick, in the order queued, each run by one tick
/// of the loop (see [`next_tick`]).
#[derive(Default)]
pub(crate) struct Ticks(VecDeque<(Key, TickFn)>);

impl Ticks {
    /// Queues `f(lp, key)`. The loop's tick that runs it is queued by
    /// [`Queued::schedule`], which must follow at once, before anything else
    /// can queue a tick: [`next_tick`] in two steps, for a caller that holds
    /// an entry of the table.
    #[inline]
    pub(crate) fn queue(&mut self, key: Key, f: TickFn) -> Queued {
        self.0.push_back((key, f));
        Queued(())
    }
}

/// Stream work queued in [`Ticks`], whose loop tick is still to be queued.
#[must_use = "queue the loop's tick with `schedule`, or the work never runs"]
pub(crate) struct Queued(());

impl Queued {
    #[inline]
    pub(crate) fn schedule(self, lp: &mut Loop) {
        lp.next_tick(run_tick);
    }
}

/// The key of this table in loop storage (an index, not a map lookup).
static STREAMS: std::sync::LazyLock<eventide_loop_phases::ExtKey<Streams>> =
    std::sync::LazyLock::new(eventide_loop_phases::ExtKey::new);

pub(crate) struct Entry {
    pub(crate) label: &'static str,
    pub(crate) destroyed: bool,
    pub(crate) error: Option<StreamError>,
    pub(crate) close_emitted: bool,
    pub(crate) auto_destroy: bool,
    pub(crate) allow_half_open: bool,
    pub(crate) on_close: Listeners<()>,
    pub(crate) on_end: Listeners<()>,
    pub(crate) on_drain: Listeners<()>,
    /// `error`, `finish` and `readable` listeners, made on first use: most
    /// streams (every accepted socket of a server) have none.
    rare: Option<Box<RareListeners>>,
    /// `None` without a readable side; `Some(true)` once `end` was emitted.
    pub(crate) ended: Option<bool>,
    /// `None` without a writable side; `Some(true)` once `finish` was emitted.
    pub(crate) finished: Option<bool>,
    /// Destroys the typed sides (set by the constructor, which knows the types).
    pub(crate) destroy_sides: fn(&mut Loop, Key, Option<&StreamError>),
    /// Removes a data listener from the typed readable side.
    pub(crate) remove_data: Option<fn(&mut Loop, Key, u64) -> bool>,
    /// Ends the typed writable side (for a duplex without half-open).
    pub(crate) end_write: Option<fn(&mut Loop, Key)>,
    pub(crate) read: Option<Box<dyn Any>>,
    pub(crate) write: Option<Box<dyn Any>>,
}

/// The listeners few streams have, boxed apart (see [`Entry`]).
#[derive(Default)]
struct RareListeners {
    error: Listeners<StreamError>,
    finish: Listeners<()>,
    readable: Listeners<()>,
}

/// The untyped events, whose listeners live on the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Event {
    Close,
    End,
    Finish,
    Drain,
    Readable,
}

impl Entry {
    pub(crate) fn new(
        options: &StreamOptions,
        destroy_sides: fn(&mut Loop, Key, Option<&StreamError>),
    ) -> Self {
        Entry {
            label: options.label,
            destroyed: false,
            error: None,
            close_emitted: false,
            auto_destroy: options.auto_destroy,
            allow_half_open: options.allow_half_open,
            on_close: Listeners::default(),
            on_end: Listeners::default(),
            on_drain: Listeners::default(),
            rare: None,
            ended: None,
            finished: None,
            destroy_sides,
            remove_data: None,
            end_write: None,
            read: None,
            write: None,
        }
    }

    pub(crate) fn attach_read<R: Chunk>(&mut self, side: ReadSide<R>) {
        self.read = Some(Box::new(side));
        self.ended = Some(false);
        self.remove_data = Some(remove_data::<R>);
    }

    pub(crate) fn attach_write<W: Chunk>(&mut self, side: WriteSide<W>) {
        self.write = Some(Box::new(side));
        self.finished = Some(false);
        self.end_write = Some(crate::writable::end::<W>);
    }

    /// The readable side, if it has one of item type `R`.
    pub(crate) fn read_side<R: Chunk>(&mut self) -> Option<&mut ReadSide<R>> {
        self.read.as_mut()?.downcast_mut()
    }

    /// Takes the readable side out (a consumed socket's, which it no longer
    /// needs); `ended` stays as it is, so `end` is still emitted once.
    pub(crate) fn take_read_side<R: Chunk>(&mut self) -> Option<Box<ReadSide<R>>> {
        self.read.take()?.downcast().ok()
    }

    /// The writable side, if it has one of item type `W`.
    pub(crate) fn write_side<W: Chunk>(&mut self) -> Option<&mut WriteSide<W>> {
        self.write.as_mut()?.downcast_mut()
    }

    /// The listeners of `event`, to add to (made if they are rare ones).
    pub(crate) fn listeners(&mut self, event: Event) -> &mut Listeners<()> {
        if matches!(event, Event::Finish | Event::Readable) {
            self.rare.get_or_insert_default();
        }
        self.listeners_if_any(event)
            .expect("common lists always exist, rare ones were just made")
    }

    /// The listeners of `event` if it may have any (none made).
    pub(crate) fn listeners_if_any(&mut self, event: Event) -> Option<&mut Listeners<()>> {
        match event {
            Event::Close => Some(&mut self.on_close),
            Event::End => Some(&mut self.on_end),
            Event::Drain => Some(&mut self.on_drain),
            Event::Finish => self.rare.as_deref_mut().map(|r| &mut r.finish),
            Event::Readable => self.rare.as_deref_mut().map(|r| &mut r.readable),
        }
    }

    /// Whether `event` has a listener.
    pub(crate) fn has_listeners(&mut self, event: Event) -> bool {
        self.listeners_if_any(event).is_some_and(|l| !l.is_empty())
    }

    /// The `error` listeners, to add to or emit (made if missing).
    pub(crate) fn error_listeners(&mut self) -> &mut Listeners<StreamError> {
        &mut self.rare.get_or_insert_default().error
    }

    /// Removes listener `id` from whichever event has it.
    pub(crate) fn remove_listener(&mut self, id: u64) -> bool {
        let rare = self
            .rare
            .as_deref_mut()
            .is_some_and(|r| r.error.remove(id) || r.finish.remove(id) || r.readable.remove(id));
        rare || self.on_close.remove(id) || self.on_end.remove(id) || self.on_drain.remove(id)
    }
}

pub(crate) struct ReadSide<R> {
    pub(crate) state: ReadableState<R>,
    pub(crate) source: Option<Box<dyn Source<R>>>,
    pub(crate) on_data: Listeners<R>,
    /// Inside the source's `read` (Node's `state.sync`): pushes are buffered
    /// and picked up by the flow loop instead of emitted re-entrantly.
    pub(crate) in_source_read: bool,
    /// Inside the flow loop: a nested flow only marks that more is to do.
    pub(crate) flowing_now: bool,
    pub(crate) flow_scheduled: bool,
    pub(crate) readable_scheduled: bool,
    pub(crate) end_scheduled: bool,
    /// Made by the first `pipe`: most readable sides (a server's sockets)
    /// are never piped, and this side is much of an idle connection.
    pub(crate) pipes: Option<Box<Pipes>>,
}

/// The pipes from a readable side.
#[derive(Default)]
pub(crate) struct Pipes {
    /// Destinations piped to.
    pub(crate) count: usize,
    /// Destinations whose `write` returned false (Node's
    /// `awaitDrainWriters`): the source stays paused until all drained.
    pub(crate) await_drain: Vec<Key>,
}

impl Pipes {
    /// Waits for `dst` to drain (once, however often its writes refuse).
    pub(crate) fn wait_for_drain(&mut self, dst: Key) {
        if !self.await_drain.contains(&dst) {
            self.await_drain.push(dst);
        }
    }
}

impl<R: Chunk> ReadSide<R> {
    pub(crate) fn new(high_water_mark: usize, source: Box<dyn Source<R>>) -> Self {
        ReadSide {
            state: ReadableState::new(high_water_mark),
            source: Some(source),
            on_data: Listeners::default(),
            in_source_read: false,
            flowing_now: false,
            flow_scheduled: false,
            readable_scheduled: false,
            end_scheduled: false,
            pipes: None,
        }
    }
}

pub(crate) struct WriteSide<W> {
    pub(crate) state: WritableState<W>,
    pub(crate) sink: Option<Box<dyn Sink<W>>>,
    pub(crate) max_batch: usize,
    pub(crate) pumping: bool,
    /// The write in flight is the final step.
    pub(crate) final_in_flight: bool,
    /// A tick that emits `drain` (if still due) is queued.
    pub(crate) drain_scheduled: bool,
    /// A transform's write whose completion waits for its readable side to
    /// drop below the mark.
    pub(crate) held: bool,
    /// Told when the side becomes corked (`true`) or uncorked: a socket
    /// keeps its own copy, so that `try_write` need not look here.
    pub(crate) on_cork: Option<fn(&mut Loop, Key, bool)>,
}

impl<W: Chunk> WriteSide<W> {
    pub(crate) fn new(high_water_mark: usize, sink: Box<dyn Sink<W>>) -> Self {
        let max_batch = if sink.accepts_batches() {
            usize::MAX
        } else {
            1
        };
        WriteSide {
            state: WritableState::new(high_water_mark),
            sink: Some(sink),
            max_batch,
            pumping: false,
            final_in_flight: false,
            drain_scheduled: false,
            held: false,
            on_cork: None,
        }
    }
}

fn remove_data<R: Chunk>(lp: &mut Loop, key: Key, id: u64) -> bool {
    read_side::<R>(lp, key).is_some_and(|side| side.on_data.remove(id))
}

pub(crate) fn insert(lp: &mut Loop, entry: Entry) -> Key {
    table(lp).entries.insert(entry)
}

pub(crate) fn table(lp: &mut Loop) -> &mut Streams {
    lp.ext_by(*STREAMS)
}

pub(crate) fn entry(lp: &mut Loop, key: Key) -> Option<&mut Entry> {
    table(lp).entries.get_mut(key)
}

pub(crate) fn entry_ref(lp: &Loop, key: Key) -> Option<&Entry> {
    lp.try_ext::<Streams>()?.entries.get(key)
}

pub(crate) fn read_side<R: Chunk>(lp: &mut Loop, key: Key) -> Option<&mut ReadSide<R>> {
    entry(lp, key)?.read_side()
}

pub(crate) fn read_side_ref<R: Chunk>(lp: &Loop, key: Key) -> Option<&ReadSide<R>> {
    entry_ref(lp, key)?.read.as_ref()?.downcast_ref()
}

pub(crate) fn write_side<W: Chunk>(lp: &mut Loop, key: Key) -> Option<&mut WriteSide<W>> {
    entry(lp, key)?.write_side()
}

pub(crate) fn write_side_ref<W: Chunk>(lp: &Loop, key: Key) -> Option<&WriteSide<W>> {
    entry_ref(lp, key)?.write.as_ref()?.downcast_ref()
}

pub(crate) fn next_listener_id(lp: &mut Loop) -> u64 {
    let t = table(lp);
    t.next_listener += 1;
    t.next_listener
}

/// Queues `f(lp, key)` for the next tick, as `lp.next_tick` would, without
/// a heap allocation: the loop's tick is a function that captures nothing
/// (a zero-sized box), and the key and the work wait in this table's queue.
/// Each loop tick queued here takes the oldest entry, so both queues stay in
/// step and the work runs exactly where a boxed closure would have.
pub(crate) fn next_tick(lp: &mut Loop, key: Key, f: TickFn) {
    table(lp).ticks.queue(key, f).schedule(lp);
}

fn run_tick(lp: &mut Loop) {
    if let Some((key, f)) = table(lp).ticks.0.pop_front() {
        f(lp, key);
    }
}

/// Emits an untyped event: takes its listeners out, calls them, puts them back.
pub(crate) fn emit(lp: &mut Loop, key: Key, event: Event) {
    let Some(e) = entry(lp, key) else { return };
    let Some(listeners) = e.listeners_if_any(event).filter(|l| !l.is_empty()) else {
        return;
    };
    let taken = listeners.take();
    call_and_restore(lp, key, event, taken);
}

/// Calls listeners taken out of `event`, then puts them back.
pub(crate) fn call_and_restore(lp: &mut Loop, key: Key, event: Event, taken: Emitting<()>) {
    let kept = taken.call(lp, ());
    if let Some(e) = entry(lp, key) {
        e.listeners(event).restore(kept);
    }
}
