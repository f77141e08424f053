//! Timers: `set_timeout`, `set_interval`, `clear_timeout`, `refresh`, and the
//! timers phase.
//!
//! # Data structure (Node's timer lists)
//!
//! Timers live in a generational slab. The queued ones are also threaded,
//! through links in their own entries, into one doubly-linked list per
//! delay, in `(due, seq)` order; a min-heap holds one entry per list, keyed
//! by the list's first timer. Timers of one delay are started from a clock
//! that does not go back, so a new one goes at the tail of its list: O(1),
//! and nothing is written but the new entry (at the end of the slab, where
//! the last one was written) and the previous tail's link. Firing a timer
//! takes its list's head and re-keys one heap entry in a heap of one entry
//! per delay in use (a thousand for a million timers over a thousand
//! delays, which stays in cache). Clearing or restarting a timer unlinks
//! it: O(1), its callback dropped at once, nothing left behind to skip.
//!
//! An interval re-armed from the time its callback started may belong
//! before the tail of its list: it is inserted in its place, walking back
//! from the tail. A list's heap entry is a lower bound on its first timer
//! (unlinking the first timer does not touch the heap); when it reaches the
//! top it is re-keyed to the list's first timer, or dropped with its list if
//! the list is empty, or dropped alone if the list has a newer entry. So a
//! timer restarted on every read (an idle timeout) costs no heap operation
//! per restart, and the heap holds about one entry per delay in use.
//!
//! # Node's and libuv's rules kept here
//!
//! - A delay is whole milliseconds, rounded up; 0 (or more than
//!   2,147,483,647 ms) becomes 1 ms, as in Node.
//! - Equal deadlines fire in start order: the queue is keyed by
//!   `(due, seq)`, `seq` counting every start and restart.
//! - `set_timeout` measures from the current time (read now), not from the
//!   loop time cached at the start of the iteration.
//! - A timers pass runs the timers due at the loop time it began with
//!   (libuv 1.48 and later collect them first): a timer started by a timer
//!   callback, even with a zero delay, waits for the next pass, so a
//!   self-rearming timer cannot busy-loop; a timer cleared by an earlier
//!   callback of the same pass does not fire. Every delay is at least 1 ms
//!   and measured from a clock no earlier than the pass's time, so a timer
//!   armed during the pass is never due in it: taking timers off the queue
//!   one by one is the same as collecting them first.
//! - An interval re-arms from the time its callback starts; an overdue
//!   interval runs once per pass, with no burst to catch up.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::time::Duration;

use eventide_reactor::slab::{Key, Slab};

use crate::clock::duration_ns;
use crate::event_loop::Loop;
use crate::handle::Timer;
use crate::trace::CallbackKind;

/// Node's `TIMEOUT_MAX`: longer delays are treated as 1 ms.
const TIMEOUT_MAX_MS: u64 = 2_147_483_647;
const MS: u64 = 1_000_000;
/// No entry: the end of a list.
const NIL: u32 = u32::MAX;

/// A timer's closure, a timeout's `FnOnce` or an interval's `FnMut`, behind
/// one pointer (a million timers are a million entries).
trait TimerFn {
    /// Runs the callback; gives it back if it is to run again (an
    /// interval's).
    fn fire(self: Box<Self>, lp: &mut Loop) -> Option<Box<dyn TimerFn>>;
}

struct Once<F>(F);

impl<F: FnOnce(&mut Loop) + 'static> TimerFn for Once<F> {
    fn fire(self: Box<Self>, lp: &mut Loop) -> Option<Box<dyn TimerFn>> {
        (self.0)(lp);
        None
    }
}

struct Every<F>(F);

impl<F: FnMut(&mut Loop) + 'static> TimerFn for Every<F> {
    fn fire(mut self: Box<Self>, lp: &mut Loop) -> Option<Box<dyn TimerFn>> {
        (self.0)(lp);
        Some(self)
    }
}

/// What a timer calls: a closure, or a plain function with a key, for which
/// nothing is allocated ([`Loop::set_timeout_keyed`]).
enum TimerCb {
    Boxed(Box<dyn TimerFn>),
    Keyed(fn(&mut Loop, Key), Key),
}

