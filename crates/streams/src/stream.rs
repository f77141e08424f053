//! The stream id type, its constructors, and the lifecycle every stream shares:
//! `destroy`, `error`, `close`.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::marker::PhantomData;

use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;

use crate::core::{Chunk, NoRead, NoWrite};
use crate::error::StreamError;
use crate::listeners::{Callback, ListenerId};
use crate::table::{self, Entry, Event, ReadSide, WriteSide};

/// A stream living in the loop: a small `Copy` id with a generation.
///
/// `R` is the item type of its readable side and `W` of its writable side;
/// [`NoWrite`] and [`NoRead`] mark a missing side, so a [`Readable`] has no
/// `write` method and a [`Writable`] no `on_data`. Methods take the `&mut Loop`
/// the stream lives in. After the stream closed its id is stale: methods on it
/// do nothing and queries answer as for a destroyed stream.
pub struct Stream<R, W> {
    pub(crate) key: Key,
    _types: PhantomData<fn() -> (R, W)>,
}

/// A stream you read from (Node's `stream.Readable`).
pub type Readable<T> = Stream<T, NoWrite>;
/// A stream you write to (Node's `stream.Writable`).
pub type Writable<T> = Stream<NoRead, T>;
/// A stream with both sides, independent (Node's `stream.Duplex`; a socket).
pub type Duplex<R, W = R> = Stream<R, W>;
/// A duplex whose readable side is computed from what is written (Node's
/// `stream.Transform`): write `In`, read `Out`.
pub type Transform<In, Out = In> = Stream<Out, In>;

impl<R, W> Clone for Stream<R, W> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<R, W> Copy for Stream<R, W> {}

impl<R, W> PartialEq for Stream<R, W> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl<R, W> Eq for Stream<R, W> {}

impl<R, W> Hash for Stream<R, W> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl<R, W> fmt::Debug for Stream<R, W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Stream({:?})", self.key)
    }
}

/// A stream of any item types, for code that handles several kinds at once
/// (`pipeline`, `finished`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AnyStream(pub(crate) Key);

impl<R, W> From<Stream<R, W>> for AnyStream {
    fn from(s: Stream<R, W>) -> Self {
        AnyStream(s.key)
    }
}

/// Options for a new stream. `Default` gives Node's defaults.
#[derive(Debug, Clone)]
pub struct StreamOptions {
    /// High-water mark of the readable side (default: the item type's, 64 KiB
    /// for bytes, 16 for objects).
    pub readable_high_water_mark: Option<usize>,
    /// High-water mark of the writable side (default: the item type's).
    pub writable_high_water_mark: Option<usize>,
    /// Whether the writable side stays open after the readable side ended
    /// (default `true`, as Node's Duplex; sockets use `false`, as Node's net).
    pub allow_half_open: bool,
    /// Whether the stream destroys itself (and emits `close`) once it ended
    /// and finished (default `true`, as Node).
    pub auto_destroy: bool,
    /// Names the stream in traces and debug output.
    pub label: &'static str,
}

impl Default for StreamOptions {
    fn default() -> Self {
        StreamOptions {
            readable_high_water_mark: None,
            writable_high_water_mark: None,
            allow_half_open: true,
            auto_destroy: true,
            label: "stream",
        }
    }
}

impl StreamOptions {
    /// Sets both high-water marks.
    pub fn high_water_mark(mut self, n: usize) -> Self {
        self.readable_high_water_mark = Some(n);
        self.writable_high_water_mark = Some(n);
        self
    }

    /// Sets `allow_half_open`.
    pub fn allow_half_open(mut self, on: bool) -> Self {
        self.allow_half_open = on;
        self
    }

    /// Sets `auto_destroy`.
    pub fn auto_destroy(mut self, on: bool) -> Self {
        self.auto_destroy = on;
        self
    }

    /// Sets the label.
    pub fn label(mut self, label: &'static str) -> Self {
        self.label = label;
        self
    }
}

/// The producing end of a readable side (Node's `_read`).
///
/// The stream calls [`Source::read`] when its buffer is below the high-water
/// mark and it wants more; the source pushes with [`Stream::push`] (now, or
/// later from another callback) and ends with [`Stream::push_eof`]. It is not
/// asked again until it pushed.
pub trait Source<T>: 'static {
    /// Produce up to about `size` more weight into `stream`.
    fn read(&mut self, lp: &mut Loop, stream: Readable<T>, size: usize);

    /// The stream is being destroyed: release resources.
    fn destroy(&mut self, lp: &mut Loop, stream: Readable<T>, error: Option<&StreamError>) {
        let _ = (lp, stream, error);
    }
}

