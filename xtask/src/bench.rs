//! `cargo xtask bench`: benchmark programs that print figures side by side
//! with their peers. Not run by CI.

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    Err(format!("no benchmark is written yet (asked for {args:?})"))
}
