//! The `Loop` struct: its state, time, handles, liveness, and the callback
//! invocation that every phase shares.

use std::collections::VecDeque;
use std::io;
use std::time::{Duration, Instant};

use eventide_reactor::pending::PendingOps;
use eventide_reactor::slab::Slab;
use eventide_reactor::{Completion, Event, Reactor};

use crate::clock::{Clock, duration_ns};
use crate::ext::{ExtKey, Extensions};
use crate::handle::{
    ACTIVE, AnyHandle, AsHandle, CLOSING, HandleEntry, HandleId, Kind, REFERENCED, Task,
    keeps_alive,
};
use crate::immediate::Immediates;
use crate::metrics::Metrics;
use crate::ops::OpEntry;
use crate::pending::Pending;
use crate::timers::Timers;
use crate::trace::{CallbackKind, Phase, TraceEvent, TraceHook, TraceRecord};
use crate::watchers::WatcherLists;
use crate::work::WorkEntry;

/// Default high watermark of pending operations per loop (see `Loop::submit_op`).
pub const DEFAULT_OP_HIGH_WATERMARK: usize = 1024;

/// The event loop: libuv's `uv_loop_t` with Node's nextTick and microtask
/// queues.
///
/// One iteration runs, in order: update time, **timers**, **pending**
/// callbacks, **idle**, **prepare**, **poll** for I/O, **check** (immediates),
/// **close** callbacks. After every callback the nextTick queue drains, then
/// the microtask queue, until both are empty. See [`Loop::run`].
///
/// Every callback receives `&mut Loop` and may call any method, on any handle,
/// including the one whose callback is running: callbacks are taken out of
/// their slot while they run, so no borrow is held across them.
///
/// # Examples
///
/// ```
/// use eventide_loop_phases::{Loop, RunMode};
/// use std::time::Duration;
///
/// let mut lp = Loop::new_manual(); // a manual clock: no real waiting
/// lp.set_timeout(Duration::from_millis(10), |lp| {
///     lp.set_immediate(|_| println!("3: immediate, check phase"));
///     lp.next_tick(|_| println!("2: nextTick, right after the timer"));
///     println!("1: timer at {:?}", lp.now());
/// });
/// let still_alive = lp.run(RunMode::Default);
/// assert!(!still_alive);
/// assert_eq!(lp.now(), Duration::from_millis(10));
/// ```
pub struct Loop {
    pub(crate) clock: Clock,
    /// Cached loop time in nanoseconds since the epoch (libuv's `loop->time`).
    pub(crate) now: u64,
    pub(crate) created: Instant,
    pub(crate) stop_flag: bool,
    pub(crate) reactor: Reactor<HandleId>,
    pub(crate) handles: Slab<HandleEntry>,
    /// Handles that are active, referenced and not closing (timers and
    /// referenced immediates included).
    pub(crate) active_refs: usize,
    /// Outstanding requests that keep the loop alive (work, operations, user).
    pub(crate) active_reqs: usize,
    pub(crate) seq: u64,
    pub(crate) timers: Timers,
    pub(crate) pending: VecDeque<Pending>,
    pub(crate) watchers: WatcherLists,
    pub(crate) immediates: Immediates,
    pub(crate) ticks: VecDeque<Task>,
    pub(crate) microtasks: VecDeque<Task>,
    pub(crate) draining: bool,
    pub(crate) closing: Vec<(AnyHandle, Option<Task>)>,
    /// The current poll batch; `event_next` is the next one to deliver.
    pub(crate) events: Vec<Event>,
    /// Readiness re-delivered by `io_feed` in the next poll phase.
    pub(crate) feeds: Vec<Event>,
    pub(crate) event_next: usize,
    /// Async handles signaled and not yet run.
    pub(crate) signaled: VecDeque<u64>,
    pub(crate) signaled_scratch: Vec<u64>,
    pub(crate) completions: Vec<Completion>,
    pub(crate) work: Slab<WorkEntry>,
    pub(crate) ops: PendingOps<OpEntry>,
    pub(crate) phase: Phase,
    pub(crate) trace: Option<TraceHook>,
    pub(crate) metrics: Metrics,
    pub(crate) ext: Extensions,
}

