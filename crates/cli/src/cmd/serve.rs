//! `eventide serve`.

/// Arguments of `eventide serve`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {}

/// Runs `eventide serve`.
pub(crate) fn run(args: Args) -> Result<(), String> {
    Err(format!("`serve` is not written yet ({args:?})"))
}
