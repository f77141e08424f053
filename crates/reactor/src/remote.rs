//! The reactor's inbox: how other threads reach the loop thread.
//!
//! A [`Remote`] is a cloneable, `Send + Sync` handle to one reactor. Other
//! threads leave things in its inbox (an async handle's signal, a finished
//! work-pool job) and wake the poller. Wake-ups coalesce twice over, like
//! libuv's `uv_async_send`:
//!
//! - the inbox has one `signaled` flag: only the first wake since the loop last
//!   looked writes to the OS waker (one `eventfd` write however many threads
//!   call it);
//! - each [`AsyncSignal`] has its own `pending` flag: sending it again before
//!   the loop ran its callback does nothing, so N sends give one callback.
//!
//! ```
//! use eventide_reactor::Reactor;
//! use std::time::Duration;
//!
//! let mut reactor: Reactor<()> = Reactor::new()?;
//! let signal = reactor.remote().async_signal(42);
//! let sender = signal.sender();
//! std::thread::spawn(move || { for _ in 0..100 { sender.send(); } }).join().unwrap();
//!
//! let mut events = Vec::new();
//! let polled = reactor.poll(Some(Duration::from_secs(5)), &mut events)?;
//! assert!(polled.woken);
//! let mut keys = Vec::new();
//! reactor.remote().take_signaled(&mut keys);
//! assert_eq!(keys, [42]); // 100 sends, one delivery
//! assert!(signal.clear()); // the loop clears it before running the callback
//! # Ok::<(), std::io::Error>(())
//! ```

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

/// The result of a work-pool job: its boxed return value, or the panic payload
/// if the job panicked.
pub type JobResult = std::thread::Result<Box<dyn Any + Send>>;

/// A finished work-pool job, waiting in the inbox for the loop thread.
pub struct Completion {
    /// The key the job was submitted with.
    pub key: u64,
    /// What the job returned.
    pub result: JobResult,
}

impl fmt::Debug for Completion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Completion")
            .field("key", &self.key)
            .field("ok", &self.result.is_ok())
            .finish()
    }
}

struct Inbox {
    waker: mio::Waker,
    signaled: AtomicBool,
    asyncs: Mutex<Vec<u64>>,
    completions: Mutex<Vec<Completion>>,
}

/// A `Send + Sync` handle that wakes one reactor from any thread.
#[derive(Clone)]
pub struct Remote {
    inbox: Arc<Inbox>,
}

impl fmt::Debug for Remote {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Remote")
            .field("signaled", &self.inbox.signaled.load(Ordering::Relaxed))
            .finish()
    }
}

impl Remote {
    pub(crate) fn new(waker: mio::Waker) -> Self {
        Remote {
            inbox: Arc::new(Inbox {
                waker,
                signaled: AtomicBool::new(false),
                asyncs: Mutex::new(Vec::new()),
                completions: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Wakes the reactor's poll. Wakes coalesce: only the first since the loop
    /// last acknowledged one reaches the OS.
    pub fn wake(&self) {
        if !self.inbox.signaled.swap(true, Ordering::AcqRel) {
            // A failed wake can only mean the eventfd counter is saturated,
            // which itself guarantees a pending wake-up.
            let _ = self.inbox.waker.wake();
        }
    }

    /// Called by the loop thread when the poller reported the waker: later
    /// wakes must reach the OS again. Call it *before* draining the inbox so a
    /// wake racing with the drain is not lost.
    pub fn acknowledge(&self) {
        self.inbox.signaled.store(false, Ordering::Release);
    }

    /// Whether a wake was sent and not yet acknowledged.
    pub(crate) fn is_signaled(&self) -> bool {
        self.inbox.signaled.load(Ordering::Acquire)
    }

    /// A new async signal with the owner's `key`. See [`AsyncSignal`].
    pub fn async_signal(&self, key: u64) -> AsyncSignal {
        AsyncSignal {
            inner: Arc::new(SignalInner {
                key,
                pending: AtomicBool::new(false),
                remote: self.clone(),
            }),
        }
    }

    /// Moves the keys of signals sent since the last call into `out`, each once.
    pub fn take_signaled(&self, out: &mut Vec<u64>) {
        out.append(&mut self.inbox.asyncs.lock());
    }

    /// Moves finished jobs into `out`, in the order they finished.
    pub fn take_completions(&self, out: &mut Vec<Completion>) {
        out.append(&mut self.inbox.completions.lock());
    }

    /// Delivers a finished job to the loop thread and wakes it.
    pub fn complete(&self, key: u64, result: JobResult) {
        self.inbox
            .completions
            .lock()
            .push(Completion { key, result });
        self.wake();
    }

    /// Whether two remotes reach the same reactor.
    pub fn same_reactor(&self, other: &Remote) -> bool {
        Arc::ptr_eq(&self.inbox, &other.inbox)
    }
}

struct SignalInner {
    key: u64,
    pending: AtomicBool,
    remote: Remote,
}

/// The loop side of one async handle (libuv's `uv_async_t`).
///
/// Hand [`AsyncSignal::sender`]s to other threads; the loop finds the key in
/// [`Remote::take_signaled`] and calls [`AsyncSignal::clear`] before running
/// the handle's callback, so sends during the callback schedule another one.
pub struct AsyncSignal {
    inner: Arc<SignalInner>,
}

impl fmt::Debug for AsyncSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncSignal")
            .field("key", &self.inner.key)
            .finish()
    }
}

impl AsyncSignal {
    /// A sender for other threads.
    pub fn sender(&self) -> AsyncSender {
        AsyncSender {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Clears the pending flag; returns whether it was set.
    pub fn clear(&self) -> bool {
        self.inner.pending.swap(false, Ordering::AcqRel)
    }

    /// The owner's key.
    pub fn key(&self) -> u64 {
        self.inner.key
    }
}

/// The `Send + Sync` half of an async handle: wakes the loop and makes it run
/// the handle's callback once, however many times it is sent before that.
#[derive(Clone)]
pub struct AsyncSender {
    inner: Arc<SignalInner>,
}

impl fmt::Debug for AsyncSender {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncSender")
            .field("key", &self.inner.key)
            .finish()
    }
}

impl AsyncSender {
    /// Signals the handle (libuv's `uv_async_send`). Safe from any thread;
    /// never blocks on the loop.
    pub fn send(&self) {
        if !self.inner.pending.swap(true, Ordering::AcqRel) {
            self.inner.remote.inbox.asyncs.lock().push(self.inner.key);
            self.inner.remote.wake();
        }
    }
}
