//! `Loop::run`: libuv's `uv_run`, and the phases it calls that have no module
//! of their own (poll, check, close).

use std::time::{Duration, Instant};

use crate::event_loop::Loop;
use crate::handle::WatcherKind;
use crate::trace::{CallbackKind, Phase, TraceEvent};

/// How long [`Loop::run`] runs (libuv's `uv_run_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Run until nothing keeps the loop alive, or [`Loop::stop`] is called.
    Default,
    /// Run one iteration, blocking in poll if there is nothing else to do
    /// (so at least one callback runs, when the loop is alive).
    Once,
    /// Run one iteration without blocking.
    NoWait,
}

/// How long the poll phase may block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Not at all: work is waiting.
    NoBlock,
    /// Until this loop time (ns): the next timer or operation deadline.
    Until(u64),
    /// Until I/O wakes the loop.
    Forever,
}

/// After poll, the pending queue runs again up to this many times (libuv:
/// "process immediate callbacks (e.g. write_cb) a small fixed number of times
/// to avoid loop starvation").
const PENDING_PASSES_AFTER_POLL: usize = 8;

impl Loop {
    /// Runs the loop (libuv's `uv_run`). One iteration is:
    ///
    /// 1. update the cached time, run due **timers**;
    /// 2. run **pending** callbacks (deferred from the previous poll);
    /// 3. run **idle** handles, then **prepare** handles;
    /// 4. **poll** for I/O, blocking at most until the next timer (not at all
    ///    when idle handles, pending callbacks, immediates or close callbacks
    ///    are waiting, or after `stop`), and run I/O callbacks;
    /// 5. run **check** handles and immediates;
    /// 6. run **close** callbacks.
    ///
    /// Between any two callbacks the nextTick queue and then the microtask
    /// queue drain. As in libuv 1.48 and later, timers run at the end of each
    /// iteration (after the close phase), and once before the first one in
    /// `Default` mode: the order above is the same, seen from one iteration
    /// to the next.
    ///
    /// Returns whether the loop is still alive: in `Default` mode, `true` only
    /// if it returned because of [`Loop::stop`]; in `Once` and `NoWait`, whether
    /// more callbacks are expected.
    ///
    /// # Panics
    ///
    /// A panic in a callback propagates to the caller of `run`; the callback
    /// that panicked is dropped, the loop's own state stays consistent, and
    /// `run` may be called again: the callbacks queued behind it (timers due
    /// in the same pass, pending callbacks, the rest of the poll batch, close
    /// callbacks, ...) still run. An interval whose callback panicked is
    /// cleared, and an idle, prepare or check handle stopped; an I/O watch or
    /// async handle stays open without a callback until closed.
    pub fn run(&mut self, mode: RunMode) -> bool {
        // Left over if a callback panicked out of the previous `run`.
        self.draining = false;
        self.recover_timers();
        // Like the end of Node's main script: ticks queued before the loop starts.
        self.drain_ticks();
        let mut alive = self.is_alive();
        if !alive {
            self.update_time();
        }
        if mode == RunMode::Default && alive && !self.stop_flag {
            self.update_time();
            self.run_phase(Phase::Timers, Loop::run_timers);
        }
        while alive && !self.stop_flag {
            self.metrics.iterations += 1;
            if self.trace.is_some() {
                let iteration = self.metrics.iterations;
                self.emit(TraceEvent::IterationStart { iteration });
            }
            let can_sleep =
                self.pending.is_empty() && !self.watchers.has_idle() && !self.has_ref_immediates();
            self.run_phase(Phase::Pending, Loop::run_pending);
            self.run_phase(Phase::Idle, |lp| {
                lp.run_watchers(WatcherKind::Idle, CallbackKind::Idle, "idle")
            });
            self.run_phase(Phase::Prepare, |lp| {
                lp.run_watchers(WatcherKind::Prepare, CallbackKind::Prepare, "prepare")
            });
            let wait = match mode {
                RunMode::Default => self.backend_wait(),
                RunMode::Once if can_sleep => self.backend_wait(),
                _ => Wait::NoBlock,
            };
            self.run_phase(Phase::Poll, |lp| lp.io_poll(wait));
            for _ in 0..PENDING_PASSES_AFTER_POLL {
                if self.pending.is_empty() {
                    break;
                }
                self.run_phase(Phase::Pending, Loop::run_pending);
            }
            self.run_phase(Phase::Check, Loop::run_check);
            self.run_phase(Phase::Close, Loop::run_closing_handles);
            self.update_time();
            self.run_phase(Phase::Timers, Loop::run_timers);
            alive = self.is_alive();
            if mode != RunMode::Default {
                break;
            }
        }
        self.stop_flag = false;
        alive
    }

