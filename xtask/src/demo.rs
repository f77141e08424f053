//! `cargo xtask demo`: the tour. The demos themselves live in the `eventide`
//! binary (`eventide demo NAME`), so that `eventide trace NAME` can run the
//! same code with the loop's trace hook on.

use crate::cmd::{cargo, run as run_cmd};

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut cmd = cargo();
    cmd.args(["run", "--quiet", "--package", "eventide-cli", "--", "demo"]);
    match args {
        [] => {}
        [flag] if flag == "--list" => {
            cmd.arg("--list");
        }
        [name] => {
            cmd.arg(name);
        }
        _ => return Err("usage: cargo xtask demo [NAME | --list]".into()),
    }
    run_cmd(cmd)
}
