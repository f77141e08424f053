//! # eventide-streams
//!
//! Node's streams for the Eventide loop: buffers that stay bounded and data
//! that stays in order, whatever the speed of the producer and the consumer.
//!
//! | Node | here |
//! |---|---|
//! | `stream.Readable`, `_read`, `push` | [`Readable`], [`Source`], [`Stream::push`] |
//! | `stream.Writable`, `_write`, `_writev`, `_final` | [`Writable`], [`Sink`] |
//! | `stream.Duplex` | [`Duplex`] |
//! | `stream.Transform`, `_transform`, `_flush` | [`Transform`], [`Transformer`] |
//!
//! Streams live in loop-owned storage and are reached through `Copy` ids;
//! every method takes the `&mut Loop`. The buffer accounting is a sans-I/O
//! core ([`core`]) tested on its own; this crate's stream types are glue
//! over it.
//!
//! # Examples
//!
//! A fast producer writes into a slow consumer; `write` says when to stop and
//! `drain` when to go on, so no more than the high-water mark is buffered.
//!
//! ```
//! use bytes::Bytes;
//! use eventide_loop_phases::{Loop, RunMode};
//! use eventide_streams::{StreamOptions, Writable, Sink, WriteStatus};
//! use std::time::Duration;
//!
//! /// Takes 1 ms per chunk.
//! struct Slow;
//! impl Sink<Bytes> for Slow {
//!     fn write(&mut self, lp: &mut Loop, w: Writable<Bytes>, _chunk: Bytes) -> WriteStatus {
//!         lp.set_timeout(Duration::from_millis(1), move |lp| w.complete_write(lp, Ok(())));
//!         WriteStatus::Pending
//!     }
//! }
//!
//! let mut lp = Loop::new_manual();
//! let w = Writable::new(&mut lp, Slow, StreamOptions::default().high_water_mark(4096));
//! fn produce(lp: &mut Loop, w: Writable<Bytes>, left: &mut u32) {
//!     while *left > 0 {
//!         *left -= 1;
//!         if !w.write(lp, Bytes::from(vec![0u8; 1024])) {
//!             return; // wait for drain
//!         }
//!     }
//!     w.end(lp, None);
//! }
//! let mut left = 100;
//! produce(&mut lp, w, &mut left);
//! w.on_drain(&mut lp, move |lp| produce(lp, w, &mut left));
//! lp.run(RunMode::Default);
//! assert!(w.writable_peak_length(&lp) <= 4096 + 1024);
//! ```

#![forbid(unsafe_code)]

pub mod codec;
mod convenience;
pub mod core;
mod error;
pub mod fs;
mod listeners;
pub mod net;
mod pipe;
mod pipeline;
mod readable;
mod stream;
mod table;
mod transform;
mod writable;

pub use crate::core::{Chunk, NoRead, NoWrite};
pub use error::StreamError;
pub use listeners::ListenerId;
pub use pipe::{Pipe, PipeOptions};
pub use pipeline::{DoneCb, Pipeline, finished};
pub use stream::{
    AnyStream, Duplex, Readable, Sink, Source, Stream, StreamOptions, Transform, Writable,
    WriteStatus,
};
pub use transform::{Step, TransformCtx, Transformer};
