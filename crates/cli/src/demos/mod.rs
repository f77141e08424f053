//! The demo tour: small programs that make one rule of the event loop visible.
//!
//! Each demo is a function that receives a [`DemoEnv`]; it creates its loops
//! with [`DemoEnv::new_loop`], so that `eventide trace DEMO` can run the very
//! same code with the trace hook installed.

use eventide_loop_phases::Loop;

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

/// What a demo runs in.
#[derive(Default)]
pub(crate) struct DemoEnv {
    /// Installed on every loop the demo creates (for `eventide trace`).
    pub(crate) on_new_loop: Option<Box<dyn FnMut(&mut Loop)>>,
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
pub(crate) const DEMOS: &[Demo] = &[];

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
