//! `eventide get`.

/// Arguments of `eventide get`.
#[derive(clap::Args, Debug)]
pub(crate) struct Args {}

/// Runs `eventide get`.
pub(crate) fn run(args: Args) -> Result<(), String> {
    Err(format!("`get` is not written yet ({args:?})"))
}
