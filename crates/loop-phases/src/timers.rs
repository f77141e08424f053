//! Timers: `set_timeout`, `set_interval`, `clear_timeout`, `refresh`, and the
//! timers phase.
//!
//! Timers live in a generational slab; their deadlines in a
//! [`DeadlineQueue`] keyed by `(due, seq)`, so equal deadlines fire in start
//! order. Starting is O(log n); clearing removes the slab entry at once (the
//! callback and what it captured are dropped immediately) and leaves the queue
//! entry to be skipped: O(1), with the queue compacting itself when cancelled
//! entries pile up.
//!
//! # Node's and libuv's rules kept here
//!
//! - A delay is whole milliseconds, rounded up; 0 (or more than
//!   2,147,483,647 ms) becomes 1 ms, as in Node.
//! - `set_timeout` measures from the current time (read now), not from the
//!   loop time cached at the start of the iteration.
//! - The timers phase first collects every timer that is due, then runs them
//!   (libuv 1.48 and later): a timer started by a timer callback, even with a
//!   zero delay, waits for the next pass, so a self-rearming timer cannot
//!   busy-loop; a timer cleared by an earlier callback of the same pass does
//!   not fire.
//! - An interval re-arms from the time its callback starts; an overdue
//!   interval runs once per pass, with no burst to catch up.

use std::collections::VecDeque;
use std::time::Duration;

use eventide_reactor::deadline::DeadlineQueue;
use eventide_reactor::slab::{Key, Slab};

use crate::clock::duration_ns;
use crate::event_loop::Loop;
use crate::handle::{RepeatCb, Task, Timer};
use crate::trace::CallbackKind;

/// Node's `TIMEOUT_MAX`: longer delays are treated as 1 ms.
const TIMEOUT_MAX_MS: u64 = 2_147_483_647;
const MS: u64 = 1_000_000;

pub(crate) enum TimerCb {
    Once(Task),
    Repeat(RepeatCb),
}

pub(crate) struct TimerEntry {
    /// Sequence number of this timer's current queue entry; 0 while not queued.
    seq: u64,
    delay_ms: u32,
    repeat: bool,
    pub(crate) referenced: bool,
    cb: Option<TimerCb>,
}

#[derive(Default)]
pub(crate) struct Timers {
    pub(crate) entries: Slab<TimerEntry>,
    queue: DeadlineQueue,
    /// The timers of the current pass, `(key, due)`, taken off the queue
    /// before any runs. Kept here rather than in a local so that if a
    /// callback panics, the rest still run in the next pass.
    ready: VecDeque<(Key, u64)>,
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

impl Timers {
    fn is_live(entries: &Slab<TimerEntry>) -> impl Fn(u64, u64) -> bool + '_ {
        |key, seq| {
            entries
                .get(Key::from_u64(key))
                .is_some_and(|e| e.seq == seq)
        }
    }

    /// Queues `key` to fire `delay_ms` after `from`, with a fresh sequence number.
    fn arm(&mut self, key: Key, from: u64, seq: u64) {
        let Some(e) = self.entries.get_mut(key) else {
            return;
        };
        if e.seq != 0 {
            e.seq = 0;
            self.queue.note_cancelled(Self::is_live(&self.entries));
        }
        let e = self.entries.get_mut(key).expect("checked above");
        e.seq = seq;
        let due = from.saturating_add(u64::from(e.delay_ms) * MS);
        self.queue.push(due, seq, key.to_u64());
    }

    /// The earliest due time of a live timer.
    pub(crate) fn next_due(&mut self) -> Option<u64> {
        if let Some(&(_, due)) = self.ready.front() {
            // Left over by a pass a panic cut short: due already.
            return Some(due);
        }
        let Timers { entries, queue, .. } = self;
        queue.peek(Self::is_live(entries)).map(|d| d.due)
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
        let key = self.timers.entries.insert(TimerEntry {
            seq: 0,
            delay_ms: delay_ms(delay),
            repeat,
            referenced: true,
            cb: Some(cb),
        });
        let (from, seq) = (self.clock.read(), self.next_seq());
        self.timers.arm(key, from, seq);
        self.active_refs += 1;
        Timer(key)
    }

    /// Runs `f` once, `delay` from now, in the timers phase (Node's
    /// `setTimeout`). See the [module docs](crate::timers) for the delay rules.
    pub fn set_timeout(&mut self, delay: Duration, f: impl FnOnce(&mut Loop) + 'static) -> Timer {
        self.timer_start(delay, TimerCb::Once(Box::new(f)), false)
    }

    /// Runs `f` every `delay`, first `delay` from now (Node's `setInterval`).
    pub fn set_interval(&mut self, delay: Duration, f: impl FnMut(&mut Loop) + 'static) -> Timer {
        self.timer_start(delay, TimerCb::Repeat(Box::new(f)), true)
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
        let Some(entry) = self.timers.entries.remove(key) else {
            return false;
        };
        if entry.referenced {
            self.active_refs -= 1;
        }
        if entry.seq != 0 {
            let Timers { entries, queue, .. } = &mut self.timers;
            queue.note_cancelled(Timers::is_live(entries));
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
        let Some(e) = self.timers.entries.get_mut(t.0) else {
            return false;
        };
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

    /// The timers phase: runs every timer due at the cached loop time.
    pub(crate) fn run_timers(&mut self) {
        let now = self.now;
        {
            // Collect first, then run (libuv 1.48): a timer started by one of
            // these callbacks waits for the next pass. A collected timer is no
            // longer queued (`seq == 0`) until it runs or is re-armed.
            let Timers {
                entries,
                queue,
                ready,
                ..
            } = &mut self.timers;
            while let Some(d) = queue.pop_due(now, Timers::is_live(entries)) {
                let key = Key::from_u64(d.key);
                if let Some(e) = entries.get_mut(key) {
                    e.seq = 0;
                }
                ready.push_back((key, d.due));
            }
        }
        while let Some((key, due)) = self.timers.ready.pop_front() {
            // An earlier callback of this pass may have cleared it (gone) or
            // refreshed it (queued again, `seq != 0`): then it does not run.
            let Some(entry) = self.timers.entries.get_mut(key).filter(|e| e.seq == 0) else {
                continue;
            };
            self.metrics.timer_lag.record(now.saturating_sub(due));
            if entry.repeat {
                self.run_interval(key);
            } else {
                let entry = self.timers.entries.remove(key).expect("present above");
                if entry.referenced {
                    self.active_refs -= 1;
                }
                if let Some(TimerCb::Once(f)) = entry.cb {
                    self.invoke(CallbackKind::Timeout, "timeout", f);
                }
            }
        }
        self.expire_ops();
    }

    fn run_interval(&mut self, key: Key) {
        let Some(TimerCb::Repeat(mut f)) =
            self.timers.entries.get_mut(key).and_then(|e| e.cb.take())
        else {
            return;
        };
        let started = self.clock.read();
        self.timers.running = Some(key);
        self.invoke(CallbackKind::Interval, "interval", |lp| f(lp));
        self.timers.running = None;
        // Cleared by its own callback: the entry is gone and `f` drops here.
        let Some(entry) = self.timers.entries.get_mut(key) else {
            return;
        };
        entry.cb = Some(TimerCb::Repeat(f));
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
