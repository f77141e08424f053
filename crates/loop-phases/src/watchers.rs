//! Idle, prepare and check handles: one mechanism, generated three times (as
//! libuv's `loop-watcher.c`).
//!
//! The order is libuv's, and it is not the obvious one:
//!
//! - starting a handle puts it at the *head* of its list, so handles started
//!   at different times run most-recently-started first;
//! - a pass first takes the whole list, then for each handle moves it back to
//!   the *tail* of the loop's list and runs it. A handle started during the
//!   pass lands at the head of the loop's list and waits for the next pass; a
//!   handle stopped during the pass before its turn does not run.

use std::collections::VecDeque;

use crate::event_loop::Loop;
use crate::handle::{
    ACTIVE, Check, HandleId, Idle, Kind, Prepare, REFERENCED, RepeatCb, WatcherKind,
};
use crate::trace::CallbackKind;

/// The run order of one kind of loop watcher.
#[derive(Default)]
pub(crate) struct WatcherList {
    order: VecDeque<HandleId>,
}

impl WatcherList {
    pub(crate) fn remove(&mut self, id: HandleId) {
        if let Some(i) = self.order.iter().position(|h| *h == id) {
            self.order.remove(i);
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Moves `id` to the tail. A pass runs the list from its head, so the
    /// handle about to run is usually the head: then this is O(1).
    fn move_to_back(&mut self, id: HandleId) {
        if self.order.front() == Some(&id) {
            self.order.rotate_left(1);
        } else {
            self.remove(id);
            self.order.push_back(id);
        }
    }
}

#[derive(Default)]
pub(crate) struct WatcherLists {
    idle: WatcherList,
    prepare: WatcherList,
    check: WatcherList,
    /// Reused snapshot buffer for a pass.
    scratch: Vec<(HandleId, u64)>,
}

impl WatcherLists {
    #[inline]
    pub(crate) fn list_mut(&mut self, which: WatcherKind) -> &mut WatcherList {
        match which {
            WatcherKind::Idle => &mut self.idle,
            WatcherKind::Prepare => &mut self.prepare,
            WatcherKind::Check => &mut self.check,
        }
    }

    pub(crate) fn has_idle(&self) -> bool {
        !self.idle.is_empty()
    }
}

impl Loop {
    fn watcher_init(&mut self, which: WatcherKind, label: &'static str) -> HandleId {
        self.handle_insert(
            label,
            Kind::Watcher {
                which,
                cb: None,
                start_seq: 0,
            },
            REFERENCED,
        )
    }

    /// Starts a watcher with `cb`. As libuv, starting an active watcher does
    /// nothing (its callback is not replaced). Returns `false` for a stale or
    /// closing handle.
    fn watcher_start(&mut self, id: HandleId, cb: impl FnMut(&mut Loop) + 'static) -> bool {
        self.seq += 1;
        let seq = self.seq;
        let Some(entry) = self.handle_mut(id) else {
            return false;
        };
        if entry.flags & crate::handle::CLOSING != 0 {
            return false;
        }
        if entry.flags & ACTIVE != 0 {
            return true;
        }
        let Kind::Watcher {
            which,
            cb: slot,
            start_seq,
        } = &mut entry.kind
        else {
            return false;
        };
        *slot = Some(Box::new(cb));
        *start_seq = seq;
        let which = *which;
        self.watchers.list_mut(which).order.push_front(id);
        self.update_flags(id, ACTIVE, 0);
        true
    }

    fn watcher_stop(&mut self, id: HandleId) -> bool {
        let Some(entry) = self.handle_mut(id) else {
            return false;
        };
        let Kind::Watcher { which, cb, .. } = &mut entry.kind else {
            return false;
        };
        if entry.flags & ACTIVE == 0 {
            return true;
        }
        let which = *which;
        *cb = None;
        self.watchers.list_mut(which).remove(id);
        self.update_flags(id, 0, ACTIVE);
        true
    }

    /// Runs one pass of a watcher list (libuv's `uv__run_idle` and friends).
    /// An empty list (the common case) costs one inlined test.
    #[inline]
    pub(crate) fn run_watchers(
        &mut self,
        which: WatcherKind,
        kind: CallbackKind,
        label: &'static str,
    ) {
        if !self.watchers.list_mut(which).is_empty() {
            self.run_watchers_pass(which, kind, label);
        }
    }

    fn run_watchers_pass(&mut self, which: WatcherKind, kind: CallbackKind, label: &'static str) {
        // The pass is a snapshot of the list; the list itself stays intact
        // (each handle moves to its tail as it runs, as libuv moves it back
        // to the loop's queue), so a panicking callback loses no handle.
        let mut pass = std::mem::take(&mut self.watchers.scratch);
        for &id in &self.watchers.list_mut(which).order {
            if let Some(Kind::Watcher { start_seq, .. }) = self.handles.get(id.0).map(|e| &e.kind) {
                pass.push((id, *start_seq));
            }
        }
        for &(id, seq) in &pass {
            // Stopped (or stopped and restarted) by an earlier callback of this pass.
            let current = matches!(
                self.handles.get(id.0),
                Some(e) if e.flags & ACTIVE != 0
                    && matches!(e.kind, Kind::Watcher { start_seq, .. } if start_seq == seq)
            );
            if !current {
                continue;
            }
            self.watchers.list_mut(which).move_to_back(id);
            let Some(mut cb) = self.take_watcher_cb(id) else {
                // Its callback panicked in an earlier pass and was dropped:
                // stop it rather than keep an active handle that does nothing.
                self.watcher_stop(id);
                continue;
            };
            self.invoke(kind, label, |lp| cb(lp));
            self.restore_watcher_cb(id, seq, cb);
        }
        pass.clear();
        self.watchers.scratch = pass;
    }

    fn take_watcher_cb(&mut self, id: HandleId) -> Option<RepeatCb> {
        match &mut self.handle_mut(id)?.kind {
            Kind::Watcher { cb, .. } => cb.take(),
            _ => None,
        }
    }

    /// Puts a callback back after it ran, unless the handle was stopped,
    /// restarted with a new callback, or closed meanwhile.
    fn restore_watcher_cb(&mut self, id: HandleId, seq: u64, f: RepeatCb) {
        if let Some(entry) = self.handle_mut(id)
            && entry.flags & ACTIVE != 0
            && let Kind::Watcher { cb, start_seq, .. } = &mut entry.kind
            && *start_seq == seq
            && cb.is_none()
        {
            *cb = Some(f);
        }
    }
}

macro_rules! loop_watcher {
    ($ty:ident, $which:ident, $label:literal, $init:ident, $start:ident, $stop:ident, $doc:literal) => {
        impl Loop {
            #[doc = concat!("Creates an inactive ", $doc, " handle (libuv's `uv_", $label, "_init`).")]
            pub fn $init(&mut self) -> $ty {
                $ty(self.watcher_init(WatcherKind::$which, $label))
            }

            #[doc = concat!(
                "Starts the ", $doc, " handle: `cb` runs once per iteration in the ",
                $label, " phase (libuv's `uv_", $label, "_start`). Starting an active handle does nothing. ",
                "Returns `false` for a stale or closing handle."
            )]
            pub fn $start(&mut self, h: $ty, cb: impl FnMut(&mut Loop) + 'static) -> bool {
                self.watcher_start(h.0, cb)
            }

            #[doc = concat!(
                "Stops the ", $doc, " handle and drops its callback (libuv's `uv_", $label, "_stop`). ",
                "Returns `false` for a stale handle."
            )]
            pub fn $stop(&mut self, h: $ty) -> bool {
                self.watcher_stop(h.0)
            }
        }
    };
}

loop_watcher!(Idle, Idle, "idle", idle_init, idle_start, idle_stop, "idle");
loop_watcher!(
    Prepare,
    Prepare,
    "prepare",
    prepare_init,
    prepare_start,
    prepare_stop,
    "prepare"
);
loop_watcher!(
    Check,
    Check,
    "check",
    check_init,
    check_start,
    check_stop,
    "check"
);
