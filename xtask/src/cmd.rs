//! Running commands from the workspace root, with the command echoed first.

use std::path::PathBuf;
use std::process::Command;

/// The workspace root (the parent of this crate's directory).
pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
        .to_path_buf()
}

/// The cargo that runs us (so toolchain overrides carry through).
pub(crate) fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Builds `targets` of `package` (`--example NAME`, `--bin NAME`, ...; none
/// for its default targets) with the release profile, quietly.
pub(crate) fn build_release(package: &str, targets: &[&str]) -> Result<(), String> {
    let mut c = cargo();
    c.args(["build", "--release", "--quiet", "-p", package])
        .args(targets);
    run(c)
}

/// Runs `cmd`, printing it first; an error names the command that failed.
pub(crate) fn run(mut cmd: Command) -> Result<(), String> {
    let shown = format!("{cmd:?}").replace('"', "");
    eprintln!("\n$ {shown}");
    let status = cmd
        .status()
        .map_err(|e| format!("could not start `{shown}`: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`{shown}` failed ({status})"))
    }
}
