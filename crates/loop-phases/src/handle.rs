//! Handles: small `Copy` ids with a generation, and their liveness flags.
//!
//! A handle is a long-lived object the loop watches (libuv's `uv_handle_t`):
//! a timer, an idle/prepare/check watcher, an I/O watcher, an async handle,
//! or an object of a crate above (a socket). Each is reached through an id
//! that carries its slot's generation, so an id kept after the handle closed
//! is detected as stale and never reaches whatever took its slot.
//!
//! Liveness is libuv's: the loop keeps running while some handle is *active*
//! (started) and *referenced* (not `unref`'d), or a request is outstanding, or
//! a pending or close callback is still to run.

use std::fmt;

use eventide_reactor::slab::Key;
use eventide_reactor::{AsyncSignal, Readiness, WatcherId};

use crate::event_loop::Loop;

/// A one-shot callback: `FnOnce(&mut Loop)`.
pub type Task = Box<dyn FnOnce(&mut Loop)>;
/// A repeating callback: `FnMut(&mut Loop)`.
pub(crate) type RepeatCb = Box<dyn FnMut(&mut Loop)>;
/// An I/O watcher's callback.
pub(crate) type IoCb = Box<dyn FnMut(&mut Loop, IoWatch, Readiness)>;

/// What an I/O watch calls: a closure, or a plain function and the key it
/// is called with, which takes no heap block (a server has a watch per
/// socket).
pub(crate) enum IoCallback {
    Boxed(IoCb),
    Keyed(fn(&mut Loop, Key, Readiness), Key),
}

/// The id of a handle in the loop's handle table.
///
/// Crates above the loop create their own handles with `Loop::handle_new` to
/// take part in liveness and in the close phase.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HandleId(pub(crate) Key);

impl HandleId {
    /// The id as one integer (for logs and traces).
    pub fn to_u64(self) -> u64 {
        self.0.to_u64()
    }
}

impl fmt::Debug for HandleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HandleId({:?})", self.0)
    }
}

macro_rules! handle_types {
    ($($(#[$doc:meta])* $name:ident;)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct $name(pub(crate) HandleId);

        impl $name {
            /// The underlying handle id.
            pub fn id(self) -> HandleId {
                self.0
            }
        }

        impl AsHandle for $name {
            fn as_handle(&self) -> AnyHandle {
                AnyHandle::Handle(self.0)
            }
        }
    )*};
}

handle_types! {
    /// An idle handle (libuv's `uv_idle_t`): runs once per iteration, and while
    /// it is active the loop polls without blocking.
    Idle;
    /// A prepare handle (libuv's `uv_prepare_t`): runs once per iteration, just
    /// before the loop polls for I/O.
    Prepare;
    /// A check handle (libuv's `uv_check_t`): runs once per iteration, just
    /// after the loop polled for I/O.
    Check;
    /// An I/O watcher on a descriptor (libuv's `uv_poll_t`).
    IoWatch;
    /// An async handle (libuv's `uv_async_t`): other threads wake the loop
    /// through its `AsyncSender`.
    AsyncHandle;
}

/// A timer started with `set_timeout` or `set_interval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timer(pub(crate) Key);

/// An immediate queued with `set_immediate`: its place in the sequence of
/// all immediates the loop queued, never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Immediate(pub(crate) u64);

/// Any kind of handle, for the operations all handles share: `ref_handle`,
/// `unref_handle`, `has_ref`, `is_active`, `close`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AnyHandle {
    /// A timer.
    Timer(Timer),
    /// An immediate.
    Immediate(Immediate),
    /// A handle in the handle table.
    Handle(HandleId),
}

/// Types that name a handle.
pub trait AsHandle {
    /// The handle this value names.
    fn as_handle(&self) -> AnyHandle;
}

impl AsHandle for AnyHandle {
    fn as_handle(&self) -> AnyHandle {
        *self
    }
}

impl AsHandle for HandleId {
    fn as_handle(&self) -> AnyHandle {
        AnyHandle::Handle(*self)
    }
}

impl AsHandle for Timer {
    fn as_handle(&self) -> AnyHandle {
        AnyHandle::Timer(*self)
    }
}

impl AsHandle for Immediate {
    fn as_handle(&self) -> AnyHandle {
        AnyHandle::Immediate(*self)
    }
}

/// Which of the three loop-watcher lists a watcher handle belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WatcherKind {
    Idle,
    Prepare,
    Check,
}

/// What a handle-table entry is, with its kind-specific state.
pub(crate) enum Kind {
    /// An idle, prepare or check watcher. `start_seq` changes on every start,
    /// so a snapshot taken at the beginning of a pass can tell a handle that
    /// was stopped and restarted during the pass (which must wait).
    Watcher {
        which: WatcherKind,
        cb: Option<RepeatCb>,
        start_seq: u64,
    },
    /// An I/O watcher on `fd`; `watcher` is set while registered with the reactor.
    Io {
        fd: i32,
        watcher: Option<WatcherId>,
        cb: Option<IoCallback>,
    },
    /// An async handle.
    Async {
        signal: AsyncSignal,
        cb: Option<RepeatCb>,
    },
    /// A handle owned by a crate above the loop.
    User,
}

pub(crate) const ACTIVE: u8 = 1;
pub(crate) const REFERENCED: u8 = 1 << 1;
pub(crate) const CLOSING: u8 = 1 << 2;

/// One entry of the handle table.
pub(crate) struct HandleEntry {
    pub(crate) flags: u8,
    pub(crate) label: &'static str,
    pub(crate) kind: Kind,
}

/// Whether a handle with these flags keeps the loop alive.
pub(crate) fn keeps_alive(flags: u8) -> bool {
    flags & (ACTIVE | REFERENCED | CLOSING) == ACTIVE | REFERENCED
}
