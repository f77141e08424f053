//! # eventide-loop-phases
//!
//! The event loop: libuv's iteration with Node's nextTick and microtask
//! queues, in Rust, with callbacks that receive `&mut Loop`.
//!
//! ```text
//!    ┌───────────────────────────┐
//! ┌─>│           timers          │  set_timeout, set_interval
//! │  └─────────────┬─────────────┘
//! │  ┌─────────────┴─────────────┐
//! │  │     pending callbacks     │  deferred I/O, work completions
//! │  └─────────────┬─────────────┘
//! │  ┌─────────────┴─────────────┐
//! │  │       idle, prepare       │  idle_start, prepare_start
//! │  └─────────────┬─────────────┘
//! │  ┌─────────────┴─────────────┐
//! │  │           poll            │  I/O callbacks, async handles
//! │  └─────────────┬─────────────┘
//! │  ┌─────────────┴─────────────┐
//! │  │           check           │  check_start, set_immediate
//! │  └─────────────┬─────────────┘
//! │  ┌─────────────┴─────────────┐
//! └──┤      close callbacks      │  close
//!    └───────────────────────────┘
//!      after every callback: next_tick queue, then queue_microtask queue
//! ```
//!
//! | concept | here | libuv | Node |
//! |---|---|---|---|
//! | the loop | [`Loop`], [`Loop::run`], [`RunMode`] | `uv_loop_t`, `uv_run` | the process |
//! | timers | [`Loop::set_timeout`], [`Loop::set_interval`], [`Loop::refresh`] | `uv_timer_t` | `setTimeout` |
//! | immediates | [`Loop::set_immediate`] | a check handle | `setImmediate` |
//! | ticks, microtasks | [`Loop::next_tick`], [`Loop::queue_microtask`] | | `process.nextTick`, `queueMicrotask` |
//! | loop watchers | [`Loop::idle_start`], [`Loop::prepare_start`], [`Loop::check_start`] | `uv_idle_t`, ... | |
//! | I/O | [`Loop::io_start`], [`Loop::poll_fd`] | `uv_poll_t` | |
//! | threads | [`Loop::async_init`], [`Loop::spawn_blocking`] | `uv_async_t`, `uv_queue_work` | |
//! | signals | [`Loop::signal_start`] | `uv_signal_t` | `process.on('SIGINT')` |
//! | backpressure on the OS | [`Loop::submit_op`] | | |
//! | liveness | [`Loop::ref_handle`], [`Loop::unref_handle`], [`Loop::close`] | `uv_ref`, `uv_close` | `ref()`, `unref()` |
//! | observability | [`Loop::set_trace_hook`], [`Loop::metrics`] | `uv_metrics_info` | `eventLoopUtilization` |
//!
//! # Examples
//!
//! Inside an I/O callback an immediate always runs before a zero timeout: the
//! check phase comes right after poll, the timers phase only after it.
//!
//! ```
//! use eventide_loop_phases::{Interest, Loop, RunMode};
//! use std::{cell::RefCell, os::fd::AsRawFd, os::unix::net::UnixDatagram, rc::Rc, time::Duration};
//!
//! let order = Rc::new(RefCell::new(Vec::new()));
//! let mut lp = Loop::new();
//! let (tx, rx) = UnixDatagram::pair()?;
//! tx.send(b"!")?;
//! let o = Rc::clone(&order);
//! lp.poll_fd(rx.as_raw_fd(), Interest::READABLE, move |lp, watch, _| {
//!     let (a, b) = (Rc::clone(&o), Rc::clone(&o));
//!     lp.set_timeout(Duration::ZERO, move |_| a.borrow_mut().push("timeout"));
//!     lp.set_immediate(move |_| b.borrow_mut().push("immediate"));
//!     lp.close(watch, None);
//! })?;
//! lp.run(RunMode::Default);
//! assert_eq!(*order.borrow(), ["immediate", "timeout"]);
//! # drop(rx);
//! # Ok::<(), std::io::Error>(())
//! ```

#![forbid(unsafe_code)]

mod async_handle;
mod clock;
mod event_loop;
mod ext;
mod handle;
mod immediate;
mod io;
pub mod metrics;
mod ops;
mod pending;
mod run;
mod signal;
pub mod timers;
pub mod trace;
mod watchers;
mod work;

pub use event_loop::{DEFAULT_OP_HIGH_WATERMARK, Loop};
pub use eventide_reactor::pending::{Admission, OpId, OpStats};
pub use eventide_reactor::{AsyncSender, Interest, Readiness};
pub use ext::ExtKey;
pub use handle::{
    AnyHandle, AsHandle, AsyncHandle, Check, HandleId, Idle, Immediate, IoWatch, Prepare, Task,
    Timer,
};
pub use metrics::{Metrics, TimerLag};
pub use ops::OpsSnapshot;
pub use run::RunMode;
pub use signal::SignalHandle;
pub use trace::{CallbackKind, Phase, TraceEvent, TraceHook, TraceRecord};
pub use work::{Work, WorkError};
