//! `eventide echo`.

/// Arguments of `eventide echo`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {}

/// Runs `eventide echo`.
pub(crate) fn run(args: Args) -> Result<(), String> {
    Err(format!("`echo` is not written yet ({args:?})"))
}
