//! The HTTP/1.1 client: requests over pooled keep-alive connections (Node's
//! `http.request`, `http.get` and `http.Agent`).
//!
//! | Node | here |
//! |---|---|
//! | `http.request(options, cb)` | [`request`], [`RequestOptions`] |
//! | `http.get(url, cb)` | [`get`] |
//! | `http.ClientRequest`: `write`, `end`, `destroy` | [`ClientRequest`] |
//! | `http.IncomingMessage` | [`ClientResponse`], its body a `Readable<Bytes>` |
//! | `http.Agent`, `globalAgent` | [`Agent`], [`Agent::default_for`], [`AgentOptions`] |
//! | `new URL(...)` (http only) | [`Url`] |
//! | the `error` event | [`ClientError`], given to the response callback |
//!
//! Everything is glue over the sans-I/O [`proto`](crate::proto) core and
//! Eventide's sockets: a request's head and body are encoded with
//! [`proto::encode`](crate::proto::encode) and written to a socket, and a
//! [`ResponseParser`](crate::proto::ResponseParser) per connection turns
//! the bytes read into the response head and body.
//!
//! # Backpressure
//!
//! Both directions follow the stream rules: [`ClientRequest::write`]
//! returns `false` once the request body stream is at its high-water mark
//! (a connection's socket that does not drain holds the body's writes
//! back), and a response body that is not read pauses the socket.
//!
//! # Connections
//!
//! Requests to one `(host, port)` share an [`Agent`]'s keep-alive
//! connections; at most [`AgentOptions::max_sockets_per_host`] are open at
//! once and further requests wait in FIFO order. A connection is reused only
//! when its response ended cleanly and allowed it (HTTP/1.1 without
//! `Connection: close`, or HTTP/1.0 with `keep-alive`). An idle connection
//! does not keep the loop alive and is closed after
//! [`AgentOptions::keep_alive_idle`]. When a reused connection turns out to
//! be closed by the server before any byte of the response, an idempotent
//! request with a replayable body is sent again once on a new connection.
//!
//! # Examples
//!
//! ```
//! use eventide_http_mini::client;
//! use eventide_loop_phases::{Loop, RunMode};
//! use std::io::{Read, Write};
//!
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let port = listener.local_addr()?.port();
//! std::thread::spawn(move || {
//!     let (mut conn, _) = listener.accept().unwrap();
//!     let mut buf = [0u8; 1024];
//!     let _ = conn.read(&mut buf).unwrap(); // a GET head fits in one read here
//!     conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").unwrap();
//! });
//!
//! let mut lp = Loop::new();
//! client::get(&mut lp, format!("http://127.0.0.1:{port}/missing").as_str(), |_lp, res| {
//!     assert_eq!(res.expect("a response").status(), 404);
//! });
//! lp.run(RunMode::Default);
//! # Ok::<(), std::io::Error>(())
//! ```

mod agent;
mod conn;
mod error;
mod request;
mod response;
mod state;
mod url;

use eventide_loop_phases::Loop;

pub use agent::{
    Agent, AgentOptions, DEFAULT_KEEP_ALIVE_IDLE, DEFAULT_MAX_IDLE_PER_HOST,
    DEFAULT_MAX_SOCKETS_PER_HOST,
};
pub use error::{ClientError, TimeoutKind};
pub use request::{ClientRequest, RequestOptions, ResponseCallback, request};
pub use response::ClientResponse;
pub use url::{IntoUrl, Url, UrlError};

use crate::proto::Method;

/// Sends a `GET` without a body and ends it (Node's `http.get`): the same
/// as [`request`] with [`Method::GET`] followed by
/// [`ClientRequest::end`].
///
/// # Errors
///
/// An unparsable URL is reported to `on_response` as
/// [`ClientError::InvalidUrl`] on the next tick; otherwise as [`request`].
pub fn get(
    lp: &mut Loop,
    url: impl IntoUrl,
    on_response: impl FnOnce(&mut Loop, Result<ClientResponse, ClientError>) + 'static,
) -> ClientRequest {
    let options = url
        .into_url()
        .map(|url| RequestOptions::new(Method::GET, url))
        .map_err(ClientError::InvalidUrl);
    let req = request::new_request(lp, options, Box::new(on_response));
    req.end(lp, None);
    req
}

#[cfg(test)]
mod tests;
