//! The writable side's buffer accounting, without I/O (Node's `WritableState`).

use super::chunk::Chunk;
use super::queue::Queue;

/// Why a write or an `end` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// `end` was already called (Node's `ERR_STREAM_WRITE_AFTER_END`).
    AfterEnd,
    /// The stream was destroyed (Node's `ERR_STREAM_DESTROYED`).
    Destroyed,
}

/// What the writable side must do next. Returned by
/// [`WritableState::next_action`] until it returns `None`.
#[derive(Debug, PartialEq, Eq)]
pub enum WriteAction<T> {
    /// Hand this chunk to the sink.
    One(T),
    /// Hand these chunks (two or more) to a sink that takes batches.
    Write(Vec<T>),
    /// Everything was written after `end`: run the sink's final step.
    Final,
}

/// The writable side's state machine: buffered chunks, the high-water mark,
/// corking, ending.
///
/// `length` is Node's `writableLength`: the weight of chunks buffered plus the
/// ones handed to the sink and not yet acknowledged. `write` returns
/// `length < high_water_mark`, Node's rule; a producer that stops at `false`
/// keeps `length` under the mark plus one chunk.
///
/// ```
/// use bytes::Bytes;
/// use eventide_streams::core::{WritableState, WriteAction};
///
/// let mut w = WritableState::<Bytes>::new(4);
/// assert_eq!(w.write(Bytes::from_static(b"ab")), Ok(true));   // 2 < 4
/// assert_eq!(w.write(Bytes::from_static(b"cd")), Ok(false));  // 4: stop
/// assert_eq!(w.next_action(1), Some(WriteAction::One(Bytes::from_static(b"ab"))));
/// assert_eq!(w.next_action(1), None);      // one write at a time
/// assert!(!w.complete());                  // 2 left: no drain yet
/// assert_eq!(w.next_action(1), Some(WriteAction::One(Bytes::from_static(b"cd"))));
/// assert!(w.complete());                   // empty after a `false`: drain
/// ```
#[derive(Debug)]
pub struct WritableState<T> {
    high_water_mark: usize,
    buffered: Queue<T>,
    length: usize,
    in_flight: usize,
    writing: bool,
    corked: u32,
    need_drain: bool,
    ending: bool,
    final_started: bool,
    finished: bool,
    destroyed: bool,
    peak_length: usize,
}

impl<T: Chunk> WritableState<T> {
    /// An empty writable side with the given high-water mark.
    pub fn new(high_water_mark: usize) -> Self {
        WritableState {
            high_water_mark,
            buffered: Queue::default(),
            length: 0,
            in_flight: 0,
            writing: false,
            corked: 0,
            need_drain: false,
            ending: false,
            final_started: false,
            finished: false,
            destroyed: false,
            peak_length: 0,
        }
    }

    /// The high-water mark.
    pub fn high_water_mark(&self) -> usize {
        self.high_water_mark
    }

    /// Weight buffered or in flight (Node's `writableLength`).
    pub fn length(&self) -> usize {
        self.length
    }

    /// The largest `length` ever reached.
    pub fn peak_length(&self) -> usize {
        self.peak_length
    }

    /// Whether `write` returned `false` and `drain` has not come yet (Node's
    /// `writableNeedDrain`).
    pub fn need_drain(&self) -> bool {
        self.need_drain
    }

    /// Whether `end` was called (Node's `writableEnded`).
    pub fn is_ending(&self) -> bool {
        self.ending
    }

    /// Whether everything was flushed after `end` (Node's `writableFinished`).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Whether the side was destroyed.
    pub fn is_destroyed(&self) -> bool {
        self.destroyed
    }

    /// Whether a sink write is in flight.
    pub fn is_writing(&self) -> bool {
        self.writing
    }

    /// Cork depth (Node's `writableCorked`).
    pub fn corked(&self) -> u32 {
        self.corked
    }

    /// Whether more writes are welcome: `length < high_water_mark`.
    pub fn below_mark(&self) -> bool {
        self.length < self.high_water_mark
    }

