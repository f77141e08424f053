//! The loop's clock: real (monotonic) or manual (for deterministic tests).

use std::time::Duration;

use eventide_reactor::sys::monotonic_ns;

/// Where the loop reads the time from.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Clock {
    /// Monotonic time since the loop was created: `epoch` is the
    /// [`monotonic_ns`] reading then.
    Real { epoch: u64 },
    /// Time that moves only when the loop would otherwise block waiting for a
    /// timer (it jumps to the timer) or when the test calls `Loop::advance`.
    Manual { now: u64 },
}

impl Clock {
    pub(crate) fn real() -> Self {
        Clock::Real {
            epoch: monotonic_ns(),
        }
    }

    /// Nanoseconds since the loop's epoch.
    #[inline]
    pub(crate) fn read(&self) -> u64 {
        match self {
            Clock::Real { epoch } => monotonic_ns().saturating_sub(*epoch),
            Clock::Manual { now } => *now,
        }
    }

    pub(crate) fn is_manual(&self) -> bool {
        matches!(self, Clock::Manual { .. })
    }

    /// Moves a manual clock forward to `to` (never backwards); no effect on a real clock.
    pub(crate) fn advance_to(&mut self, to: u64) {
        if let Clock::Manual { now } = self {
            *now = (*now).max(to);
        }
    }
}

/// A duration as whole nanoseconds, saturating at about 584 years.
pub(crate) fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
