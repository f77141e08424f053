//! The subcommands, one module each.

pub(crate) mod bench;
pub(crate) mod common;
pub(crate) mod echo;
pub(crate) mod get;
pub(crate) mod serve;
pub(crate) mod trace;
