//! Async handles: wake the loop from another thread (libuv's `uv_async_t`).
//!
//! Many sends before the loop gets to the handle coalesce into one callback.
//! The callback runs in the poll phase, where the loop notices the wake-up.

use eventide_reactor::AsyncSender;
use eventide_reactor::slab::Key;

use crate::event_loop::Loop;
use crate::handle::{ACTIVE, AsyncHandle, HandleId, Kind, REFERENCED};
use crate::trace::CallbackKind;

impl Loop {
    /// Creates an async handle with its callback and returns it with a
    /// `Send + Sync` sender (libuv's `uv_async_init`). The handle is active and
    /// referenced until closed: `unref_handle` it if it should not keep the
    /// loop alive.
    ///
    /// ```
    /// use eventide_loop_phases::{Loop, RunMode};
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// let mut lp = Loop::new();
    /// let calls = Rc::new(Cell::new(0));
    /// let seen = Rc::clone(&calls);
    /// let (handle, sender) = lp.async_init(move |lp| {
    ///     seen.set(seen.get() + 1);
    ///     lp.stop();
    /// });
    /// std::thread::spawn(move || (0..1000).for_each(|_| sender.send()));
    /// lp.run(RunMode::Default);
    /// assert!(calls.get() >= 1 && calls.get() <= 1000); // coalesced
    /// lp.close(handle, None);
    /// lp.run(RunMode::Default);
    /// ```
    pub fn async_init(
        &mut self,
        cb: impl FnMut(&mut Loop) + 'static,
    ) -> (AsyncHandle, AsyncSender) {
        let id = self.handles.insert(crate::handle::HandleEntry {
            flags: 0,
            label: "async",
            kind: Kind::User,
        });
        let signal = self.reactor.remote().async_signal(id.to_u64());
        let sender = signal.sender();
        let id = HandleId(id);
        if let Some(e) = self.handle_mut(id) {
            e.kind = Kind::Async {
                signal,
                cb: Some(Box::new(cb)),
            };
        }
        self.set_flags(id, ACTIVE | REFERENCED);
        (AsyncHandle(id), sender)
    }

    /// Another sender for an async handle; `None` if it is closed.
    pub fn async_sender(&self, h: AsyncHandle) -> Option<AsyncSender> {
        match self.handle(h.0).map(|e| &e.kind) {
            Some(Kind::Async { signal, .. }) => Some(signal.sender()),
            _ => None,
        }
    }

    /// Runs the callbacks of async handles signaled since the last look.
    pub(crate) fn run_async(&mut self) {
        let mut fresh = std::mem::take(&mut self.signaled_scratch);
        self.reactor.remote().take_signaled(&mut fresh);
        self.signaled.extend(fresh.drain(..));
        self.signaled_scratch = fresh;
        // Popped one at a time, so that if a callback panics the handles
        // signaled after it still run.
        while let Some(key) = self.signaled.pop_front() {
            let id = HandleId(Key::from_u64(key));
            // Clear before the callback, so a send during it schedules another.
            let f = match self.handle_mut(id).map(|e| &mut e.kind) {
                Some(Kind::Async { signal, cb }) => {
                    signal.clear();
                    cb.take()
                }
                _ => None, // closed since it was signaled
            };
            let Some(mut f) = f else { continue };
            self.invoke(CallbackKind::Async, "async", |lp| f(lp));
            if let Some(Kind::Async { cb, .. }) = self.handle_mut(id).map(|e| &mut e.kind)
                && cb.is_none()
            {
                *cb = Some(f);
            }
        }
    }
}