    /// Runs one phase, reporting its entry and exit to the trace hook.
    fn run_phase(&mut self, phase: Phase, f: impl FnOnce(&mut Loop)) {
        self.phase = phase;
        if self.trace.is_none() {
            f(self);
        } else {
            self.emit(TraceEvent::PhaseStart(phase));
            let start = Instant::now();
            f(self);
            self.emit(TraceEvent::PhaseEnd {
                phase,
                elapsed: start.elapsed(),
            });
        }
    }

    /// How long the poll may block (libuv's `uv__backend_timeout`): not at
    /// all when there is work that must not wait, until the next timer or
    /// operation deadline, or forever when nothing but I/O can wake the loop.
    fn backend_wait(&mut self) -> Wait {
        let must_not_block = self.stop_flag
            || (self.active_refs == 0 && self.active_reqs == 0)
            || !self.pending.is_empty()
            || !self.feeds.is_empty()
            || self.watchers.has_idle()
            || self.has_ref_immediates()
            || !self.closing.is_empty();
        if must_not_block {
            return Wait::NoBlock;
        }
        match (self.next_timer_due(), self.next_op_deadline()) {
            (Some(a), Some(b)) => Wait::Until(a.min(b)),
            (Some(due), None) | (None, Some(due)) => Wait::Until(due),
            (None, None) => Wait::Forever,
        }
    }