impl TimerCb {
    /// Runs the callback; gives it back if it can run again (an interval's
    /// closure, or a plain function).
    fn fire(self, lp: &mut Loop) -> Option<TimerCb> {
        match self {
            TimerCb::Boxed(f) => f.fire(lp).map(TimerCb::Boxed),
            TimerCb::Keyed(f, key) => {
                f(lp, key);
                Some(self)
            }
        }
    }
}

pub(crate) struct TimerEntry {
    /// `None` while an interval's callback runs.
    cb: Option<TimerCb>,
    /// When it is due, while queued.
    due: u64,
    /// Sequence number of its current arming; 0 while not queued.
    seq: u64,
    /// Its neighbours in its delay's list (slab indexes), while queued.
    prev: u32,
    next: u32,
    delay_ms: u32,
    repeat: bool,
    pub(crate) referenced: bool,
}

impl TimerEntry {
    fn order(&self) -> (u64, u64) {
        (self.due, self.seq)
    }
}

/// The queued timers of one delay, first to fire first.
struct List {
    head: u32,
    tail: u32,
    /// The `(due, seq)` of the last timer, kept here so that appending reads
    /// nothing from the tail's entry (a thousand lists' tails do not all
    /// stay in cache).
    last: (u64, u64),
    /// The `(due, seq)` its current heap entry stands for: at most the
    /// first timer's.
    key: (u64, u64),
}

/// A heap entry: the list of a delay, keyed by (a lower bound on) its first
/// timer. It is current while its list's `key` is the same: a list removed
/// and made again, or given an earlier first timer, has another key (keys
/// hold a `seq`, never reused).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Head {
    due: u64,
    seq: u64,
    delay_ms: u32,
}

/// Hashes a delay with one multiplication (FxHash's constant): delays are
/// chosen by the program, not by a peer.
#[derive(Default)]
struct DelayHasher(u64);

impl Hasher for DelayHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

#[derive(Default)]
pub(crate) struct Timers {
    pub(crate) entries: Slab<TimerEntry>,
    /// The lists, by delay; an emptied one stays until its heap entry
    /// reaches the top.
    lists: HashMap<u32, List, BuildHasherDefault<DelayHasher>>,
    heads: BinaryHeap<Reverse<Head>>,
    /// What [`Timers::first`] found, until a timer is linked or unlinked:
    /// each loop iteration asks twice (the poll timeout, the timers phase),
    /// mostly with nothing changed in between.
    first_found: Option<Option<Key>>,
    /// The interval whose callback is running (taken out of its entry).
    /// Still set when `run` is entered again only if that callback panicked.
    running: Option<Key>,
}

/// Node's delay rule, in whole milliseconds.
fn delay_ms(delay: Duration) -> u32 {
    let ms = duration_ns(delay).div_ceil(MS);
    if (1..=TIMEOUT_MAX_MS).contains(&ms) {
        ms as u32
    } else {
        1
    }
}

/// When a timer started at `from` with `delay_ms` is due.
fn due_at(from: u64, delay_ms: u32) -> u64 {
    from.saturating_add(u64::from(delay_ms) * MS)
}

impl Timers {
    /// Queues `key` to fire `delay_ms` after `from`, with sequence number
    /// `seq` (fresh, so the largest yet); unqueues it first if queued.
    fn arm(&mut self, key: Key, from: u64, seq: u64) {
        let Some(e) = self.entries.get(key) else {
            return;
        };
        if e.seq != 0 {
            self.unlink(key);
        }
        let e = self.entries.get_mut(key).expect("checked above");
        e.seq = seq;
        e.due = due_at(from, e.delay_ms);
        self.link(key);
    }

