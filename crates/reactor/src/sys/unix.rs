//! The Unix backend: descriptors are file descriptors.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, RawFd};

/// Turns a libc return code into `io::Result`, reading `errno` on `-1`
/// (mio's `syscall!`, without hiding the `unsafe` from its `// SAFETY:` comment).
fn cvt(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// The identity of a watched source: a Unix file descriptor.
pub type Descriptor = RawFd;

/// Sources whose descriptor can key the watcher table.
pub trait AsDescriptor {
    /// The source's descriptor.
    fn descriptor(&self) -> Descriptor;
}

impl<T: AsRawFd + ?Sized> AsDescriptor for T {
    fn descriptor(&self) -> Descriptor {
        self.as_raw_fd()
    }
}

/// One descriptor held in reserve for the `EMFILE` case.
///
/// When `accept` fails with `EMFILE` the pending connection stays in the
/// kernel's queue and the listener stays readable: a loop that just retries
/// spins at 100% CPU. Releasing the spare descriptor makes room to accept the
/// connection and close it at once (the peer sees a reset instead of hanging),
/// then the spare is taken again.
#[derive(Debug)]
pub struct SpareDescriptor {
    spare: Option<File>,
}

impl SpareDescriptor {
    /// Reserves one descriptor (an open `/dev/null`).
    ///
    /// # Errors
    ///
    /// The error from opening `/dev/null`, typically `EMFILE` itself.
    pub fn new() -> io::Result<Self> {
        Ok(SpareDescriptor {
            spare: Some(File::open("/dev/null")?),
        })
    }

    /// Frees the reserved descriptor, runs `f` (which can now open one
    /// descriptor), and reserves it again if possible. Returns what `f` returned.
    pub fn release_for<R>(&mut self, f: impl FnOnce() -> R) -> R {
        self.spare = None;
        let r = f();
        self.spare = File::open("/dev/null").ok();
        r
    }

    /// Whether a descriptor is currently held in reserve.
    pub fn is_held(&self) -> bool {
        self.spare.is_some()
    }
}

/// The soft and hard limits on open descriptors for this process.
///
/// # Errors
///
/// The OS error from `getrlimit`.
pub fn descriptor_limit() -> io::Result<(u64, u64)> {
    let r = get_nofile()?;
    Ok((r.rlim_cur as u64, r.rlim_max as u64))
}

/// Sets the soft limit on open descriptors (at most the hard limit).
///
/// # Errors
///
/// The OS error from `setrlimit` (`EINVAL` above the hard limit).
pub fn set_descriptor_limit(soft: u64) -> io::Result<()> {
    let mut r = get_nofile()?;
    r.rlim_cur = soft as libc::rlim_t;
    // SAFETY: `r` is a valid, initialised `struct rlimit` that the call only reads.
    cvt(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &r) })?;
    Ok(())
}

fn get_nofile() -> io::Result<libc::rlimit> {
    let mut r = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `r` is a valid, writable `struct rlimit`; the call writes only to it.
    cvt(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut r) })?;
    Ok(r)
}

/// The monotonic clock (`CLOCK_MONOTONIC`, the clock `std::time::Instant`
/// reads), in nanoseconds since an arbitrary origin.
///
/// # Implementation notes
///
/// The same `clock_gettime` as `Instant::now`, without its conversions
/// (`Instant` to `Duration` to `u128` nanoseconds): the loop reads the clock
/// once per iteration and once per timer started, and those conversions
/// cost more than the read itself (a vDSO call, no system call).
#[inline]
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `struct timespec`; the call writes
    // only to it. CLOCK_MONOTONIC exists on every supported Unix, so the
    // call cannot fail (std's `Instant::now` relies on the same).
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// A raw descriptor the caller owns, made watchable (the source behind libuv's
/// `uv_poll_t`). Eventide never closes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdSource(pub Descriptor);

impl AsRawFd for FdSource {
    fn as_raw_fd(&self) -> RawFd {
        self.0
    }
}

impl mio::event::Source for FdSource {
    fn register(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &mio::Registry,
        token: mio::Token,
        interests: mio::Interest,
    ) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &mio::Registry) -> io::Result<()> {
        mio::unix::SourceFd(&self.0).deregister(registry)
    }
}

/// Whether an error means the process or the system ran out of descriptors
/// (`EMFILE`, `ENFILE`): the case [`SpareDescriptor`] is for.
pub fn is_out_of_descriptors(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}
