//! Sockets and listeners as streams (Node's `net`): TCP and Unix, with connect
//! timeouts, half-close, idle timeouts, `TCP_NODELAY`, keep-alive,
//! `SO_REUSEPORT`, connection limits and descriptor exhaustion handled.
//!
//! Under each [`Socket`] is the socket machinery libuv calls a stream handle
//! (reads, vectored writes, the FIN, liveness); a [`SocketHandle`] is that
//! machinery alone, without the stream, for a protocol server that reads
//! and writes its own bytes (the HTTP server's connections).

mod connect;
mod handle;
mod read_buffer;
mod server;
mod socket;

pub use handle::{HandleEvents, SocketHandle};
pub use server::{Server, ServerOptions, ServerStats};
pub use socket::{READS_PER_EVENT, Socket, SocketOptions};
