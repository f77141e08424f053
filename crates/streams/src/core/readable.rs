//! The readable side's buffer accounting, without I/O (Node's `ReadableState`).

use super::chunk::Chunk;
use super::queue::Queue;

/// What [`ReadableState::read`] decided, besides the data it returned.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReadOutcome<T> {
    /// The data returned (Node's `read()` return value; `None` is `null`).
    pub data: Option<T>,
    /// Ask the source for more now (Node calls `_read`).
    pub call_source: bool,
    /// A `readable` event is due.
    pub emit_readable: bool,
    /// The end was reached: `end` is due.
    pub emit_end: bool,
}

/// The readable side's state machine: the buffer, the high-water mark, the
/// flowing mode, and end of stream.
///
/// `push` returns `length < high_water_mark` (Node's rule), and the source is
/// asked for more only while below the mark ([`ReadableState::wants_more`]).
///
/// ```
/// use bytes::Bytes;
/// use eventide_streams::core::ReadableState;
///
/// let mut r = ReadableState::<Bytes>::new(4);
/// assert!(r.wants_more());
/// assert_eq!(r.push(Bytes::from_static(b"abc")), Ok(true));
/// assert_eq!(r.push(Bytes::from_static(b"de")), Ok(false)); // 5 >= 4
/// assert!(!r.wants_more());
/// let out = r.read(Some(4)); // Node's read(4): joins and splits chunks
/// assert_eq!(out.data.as_deref(), Some(&b"abcd"[..]));
/// assert_eq!(r.length(), 1);
/// ```
#[derive(Debug)]
pub struct ReadableState<T> {
    high_water_mark: usize,
    buffer: Queue<T>,
    length: usize,
    flowing: Option<bool>,
    ended: bool,
    end_emitted: bool,
    reading: bool,
    need_readable: bool,
    destroyed: bool,
    peak_length: usize,
}

/// Node's `MAX_HWM`: `read(n)` raises the mark to at most this.
const MAX_HIGH_WATER_MARK: usize = 1 << 30;

/// A push after end of stream (Node's `ERR_STREAM_PUSH_AFTER_EOF`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushAfterEof;

impl<T: Chunk> ReadableState<T> {
    /// An empty readable side with the given high-water mark.
    pub fn new(high_water_mark: usize) -> Self {
        ReadableState {
            high_water_mark,
            buffer: Queue::default(),
            length: 0,
            flowing: None,
            ended: false,
            end_emitted: false,
            reading: false,
            need_readable: false,
            destroyed: false,
            peak_length: 0,
        }
    }

    /// The high-water mark.
    pub fn high_water_mark(&self) -> usize {
        self.high_water_mark
    }

    /// Weight buffered (Node's `readableLength`).
    pub fn length(&self) -> usize {
        self.length
    }

    /// The largest `length` ever reached.
    pub fn peak_length(&self) -> usize {
        self.peak_length
    }

    /// Flowing mode: `None` before anyone consumed, then `Some(true)` when
    /// flowing and `Some(false)` when paused (Node's `readableFlowing`).
    pub fn flowing(&self) -> Option<bool> {
        self.flowing
    }

    /// Whether the source pushed end of stream.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Whether `end` was emitted (Node's `readableEnded`).
    pub fn end_emitted(&self) -> bool {
        self.end_emitted
    }

