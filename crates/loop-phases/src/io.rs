//! I/O watchers: a descriptor, an interest, and a callback (libuv's `uv_poll_t`
//! and the `uv__io_t` inside every libuv stream).
//!
//! Readiness is edge-triggered, as mio's: after an event, read or write until
//! the operation returns `WouldBlock` (on a stream socket, a read short of the
//! buffer also shows it drained, unless the event said read-closed: data that
//! arrives later raises a new edge). A callback that stops early to be fair
//! to other descriptors (a read budget) calls [`Loop::io_feed`] to have the
//! readiness delivered again in the next poll phase, as a level-triggered
//! poller would report data left unread (libuv's `uv__io_feed`).

use std::io;

use eventide_reactor::slab::Key;
use eventide_reactor::sys::{AsDescriptor, FdSource};
use eventide_reactor::{Interest, Readiness, Source, WatcherId};

use crate::event_loop::Loop;
use crate::handle::{
    ACTIVE, CLOSING, HandleEntry, HandleId, IoCallback, IoWatch, Kind, REFERENCED,
};
use crate::trace::CallbackKind;

impl Loop {
    /// Watches `source` for `interest`; `cb` runs in the poll phase each time
    /// the OS reports it ready. The watch is active and referenced; the caller
    /// keeps owning `source` and must [`Loop::close`] the watch before dropping
    /// it (closing deregisters the descriptor). `label` names it in traces.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` if the descriptor is already watched; the OS error from
    /// the poller otherwise.
    ///
    /// # Examples
    ///
    /// ```
    /// use eventide_loop_phases::{Interest, Loop, RunMode};
    /// use std::os::{fd::AsRawFd, unix::net::UnixDatagram};
    ///
    /// let mut lp = Loop::new();
    /// let (tx, rx) = UnixDatagram::pair()?;
    /// rx.set_nonblocking(true)?;
    /// tx.send(b"hi")?;
    ///
    /// // The callback owns the socket; the loop only watches its descriptor.
    /// lp.poll_fd(rx.as_raw_fd(), Interest::READABLE, move |lp, watch, ready| {
    ///     assert!(ready.is_readable());
    ///     let mut buf = [0u8; 16];
    ///     let n = rx.recv(&mut buf).unwrap();
    ///     assert_eq!(&buf[..n], b"hi");
    ///     lp.close(watch, None); // deregisters; the loop has nothing left
    /// })?;
    /// assert!(!lp.run(RunMode::Default));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn io_start<S>(
        &mut self,
        source: &mut S,
        interest: Interest,
        label: &'static str,
        cb: impl FnMut(&mut Loop, IoWatch, Readiness) + 'static,
    ) -> io::Result<IoWatch>
    where
        S: Source + AsDescriptor + ?Sized,
    {
        self.io_register(source, interest, label, IoCallback::Boxed(Box::new(cb)))
    }

    /// [`Loop::io_start`] with a plain function called as `f(lp, key,
    /// readiness)`: no closure to allocate, for owners of many watches (a
    /// socket's key finds its state).
    ///
    /// # Errors
    ///
    /// As [`Loop::io_start`].
    ///
    /// # Examples
    ///
    /// ```
    /// use eventide_loop_phases::{Interest, Loop, Readiness, RunMode};
    /// use eventide_reactor::slab::Key;
    /// use eventide_reactor::sys::FdSource;
    /// use std::os::{fd::AsRawFd, unix::net::UnixDatagram};
    ///
    /// #[derive(Default)]
    /// struct Seen(Vec<Key>);
    ///
    /// fn on_ready(lp: &mut Loop, key: Key, ready: Readiness) {
    ///     assert!(ready.is_readable());
    ///     lp.ext::<Seen>().0.push(key);
    ///     lp.stop();
    /// }
    ///
    /// let mut lp = Loop::new();
    /// let (tx, rx) = UnixDatagram::pair()?;
    /// rx.set_nonblocking(true)?;
    /// tx.send(b"hi")?;
    /// let key = Key::from_parts(3, 1);
    /// let watch =
    ///     lp.io_start_keyed(&mut FdSource(rx.as_raw_fd()), Interest::READABLE, "rx", key, on_ready)?;
    /// lp.run(RunMode::Default);
    /// assert_eq!(lp.ext::<Seen>().0, [key]);
    /// lp.close(watch, None);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn io_start_keyed<S>(
        &mut self,
        source: &mut S,
        interest: Interest,
        label: &'static str,
        key: Key,
        f: fn(&mut Loop, Key, Readiness),
    ) -> io::Result<IoWatch>
    where
        S: Source + AsDescriptor + ?Sized,
    {
        self.io_register(source, interest, label, IoCallback::Keyed(f, key))
    }

    fn io_register<S>(
        &mut self,
        source: &mut S,
        interest: Interest,
        label: &'static str,
        cb: IoCallback,
    ) -> io::Result<IoWatch>
    where
        S: Source + AsDescriptor + ?Sized,
    {
        let fd = source.descriptor();
        let id = self.handle_insert(
            label,
            Kind::Io {
                fd,
                watcher: None,
                cb: Some(cb),
            },
            REFERENCED,
        );
        match self.reactor.register(source, interest, id) {
            Ok(w) => {
                if let Some(Kind::Io { watcher, .. }) = self.handle_mut(id).map(|e| &mut e.kind) {
                    *watcher = Some(w);
                }
                self.update_flags(id, ACTIVE, 0);
                Ok(IoWatch(id))
            }
            Err(e) => {
                self.handles.remove(id.0);
                Err(e)
            }
        }
    }

    /// Watches a raw descriptor the caller owns (libuv's `uv_poll_init` and
    /// `uv_poll_start`). See [`Loop::io_start`].
    ///
    /// # Errors
    ///
    /// As [`Loop::io_start`].
    pub fn poll_fd(
        &mut self,
        fd: i32,
        interest: Interest,
        cb: impl FnMut(&mut Loop, IoWatch, Readiness) + 'static,
    ) -> io::Result<IoWatch> {
        self.io_start(&mut FdSource(fd), interest, "poll", cb)
    }

    /// Changes what the watch waits for. `None` stops watching (the handle goes
    /// inactive and no longer keeps the loop alive) without closing it; `Some`
    /// starts it again.
    ///
    /// # Errors
    ///
    /// `NotFound` for a stale or closing watch; the OS error from the poller.
    pub fn io_set_interest(
        &mut self,
        watch: IoWatch,
        interest: Option<Interest>,
    ) -> io::Result<()> {
        let (registered, fd) = self.io_watcher(watch)?;
        match (registered, interest) {
            (Some(w), Some(i)) => {
                let unchanged = self.reactor.watcher(w).is_some_and(|x| x.interest == i);
                if !unchanged {
                    self.reactor.reregister(w, &mut FdSource(fd), i)?;
                }
            }
            (Some(w), None) => {
                // The descriptor may already be closed; its watcher goes regardless.
                let _ = self.reactor.deregister(w, &mut FdSource(fd));
                self.set_io_watcher(watch.0, None);
                self.update_flags(watch.0, 0, ACTIVE);
            }
            (None, Some(i)) => {
                let w = self.reactor.register(&mut FdSource(fd), i, watch.0)?;
                self.set_io_watcher(watch.0, Some(w));
                self.update_flags(watch.0, ACTIVE, 0);
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// The current registration and the descriptor of a watch.
    fn io_watcher(&self, watch: IoWatch) -> io::Result<(Option<WatcherId>, i32)> {
        match self.handle(watch.0) {
            Some(HandleEntry {
                flags,
                kind: Kind::Io { fd, watcher, .. },
                ..
            }) if flags & CLOSING == 0 => Ok((*watcher, *fd)),
            _ => Err(stale()),
        }
    }

    fn set_io_watcher(&mut self, id: HandleId, w: Option<WatcherId>) {
        if let Some(Kind::Io { watcher, .. }) = self.handle_mut(id).map(|e| &mut e.kind) {
            *watcher = w;
        }
    }

    /// The descriptor of a watch.
    pub fn io_fd(&self, watch: IoWatch) -> Option<i32> {
        self.io_watcher(watch).ok().map(|(_, fd)| fd)
    }

    /// Delivers `readiness` to the watch's callback again in the next poll
    /// phase, with the events the OS reports then (libuv's `uv__io_feed`).
    /// For callbacks that stop before `WouldBlock` to be fair to others:
    /// edge-triggered readiness is not reported again for data already
    /// there. While a feed waits, the poll does not block. A watch that is
    /// closed or stopped before then gets nothing.
    pub fn io_feed(&mut self, watch: IoWatch, readiness: Readiness) {
        if let Some(HandleEntry {
            kind: Kind::Io {
                watcher: Some(w), ..
            },
            flags,
            ..
        }) = self.handle(watch.0)
            && flags & CLOSING == 0
        {
            let watcher = *w;
            self.feeds
                .push(eventide_reactor::Event { watcher, readiness });
        }
    }

    /// Replaces the watch's callback.
    pub fn io_set_callback(
        &mut self,
        watch: IoWatch,
        cb: impl FnMut(&mut Loop, IoWatch, Readiness) + 'static,
    ) -> bool {
        match self.handle_mut(watch.0).map(|e| &mut e.kind) {
            Some(Kind::Io { cb: slot, .. }) => {
                *slot = Some(IoCallback::Boxed(Box::new(cb)));
                true
            }
            _ => false,
        }
    }

    /// Deregisters a closing watch's descriptor and forgets its watcher.
    pub(crate) fn io_forget(&mut self, w: WatcherId) {
        // Closing may come after the owner closed the descriptor: then the OS
        // already removed it and EBADF/ENOENT is expected.
        let _ = self.reactor.deregister(w, &mut FdSource(w.fd()));
    }

    /// Runs a watch's callback for one readiness event.
    pub(crate) fn dispatch_io(&mut self, id: HandleId, readiness: Readiness) {
        let Some(entry) = self.handles.get_mut(id.0) else {
            return;
        };
        if entry.flags & CLOSING != 0 {
            return;
        }
        let label = entry.label;
        let Kind::Io { cb, fd, .. } = &mut entry.kind else {
            return;
        };
        let fd = *fd;
        if let Some(IoCallback::Keyed(f, key)) = cb {
            // Copied out: nothing to take and put back.
            let (f, key) = (*f, *key);
            self.invoke(CallbackKind::Io { fd }, label, |lp| f(lp, key, readiness));
            return;
        }
        // A closure is taken out for the call (it may close or replace its
        // own watch) and put back unless it was replaced.
        let Some(IoCallback::Boxed(mut f)) = cb.take() else {
            return;
        };
        self.invoke(CallbackKind::Io { fd }, label, |lp| {
            f(lp, IoWatch(id), readiness)
        });
        if let Some(entry) = self.handles.get_mut(id.0)
            && entry.flags & CLOSING == 0
            && let Kind::Io { cb, .. } = &mut entry.kind
            && cb.is_none()
        {
            *cb = Some(IoCallback::Boxed(f));
        }
    }
}

fn stale() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "stale or closing I/O watch")
}
