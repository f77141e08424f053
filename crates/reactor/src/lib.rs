//! # eventide-reactor
//!
//! The OS boundary of Eventide. Everything above this crate sees readiness
//! events keyed by watcher, never a raw epoll or kqueue call.
//!
//! | piece | what it is | libuv's name |
//! |---|---|---|
//! | [`Reactor`] | mio's `Poll`, the fd-keyed [`watcher::WatcherTable`], demultiplexing | `uv__io_poll`, `loop->watchers` |
//! | [`Remote`] | wakes the loop from any thread, coalescing wake-ups | `uv_async_send` |
//! | [`WorkPool`] | threads for blocking work, results back on the loop thread | the threadpool, `uv_queue_work` |
//! | [`pending::PendingOps`] | outstanding-operation count, high watermark, FIFO backlog, deadlines | (the article's advice) |
//! | [`slab::Slab`], [`deadline::DeadlineQueue`] | the generational storage the layers above reuse, and a deadline queue (the operations'; the loop's timers keep Node's per-delay lists) | `heap-inl.h` |
//!
//! OS-specific code is confined to [`sys`].
//!
//! # Examples
//!
//! Demultiplexing: a readiness event comes back as the watcher that owns the
//! descriptor, with the owner's metadata.
//!
//! ```
//! use eventide_reactor::Reactor;
//! use mio::{Interest, net::{TcpListener, TcpStream}};
//! use std::{io::Write, time::Duration};
//!
//! let mut reactor = Reactor::new()?;
//! let mut listener = TcpListener::bind("127.0.0.1:0".parse().unwrap())?;
//! let mut client = std::net::TcpStream::connect(listener.local_addr()?)?;
//! # std::thread::sleep(Duration::from_millis(20));
//! let (mut server_side, _) = listener.accept()?;
//! let id = reactor.register(&mut server_side, Interest::READABLE, "conn #1")?;
//! client.write_all(b"ping")?;
//!
//! let mut events = Vec::new();
//! while events.is_empty() {
//!     reactor.poll(Some(Duration::from_secs(5)), &mut events)?;
//! }
//! let event = events[0];
//! assert_eq!(event.watcher.fd(), id.fd());
//! assert_eq!(reactor.watcher(event.watcher).unwrap().data, "conn #1");
//! # Ok::<(), std::io::Error>(())
//! ```

pub mod deadline;
pub mod pending;
pub mod pool;
mod reactor;
mod readiness;
mod remote;
pub mod slab;
pub mod sys;
pub mod watcher;

pub use mio::Interest;
pub use mio::event::Source;
pub use pool::WorkPool;
pub use reactor::{Event, Polled, Reactor};
pub use readiness::Readiness;
pub use remote::{AsyncSender, AsyncSignal, Completion, JobResult, Remote};
pub use watcher::WatcherId;