    /// Queues a chunk. Returns Node's `write()` value: `true` while the
    /// buffered weight is below the high-water mark.
    ///
    /// # Errors
    ///
    /// [`Refused`] after `end` or `destroy`; the chunk is dropped.
    pub fn write(&mut self, chunk: T) -> Result<bool, Refused> {
        if self.destroyed {
            return Err(Refused::Destroyed);
        }
        if self.ending {
            return Err(Refused::AfterEnd);
        }
        self.length += chunk.weight();
        self.peak_length = self.peak_length.max(self.length);
        self.buffered.push_back(chunk);
        let ok = self.length < self.high_water_mark;
        if !ok {
            self.need_drain = true;
        }
        Ok(ok)
    }

    /// The next thing to do, if anything: a write when no write is in flight
    /// and the side is not corked (at most `max_batch` chunks, at least one),
    /// or the final step once everything was written after `end`.
    pub fn next_action(&mut self, max_batch: usize) -> Option<WriteAction<T>> {
        if self.writing || self.destroyed {
            return None;
        }
        if !self.buffered.is_empty() && (self.corked == 0 || self.ending) {
            let n = self.buffered.len().min(max_batch.max(1));
            self.writing = true;
            // One chunk, the common case, goes without a vector.
            if n == 1 {
                let chunk = self.buffered.pop_front().expect("not empty");
                self.in_flight = chunk.weight();
                return Some(WriteAction::One(chunk));
            }
            let batch: Vec<T> = self.buffered.take_front(n);
            self.in_flight = batch.iter().map(Chunk::weight).sum();
            return Some(WriteAction::Write(batch));
        }
        if self.ending && self.buffered.is_empty() && !self.final_started {
            self.final_started = true;
            self.writing = true;
            return Some(WriteAction::Final);
        }
        None
    }

    /// The sink acknowledged the write in flight. Returns whether `drain` is
    /// due: the buffer just emptied after a `write` returned `false`. Emit it
    /// through [`WritableState::take_drain`], which checks again.
    pub fn complete(&mut self) -> bool {
        if !self.writing {
            return false;
        }
        self.writing = false;
        self.length -= self.in_flight;
        self.in_flight = 0;
        self.drain_due()
    }

    /// Whether `drain` is due now: the buffer is empty after a `write`
    /// returned `false`, and `end` was not called.
    pub fn drain_due(&self) -> bool {
        self.length == 0 && self.need_drain && !self.ending && !self.destroyed
    }

    /// Emitting `drain`: returns whether it is still due (Node decides when
    /// it emits, not when the write completed: a producer that wrote again
    /// and got `false` meanwhile must wait for the next one), and if so
    /// clears the need for it.
    pub fn take_drain(&mut self) -> bool {
        let due = self.drain_due();
        if due {
            self.need_drain = false;
        }
        due
    }

    /// The sink's final step finished: the side is finished.
    pub fn complete_final(&mut self) {
        self.writing = false;
        self.finished = true;
        self.need_drain = false;
    }

    /// Stops handing chunks to the sink until as many `uncork`s (Node's
    /// `cork`), so that they go out together.
    pub fn cork(&mut self) {
        self.corked += 1;
    }

    /// Undoes one `cork`. Returns whether the side is now uncorked.
    pub fn uncork(&mut self) -> bool {
        self.corked = self.corked.saturating_sub(1);
        self.corked == 0
    }

    /// Marks the end of writes (Node's `end`): the final step runs once
    /// everything buffered is written. Corking no longer holds chunks back.
    ///
    /// # Errors
    ///
    /// [`Refused::AfterEnd`] if `end` was already called, [`Refused::Destroyed`]
    /// after `destroy`.
    pub fn end(&mut self) -> Result<(), Refused> {
        if self.destroyed {
            return Err(Refused::Destroyed);
        }
        if self.ending {
            return Err(Refused::AfterEnd);
        }
        self.ending = true;
        Ok(())
    }

    /// Destroys the side: buffered chunks are dropped and returned.
    pub fn destroy(&mut self) -> Vec<T> {
        self.destroyed = true;
        self.need_drain = false;
        let dropped: Vec<T> = self.buffered.take_front(usize::MAX);
        self.length = self.in_flight;
        dropped
    }
}
