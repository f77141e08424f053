//! `cargo xtask fuzz TARGET --seconds N`: runs one libFuzzer target of
//! `fuzz/` with `cargo fuzz`, installing `cargo-fuzz` first if needed.
//!
//! `cargo fuzz` wants a nightly compiler for its sanitizer flags; on a stable
//! toolchain this sets `RUSTC_BOOTSTRAP=1`, which lets stable accept them.
//! A crash leaves its input in `fuzz/artifacts/TARGET/`; turn it into a
//! regression test next to the code it broke, and keep the input under
//! `fuzz/regressions/TARGET/`.

use std::process::Command;

use crate::cmd::{cargo, root, run as run_cmd};

const TARGETS: [&str; 4] = [
    "request_parser",
    "chunked_decoder",
    "response_parser",
    "framing_codecs",
];

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut target = None;
    let mut seconds: u64 = 60;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seconds takes a whole number")?;
            }
            "--list" => {
                TARGETS.iter().for_each(|t| println!("{t}"));
                return Ok(());
            }
            t if target.is_none() && !t.starts_with('-') => target = Some(t.to_string()),
            other => {
                return Err(format!(
                    "unexpected argument `{other}`\nusage: cargo xtask fuzz TARGET [--seconds N] | --list"
                ));
            }
        }
    }
    let target = target.ok_or_else(|| format!("which target? one of: {}", TARGETS.join(", ")))?;
    if !TARGETS.contains(&target.as_str()) {
        return Err(format!(
            "no fuzz target `{target}`; the targets are: {}",
            TARGETS.join(", ")
        ));
    }
    ensure_cargo_fuzz()?;
    let fuzz_dir = root().join("fuzz");
    let mut c = cargo();
    c.current_dir(&fuzz_dir)
        .env("RUSTC_BOOTSTRAP", "1")
        .args(["fuzz", "run", &target])
        .arg(format!("corpus/{target}"))
        .args([
            "--",
            &format!("-max_total_time={seconds}"),
            "-print_final_stats=1",
        ]);
    run_cmd(c)
}

/// Installs `cargo-fuzz` from crates.io unless it is already on the path.
fn ensure_cargo_fuzz() -> Result<(), String> {
    let present = Command::new("cargo")
        .args(["fuzz", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if present {
        return Ok(());
    }
    eprintln!("cargo-fuzz is not installed: installing it from crates.io (once)");
    let mut c = cargo();
    c.args(["install", "cargo-fuzz", "--locked"]);
    run_cmd(c)
}