    /// Puts a timer that is not queued, its `due` and `seq` set, in its list.
    fn link(&mut self, key: Key) {
        self.first_found = None;
        let e = self.entries.get(key).expect("link a live timer");
        let (order, delay) = (e.order(), e.delay_ms);
        let index = key.index();
        let list = self.lists.entry(delay).or_insert(List {
            head: NIL,
            tail: NIL,
            last: (0, 0),
            key: (u64::MAX, u64::MAX),
        });
        // The last timer that fires before this one: the tail, unless an
        // interval was re-armed from the past (then walk back).
        let mut after = list.tail;
        if list.last > order {
            while after != NIL {
                let a = self
                    .entries
                    .get_at(after)
                    .expect("lists link live entries")
                    .1;
                if a.order() <= order {
                    break;
                }
                after = a.prev;
            }
        }
        let next = match after {
            NIL => std::mem::replace(&mut list.head, index),
            a => {
                let a = self.entries.get_at_mut(a).expect("lists link live entries");
                std::mem::replace(&mut a.next, index)
            }
        };
        match next {
            NIL => (list.tail, list.last) = (index, order),
            n => {
                self.entries
                    .get_at_mut(n)
                    .expect("lists link live entries")
                    .prev = index
            }
        }
        if order < list.key {
            // A new first timer: a new heap entry; the old one is dropped
            // when it reaches the top.
            list.key = order;
            self.heads.push(Reverse(Head {
                due: order.0,
                seq: order.1,
                delay_ms: delay,
            }));
        }
        let e = self.entries.get_mut(key).expect("checked above");
        (e.prev, e.next) = (after, next);
    }

    /// Takes a queued timer out of its list. An emptied list stays (with its
    /// heap entry) until that entry reaches the top: a timer restarted again
    /// and again (an idle timeout pushed back on every read) then moves
    /// within its list and never touches the heap.
    fn unlink(&mut self, key: Key) {
        self.first_found = None;
        let e = self.entries.get_mut(key).expect("unlink a live timer");
        let (prev, next, delay) = (e.prev, e.next, e.delay_ms);
        (e.prev, e.next, e.seq) = (NIL, NIL, 0);
        let list = self
            .lists
            .get_mut(&delay)
            .expect("a queued timer has a list");
        match prev {
            NIL => list.head = next,
            p => {
                self.entries
                    .get_at_mut(p)
                    .expect("lists link live entries")
                    .next = next
            }
        }
        match next {
            NIL => {
                list.tail = prev;
                if let Some((_, p)) = self.entries.get_at(prev) {
                    list.last = p.order();
                }
            }
            n => {
                self.entries
                    .get_at_mut(n)
                    .expect("lists link live entries")
                    .prev = prev
            }
        }
    }

    /// The timer that fires first.
    fn first(&mut self) -> Option<Key> {
        if let Some(found) = self.first_found {
            return found;
        }
        let found = self.find_first();
        self.first_found = Some(found);
        found
    }

    /// [`Timers::first`], looked for: drops stale heap entries on the way.
    fn find_first(&mut self) -> Option<Key> {
        loop {
            let Reverse(top) = *self.heads.peek()?;
            let list = match self.lists.get_mut(&top.delay_ms) {
                Some(list) if list.key == (top.due, top.seq) => list,
                // The list was removed, or got an earlier first timer with a
                // heap entry of its own.
                _ => {
                    self.heads.pop();
                    continue;
                }
            };
            if list.head == NIL {
                self.heads.pop();
                self.lists.remove(&top.delay_ms);
                continue;
            }
            let (key, e) = self
                .entries
                .get_at(list.head)
                .expect("lists link live entries");
            if e.order() == list.key {
                return Some(key);
            }
            // Its first timer was unlinked: the entry now stands for the
            // next one, which is later, so it sinks.
            list.key = e.order();
            *self.heads.peek_mut().expect("peeked above") = Reverse(Head {
                due: e.due,
                seq: e.seq,
                delay_ms: top.delay_ms,
            });
        }
    }

    /// Unqueues and returns the first timer if it is due at `now`, with its
    /// due time.
    fn pop_due(&mut self, now: u64) -> Option<(Key, u64)> {
        let key = self.first()?;
        let due = self.entries.get(key).expect("first is live").due;
        if due > now {
            return None;
        }
        self.unlink(key);
        Some((key, due))
    }

