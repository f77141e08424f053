//! Loop metrics: iterations, callbacks per phase, utilization, timer lag.

use std::time::Duration;

use crate::trace::Phase;

/// How late timers fired: the loop time when a timer's callback started minus
/// its due time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimerLag {
    /// Timers fired.
    pub count: u64,
    /// Sum of lateness over all fired timers.
    pub total: Duration,
    /// Greatest lateness seen.
    pub max: Duration,
    /// Lateness of the most recently fired timer.
    pub last: Duration,
}

impl TimerLag {
    /// Mean lateness (zero before any timer fired).
    pub fn mean(&self) -> Duration {
        if self.count == 0 {
            Duration::ZERO
        } else {
            self.total / u32::try_from(self.count).unwrap_or(u32::MAX)
        }
    }

    pub(crate) fn record(&mut self, lag_ns: u64) {
        let lag = Duration::from_nanos(lag_ns);
        self.count += 1;
        self.total += lag;
        self.max = self.max.max(lag);
        self.last = lag;
    }
}

/// A snapshot of the loop's counters (see `Loop::metrics`).
///
/// Loop utilization follows Node's `performance.eventLoopUtilization()`:
/// *idle* is time spent blocked in the OS poller, *active* is everything else
/// since the loop was created. On a manual clock both are manual time: idle
/// is the time the clock jumped while the loop waited for a timer, elapsed is
/// the manual time since creation (so time moved with `Loop::advance` counts
/// as active).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Metrics {
    /// Loop iterations started (libuv's `uv_metrics_info().loop_count`).
    pub iterations: u64,
    /// Callbacks run per phase, indexed like [`Phase::ALL`]. Ticks and
    /// microtasks are counted separately.
    pub callbacks: [u64; 7],
    /// `next_tick` callbacks run.
    pub ticks: u64,
    /// `queue_microtask` callbacks run.
    pub microtasks: u64,
    /// Readiness events delivered to watchers.
    pub events: u64,
    /// Readiness events dropped because their watcher had gone.
    pub stale_events: u64,
    /// Time spent blocked in the poller (manual clock: time jumped over).
    pub idle: Duration,
    /// Time since the loop was created (manual clock: the manual time).
    pub elapsed: Duration,
    /// Timer lateness.
    pub timer_lag: TimerLag,
}

impl Metrics {
    /// Callbacks run in `phase`.
    pub fn callbacks_in(&self, phase: Phase) -> u64 {
        self.callbacks[phase.index()]
    }

    /// Time not spent blocked in the poller.
    pub fn active(&self) -> Duration {
        self.elapsed.saturating_sub(self.idle)
    }

    /// Fraction of time the loop was busy, 0.0 to 1.0 (Node's
    /// `eventLoopUtilization().utilization`).
    pub fn utilization(&self) -> f64 {
        if self.elapsed.is_zero() {
            0.0
        } else {
            self.active().as_secs_f64() / self.elapsed.as_secs_f64()
        }
    }

    /// Utilization between an earlier snapshot and this one (Node's
    /// `eventLoopUtilization(previous)`).
    pub fn utilization_since(&self, earlier: &Metrics) -> f64 {
        let elapsed = self.elapsed.saturating_sub(earlier.elapsed);
        let idle = self.idle.saturating_sub(earlier.idle);
        if elapsed.is_zero() {
            0.0
        } else {
            elapsed.saturating_sub(idle).as_secs_f64() / elapsed.as_secs_f64()
        }
    }
}