    /// The poll phase: waits for readiness, then runs async handles and I/O
    /// callbacks, and queues finished work for the pending phase.
    fn io_poll(&mut self, wait: Wait) {
        // A poll that may block reads the clock once before it: for the
        // timeout and for the time spent blocked. Timers are armed from a
        // fresh clock read (Node's rule), so the wait is measured from a
        // fresh read too: from the cached time it would be up to one
        // iteration too long, and mio's rounding up to whole milliseconds
        // would make a 1 ms timer wait 2. A poll that cannot block is not
        // timed: one clock read less per iteration of a busy loop.
        let blocked_since = (wait != Wait::NoBlock).then(|| self.clock.read());
        let mut timeout = match (wait, blocked_since) {
            (Wait::Until(due), Some(since)) => Some(due.saturating_sub(since)),
            (Wait::Forever, _) => None,
            _ => Some(0),
        };
        // Events and async signals read by a poll whose callbacks a panic cut
        // short are delivered first, without waiting for new ones.
        if self.event_next < self.events.len() || !self.signaled.is_empty() {
            timeout = Some(0);
        }
        if self.trace.is_some() {
            let timeout = timeout.map(Duration::from_nanos);
            self.emit(TraceEvent::PollStart { timeout });
        }
        let os_timeout = match timeout {
            // A manual clock never sleeps for a timer: it jumps to it below.
            Some(_) if self.clock.is_manual() => Some(Duration::ZERO),
            t => t.map(Duration::from_nanos),
        };
        let polled = match self.reactor.poll(os_timeout, &mut self.events) {
            Ok(p) => p,
            Err(e) => panic!("the OS poller failed, the loop cannot continue: {e}"),
        };
        // Readiness fed back by callbacks of earlier iterations joins the
        // batch; feeds queued by this batch's callbacks wait for the next one.
        self.events.append(&mut self.feeds);
        if self.clock.is_manual()
            && let Some(t) = timeout.filter(|t| *t > 0)
            && polled.events == 0
            && !polled.woken
        {
            // Nothing happened: time jumps to the next timer. On a manual
            // clock idle time is manual time too (see `Metrics::idle`).
            self.clock.advance_to(self.now.saturating_add(t));
            self.metrics.idle += Duration::from_nanos(t);
        }
        // As libuv's `uv__io_poll`: the callbacks that follow see the time
        // the poll returned, not the time the iteration began (the poll may
        // have blocked for long, or the OS rescheduled the thread). A poll
        // that did not reach the OS took no time worth a clock read. The
        // same read ends the time spent blocked.
        if !polled.skipped || self.clock.is_manual() {
            self.update_time();
        }
        let mut blocked = Duration::ZERO;
        if let Some(since) = blocked_since.filter(|_| !self.clock.is_manual()) {
            let until = if polled.skipped {
                self.clock.read()
            } else {
                self.now
            };
            blocked = Duration::from_nanos(until.saturating_sub(since));
            self.metrics.idle += blocked;
        }
        self.metrics.events += polled.events as u64;
        self.metrics.stale_events += polled.stale as u64;
        if self.trace.is_some() {
            let ev = TraceEvent::PollEnd {
                blocked,
                events: polled.events,
            };
            self.emit(ev);
        }
        if polled.woken {
            self.collect_completions();
        }
        if polled.woken || !self.signaled.is_empty() {
            self.run_async();
        }
        // Indexing (rather than draining a local batch) keeps the rest of the
        // batch if a callback panics.
        while let Some(&ev) = self.events.get(self.event_next) {
            self.event_next += 1;
            // An earlier callback of this batch may have closed the watcher,
            // and its descriptor may even have been reused: then the event is
            // stale and must not reach the new owner.
            match self.reactor.watcher(ev.watcher) {
                Some(w) => {
                    let h = w.data;
                    if self.trace.is_some() {
                        let label = self.handle_label(h).unwrap_or("io");
                        self.emit(TraceEvent::Demux {
                            fd: ev.watcher.fd(),
                            generation: ev.watcher.generation(),
                            handle: h,
                            label,
                            readiness: ev.readiness,
                        });
                    }
                    self.dispatch_io(h, ev.readiness);
                }
                None => self.metrics.stale_events += 1,
            }
        }
        self.events.clear();
        self.event_next = 0;
    }

    /// The check phase: check handles, then immediates (Node's check handle is
    /// the first one started, so libuv runs it after the others).
    fn run_check(&mut self) {
        self.run_watchers(WatcherKind::Check, CallbackKind::Check, "check");
        self.run_immediates();
    }

    /// The close phase: close callbacks, most recently closed first, as libuv
    /// (its closing list is a stack). Handles closed by these callbacks wait
    /// for the next iteration.
    #[inline]
    fn run_closing_handles(&mut self) {
        if !self.closing.is_empty() {
            self.run_closing_pass();
        }
    }

    fn run_closing_pass(&mut self) {
        // The handles closed before the phase began, most recent first.
        // Handles closed by these callbacks are pushed after them, and wait.
        // Removing in place (rather than taking the list out) keeps the rest
        // if a callback panics.
        let mut n = self.closing.len();
        while n > 0 {
            n -= 1;
            let (h, cb) = self.closing.remove(n);
            let label = match h {
                crate::AnyHandle::Handle(id) => self.handle_label(id).unwrap_or("handle"),
                crate::AnyHandle::Timer(_) => "timer",
                crate::AnyHandle::Immediate(_) => "immediate",
            };
            self.handle_finish_close(h);
            if let Some(cb) = cb {
                self.invoke(CallbackKind::Close, label, cb);
            }
        }
    }
}
