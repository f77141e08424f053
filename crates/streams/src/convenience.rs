//! Streams from iterators and closures, for the common simple cases.

use eventide_loop_phases::Loop;

use crate::core::Chunk;
use crate::error::StreamError;
use crate::stream::{Readable, Sink, Source, StreamOptions, Writable, WriteStatus};

struct IterSource<I>(I);

impl<T: Chunk, I: Iterator<Item = T> + 'static> Source<T> for IterSource<I> {
    fn read(&mut self, lp: &mut Loop, stream: Readable<T>, _size: usize) {
        loop {
            match self.0.next() {
                Some(item) => {
                    if !stream.push(lp, item) {
                        return;
                    }
                }
                None => {
                    stream.push_eof(lp);
                    return;
                }
            }
        }
    }
}

struct FnSink<F>(F);

impl<T: Chunk, F: FnMut(&mut Loop, T) -> Result<(), StreamError> + 'static> Sink<T> for FnSink<F> {
    fn write(&mut self, lp: &mut Loop, _stream: Writable<T>, chunk: T) -> WriteStatus {
        match (self.0)(lp, chunk) {
            Ok(()) => WriteStatus::Done,
            Err(e) => WriteStatus::Failed(e),
        }
    }
}

impl<T: Chunk> Readable<T> {
    /// A readable stream of the iterator's items, produced as they are
    /// consumed (Node's `Readable.from`): the iterator is advanced only while
    /// the buffer is below the high-water mark.
    pub fn from_iter<I>(lp: &mut Loop, items: I, options: StreamOptions) -> Self
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: 'static,
    {
        Readable::new(lp, IterSource(items.into_iter()), options)
    }
}

impl<T: Chunk> Writable<T> {
    /// A writable stream whose sink is a synchronous function; an error it
    /// returns destroys the stream.
    pub fn from_fn(
        lp: &mut Loop,
        options: StreamOptions,
        f: impl FnMut(&mut Loop, T) -> Result<(), StreamError> + 'static,
    ) -> Self {
        Writable::new(lp, FnSink(f), options)
    }
}
