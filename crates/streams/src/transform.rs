//! Transform streams: the writable side's chunks become the readable side's,
//! one chunk at a time, in order.
//!
//! This is the article's fix for out-of-order data: the next chunk is not
//! handed to the transform until the transform called back for the previous
//! one, however long it took (even across a zero timer). And a transform whose
//! output is not being read holds its callback back once its readable side
//! reaches the high-water mark, so backpressure reaches the writer.

use bytes::{Bytes, BytesMut};
use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;

use crate::codec::Decoder;
use crate::core::Chunk;
use crate::error::StreamError;
use crate::readable::push;
use crate::stream::{
    Readable, Sink, Source, Stream, StreamOptions, Transform, Writable, WriteStatus,
};
use crate::table;

/// What a [`Transformer`] did with a chunk.
#[derive(Debug)]
pub enum Step {
    /// Done with this chunk (its outputs, if any, were pushed).
    Done,
    /// Still working: call [`TransformCtx::done`] when finished.
    Pending,
    /// Failed: the transform is destroyed with this error.
    Failed(StreamError),
}

/// Node's `_transform` and `_flush`.
pub trait Transformer<In, Out>: 'static {
    /// Transforms one chunk, pushing zero or more outputs with
    /// [`TransformCtx::push`].
    fn transform(&mut self, lp: &mut Loop, ctx: TransformCtx<In, Out>, chunk: In) -> Step;

    /// Called after the last chunk, before the readable side ends: push what
    /// is left.
    ///
    /// # Errors
    ///
    /// An error destroys the transform with it.
    fn flush(&mut self, lp: &mut Loop, ctx: TransformCtx<In, Out>) -> Result<(), StreamError> {
        let _ = (lp, ctx);
        Ok(())
    }
}

/// What a transformer uses to push output and to call back.
pub struct TransformCtx<In, Out> {
    key: Key,
    _types: std::marker::PhantomData<fn() -> (In, Out)>,
}

impl<In, Out> Clone for TransformCtx<In, Out> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<In, Out> Copy for TransformCtx<In, Out> {}

impl<In, Out> std::fmt::Debug for TransformCtx<In, Out> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TransformCtx({:?})", self.key)
    }
}

impl<In: Chunk, Out: Chunk> TransformCtx<In, Out> {
    fn new(key: Key) -> Self {
        TransformCtx {
            key,
            _types: std::marker::PhantomData,
        }
    }

    /// Pushes one output to the readable side. Returns whether it is below
    /// its high-water mark.
    pub fn push(self, lp: &mut Loop, out: Out) -> bool {
        push(lp, self.key, out)
    }

    /// For a transform that returned [`Step::Pending`]: the chunk is done
    /// (Node's `callback()`), and the next one may come.
    pub fn done(self, lp: &mut Loop, result: Result<(), StreamError>) {
        match result {
            Err(e) => Stream::<Out, In>::from_key(self.key).complete_write(lp, Err(e)),
            Ok(()) => release_or_hold::<In, Out>(lp, self.key),
        }
    }

    /// The transform stream itself.
    pub fn stream(self) -> Transform<In, Out> {
        Stream::from_key(self.key)
    }
}

impl<In: Chunk, Out: Chunk> Transform<In, Out> {
    /// A transform stream around `transformer`.
    ///
    /// See [`Transformer`]; [`Transform::sync`] for a closure.
    pub fn with_transformer(
        lp: &mut Loop,
        transformer: impl Transformer<In, Out>,
        options: StreamOptions,
    ) -> Self {
        Stream::from_boxed(
            lp,
            Box::new(TransformSource::<In, Out>(std::marker::PhantomData)),
            Box::new(TransformSink {
                transformer: Box::new(transformer),
            }),
            options,
        )
    }

    /// A transform from a synchronous function that pushes zero or more
    /// outputs per input.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use eventide_loop_phases::{Loop, RunMode};
    /// use eventide_streams::{StreamOptions, Transform};
    ///
    /// let mut lp = Loop::new_manual();
    /// let upper = Transform::sync(&mut lp, StreamOptions::default(), |lp, ctx, chunk: Bytes| {
    ///     ctx.push(lp, Bytes::from(chunk.to_ascii_uppercase()));
    ///     Ok(())
    /// });
    /// let out = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    /// let o = out.clone();
    /// upper.on_data(&mut lp, move |_, b: Bytes| o.borrow_mut().extend_from_slice(&b));
    /// upper.write(&mut lp, Bytes::from_static(b"hello "));
    /// upper.end(&mut lp, Some(Bytes::from_static(b"world")));
    /// lp.run(RunMode::Default);
    /// assert_eq!(&out.borrow()[..], b"HELLO WORLD");
    /// ```
    pub fn sync<F>(lp: &mut Loop, options: StreamOptions, f: F) -> Self
    where
        F: FnMut(&mut Loop, TransformCtx<In, Out>, In) -> Result<(), StreamError> + 'static,
    {
        Self::with_transformer(lp, FnTransformer(f), options)
    }
}

impl<T: Chunk> Transform<T, T> {
    /// A transform that passes every chunk through unchanged (Node's
    /// `PassThrough`).
    pub fn pass_through(lp: &mut Loop, options: StreamOptions) -> Self {
        Self::sync(lp, options, |lp, ctx, chunk| {
            ctx.push(lp, chunk);
            Ok(())
        })
    }
}

