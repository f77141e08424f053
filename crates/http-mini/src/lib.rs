//! A strict, minimal HTTP/1.1 implementation for Eventide.
//!
//! The [`proto`] module is the sans-I/O protocol core: request and response
//! parsers that turn bytes into events, a serializer that turns heads and
//! bodies into bytes, and the header, method and message types they share.
//! It depends on nothing but `bytes` and `httparse`, so it is tested on its
//! own, byte split by byte split; the server and client that run it on
//! Eventide's loop and streams are thin glue on top.

#![forbid(unsafe_code)]

pub mod client;
pub mod proto;
pub mod server;

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}
