//! The sans-I/O cores of the streams: buffer accounting as plain state
//! machines, with no loop and no I/O, so that Node's rules are unit- and
//! property-tested on their own. The loop-bound stream types are thin glue
//! that performs what these states decide.

mod chunk;
mod queue;
mod readable;
mod writable;

pub use chunk::{Chunk, NoRead, NoWrite};
pub(crate) use queue::Queue;
pub use readable::{PushAfterEof, ReadOutcome, ReadableState};
pub use writable::{Refused, WritableState, WriteAction};
