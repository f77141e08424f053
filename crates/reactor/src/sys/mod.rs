//! Everything OS-specific in Eventide lives under this module (mio's rule).
//!
//! mio already hides epoll and kqueue. What remains for a backend to provide:
//!
//! - [`Descriptor`]: the integer identity of a watched source (a Unix file
//!   descriptor), which keys the watcher table, and [`AsDescriptor`] to read it
//!   off a source;
//! - [`SpareDescriptor`]: one descriptor held in reserve so that a listener
//!   hitting the descriptor limit (`EMFILE`) can still accept and drop the
//!   connection instead of spinning on a readiness it cannot clear (libuv's
//!   `uv__emfile_trick`), and [`is_out_of_descriptors`] to recognise the case;
//! - [`FdSource`]: a raw descriptor the caller owns, as a pollable source;
//! - [`descriptor_limit`] and [`set_descriptor_limit`]: the process's soft
//!   limit on open descriptors (`RLIMIT_NOFILE`);
//! - [`monotonic_ns`]: the monotonic clock as one integer, read once per
//!   loop iteration and once per timer started (libuv's `uv__hrtime`).
//!
//! Only Unix is implemented. A Windows backend would key watchers by socket
//! handle and is not written.

#[cfg(unix)]
mod unix;

#[cfg(unix)]
pub use unix::{
    AsDescriptor, Descriptor, FdSource, SpareDescriptor, descriptor_limit, is_out_of_descriptors,
    monotonic_ns, set_descriptor_limit,
};

#[cfg(not(unix))]
compile_error!(
    "eventide-reactor supports Unix only: its watcher table is keyed by file descriptor"
);
