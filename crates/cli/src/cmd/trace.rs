//! `eventide trace`.

/// Arguments of `eventide trace`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {}

/// Runs `eventide trace`.
pub(crate) fn run(args: Args) -> Result<(), String> {
    Err(format!("`trace` is not written yet ({args:?})"))
}