/// What a [`Sink`] did with a write.
#[derive(Debug)]
pub enum WriteStatus {
    /// Written; the next chunk may come.
    Done,
    /// In progress: call [`Stream::complete_write`] when done.
    Pending,
    /// Failed: the stream is destroyed with this error.
    Failed(StreamError),
}

/// The consuming end of a writable side (Node's `_write`, `_writev`,
/// `_final`, `_destroy`). The stream hands over one write at a time.
pub trait Sink<T>: 'static {
    /// Writes one chunk.
    fn write(&mut self, lp: &mut Loop, stream: Writable<T>, chunk: T) -> WriteStatus;

    /// Whether [`Sink::writev`] takes several chunks at once (Node defines
    /// `_writev`). Corked and buffered chunks then go out together.
    fn accepts_batches(&self) -> bool {
        false
    }

    /// Writes several chunks at once; called only if `accepts_batches`.
    fn writev(&mut self, lp: &mut Loop, stream: Writable<T>, chunks: Vec<T>) -> WriteStatus {
        let _ = (lp, stream, chunks);
        WriteStatus::Failed(StreamError::other("this sink does not take batches"))
    }

    /// Everything was written after `end`: flush (Node's `_final`).
    fn finish(&mut self, lp: &mut Loop, stream: Writable<T>) -> WriteStatus {
        let _ = (lp, stream);
        WriteStatus::Done
    }

    /// The stream is being destroyed: release resources.
    fn destroy(&mut self, lp: &mut Loop, stream: Writable<T>, error: Option<&StreamError>) {
        let _ = (lp, stream, error);
    }
}

impl<R, W> Stream<R, W> {
    pub(crate) fn from_key(key: Key) -> Self {
        Stream {
            key,
            _types: PhantomData,
        }
    }

    /// The same stream, typed as any stream.
    pub fn any(self) -> AnyStream {
        AnyStream(self.key)
    }

    /// Destroys the stream (Node's `destroy(err)`): buffered data is dropped,
    /// the source and sink are told, then `error` (if `err` is given) and
    /// `close` are emitted on the next tick. Destroying twice does nothing.
    pub fn destroy(self, lp: &mut Loop, err: Option<StreamError>) {
        destroy(lp, self.key, err);
    }

    /// Whether the stream was destroyed (or its id is stale).
    pub fn is_destroyed(self, lp: &Loop) -> bool {
        table::entry_ref(lp, self.key).is_none_or(|e| e.destroyed)
    }

    /// The error the stream was destroyed with, if any.
    pub fn error(self, lp: &Loop) -> Option<StreamError> {
        table::entry_ref(lp, self.key).and_then(|e| e.error.clone())
    }

    /// Calls `f` on every error (Node's `on('error')`). An error always comes
    /// with a destroy, so `close` follows it.
    pub fn on_error(
        self,
        lp: &mut Loop,
        f: impl FnMut(&mut Loop, StreamError) + 'static,
    ) -> ListenerId {
        let id = table::next_listener_id(lp);
        if let Some(e) = table::entry(lp, self.key) {
            e.error_listeners().add(id, Callback::boxed(f));
        }
        ListenerId(id)
    }

    /// Calls `f` once the stream closed: after `end`/`finish` with
    /// `auto_destroy`, or after `destroy` (Node's `on('close')`). Always the
    /// last event.
    pub fn on_close(self, lp: &mut Loop, f: impl FnMut(&mut Loop) + 'static) -> ListenerId {
        self.listen(lp, Event::Close, f)
    }