impl Transform<Bytes, Bytes> {
    /// A transform that cuts a byte stream into frames with a codec: each
    /// output chunk is one whole frame, however the input was split. A
    /// framing error destroys the transform with
    /// [`StreamError::Codec`]; a truncated frame at the end is such an error.
    ///
    /// An empty frame (a blank line, a zero-length message) is not emitted:
    /// a byte stream carries no empty chunks (Node's rule), and frames keep
    /// their boundaries only in flowing mode (`read(n)` joins them).
    ///
    /// ```
    /// use bytes::Bytes;
    /// use eventide_loop_phases::{Loop, RunMode};
    /// use eventide_streams::{StreamOptions, Transform, codec::Lines};
    ///
    /// let mut lp = Loop::new_manual();
    /// let lines = Transform::decoder(&mut lp, Lines::new(), StreamOptions::default());
    /// let seen = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    /// let s = seen.clone();
    /// lines.on_data(&mut lp, move |_, line| s.borrow_mut().push(line));
    /// lines.write(&mut lp, Bytes::from_static(b"one\ntw"));
    /// lines.end(&mut lp, Some(Bytes::from_static(b"o\nthree\n")));
    /// lp.run(RunMode::Default);
    /// assert_eq!(*seen.borrow(), ["one", "two", "three"]);
    /// ```
    pub fn decoder<D>(lp: &mut Loop, decoder: D, options: StreamOptions) -> Self
    where
        D: Decoder<Item = Bytes> + 'static,
    {
        Self::with_transformer(
            lp,
            DecodeTransformer {
                decoder,
                buf: BytesMut::new(),
            },
            options,
        )
    }
}

struct FnTransformer<F>(F);

impl<In: Chunk, Out: Chunk, F> Transformer<In, Out> for FnTransformer<F>
where
    F: FnMut(&mut Loop, TransformCtx<In, Out>, In) -> Result<(), StreamError> + 'static,
{
    fn transform(&mut self, lp: &mut Loop, ctx: TransformCtx<In, Out>, chunk: In) -> Step {
        match (self.0)(lp, ctx, chunk) {
            Ok(()) => Step::Done,
            Err(e) => Step::Failed(e),
        }
    }
}

struct DecodeTransformer<D> {
    decoder: D,
    buf: BytesMut,
}

impl<D: Decoder<Item = Bytes> + 'static> Transformer<Bytes, Bytes> for DecodeTransformer<D> {
    fn transform(&mut self, lp: &mut Loop, ctx: TransformCtx<Bytes, Bytes>, chunk: Bytes) -> Step {
        self.buf.extend_from_slice(&chunk);
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(frame)) => {
                    ctx.push(lp, frame);
                }
                Ok(None) => return Step::Done,
                Err(e) => return Step::Failed(e.into()),
            }
        }
    }

    fn flush(&mut self, lp: &mut Loop, ctx: TransformCtx<Bytes, Bytes>) -> Result<(), StreamError> {
        while let Some(frame) = self.decoder.decode_eof(&mut self.buf)? {
            ctx.push(lp, frame);
        }
        Ok(())
    }
}

/// The writable side of a transform: runs the transformer.
struct TransformSink<In, Out> {
    transformer: Box<dyn Transformer<In, Out>>,
}

impl<In: Chunk, Out: Chunk> Sink<In> for TransformSink<In, Out> {
    fn write(&mut self, lp: &mut Loop, stream: Writable<In>, chunk: In) -> WriteStatus {
        let ctx = TransformCtx::<In, Out>::new(stream.key);
        match self.transformer.transform(lp, ctx, chunk) {
            Step::Done => {
                if readable_full::<Out>(lp, stream.key) {
                    hold::<In>(lp, stream.key);
                    WriteStatus::Pending
                } else {
                    WriteStatus::Done
                }
            }
            Step::Pending => WriteStatus::Pending,
            Step::Failed(e) => WriteStatus::Failed(e),
        }
    }

    fn finish(&mut self, lp: &mut Loop, stream: Writable<In>) -> WriteStatus {
        let ctx = TransformCtx::<In, Out>::new(stream.key);
        match self.transformer.flush(lp, ctx) {
            Ok(()) => {
                Stream::<Out, In>::from_key(stream.key).push_eof(lp);
                WriteStatus::Done
            }
            Err(e) => WriteStatus::Failed(e),
        }
    }
}

/// The readable side of a transform: reading releases a held write.
struct TransformSource<In, Out>(std::marker::PhantomData<fn() -> (In, Out)>);

impl<In: Chunk, Out: Chunk> Source<Out> for TransformSource<In, Out> {
    fn read(&mut self, lp: &mut Loop, stream: Readable<Out>, _size: usize) {
        if let Some(side) = table::write_side::<In>(lp, stream.key)
            && side.held
        {
            side.held = false;
            // Nothing is pushed yet: the next write will push.
            if let Some(r) = table::read_side::<Out>(lp, stream.key) {
                r.state.read_idle();
            }
            Stream::<Out, In>::from_key(stream.key).complete_write(lp, Ok(()));
        }
    }
}

fn readable_full<Out: Chunk>(lp: &mut Loop, key: Key) -> bool {
    table::read_side::<Out>(lp, key).is_some_and(|s| s.state.length() >= s.state.high_water_mark())
}

fn hold<In: Chunk>(lp: &mut Loop, key: Key) {
    if let Some(side) = table::write_side::<In>(lp, key) {
        side.held = true;
    }
}

/// Completes the current write now, or holds it until the readable side is read.
fn release_or_hold<In: Chunk, Out: Chunk>(lp: &mut Loop, key: Key) {
    if readable_full::<Out>(lp, key) {
        hold::<In>(lp, key);
    } else {
        Stream::<Out, In>::from_key(key).complete_write(lp, Ok(()));
    }
}
