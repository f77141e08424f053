//! `eventide bench`.

/// Arguments of `eventide bench`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {}

/// Runs `eventide bench`.
pub(crate) fn run(args: Args) -> Result<(), String> {
    Err(format!("`bench` is not written yet ({args:?})"))
}
