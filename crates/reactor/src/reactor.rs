//! The reactor: mio's `Poll`, the watcher table, and the waker, together.

use std::io;
use std::time::Duration;

use mio::event::Source;
use mio::{Events, Interest, Poll};

use crate::readiness::Readiness;
use crate::remote::Remote;
use crate::sys::AsDescriptor;
use crate::watcher::{WAKER_TOKEN, Watcher, WatcherId, WatcherTable};

/// Events read from the OS per poll. libuv reads 1024 epoll events at a time;
/// more ready descriptors than this are simply reported by the next poll.
const EVENTS_PER_POLL: usize = 1024;

/// One demultiplexed readiness event: which watcher, and what it may do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The registration the event is for.
    pub watcher: WatcherId,
    /// What became possible.
    pub readiness: Readiness,
}

/// What one [`Reactor::poll`] found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Polled {
    /// Events appended to the output list.
    pub events: usize,
    /// Events dropped because their watcher was gone or its descriptor reused.
    pub stale: usize,
    /// Whether another thread woke the reactor through its [`Remote`].
    pub woken: bool,
    /// Whether the OS poller was left alone: the timeout was zero, no
    /// watcher was registered and no wake was pending, so it had nothing to
    /// report (see [`Reactor::poll`]).
    pub skipped: bool,
}

/// The OS boundary of the loop: registers descriptors with the poller and turns
/// the poller's tokens back into watchers (demultiplexing).
///
/// `T` is the owner's per-watcher metadata; the loop stores the handle that
/// owns the descriptor.
///
/// # Implementation notes
///
/// Readiness is edge-triggered (mio). Tokens encode `(fd, generation)`, see
/// [`WatcherTable`]. The waker is an `eventfd` on Linux, reported as
/// [`Polled::woken`] rather than as an event.
///
/// # Examples
///
/// ```
/// use eventide_reactor::{Reactor, Readiness};
/// use mio::{Interest, net::{TcpListener, TcpStream}};
/// use std::time::Duration;
///
/// let mut reactor = Reactor::new()?;
/// let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
/// let id = reactor.register(&mut listener, Interest::READABLE, "listener")?;
/// let _client = TcpStream::connect(listener.local_addr()?)?;
///
/// let mut events = Vec::new();
/// while events.is_empty() {
///     reactor.poll(Some(Duration::from_secs(5)), &mut events)?;
/// }
/// assert_eq!(events[0].watcher, id);
/// assert!(events[0].readiness.is_readable());
/// assert_eq!(reactor.watcher(id).unwrap().data, "listener"); // fd -> watcher -> data
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Reactor<T> {
    poll: Poll,
    events: Events,
    table: WatcherTable<T>,
    remote: Remote,
}

impl<T> std::fmt::Debug for Reactor<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reactor")
            .field("watchers", &self.table.len())
            .finish()
    }
}