    /// [`on_close`](Self::on_close) with a plain function called as
    /// `f(lp, key)`. Unlike a closure that captures `key`, it allocates
    /// nothing: for a program that keeps many streams (a server's
    /// connections), each with its own state under a [`Key`].
    ///
    /// ```
    /// use bytes::Bytes;
    /// use eventide_loop_phases::{Loop, RunMode};
    /// use eventide_reactor::slab::{Key, Slab};
    /// use eventide_streams::{Readable, StreamOptions};
    ///
    /// /// Per-stream state, in the loop's storage.
    /// #[derive(Default)]
    /// struct Closed(Slab<&'static str>, Vec<&'static str>);
    ///
    /// fn on_close(lp: &mut Loop, key: Key) {
    ///     let state = lp.ext::<Closed>();
    ///     let name = state.0.remove(key).unwrap();
    ///     state.1.push(name);
    /// }
    ///
    /// let mut lp = Loop::new();
    /// for name in ["a", "b"] {
    ///     let key = lp.ext::<Closed>().0.insert(name);
    ///     let s: Readable<Bytes> = Readable::from_iter(&mut lp, [], StreamOptions::default());
    ///     s.on_close_keyed(&mut lp, key, on_close);
    ///     s.resume(&mut lp);
    /// }
    /// lp.run(RunMode::Default);
    /// assert_eq!(lp.ext::<Closed>().1, ["a", "b"]);
    /// ```
    pub fn on_close_keyed(self, lp: &mut Loop, key: Key, f: fn(&mut Loop, Key)) -> ListenerId {
        self.listen_callback(lp, Event::Close, Callback::KeyedNoArg(f, key))
    }

    pub(crate) fn listen(
        self,
        lp: &mut Loop,
        event: Event,
        mut f: impl FnMut(&mut Loop) + 'static,
    ) -> ListenerId {
        self.listen_callback(lp, event, Callback::boxed(move |lp, ()| f(lp)))
    }

    pub(crate) fn listen_callback(
        self,
        lp: &mut Loop,
        event: Event,
        f: Callback<()>,
    ) -> ListenerId {
        let id = table::next_listener_id(lp);
        if let Some(e) = table::entry(lp, self.key) {
            e.listeners(event).add(id, f);
        }
        ListenerId(id)
    }

    /// Removes a listener added with any `on_*` method of this stream.
    pub fn off(self, lp: &mut Loop, id: ListenerId) {
        off(lp, self.key, id);
    }

    /// The stream's label.
    pub fn label(self, lp: &Loop) -> &'static str {
        table::entry_ref(lp, self.key).map_or("stale", |e| e.label)
    }
}

impl<T: Chunk> Readable<T> {
    /// A readable stream that gets its data from `source`.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use eventide_loop_phases::{Loop, RunMode};
    /// use eventide_streams::{Readable, Source, StreamOptions};
    ///
    /// /// Counts down from a number, one chunk per read.
    /// struct Countdown(u8);
    /// impl Source<Bytes> for Countdown {
    ///     fn read(&mut self, lp: &mut Loop, stream: Readable<Bytes>, _size: usize) {
    ///         if self.0 == 0 {
    ///             stream.push_eof(lp);
    ///         } else {
    ///             stream.push(lp, Bytes::from(self.0.to_string()));
    ///             self.0 -= 1;
    ///         }
    ///     }
    /// }
    ///
    /// let mut lp = Loop::new_manual();
    /// let r = Readable::new(&mut lp, Countdown(3), StreamOptions::default());
    /// let out = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    /// let o = out.clone();
    /// r.on_data(&mut lp, move |_, chunk| o.borrow_mut().push_str(std::str::from_utf8(&chunk).unwrap()));
    /// lp.run(RunMode::Default);
    /// assert_eq!(*out.borrow(), "321");
    /// ```
    pub fn new(lp: &mut Loop, source: impl Source<T>, options: StreamOptions) -> Self {
        let hwm = options
            .readable_high_water_mark
            .unwrap_or(T::DEFAULT_HIGH_WATER_MARK);
        let mut entry = Entry::new(&options, destroy_read::<T>);
        entry.attach_read(ReadSide::<T>::new(hwm, Box::new(source)));
        Stream::from_key(table::insert(lp, entry))
    }
}

impl<T: Chunk> Writable<T> {
    /// A writable stream that writes into `sink`.
    pub fn new(lp: &mut Loop, sink: impl Sink<T>, options: StreamOptions) -> Self {
        let hwm = options
            .writable_high_water_mark
            .unwrap_or(T::DEFAULT_HIGH_WATER_MARK);
        let mut entry = Entry::new(&options, destroy_write::<T>);
        entry.attach_write(WriteSide::<T>::new(hwm, Box::new(sink)));
        Stream::from_key(table::insert(lp, entry))
    }
}