    /// The earliest due time of a queued timer.
    pub(crate) fn next_due(&mut self) -> Option<u64> {
        let key = self.first()?;
        self.entries.get(key).map(|e| e.due)
    }

    /// Whether no timer is queued (every list has a heap entry until it is
    /// removed).
    fn is_idle(&self) -> bool {
        self.heads.is_empty()
    }

    /// Timers started and not yet fired or cleared.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }
}

impl Loop {
    fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn timer_start(&mut self, delay: Duration, cb: TimerCb, repeat: bool) -> Timer {
        let delay_ms = delay_ms(delay);
        let (from, seq) = (self.clock.read(), self.next_seq());
        let key = self.timers.entries.insert(TimerEntry {
            cb: Some(cb),
            due: due_at(from, delay_ms),
            seq,
            prev: NIL,
            next: NIL,
            delay_ms,
            repeat,
            referenced: true,
        });
        self.timers.link(key);
        self.active_refs += 1;
        Timer(key)
    }

    /// Runs `f` once, `delay` from now, in the timers phase (Node's
    /// `setTimeout`). See the [module docs](crate::timers) for the delay rules.
    pub fn set_timeout(&mut self, delay: Duration, f: impl FnOnce(&mut Loop) + 'static) -> Timer {
        self.timer_start(delay, TimerCb::Boxed(Box::new(Once(f))), false)
    }

    /// [`set_timeout`](Self::set_timeout) with a plain function, called as
    /// `f(lp, key)`: nothing is allocated, where a closure capturing the key
    /// takes a heap block (a server with a timeout per connection has as
    /// many).
    ///
    /// ```
    /// use eventide_loop_phases::{Loop, RunMode};
    /// use eventide_reactor::slab::Key;
    /// use std::time::Duration;
    ///
    /// fn expired(lp: &mut Loop, key: Key) {
    ///     lp.ext::<Vec<Key>>().push(key);
    /// }
    /// let mut lp = Loop::new_manual();
    /// let key = Key::from_parts(7, 0);
    /// lp.set_timeout_keyed(Duration::from_millis(5), key, expired);
    /// lp.run(RunMode::Default);
    /// assert_eq!(lp.ext::<Vec<Key>>().as_slice(), &[key]);
    /// ```
    pub fn set_timeout_keyed(&mut self, delay: Duration, key: Key, f: fn(&mut Loop, Key)) -> Timer {
        self.timer_start(delay, TimerCb::Keyed(f, key), false)
    }

    /// Runs `f` every `delay`, first `delay` from now (Node's `setInterval`).
    pub fn set_interval(&mut self, delay: Duration, f: impl FnMut(&mut Loop) + 'static) -> Timer {
        self.timer_start(delay, TimerCb::Boxed(Box::new(Every(f))), true)
    }

    /// Cancels a timer (Node's `clearTimeout`): its callback is dropped at
    /// once. Safe from any callback, including the timer's own and one that
    /// runs earlier in the same timers pass. Returns `false` if the timer had
    /// already fired (a timeout) or been cleared.
    pub fn clear_timeout(&mut self, t: Timer) -> bool {
        self.timer_remove(t.0)
    }

    /// Cancels an interval (Node's `clearInterval`); the same as
    /// [`Loop::clear_timeout`].
    pub fn clear_interval(&mut self, t: Timer) -> bool {
        self.timer_remove(t.0)
    }

    pub(crate) fn timer_remove(&mut self, key: Key) -> bool {
        match self.timers.entries.get(key) {
            None => return false,
            Some(e) if e.seq != 0 => self.timers.unlink(key),
            Some(_) => {}
        }
        let entry = self.timers.entries.remove(key).expect("checked above");
        if entry.referenced {
            self.active_refs -= 1;
        }
        true
    }
    /// Restarts a timer's countdown from now with its original delay (Node's
    /// `timeout.refresh()`), e.g. to push back an idle timeout on activity.
    /// Returns `false` if the timer already fired (a timeout: its `FnOnce`
    /// callback is gone, unlike Node where a function can run twice) or was
    /// cleared.
    pub fn refresh(&mut self, t: Timer) -> bool {
        if !self.timers.entries.contains(t.0) {
            return false;
        }
        let (from, seq) = (self.clock.read(), self.next_seq());
        self.timers.arm(t.0, from, seq);
        true
    }