    /// Whether the source was asked for data and has not pushed yet.
    pub fn is_reading(&self) -> bool {
        self.reading
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Whether the side was destroyed.
    pub fn is_destroyed(&self) -> bool {
        self.destroyed
    }

    /// Adds a chunk from the source. Returns `length < high_water_mark`:
    /// whether the source may push more now.
    ///
    /// # Errors
    ///
    /// [`PushAfterEof`] if end of stream was already pushed.
    pub fn push(&mut self, chunk: T) -> Result<bool, PushAfterEof> {
        if self.ended {
            return Err(PushAfterEof);
        }
        self.reading = false;
        // An empty byte chunk is not buffered (Node's `readableAddChunk`): it
        // would never be consumed by `read(n)`, would hold `end` back forever
        // (`end_due` needs an empty buffer), and would flow as an empty `data`.
        let empty_bytes = !T::OBJECT_MODE && chunk.weight() == 0;
        if !self.destroyed && !empty_bytes {
            self.length += chunk.weight();
            self.peak_length = self.peak_length.max(self.length);
            self.buffer.push_back(chunk);
        }
        Ok(self.length < self.high_water_mark)
    }

    /// Marks end of stream (Node's `push(null)`). Returns whether `end` is due
    /// now (nothing buffered).
    pub fn push_eof(&mut self) -> bool {
        self.reading = false;
        self.ended = true;
        self.end_due()
    }

    /// Whether the `end` event is due: end of stream reached, buffer drained,
    /// not yet emitted.
    pub fn end_due(&self) -> bool {
        self.ended && self.buffer.is_empty() && !self.end_emitted && !self.destroyed
    }

    /// Records that `end` was emitted. Returns `false` if it already was.
    pub fn mark_end_emitted(&mut self) -> bool {
        !std::mem::replace(&mut self.end_emitted, true)
    }

    /// Whether the source may be asked for more now, without asking: not
    /// ended, not already reading, and below the mark, or flowing with
    /// nothing buffered (Node's `maybeReadMore` condition, which lets a
    /// stream with a high-water mark of 0 flow one chunk at a time).
    pub fn may_ask_source(&self) -> bool {
        !self.ended
            && !self.reading
            && !self.destroyed
            && (self.length < self.high_water_mark
                || (self.flowing == Some(true) && self.length == 0))
    }

    /// Whether the source should be asked for more (see
    /// [`ReadableState::may_ask_source`]). Marks the side as reading if so.
    pub fn wants_more(&mut self) -> bool {
        if !self.may_ask_source() {
            return false;
        }
        self.reading = true;
        true
    }

    /// The source finished a read request without pushing (it will push later).
    pub fn read_idle(&mut self) {
        self.reading = false;
    }

    /// Enters flowing mode (Node's `resume`).
    pub fn resume(&mut self) {
        self.flowing = Some(true);
    }

    /// Leaves flowing mode (Node's `pause`).
    pub fn pause(&mut self) {
        self.flowing = Some(false);
    }

    /// In flowing mode, the next buffered chunk to emit as `data`.
    pub fn next_flowing(&mut self) -> Option<T> {
        if self.flowing != Some(true) {
            return None;
        }
        let chunk = self.buffer.pop_front()?;
        self.length -= chunk.weight();
        Some(chunk)
    }

    /// Node's `read(n)`: `None` reads everything buffered (in byte mode,
    /// joined into one chunk; in object mode, one item). With `Some(n)`, byte
    /// mode returns exactly `n` units when that many are buffered, `None`
    /// otherwise, unless the stream ended, then what is left. Reading more
    /// than the high-water mark raises the mark (to the next power of two) so
    /// that the source is asked for enough.
    pub fn read(&mut self, n: Option<usize>) -> ReadOutcome<T> {
        let mut out = ReadOutcome {
            data: None,
            call_source: false,
            emit_readable: false,
            emit_end: false,
        };
        let object_mode = T::OBJECT_MODE;
        if let Some(n) = n
            && n > self.high_water_mark
        {
            self.high_water_mark = n.next_power_of_two().min(MAX_HIGH_WATER_MARK);
        }
        let want = self.how_much_to_read(n, object_mode);

        if want == 0 && self.need_readable && (self.length >= self.high_water_mark || self.ended) {
            if self.length == 0 && self.ended {
                out.emit_end = self.end_due();
            } else {
                out.emit_readable = true;
            }
            return out;
        }
        if want == 0 && self.ended && self.length == 0 {
            out.emit_end = self.end_due();
            return out;
        }

        let mut do_read = self.need_readable;
        if self.length == 0 || self.length.saturating_sub(want) < self.high_water_mark {
            do_read = true;
        }
        if self.ended || self.reading || self.destroyed {
            do_read = false;
        }
        if do_read {
            self.reading = true;
            if self.length == 0 {
                self.need_readable = true;
            }
            out.call_source = true;
        }

        if want > 0 {
            out.data = self.take(want, object_mode);
        }
        if out.data.is_none() {
            self.need_readable = self.length <= self.high_water_mark;
        }
        if self.length == 0 {
            if !self.ended {
                self.need_readable = true;
            } else if self.end_due() {
                out.emit_end = true;
            }
        }
        out
    }

    /// Node's `howMuchToRead`.
    fn how_much_to_read(&self, n: Option<usize>, object_mode: bool) -> usize {
        if n == Some(0) || (self.length == 0 && self.ended) {
            return 0;
        }
        if object_mode {
            return usize::from(!self.buffer.is_empty());
        }
        match n {
            None => {
                if self.flowing == Some(true) && self.length > 0 {
                    self.buffer.front().map_or(0, Chunk::weight)
                } else {
                    self.length
                }
            }
            Some(n) if n <= self.length => n,
            Some(_) if self.ended => self.length,
            Some(_) => 0,
        }
    }

    /// Removes `n` units from the front (Node's `fromList`).
    fn take(&mut self, n: usize, object_mode: bool) -> Option<T> {
        if object_mode {
            let item = self.buffer.pop_front()?;
            self.length -= item.weight();
            return Some(item);
        }
        let mut parts = Vec::new();
        let mut left = n;
        while left > 0 {
            let front = self.buffer.front_mut()?;
            let w = front.weight();
            if w <= left {
                left -= w;
                parts.push(self.buffer.pop_front().expect("front exists"));
            } else {
                parts.push(front.split_to(left).expect("byte mode splits"));
                left = 0;
            }
        }
        self.length -= n;
        T::concat(parts)
    }

    /// Whether a `readable` event would be useful: data buffered or the end
    /// reached.
    pub fn has_readable(&self) -> bool {
        !self.buffer.is_empty() || self.ended
    }

    /// Destroys the side, dropping the buffer.
    pub fn destroy(&mut self) {
        self.destroyed = true;
        self.buffer.clear();
        self.length = 0;
    }
}