impl std::fmt::Debug for Loop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Loop")
            .field("now", &self.now())
            .field("active_handles", &self.active_refs)
            .field("active_requests", &self.active_reqs)
            .field("phase", &self.phase)
            .finish_non_exhaustive()
    }
}

impl Loop {
    /// A loop on the real monotonic clock.
    ///
    /// # Errors
    ///
    /// The OS error from creating the poller (`EMFILE` when out of descriptors).
    pub fn try_new() -> io::Result<Loop> {
        Loop::with_clock(Clock::real())
    }

    /// A loop on the real monotonic clock.
    ///
    /// # Panics
    ///
    /// Panics if the OS refuses a poller; use [`Loop::try_new`] to handle that.
    pub fn new() -> Loop {
        Loop::try_new().expect("creating the OS poller (epoll/kqueue)")
    }

    /// A loop on a manual clock, for deterministic tests: time starts at zero
    /// and moves only when the loop would otherwise wait for a timer (it jumps
    /// to that timer's due time, without sleeping) or when [`Loop::advance`] is
    /// called. With no timer to jump to, the poll waits for real I/O.
    ///
    /// # Panics
    ///
    /// Panics if the OS refuses a poller.
    pub fn new_manual() -> Loop {
        Loop::with_clock(Clock::Manual { now: 0 }).expect("creating the OS poller (epoll/kqueue)")
    }

    fn with_clock(clock: Clock) -> io::Result<Loop> {
        Ok(Loop {
            clock,
            now: 0,
            created: Instant::now(),
            stop_flag: false,
            reactor: Reactor::new()?,
            handles: Slab::new(),
            active_refs: 0,
            active_reqs: 0,
            seq: 0,
            timers: Timers::default(),
            pending: VecDeque::new(),
            watchers: WatcherLists::default(),
            immediates: Immediates::default(),
            ticks: VecDeque::new(),
            microtasks: VecDeque::new(),
            draining: false,
            closing: Vec::new(),
            events: Vec::with_capacity(1024),
            feeds: Vec::new(),
            event_next: 0,
            signaled: VecDeque::new(),
            signaled_scratch: Vec::new(),
            completions: Vec::new(),
            work: Slab::new(),
            ops: PendingOps::new(DEFAULT_OP_HIGH_WATERMARK),
            phase: Phase::Timers,
            trace: None,
            metrics: Metrics::default(),
            ext: Extensions::default(),
        })
    }

    // ----- time -------------------------------------------------------------

