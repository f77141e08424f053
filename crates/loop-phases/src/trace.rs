//! The trace hook: a record of each phase's entry and exit and each callback.
//!
//! Off by default; when off, the loop pays one branch per phase and per
//! callback and reads no clock for tracing.

use std::fmt;
use std::time::Duration;

/// The phases of one loop iteration, in libuv's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Expired timers run (`uv__run_timers`).
    Timers,
    /// Callbacks deferred to the next iteration run (`uv__run_pending`).
    Pending,
    /// Idle handles run (`uv__run_idle`).
    Idle,
    /// Prepare handles run, just before blocking (`uv__run_prepare`).
    Prepare,
    /// The loop waits for I/O and runs I/O callbacks (`uv__io_poll`).
    Poll,
    /// Check handles and immediates run, just after polling (`uv__run_check`).
    Check,
    /// Close callbacks run (`uv__run_closing_handles`).
    Close,
}

impl Phase {
    /// Every phase, in iteration order.
    pub const ALL: [Phase; 7] = [
        Phase::Timers,
        Phase::Pending,
        Phase::Idle,
        Phase::Prepare,
        Phase::Poll,
        Phase::Check,
        Phase::Close,
    ];

    /// Lower-case name, as printed in traces.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Timers => "timers",
            Phase::Pending => "pending",
            Phase::Idle => "idle",
            Phase::Prepare => "prepare",
            Phase::Poll => "poll",
            Phase::Check => "check",
            Phase::Close => "close",
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What kind of callback ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallbackKind {
    /// A `set_timeout` callback.
    Timeout,
    /// A `set_interval` callback.
    Interval,
    /// A task queued for the pending phase.
    Pending,
    /// A `spawn_blocking` completion.
    Work,
    /// An idle handle.
    Idle,
    /// A prepare handle.
    Prepare,
    /// An I/O watcher, with its descriptor.
    Io {
        /// The descriptor that was ready.
        fd: i32,
    },
    /// An async handle.
    Async,
    /// A check handle.
    Check,
    /// A `set_immediate` callback.
    Immediate,
    /// A close callback.
    Close,
    /// A `next_tick` callback.
    Tick,
    /// A `queue_microtask` callback.
    Microtask,
    /// A pending operation admitted from the backlog.
    OpStart,
    /// A pending operation whose deadline passed.
    OpTimeout,
}

impl CallbackKind {
    /// Short name, as printed in traces.
    pub fn name(self) -> &'static str {
        match self {
            CallbackKind::Timeout => "timeout",
            CallbackKind::Interval => "interval",
            CallbackKind::Pending => "pending",
            CallbackKind::Work => "work",
            CallbackKind::Idle => "idle",
            CallbackKind::Prepare => "prepare",
            CallbackKind::Io { .. } => "io",
            CallbackKind::Async => "async",
            CallbackKind::Check => "check",
            CallbackKind::Immediate => "immediate",
            CallbackKind::Close => "close",
            CallbackKind::Tick => "nextTick",
            CallbackKind::Microtask => "microtask",
            CallbackKind::OpStart => "op-start",
            CallbackKind::OpTimeout => "op-timeout",
        }
    }
}

/// One traced occurrence.
#[derive(Debug, Clone, PartialEq)]
pub enum TraceEvent {
    /// An iteration began.
    IterationStart {
        /// Iteration number, from 1.
        iteration: u64,
    },
    /// A phase began.
    PhaseStart(Phase),
    /// A phase ended.
    PhaseEnd {
        /// The phase.
        phase: Phase,
        /// Time spent in it, callbacks included.
        elapsed: Duration,
    },
    /// The loop is about to wait for I/O.
    PollStart {
        /// How long it may wait (`None`: until an event).
        timeout: Option<Duration>,
    },
    /// The wait for I/O ended.
    PollEnd {
        /// Time spent blocked in the OS poller.
        blocked: Duration,
        /// Readiness events delivered.
        events: usize,
    },
    /// The poller reported a descriptor ready and the loop found its watcher
    /// (the demultiplexing step): descriptor, then watcher, then callback.
    Demux {
        /// The descriptor the OS reported.
        fd: i32,
        /// The generation of the descriptor's watcher slot.
        generation: u32,
        /// The handle that owns the watcher, whose callback runs next.
        handle: crate::HandleId,
        /// The handle's label.
        label: &'static str,
        /// What the OS reported.
        readiness: eventide_reactor::Readiness,
    },
    /// A callback ran (reported when it returns).
    Callback {
        /// The phase it ran in.
        phase: Phase,
        /// What it was.
        kind: CallbackKind,
        /// The label of the handle it belongs to (`"tcp"`, `"timer"`, ...).
        label: &'static str,
        /// How long it ran.
        elapsed: Duration,
    },
}

/// A [`TraceEvent`] with the loop's real time at which it happened.
#[derive(Debug, Clone, PartialEq)]
pub struct TraceRecord {
    /// Time since the loop was created (real time, also on a manual clock).
    pub at: Duration,
    /// The manual or real loop time (`Loop::now`) when it happened.
    pub loop_time: Duration,
    /// What happened.
    pub event: TraceEvent,
}

/// The hook type: called synchronously for every record.
pub type TraceHook = Box<dyn FnMut(&TraceRecord)>;
