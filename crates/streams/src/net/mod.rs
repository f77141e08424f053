//! Sockets and listeners as streams (Node's `net`): TCP and Unix, with connect
//! timeouts, half-close, idle timeouts, `TCP_NODELAY`, keep-alive,
//! `SO_REUSEPORT`, connection limits and descriptor exhaustion handled.

mod connect;
mod handle;
mod read_buffer;
mod server;
mod socket;

pub use handle::{HandleEvents, SocketHandle};
pub use server::{Server, ServerOptions, ServerStats};
pub use socket::{READS_PER_EVENT, Socket, SocketOptions};