    /// The cached loop time (libuv's `uv_now`). As libuv, the loop updates it
    /// before each timers phase and right after each poll, so I/O, check and
    /// close callbacks see the time the poll returned. Use [`Loop::hrtime`]
    /// for the time now.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.now)
    }

    /// Re-reads the clock into the cached loop time (libuv's `uv_update_time`).
    pub fn update_time(&mut self) {
        self.now = self.clock.read();
    }

    /// The current time, read now rather than cached (libuv's `uv_hrtime`,
    /// relative to the loop's creation). On a manual clock, the manual time.
    pub fn hrtime(&self) -> Duration {
        Duration::from_nanos(self.clock.read())
    }

    /// Whether this loop runs on a manual clock.
    pub fn is_manual_clock(&self) -> bool {
        self.clock.is_manual()
    }

    /// Moves a manual clock forward by `by` and updates the cached time. Timers
    /// that became due run in the next timers phase.
    ///
    /// # Panics
    ///
    /// Panics on a real-clock loop: real time cannot be advanced.
    pub fn advance(&mut self, by: Duration) {
        assert!(
            self.clock.is_manual(),
            "Loop::advance needs a manual clock (Loop::new_manual)"
        );
        let to = self.clock.read().saturating_add(duration_ns(by));
        self.clock.advance_to(to);
        self.update_time();
    }

    // ----- liveness and stop ----------------------------------------------------

    /// Whether the loop has work that keeps it running: referenced active
    /// handles, outstanding requests, pending callbacks, or close callbacks
    /// (libuv's `uv_loop_alive`).
    pub fn is_alive(&self) -> bool {
        self.active_refs > 0
            || self.active_reqs > 0
            || !self.pending.is_empty()
            || !self.closing.is_empty()
    }

    /// Referenced active handles (libuv's `active_handles` count).
    pub fn active_handles(&self) -> usize {
        self.active_refs
    }

    /// Outstanding requests: blocking work, pending operations, and requests
    /// registered by crates above with [`Loop::request_begin`].
    pub fn active_requests(&self) -> usize {
        self.active_reqs
    }

    /// Makes the loop return from [`Loop::run`] at the end of the current
    /// iteration, without blocking in poll (libuv's `uv_stop`).
    pub fn stop(&mut self) {
        self.stop_flag = true;
    }

    /// Counts an outstanding request that keeps the loop alive (libuv's
    /// `uv__req_register`), for crates above the loop: a pending write, a
    /// connect. Pair with [`Loop::request_end`].
    pub fn request_begin(&mut self) {
        self.active_reqs += 1;
    }

    /// Ends a request counted with [`Loop::request_begin`].
    ///
    /// # Panics
    ///
    /// Panics (in debug builds) if no request is outstanding.
    pub fn request_end(&mut self) {
        debug_assert!(self.active_reqs > 0, "request_end without request_begin");
        self.active_reqs = self.active_reqs.saturating_sub(1);
    }

    // ----- the handle table -----------------------------------------------------

    pub(crate) fn handle_insert(&mut self, label: &'static str, kind: Kind, flags: u8) -> HandleId {
        let id = HandleId(self.handles.insert(HandleEntry {
            flags: 0,
            label,
            kind,
        }));
        self.set_flags(id, flags);
        id
    }

    pub(crate) fn handle(&self, id: HandleId) -> Option<&HandleEntry> {
        self.handles.get(id.0)
    }

    pub(crate) fn handle_mut(&mut self, id: HandleId) -> Option<&mut HandleEntry> {
        self.handles.get_mut(id.0)
    }

    /// Sets a handle's flags, keeping the count of live handles in step.
    pub(crate) fn set_flags(&mut self, id: HandleId, flags: u8) {
        let Some(entry) = self.handles.get_mut(id.0) else {
            return;
        };
        let (before, after) = (keeps_alive(entry.flags), keeps_alive(flags));
        entry.flags = flags;
        match (before, after) {
            (false, true) => self.active_refs += 1,
            (true, false) => self.active_refs -= 1,
            _ => {}
        }
    }

    pub(crate) fn update_flags(&mut self, id: HandleId, set: u8, clear: u8) {
        if let Some(e) = self.handles.get(id.0) {
            self.set_flags(id, (e.flags | set) & !clear);
        }
    }

    /// Creates a handle for a crate above the loop (a socket, a server): it is
    /// inactive and referenced. Mark it active with [`Loop::handle_start`]
    /// while it should keep the loop alive; close it with [`Loop::close`].
    /// `label` names it in traces.
    pub fn handle_new(&mut self, label: &'static str) -> HandleId {
        self.handle_insert(label, Kind::User, REFERENCED)
    }

    /// Marks a handle active. Returns `false` if the id is stale or closing.
    pub fn handle_start(&mut self, id: HandleId) -> bool {
        self.set_active(id, true)
    }

    /// Marks a handle inactive. Returns `false` if the id is stale or closing.
    pub fn handle_stop(&mut self, id: HandleId) -> bool {
        self.set_active(id, false)
    }

    pub(crate) fn set_active(&mut self, id: HandleId, active: bool) -> bool {
        match self.handle(id) {
            Some(e) if e.flags & CLOSING == 0 => {
                if active {
                    self.update_flags(id, ACTIVE, 0);
                } else {
                    self.update_flags(id, 0, ACTIVE);
                }
                true
            }
            _ => false,
        }
    }

    /// The trace label of a handle.
    pub fn handle_label(&self, id: HandleId) -> Option<&'static str> {
        self.handle(id).map(|e| e.label)
    }

    /// Whether the handle is active (started, and not closing).
    pub fn is_active(&self, h: impl AsHandle) -> bool {
        match h.as_handle() {
            AnyHandle::Timer(t) => self.timers.entries.contains(t.0),
            AnyHandle::Immediate(i) => self.immediates.get(i.0).is_some(),
            AnyHandle::Handle(id) => self
                .handle(id)
                .is_some_and(|e| e.flags & (ACTIVE | CLOSING) == ACTIVE),
        }
    }

    /// Whether the handle is closing: [`Loop::close`] was called and its close
    /// callback has not run yet.
    pub fn is_closing(&self, h: impl AsHandle) -> bool {
        match h.as_handle() {
            AnyHandle::Handle(id) => self.handle(id).is_some_and(|e| e.flags & CLOSING != 0),
            // Timers and immediates leave their tables at `close`; until the
            // close callback ran they are on the closing list (short: it
            // holds this iteration's closes only).
            other => self.closing.iter().any(|(h, _)| *h == other),
        }
    }

    /// Whether the handle is referenced (libuv's `uv_has_ref`, Node's `hasRef`).
    pub fn has_ref(&self, h: impl AsHandle) -> bool {
        match h.as_handle() {
            AnyHandle::Timer(t) => self.timers.entries.get(t.0).is_some_and(|e| e.referenced),
            AnyHandle::Immediate(i) => self.immediates.get(i.0).is_some_and(|e| e.referenced),
            AnyHandle::Handle(id) => self.handle(id).is_some_and(|e| e.flags & REFERENCED != 0),
        }
    }

    /// References the handle: while active it keeps the loop alive (libuv's
    /// `uv_ref`, Node's `ref()`). Idempotent.
    pub fn ref_handle(&mut self, h: impl AsHandle) {
        self.set_referenced(h.as_handle(), true);
    }

    /// Unreferences the handle: it no longer keeps the loop alive by itself
    /// (libuv's `uv_unref`, Node's `unref()`). Idempotent.
    pub fn unref_handle(&mut self, h: impl AsHandle) {
        self.set_referenced(h.as_handle(), false);
    }

    fn set_referenced(&mut self, h: AnyHandle, on: bool) {
        match h {
            AnyHandle::Timer(t) => {
                if let Some(e) = self.timers.entries.get_mut(t.0)
                    && e.referenced != on
                {
                    e.referenced = on;
                    self.adjust_refs(on);
                }
            }
            AnyHandle::Immediate(i) => {
                if let Some(e) = self.immediates.get_mut(i.0)
                    && e.referenced != on
                {
                    e.referenced = on;
                    self.immediates.referenced = if on {
                        self.immediates.referenced + 1
                    } else {
                        self.immediates.referenced - 1
                    };
                    self.adjust_refs(on);
                }
            }
            AnyHandle::Handle(id) => {
                if on {
                    self.update_flags(id, REFERENCED, 0);
                } else {
                    self.update_flags(id, 0, REFERENCED);
                }
            }
        }
    }

    pub(crate) fn adjust_refs(&mut self, up: bool) {
        if up {
            self.active_refs += 1;
        } else {
            self.active_refs -= 1;
        }
    }

    /// Closes a handle (libuv's `uv_close`): it stops at once, its callbacks
    /// are dropped, and `on_close` runs in the close phase of this iteration
    /// (of the next one when called from a close callback).
    /// Close callbacks run in libuv's order: the most recently closed first.
    /// Until then the handle counts as closing and keeps the loop alive; after
    /// it, the id is stale.
    ///
    /// Returns `false` (and drops `on_close`) if the handle was already closing
    /// or its id is stale.
    pub fn close(&mut self, h: impl AsHandle, on_close: Option<Task>) -> bool {
        let h = h.as_handle();
        let ok = match h {
            AnyHandle::Timer(t) => self.timer_remove(t.0),
            AnyHandle::Immediate(i) => self.immediate_remove(i.0),
            AnyHandle::Handle(id) => self.handle_begin_close(id),
        };
        if ok {
            self.closing.push((h, on_close));
        }
        ok
    }

    /// Stops a table handle and drops its callbacks; it stays in the table,
    /// flagged closing, until its close callback has run.
    fn handle_begin_close(&mut self, id: HandleId) -> bool {
        let Some(entry) = self.handles.get_mut(id.0) else {
            return false;
        };
        if entry.flags & CLOSING != 0 {
            return false;
        }
        let kind = std::mem::replace(&mut entry.kind, Kind::User);
        match kind {
            Kind::Watcher { which, .. } => self.watchers.list_mut(which).remove(id),
            Kind::Io {
                watcher: Some(w), ..
            } => self.io_forget(w),
            Kind::Io { watcher: None, .. } | Kind::Async { .. } | Kind::User => {}
        }
        self.update_flags(id, CLOSING, ACTIVE);
        true
    }

    /// Frees a closed handle's slot once its close callback is due.
    pub(crate) fn handle_finish_close(&mut self, h: AnyHandle) {
        if let AnyHandle::Handle(id) = h {
            self.set_flags(id, 0);
            self.handles.remove(id.0);
        }
    }

    // ----- callbacks ---------------------------------------------------------------

    /// Runs one callback of the current phase, then drains nextTicks and
    /// microtasks. Every callback the loop runs goes through here, so tracing
    /// and per-phase counts cost one branch when off.
    #[inline]
    pub(crate) fn invoke(
        &mut self,
        kind: CallbackKind,
        label: &'static str,
        f: impl FnOnce(&mut Loop),
    ) {
        self.metrics.callbacks[self.phase.index()] += 1;
        if self.trace.is_none() {
            f(self);
            self.drain_ticks();
        } else {
            let start = Instant::now();
            f(self);
            self.emit_callback(kind, label, start);
            self.drain_ticks();
        }
    }

    fn emit_callback(&mut self, kind: CallbackKind, label: &'static str, start: Instant) {
        let phase = self.phase;
        self.emit(TraceEvent::Callback {
            phase,
            kind,
            label,
            elapsed: start.elapsed(),
        });
    }

    /// Drains the nextTick queue, then the microtask queue, until both are
    /// empty (Node 11 and later: `processTicksAndRejections`). A tick queued by
    /// a tick runs in the same drain; a tick queued by a microtask runs after
    /// the microtask queue is empty.
    ///
    /// The loop calls this after every callback. Crates above call it where
    /// they run several user callbacks inside one loop callback (one
    /// `on_data` per chunk read), so that ticks drain between them as Node
    /// drains them between its native callbacks. A nested call does nothing.
    pub fn drain_ticks(&mut self) {
        if self.draining || (self.ticks.is_empty() && self.microtasks.is_empty()) {
            return;
        }
        self.draining = true;
        loop {
            while let Some(t) = self.ticks.pop_front() {
                self.metrics.ticks += 1;
                self.run_traced(CallbackKind::Tick, t);
            }
            while let Some(m) = self.microtasks.pop_front() {
                self.metrics.microtasks += 1;
                self.run_traced(CallbackKind::Microtask, m);
            }
            if self.ticks.is_empty() {
                break;
            }
        }
        self.draining = false;
    }

    #[inline]
    fn run_traced(&mut self, kind: CallbackKind, t: Task) {
        if self.trace.is_none() {
            t(self);
        } else {
            self.run_and_trace(kind, t);
        }
    }

    /// Kept out of line so that the untraced drain stays a tight loop.
    #[inline(never)]
    fn run_and_trace(&mut self, kind: CallbackKind, t: Task) {
        let start = Instant::now();
        t(self);
        self.emit_callback(kind, kind.name(), start);
    }

    /// Queues `f` to run after the current callback, before any other callback
    /// and before microtasks (Node's `process.nextTick`). A recursive nextTick
    /// keeps the loop from ever reaching poll: that is Node's rule too.
    pub fn next_tick(&mut self, f: impl FnOnce(&mut Loop) + 'static) {
        self.ticks.push_back(Box::new(f));
    }

    /// Queues `f` to run after the nextTick queue is empty (Node's
    /// `queueMicrotask`; promise reactions in JavaScript).
    pub fn queue_microtask(&mut self, f: impl FnOnce(&mut Loop) + 'static) {
        self.microtasks.push_back(Box::new(f));
    }

    /// Queues `f` for the next pass of the pending phase (libuv's pending
    /// queue, used for I/O callbacks deferred out of the poll phase). The
    /// pending queue runs at the start of each iteration and, when not empty,
    /// again right after poll (up to 8 passes): so `f` queued before the poll
    /// phase ends (from pending, idle, prepare or I/O callbacks) runs in this
    /// iteration, and from later phases in the next one. While anything is
    /// pending the poll does not block.
    pub fn queue_pending(&mut self, f: impl FnOnce(&mut Loop) + 'static) {
        self.pending.push_back(Pending::Task(Box::new(f)));
    }

    // ----- observability ------------------------------------------------------------

    /// Installs (or, with `None`, removes) the trace hook. It is called for
    /// every phase entry and exit, every poll, and every callback. Returns
    /// the hook it replaces, so that a new hook can chain to an earlier one.
    ///
    /// ```
    /// use eventide_loop_phases::{Loop, RunMode, TraceEvent};
    /// use std::{cell::RefCell, rc::Rc, time::Duration};
    ///
    /// let seen = Rc::new(RefCell::new(Vec::new()));
    /// let log = Rc::clone(&seen);
    /// let mut lp = Loop::new_manual();
    /// lp.set_trace_hook(Some(Box::new(move |rec| {
    ///     if let TraceEvent::Callback { phase, kind, .. } = &rec.event {
    ///         log.borrow_mut().push(format!("{phase}:{}", kind.name()));
    ///     }
    /// })));
    /// lp.set_timeout(Duration::from_millis(1), |lp| {
    ///     lp.set_immediate(|_| {});
    /// });
    /// lp.run(RunMode::Default);
    /// assert_eq!(*seen.borrow(), ["timers:timeout", "check:immediate"]);
    /// ```
    pub fn set_trace_hook(&mut self, hook: Option<TraceHook>) -> Option<TraceHook> {
        std::mem::replace(&mut self.trace, hook)
    }

    /// Whether a trace hook is installed.
    pub fn is_tracing(&self) -> bool {
        self.trace.is_some()
    }

    pub(crate) fn emit(&mut self, event: TraceEvent) {
        if let Some(hook) = self.trace.as_mut() {
            let record = TraceRecord {
                at: self.created.elapsed(),
                loop_time: Duration::from_nanos(self.now),
                event,
            };
            hook(&record);
        }
    }

    /// The phase the loop is in (the last one entered).
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// A snapshot of the loop's counters. On a manual clock, `elapsed` and
    /// `idle` are manual time (see [`Metrics::idle`]).
    pub fn metrics(&self) -> Metrics {
        let mut m = self.metrics;
        m.elapsed = match self.clock {
            Clock::Real { .. } => self.created.elapsed(),
            Clock::Manual { now } => Duration::from_nanos(now),
        };
        m
    }

    // ----- storage for crates above ----------------------------------------------

    /// Loop-owned storage of type `T`, created with `T::default()` on first use.
    ///
    /// Crates above the loop keep their objects here (the socket table, the
    /// server table) and reach them through ids, so that no `Rc<RefCell<_>>` is
    /// needed and callbacks can use them through the `&mut Loop` they receive.
    /// Take a user callback out of the storage before calling it, and put it
    /// back after: the borrow checker then guarantees no borrow is held across
    /// it.
    ///
    /// ```
    /// use eventide_loop_phases::Loop;
    ///
    /// #[derive(Default)]
    /// struct Counter(u32);
    ///
    /// let mut lp = Loop::new_manual();
    /// lp.ext::<Counter>().0 += 1;
    /// lp.ext::<Counter>().0 += 1;
    /// assert_eq!(lp.ext::<Counter>().0, 2);
    /// ```
    #[inline]
    pub fn ext<T: Default + 'static>(&mut self) -> &mut T {
        self.ext.by_type()
    }

    /// The same storage as [`Loop::ext`], reached through a key kept in a
    /// `static`: an index instead of a map lookup, for hot paths.
    #[inline]
    pub fn ext_by<T: Default + 'static>(&mut self, key: ExtKey<T>) -> &mut T {
        self.ext.by_key(key)
    }

    /// Loop-owned storage of type `T`, if it was created.
    pub fn try_ext<T: 'static>(&self) -> Option<&T> {
        self.ext.get()
    }

    /// [`Loop::try_ext`] through a key kept in a `static`, as
    /// [`Loop::ext_by`]: an index instead of a map lookup.
    #[inline]
    pub fn try_ext_by<T: 'static>(&self, key: ExtKey<T>) -> Option<&T> {
        self.ext.get_by_key(key)
    }
}

impl Default for Loop {
    fn default() -> Self {
        Loop::new()
    }
}
