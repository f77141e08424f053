//! `cargo xtask ci`: everything CI checks, in the order that fails fastest,
//! ending with a 20 s soak of `eventide serve` (`cargo xtask soak`).

use crate::cmd::{cargo, run as run_cmd};

pub(crate) fn run_ci() -> Result<(), String> {
    let mut fmt = cargo();
    fmt.args(["fmt", "--all", "--", "--check"]);
    run_cmd(fmt)?;

    let mut clippy = cargo();
    clippy.args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--locked",
        "--",
        "-D",
        "warnings",
    ]);
    run_cmd(clippy)?;

    let mut test = cargo();
    test.args(["test", "--workspace", "--locked"]);
    run_cmd(test)?;

    let mut doc = cargo();
    doc.args(["doc", "--workspace", "--no-deps", "--locked"]);
    doc.env("RUSTDOCFLAGS", "-D warnings");
    run_cmd(doc)?;

    // Last, as it is the slowest: the server under a hostile load (reuses
    // the debug build of the tests above).
    crate::soak::run(&["--seconds".into(), "20".into()])?;

    eprintln!("\nci: all checks passed");
    Ok(())
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("`ci` takes no arguments (got `{a}`)"));
    }
    run_ci()
}
