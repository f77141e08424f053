//! libuv as a measured peer: `xtask/bench/libuv/loop.c`, compiled with the
//! system's `gcc` against the system's libuv (`-luv`) into the target
//! directory.
//!
//! When `uv.h` is missing and the task runs as root on a machine with
//! `apt-get`, `libuv1-dev` is installed first (quietly); otherwise the peer
//! is skipped with the reason, as Node is when `node` is not on `PATH`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::proc::target_dir;
use crate::cmd::root;

const SOURCE: &str = "xtask/bench/libuv/loop.c";

/// Builds the libuv bench program and returns its path, or why it cannot.
pub(super) fn build_loop() -> Result<PathBuf, String> {
    if !has_uv_h()? {
        install_libuv_dev()?;
        if !has_uv_h()? {
            return Err("uv.h is still missing after installing libuv1-dev".into());
        }
    }
    let dir = target_dir().join("bench-peers");
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let out = dir.join("loop_libuv");
    let mut gcc = Command::new("gcc");
    gcc.args(["-O2", "-o"])
        .arg(&out)
        .arg(SOURCE)
        .arg("-luv")
        .current_dir(root());
    let shown = format!("{gcc:?}").replace('"', "");
    eprintln!("\n$ {shown}");
    let status = gcc
        .status()
        .map_err(|e| format!("could not start gcc: {e}"))?;
    if !status.success() {
        return Err(format!("`{shown}` failed ({status})"));
    }
    Ok(out)
}

/// Whether `#include <uv.h>` preprocesses (the header is on gcc's path).
fn has_uv_h() -> Result<bool, String> {
    let child = Command::new("gcc")
        .args(["-E", "-x", "c", "-o", "/dev/null", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("gcc not found on PATH".into());
        }
        Err(e) => return Err(format!("could not start gcc: {e}")),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A failed write shows as a failed preprocess below.
        let _ = stdin.write_all(b"#include <uv.h>\n");
    }
    let status = child.wait().map_err(|e| format!("waiting for gcc: {e}"))?;
    Ok(status.success())
}

/// `apt-get install -y libuv1-dev`, only as root and only where apt-get is.
fn install_libuv_dev() -> Result<(), String> {
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let apt = Command::new("apt-get")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !(root_user && apt) {
        return Err(
            "uv.h not found (install libuv's headers, e.g. `apt-get install libuv1-dev`)".into(),
        );
    }
    eprintln!("bench: uv.h not found; installing libuv1-dev with apt-get");
    let status = Command::new("apt-get")
        .args(["install", "-y", "-q", "libuv1-dev"])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("could not start apt-get: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("`apt-get install -y libuv1-dev` failed ({status})"))
    }
}