impl<R: Chunk, W: Chunk> Duplex<R, W> {
    /// A duplex stream from a source and a sink, independent of each other.
    pub fn from_parts(
        lp: &mut Loop,
        source: impl Source<R>,
        sink: impl Sink<W>,
        options: StreamOptions,
    ) -> Self {
        Self::from_boxed(lp, Box::new(source), Box::new(sink), options)
    }

    pub(crate) fn from_boxed(
        lp: &mut Loop,
        source: Box<dyn Source<R>>,
        sink: Box<dyn Sink<W>>,
        options: StreamOptions,
    ) -> Self {
        let rhwm = options
            .readable_high_water_mark
            .unwrap_or(R::DEFAULT_HIGH_WATER_MARK);
        let whwm = options
            .writable_high_water_mark
            .unwrap_or(W::DEFAULT_HIGH_WATER_MARK);
        let mut entry = Entry::new(&options, destroy_both::<R, W>);
        entry.attach_read(ReadSide::<R>::new(rhwm, source));
        entry.attach_write(WriteSide::<W>::new(whwm, sink));
        Stream::from_key(table::insert(lp, entry))
    }
}

fn destroy_read<R: Chunk>(lp: &mut Loop, key: Key, err: Option<&StreamError>) {
    if let Some(side) = table::read_side::<R>(lp, key) {
        side.state.destroy();
        if let Some(pipes) = side.pipes.as_mut() {
            pipes.await_drain.clear();
        }
        if let Some(mut source) = side.source.take() {
            source.destroy(lp, Stream::from_key(key), err);
        }
    }
}

fn destroy_write<W: Chunk>(lp: &mut Loop, key: Key, err: Option<&StreamError>) {
    if let Some(side) = table::write_side::<W>(lp, key) {
        side.state.destroy();
        if let Some(mut sink) = side.sink.take() {
            sink.destroy(lp, Stream::from_key(key), err);
        }
    }
}

fn destroy_both<R: Chunk, W: Chunk>(lp: &mut Loop, key: Key, err: Option<&StreamError>) {
    destroy_read::<R>(lp, key, err);
    destroy_write::<W>(lp, key, err);
}

/// Node's `destroy`: marks destroyed, tells the sides, then emits `error` and
/// `close` on the next tick.
pub(crate) fn destroy(lp: &mut Loop, key: Key, err: Option<StreamError>) {
    let Some(e) = table::entry(lp, key) else {
        return;
    };
    if e.destroyed {
        return;
    }
    e.destroyed = true;
    if e.error.is_none() {
        e.error.clone_from(&err);
    }
    let destroy_sides = e.destroy_sides;
    destroy_sides(lp, key, err.as_ref());
    lp.next_tick(move |lp| {
        if let Some(err) = err {
            emit_error(lp, key, err);
        }
        emit_close(lp, key);
    });
}

fn emit_error(lp: &mut Loop, key: Key, err: StreamError) {
    let Some(e) = table::entry(lp, key) else {
        return;
    };
    let taken = e.error_listeners().take();
    let kept = taken.call(lp, err);
    if let Some(e) = table::entry(lp, key) {
        e.error_listeners().restore(kept);
    }
}

/// Emits `close` once and frees the entry: the id is stale afterwards.
fn emit_close(lp: &mut Loop, key: Key) {
    let Some(e) = table::entry(lp, key) else {
        return;
    };
    if e.close_emitted {
        return;
    }
    e.close_emitted = true;
    table::emit(lp, key, Event::Close);
    table::table(lp).entries.remove(key);
}

/// Destroys the stream once every side it has is done, if `auto_destroy`.
pub(crate) fn maybe_auto_destroy(lp: &mut Loop, key: Key) {
    let Some(e) = table::entry(lp, key) else {
        return;
    };
    let done = e.ended.is_none_or(|x| x) && e.finished.is_none_or(|x| x);
    if e.auto_destroy && done && !e.destroyed {
        destroy(lp, key, None);
    }
}

pub(crate) fn off(lp: &mut Loop, key: Key, id: ListenerId) {
    let Some(e) = table::entry(lp, key) else {
        return;
    };
    let removed = e.remove_listener(id.0);
    // Data listeners are typed: the entry knows how to reach them.
    if !removed && let Some(remove_data) = e.remove_data {
        remove_data(lp, key, id.0);
    }
}
