//! The demo tour: small programs that make one rule of the event loop visible.
//!
//! Each demo is a function that receives a [`DemoEnv`]; it creates its loops
//! with [`DemoEnv::new_loop`], so that `eventide trace DEMO` can run the very
//! same code with the trace hook installed.

use std::time::Duration;

use eventide_loop_phases::Loop;

mod backpressure;
mod demux;
mod echo;
mod http;
mod phases;
mod starvation;
mod timers_vs_immediate;
mod transform_order;
mod watermark;

/// One demo of the tour.
pub(crate) struct Demo {
    /// The name on the command line.
    pub(crate) name: &'static str,
    /// One line: what it shows.
    pub(crate) summary: &'static str,
    /// A few lines printed before it runs: what to watch for, which rule.
    pub(crate) watch_for: &'static str,
    /// The demo itself.
    pub(crate) run: fn(&mut DemoEnv) -> Result<(), String>,
}

/// Called on every loop a demo creates, before the demo uses it.
pub(crate) type OnNewLoop = Box<dyn FnMut(&mut Loop)>;

/// What a demo runs in.
#[derive(Default)]
pub(crate) struct DemoEnv {
    /// Installed on every loop the demo creates (for `eventide trace`).
    pub(crate) on_new_loop: Option<OnNewLoop>,
}

impl DemoEnv {
    /// A new loop on the real clock, with the environment's hooks installed.
    pub(crate) fn new_loop(&mut self) -> Loop {
        let mut lp = Loop::new();
        if let Some(hook) = self.on_new_loop.as_mut() {
            hook(&mut lp);
        }
        lp
    }
}

/// Every demo, in tour order.
pub(crate) const DEMOS: &[Demo] = &[
    phases::DEMO,
    demux::DEMO,
    watermark::DEMO,
    backpressure::DEMO,
    transform_order::DEMO,
    echo::DEMO,
    starvation::DEMO,
    timers_vs_immediate::DEMO,
    http::DEMO,
];

pub(crate) use bytes::Bytes;

/// A byte count in KiB, as `16 KiB` (whole) or `12.5 KiB`.
pub(crate) fn kib(n: usize) -> String {
    if n % 1024 == 0 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// A duration as `+12.345 ms`, right-aligned to 11 columns: the time column of
/// every demo, so lines of one run line up.
pub(crate) fn at(d: Duration) -> String {
    format!("{:>11}", format!("+{:.3} ms", d.as_secs_f64() * 1e3))
}

/// A duration as `1.234 ms`, for figures inside a sentence.
pub(crate) fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Turns an I/O error into the demo's error message, saying what was being done.
pub(crate) fn ctx(what: &str) -> impl FnOnce(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

pub(crate) fn find(name: &str) -> Result<&'static Demo, String> {
    DEMOS.iter().find(|d| d.name == name).ok_or_else(|| {
        let names: Vec<&str> = DEMOS.iter().map(|d| d.name).collect();
        format!(
            "no demo named `{name}`; the demos are: {}",
            names.join(", ")
        )
    })
}

pub(crate) fn list() {
    let width = DEMOS.iter().map(|d| d.name.len()).max().unwrap_or(0);
    for d in DEMOS {
        println!("{:width$}  {}", d.name, d.summary);
    }
}

fn banner(d: &Demo) {
    println!("\n━━━ demo: {} ━━━ {}", d.name, d.summary);
    for line in d.watch_for.lines() {
        println!("  │ {line}");
    }
    println!();
}

pub(crate) fn run_one(name: &str) -> Result<(), String> {
    let d = find(name)?;
    banner(d);
    (d.run)(&mut DemoEnv::default())
}

pub(crate) fn run_all() -> Result<(), String> {
    for d in DEMOS {
        banner(d);
        (d.run)(&mut DemoEnv::default()).map_err(|e| format!("demo `{}` failed: {e}", d.name))?;
    }
    println!("\nThe tour is over: {} demos.", DEMOS.len());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    /// Every demo runs to completion (its own checks pass) on real sockets.
    #[test]
    fn every_demo_runs() {
        for d in DEMOS {
            (d.run)(&mut DemoEnv::default()).unwrap_or_else(|e| panic!("{}: {e}", d.name));
        }
    }

    /// With a hook already installed, as `eventide trace` will do, the demos
    /// keep it (they do not replace it) and still pass their checks.
    #[test]
    fn demos_keep_an_installed_trace_hook() {
        for d in DEMOS {
            let records = Rc::new(Cell::new(0u64));
            let seen = Rc::clone(&records);
            let mut env = DemoEnv {
                on_new_loop: Some(Box::new(move |lp: &mut Loop| {
                    let seen = Rc::clone(&seen);
                    lp.set_trace_hook(Some(Box::new(move |_| seen.set(seen.get() + 1))));
                })),
            };
            (d.run)(&mut env).unwrap_or_else(|e| panic!("{}: {e}", d.name));
            assert!(
                records.get() > 0,
                "{}: the installed hook saw nothing",
                d.name
            );
        }
    }

    #[test]
    fn names_are_unique_and_watch_for_is_short() {
        for (i, d) in DEMOS.iter().enumerate() {
            assert!(DEMOS[..i].iter().all(|e| e.name != d.name));
            let lines = d.watch_for.lines().count();
            assert!((2..=4).contains(&lines), "{}: {lines} lines", d.name);
        }
    }
}