    /// Restarts a pending timer with a new delay, from now (libuv's
    /// `uv_timer_start` on an active timer). One timer can so serve a
    /// sequence of deadlines (a connection's headers, body and keep-alive
    /// timeouts) without a new callback each time. Returns `false` if the
    /// timer already fired or was cleared.
    pub fn restart_timer(&mut self, t: Timer, delay: Duration) -> bool {
        let Some(e) = self.timers.entries.get(t.0) else {
            return false;
        };
        if e.seq != 0 {
            // Out of the list of its old delay before the delay changes.
            self.timers.unlink(t.0);
        }
        let e = self.timers.entries.get_mut(t.0).expect("checked above");
        e.delay_ms = delay_ms(delay);
        let (from, seq) = (self.clock.read(), self.next_seq());
        self.timers.arm(t.0, from, seq);
        true
    }

    /// Timers started and not yet fired or cleared (intervals count until
    /// cleared).
    pub fn active_timers(&self) -> usize {
        self.timers.len()
    }

    /// The timers phase: runs every timer due at the cached loop time, then
    /// expires operations past their deadline. With neither, it costs two
    /// inlined tests.
    #[inline]
    pub(crate) fn run_timers(&mut self) {
        if !self.timers.is_idle() {
            self.run_due_timers();
        }
        if !self.ops.is_empty() {
            self.expire_ops();
        }
    }

    fn run_due_timers(&mut self) {
        let now = self.now;
        // Taken off the queue as it runs, so that if a callback panics, the
        // rest stay queued for the next pass.
        while let Some((key, due)) = self.timers.pop_due(now) {
            self.metrics.timer_lag.record(now.saturating_sub(due));
            let entry = self.timers.entries.get(key).expect("popped a live timer");
            if entry.repeat {
                self.run_interval(key);
            } else {
                let entry = self.timers.entries.remove(key).expect("present above");
                if entry.referenced {
                    self.active_refs -= 1;
                }
                if let Some(f) = entry.cb {
                    self.invoke(CallbackKind::Timeout, "timeout", |lp| {
                        f.fire(lp);
                    });
                }
            }
        }
    }

    fn run_interval(&mut self, key: Key) {
        let Some(f) = self.timers.entries.get_mut(key).and_then(|e| e.cb.take()) else {
            return;
        };
        let started = self.clock.read();
        self.timers.running = Some(key);
        let mut again = None;
        self.invoke(CallbackKind::Interval, "interval", |lp| again = f.fire(lp));
        self.timers.running = None;
        // Cleared by its own callback: the entry is gone and `again` drops here.
        let Some(entry) = self.timers.entries.get_mut(key) else {
            return;
        };
        entry.cb = again;
        if entry.seq == 0 {
            let seq = self.next_seq();
            self.timers.arm(key, started, seq);
        }
    }

    /// Clears the interval whose callback panicked, if one did: its callback
    /// is gone, so it would otherwise stay active without ever being queued.
    pub(crate) fn recover_timers(&mut self) {
        if let Some(key) = self.timers.running.take() {
            self.timer_remove(key);
        }
    }

    /// The earliest due timer, in loop time.
    pub(crate) fn next_timer_due(&mut self) -> Option<u64> {
        self.timers.next_due()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, HashMap};

