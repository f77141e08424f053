//! Signal handles (libuv's `uv_signal_t`): a process signal, delivered as a
//! callback on the loop thread.
//!
//! A signal interrupts whatever the process is doing, so its handler may do
//! almost nothing. The handler installed here only writes a byte to a pipe
//! (through `signal-hook`, the well-kept crate for it); the loop watches the
//! pipe's other end like any descriptor and runs the callback in the poll
//! phase. Several deliveries before the loop looks coalesce into one call, as
//! in libuv.

use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

use eventide_reactor::Interest;

use crate::event_loop::Loop;
use crate::handle::{AnyHandle, AsHandle, IoWatch};

/// A signal handle: [`Loop::signal_start`] returns it; [`Loop::close`] stops it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SignalHandle {
    watch: IoWatch,
    signum: i32,
}

impl SignalHandle {
    /// The signal number.
    pub fn signum(self) -> i32 {
        self.signum
    }
}

impl AsHandle for SignalHandle {
    fn as_handle(&self) -> AnyHandle {
        self.watch.as_handle()
    }
}

/// Unregisters the OS handler when the handle's callback is dropped (on close).
struct Registration {
    id: signal_hook::SigId,
    pipe: UnixStream,
}

impl Drop for Registration {
    fn drop(&mut self) {
        signal_hook::low_level::unregister(self.id);
    }
}

impl Loop {
    /// Calls `cb` on the loop thread each time the process receives `signum`
    /// (libuv's `uv_signal_start`; Node's `process.on('SIGINT')`). While the
    /// handle is open the signal's default action (such as terminating on
    /// `SIGINT`) does not happen. The handle is referenced: `unref_handle` it
    /// if the signal alone should not keep the loop alive.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a signal that cannot be caught (`SIGKILL`,
    /// `SIGSTOP`, and the ones `signal-hook` forbids such as `SIGSEGV`); the
    /// OS error from creating the pipe or registering it.
    ///
    /// ```
    /// use eventide_loop_phases::{Loop, RunMode};
    ///
    /// let mut lp = Loop::new();
    /// const SIGUSR1: i32 = 10; // on Linux
    /// lp.signal_start(SIGUSR1, |lp, signum| {
    ///     println!("got signal {signum}, shutting down");
    ///     lp.stop();
    /// })?;
    /// // Send ourselves the signal from another thread.
    /// std::thread::spawn(|| {
    ///     std::process::Command::new("kill").args(["-USR1", &std::process::id().to_string()]).status()
    /// });
    /// lp.run(RunMode::Default);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn signal_start(
        &mut self,
        signum: i32,
        mut cb: impl FnMut(&mut Loop, i32) + 'static,
    ) -> io::Result<SignalHandle> {
        let (rx, tx) = UnixStream::pair()?;
        rx.set_nonblocking(true)?;
        tx.set_nonblocking(true)?;
        let id = signal_hook::low_level::pipe::register(signum, tx)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut registration = Registration { id, pipe: rx };
        let fd = registration.pipe.as_raw_fd();
        let watch = self.poll_fd(fd, Interest::READABLE, move |lp, _, _| {
            // Drain the pipe: several deliveries make one callback.
            let mut buf = [0u8; 64];
            while matches!(registration.pipe.read(&mut buf), Ok(n) if n > 0) {}
            cb(lp, signum);
        })?;
        if let Some(e) = self.handle_mut(watch.id()) {
            e.label = "signal";
        }
        Ok(SignalHandle { watch, signum })
    }
}
