//! The sans-I/O HTTP/1.1 core: parsers, serializer and the types they share.
//!
//! Nothing here touches a socket, a clock or the event loop. The server and
//! client glue own the connection; this module turns bytes into events and
//! values into bytes:
//!
//! - [`RequestParser`] (server side) and [`ResponseParser`] (client side)
//!   consume a `BytesMut` receive buffer and produce [`Event`]s: a head,
//!   body [`Event::Data`], and an [`Event::End`] with the trailers. Heads
//!   are parsed by `httparse`; the body framing (Content-Length,
//!   chunked, until close) is decoded here.
//! - [`encode`] writes heads and chunked framing into a `BytesMut`.
//! - [`Headers`], [`Method`], [`Version`], [`RequestHead`],
//!   [`ResponseHead`] are the message types; parsed heads are zero-copy
//!   slices of one frozen buffer.
//!
//! # Strictness
//!
//! Parsing follows RFC 9112 strictly, because a lenient parser behind or in
//! front of another parser is how request smuggling happens. Every
//! rejection is a [`ParseError`] with the status code to answer with, and
//! every buffer is bounded by [`Limits`]: a head by
//! [`Limits::max_header_bytes`] (checked while it is still incomplete), a
//! request target by [`Limits::max_target_len`], a chunk-size line by
//! [`MAX_CHUNK_LINE`], leading empty lines by [`MAX_LEADING_EMPTY_LINES`],
//! a body by [`Limits::max_body_bytes`]. Body bytes are never buffered by
//! the parser: they are handed out as soon as they arrive.
//!
//! # Examples
//!
//! A request written by the serializer and read back by the parser:
//!
//! ```
//! use bytes::BytesMut;
//! use eventide_http_mini::proto::encode::{encode_chunk, encode_last_chunk, encode_request_head};
//! use eventide_http_mini::proto::{BodyKind, Event, Framing, Headers, Method, RequestParser};
//!
//! let mut headers = Headers::new();
//! headers.append("Host", "example.com");
//! let mut wire = BytesMut::new();
//! encode_request_head(&Method::POST, "/items", &headers, Framing::Chunked, &mut wire)?;
//! encode_chunk(b"hello", &mut wire);
//! encode_last_chunk(&Headers::new(), &mut wire)?;
//!
//! let mut parser = RequestParser::new();
//! let Some(Event::Head(head)) = parser.next_event(&mut wire)? else { panic!() };
//! assert_eq!(head.body, BodyKind::Chunked);
//! assert_eq!(parser.next_event(&mut wire)?, Some(Event::Data("hello".into())));
//! assert!(matches!(parser.next_event(&mut wire)?, Some(Event::End { .. })));
//! assert!(wire.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod body;
mod chars;
mod chunked;
mod date;
pub mod encode;
mod error;
mod framing;
mod headers;
mod limits;
mod message;
mod method;
mod raw;
mod request;
mod response;
mod scan;
mod status;
mod trailers;
mod version;

pub use encode::Framing;
pub use error::{EncodeError, ParseError};
pub use headers::{HeaderIter, Headers};
pub use limits::{Limits, MAX_CHUNK_LINE, MAX_LEADING_EMPTY_LINES};
pub use message::{
    BodyKind, Event, RequestEvent, RequestHead, RequestTarget, ResponseEvent, ResponseHead,
};
pub use method::Method;
pub use request::RequestParser;
pub use response::ResponseParser;
pub use status::reason_phrase;
pub use version::Version;