impl<T> Reactor<T> {
    /// Opens a poller (epoll / kqueue) and its waker.
    ///
    /// # Errors
    ///
    /// The OS error from creating the poller or the waker (`EMFILE` when out of
    /// descriptors).
    pub fn new() -> io::Result<Self> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), WAKER_TOKEN)?;
        Ok(Reactor {
            poll,
            events: Events::with_capacity(EVENTS_PER_POLL),
            table: WatcherTable::new(),
            remote: Remote::new(waker),
        })
    }

    /// Registers `source` for `interest` with `data` as its watcher metadata.
    ///
    /// # Errors
    ///
    /// `AlreadyExists` if the descriptor is already watched (see
    /// [`crate::watcher::AlreadyWatched`]); otherwise the OS error from the poller.
    pub fn register<S>(
        &mut self,
        source: &mut S,
        interest: Interest,
        data: T,
    ) -> io::Result<WatcherId>
    where
        S: Source + AsDescriptor + ?Sized,
    {
        let id = self
            .table
            .insert(source.descriptor(), interest, data)
            .map_err(|e| io::Error::new(io::ErrorKind::AlreadyExists, e))?;
        if let Err(e) =
            self.poll
                .registry()
                .register(source, WatcherTable::<T>::token(id), interest)
        {
            self.table.remove(id);
            return Err(e);
        }
        Ok(id)
    }

    /// Changes the interest of a registration.
    ///
    /// # Errors
    ///
    /// `NotFound` if `id` is stale; otherwise the OS error from the poller.
    pub fn reregister<S>(
        &mut self,
        id: WatcherId,
        source: &mut S,
        interest: Interest,
    ) -> io::Result<()>
    where
        S: Source + ?Sized,
    {
        let watcher = self.table.get_mut(id).ok_or_else(stale)?;
        self.poll
            .registry()
            .reregister(source, WatcherTable::<T>::token(id), interest)?;
        watcher.interest = interest;
        Ok(())
    }

    /// Removes a registration from the poller and the table, returning its data.
    ///
    /// # Errors
    ///
    /// `NotFound` if `id` is stale. An OS error from the poller is returned
    /// after the watcher was removed from the table anyway.
    pub fn deregister<S>(&mut self, id: WatcherId, source: &mut S) -> io::Result<T>
    where
        S: Source + ?Sized,
    {
        let data = self.table.remove(id).ok_or_else(stale)?;
        self.poll.registry().deregister(source)?;
        Ok(data)
    }

    /// Removes a watcher from the table without telling the poller. Use it just
    /// before the descriptor is closed: closing removes it from the poller, and
    /// any event already queued for it is dropped as stale.
    pub fn forget(&mut self, id: WatcherId) -> Option<T> {
        self.table.remove(id)
    }

    /// The watcher for `id`, or `None` if it was removed or its descriptor reused.
    pub fn watcher(&self, id: WatcherId) -> Option<&Watcher<T>> {
        self.table.get(id)
    }

    /// The watcher for `id`, mutably.
    pub fn watcher_mut(&mut self, id: WatcherId) -> Option<&mut Watcher<T>> {
        self.table.get_mut(id)
    }

    /// Number of registered watchers.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether no watcher is registered.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    /// A handle other threads use to wake this reactor.
    pub fn remote(&self) -> &Remote {
        &self.remote
    }

    /// Waits up to `timeout` (`None`: until something happens; zero: just look)
    /// and appends the demultiplexed events to `out`.
    ///
    /// Events whose token no longer names a current watcher are dropped and
    /// counted in [`Polled::stale`]. When the waker fired, [`Polled::woken`] is
    /// set and the wake is acknowledged, so the caller should then drain the
    /// [`Remote`]'s inbox.
    ///
    /// # Errors
    ///
    /// The OS error from the poller. An interrupted wait (`EINTR`) is not an
    /// error: it returns with no events, as a timeout would.
    ///
    /// # Implementation notes
    ///
    /// mio rounds a non-zero timeout *up* to the poller's millisecond
    /// resolution, so a timer is never reported early and the caller never
    /// spins on a sub-millisecond remainder.
    ///
    /// A zero timeout with no watcher registered and no wake pending does not
    /// reach the OS: only the waker could report something, and its flag
    /// says it has not been rung (libuv's `uv__io_poll` likewise returns at
    /// once when no descriptor is watched). An idle loop then costs no
    /// system call per iteration. A wake that races with this check sets the
    /// flag first, so the next poll sees it; a poll that may block always
    /// reaches the OS, so a wake is never missed.
    pub fn poll(&mut self, timeout: Option<Duration>, out: &mut Vec<Event>) -> io::Result<Polled> {
        let mut polled = Polled::default();
        if timeout == Some(Duration::ZERO) && self.table.is_empty() && !self.remote.is_signaled() {
            polled.skipped = true;
            return Ok(polled);
        }
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(polled),
            Err(e) => return Err(e),
        }
        for event in self.events.iter() {
            if event.token() == WAKER_TOKEN {
                polled.woken = true;
                continue;
            }
            match self.table.resolve(event.token()) {
                Some(watcher) => {
                    out.push(Event {
                        watcher,
                        readiness: Readiness::from_event(event),
                    });
                    polled.events += 1;
                }
                None => polled.stale += 1,
            }
        }
        if polled.woken {
            self.remote.acknowledge();
        }
        Ok(polled)
    }
}

fn stale() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        "stale watcher: it was deregistered or its descriptor was reused",
    )
}