    #[derive(Clone, Debug)]
    enum Op {
        /// Starts (or restarts) the timer in `slot` with `delay` ms, from
        /// time `from` ms: any order, so that lists get out-of-order inserts.
        Start {
            slot: usize,
            delay: u32,
            from: u64,
        },
        Clear(usize),
        /// Takes every timer due at `now` ms.
        Pop(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0usize..12, 1u32..5, 0u64..30)
                .prop_map(|(slot, delay, from)| Op::Start { slot, delay, from }),
            1 => (0usize..12).prop_map(Op::Clear),
            2 => (0u64..40).prop_map(Op::Pop),
        ]
    }

    proptest! {
        /// The lists and their heap give what a sorted set of `(due, seq)`
        /// gives, under any interleaving of starts, restarts with another
        /// delay, clears and pops.
        #[test]
        fn lists_match_a_sorted_model(ops in proptest::collection::vec(op(), 1..300)) {
            let mut t = Timers::default();
            let mut keys: HashMap<usize, Key> = HashMap::new();
            let mut model: BTreeSet<(u64, u64, usize)> = BTreeSet::new();
            let mut queued: HashMap<usize, (u64, u64)> = HashMap::new();
            for (n, op) in ops.into_iter().enumerate() {
                let seq = n as u64 + 1;
                match op {
                    Op::Start { slot, delay, from } => {
                        let key = *keys.entry(slot).or_insert_with(|| {
                            t.entries.insert(TimerEntry {
                                cb: None,
                                due: 0,
                                seq: 0,
                                prev: NIL,
                                next: NIL,
                                delay_ms: delay,
                                repeat: false,
                                referenced: true,
                            })
                        });
                        if t.entries.get(key).is_some_and(|e| e.seq != 0) {
                            t.unlink(key);
                        }
                        t.entries.get_mut(key).unwrap().delay_ms = delay;
                        t.arm(key, from * MS, seq);
                        if let Some((due, s)) = queued.remove(&slot) {
                            model.remove(&(due, s, slot));
                        }
                        let due = (from + u64::from(delay)) * MS;
                        model.insert((due, seq, slot));
                        queued.insert(slot, (due, seq));
                    }
                    Op::Clear(slot) => {
                        if let Some(key) = keys.remove(&slot) {
                            if t.entries.get(key).is_some_and(|e| e.seq != 0) {
                                t.unlink(key);
                            }
                            t.entries.remove(key);
                        }
                        if let Some((due, s)) = queued.remove(&slot) {
                            model.remove(&(due, s, slot));
                        }
                    }
                    Op::Pop(now) => {
                        while let Some((key, due)) = t.pop_due(now * MS) {
                            let first = model.pop_first().expect("the model has one too");
                            prop_assert_eq!((due, key), (first.0, keys[&first.2]));
                            queued.remove(&first.2);
                        }
                        prop_assert!(model.first().is_none_or(|f| f.0 > now * MS));
                    }
                }
                prop_assert_eq!(t.next_due(), model.first().map(|f| f.0));
                prop_assert_eq!(t.is_idle(), model.is_empty());
            }
        }
    }

    /// An idle timeout pushed back on every read: the heap keeps one entry,
    /// however many times the timer is restarted.
    #[test]
    fn restarting_a_timer_does_not_grow_the_heap() {
        let mut t = Timers::default();
        let key = t.entries.insert(TimerEntry {
            cb: None,
            due: 0,
            seq: 0,
            prev: NIL,
            next: NIL,
            delay_ms: 30_000,
            repeat: false,
            referenced: true,
        });
        for seq in 1..=100_000 {
            t.arm(key, seq * 1_000, seq);
        }
        assert_eq!(t.heads.len(), 1);
        assert_eq!(t.next_due(), Some(100_000 * 1_000 + 30_000 * MS));
        assert_eq!(t.heads.len(), 1);
    }

    #[test]
    fn node_delay_rules() {
        assert_eq!(delay_ms(Duration::ZERO), 1);
        assert_eq!(delay_ms(Duration::from_micros(1)), 1);
        assert_eq!(delay_ms(Duration::from_micros(1500)), 2);
        assert_eq!(delay_ms(Duration::from_millis(7)), 7);
        assert_eq!(
            delay_ms(Duration::from_millis(TIMEOUT_MAX_MS)),
            TIMEOUT_MAX_MS as u32
        );
        assert_eq!(delay_ms(Duration::from_millis(TIMEOUT_MAX_MS + 1)), 1);
    }
}
