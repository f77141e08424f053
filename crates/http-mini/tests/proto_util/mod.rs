//! Helpers shared by the `proto_*` integration tests: feed bytes to a
//! parser in given pieces and collect what it produced, with the body of
//! each message concatenated so outcomes compare across splits.

#![allow(dead_code, unreachable_pub)]

use bytes::BytesMut;
use eventide_http_mini::proto::{
    Event, Headers, Limits, Method, ParseError, RequestHead, RequestParser, ResponseHead,
    ResponseParser,
};

/// One message as a parser delivered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Message<H> {
    pub head: H,
    pub body: Vec<u8>,
    /// `None` until the `End` event.
    pub trailers: Option<Headers>,
}

/// Everything a parser produced from some input.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome<H> {
    pub messages: Vec<Message<H>>,
    pub error: Option<ParseError>,
}

impl<H> Default for Outcome<H> {
    fn default() -> Self {
        Self {
            messages: Vec::new(),
            error: None,
        }
    }
}

impl<H> Outcome<H> {
    fn push(&mut self, event: Event<H>) {
        match event {
            Event::Head(head) => self.messages.push(Message {
                head,
                body: Vec::new(),
                trailers: None,
            }),
            Event::Data(data) => {
                assert!(!data.is_empty(), "empty Data event");
                let m = self.messages.last_mut().expect("Data before Head");
                assert!(m.trailers.is_none(), "Data after End");
                m.body.extend_from_slice(&data);
            }
            Event::End { trailers } => {
                let m = self.messages.last_mut().expect("End before Head");
                assert!(m.trailers.is_none(), "two End events");
                m.trailers = Some(trailers);
            }
        }
    }
}

/// A parser the helpers can drive.
pub trait Parser {
    type Head;
    fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Event<Self::Head>>, ParseError>;
    fn limits(&self) -> Limits;
}

impl Parser for RequestParser {
    type Head = RequestHead;
    fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Event<RequestHead>>, ParseError> {
        self.next_event(buf)
    }
    fn limits(&self) -> Limits {
        *RequestParser::limits(self)
    }
}

impl Parser for ResponseParser {
    type Head = ResponseHead;
    fn next(&mut self, buf: &mut BytesMut) -> Result<Option<Event<ResponseHead>>, ParseError> {
        self.next_event(buf)
    }
    fn limits(&self) -> Limits {
        *ResponseParser::limits(self)
    }
}

/// Feeds `input` cut at `cuts` (sorted offsets), draining the parser after
/// each piece. Checks that the parser never leaves more than a head's worth
/// of bytes unconsumed when it asks for more (`check_buffer`).
pub fn run_split<P: Parser>(
    parser: &mut P,
    input: &[u8],
    cuts: &[usize],
    check_buffer: bool,
) -> Outcome<P::Head> {
    let mut out = Outcome::default();
    let mut buf = BytesMut::new();
    let mut start = 0;
    let ends = cuts
        .iter()
        .copied()
        .filter(|&c| c <= input.len())
        .chain([input.len()]);
    for end in ends {
        if end < start {
            continue;
        }
        buf.extend_from_slice(&input[start..end]);
        start = end;
        loop {
            match parser.next(&mut buf) {
                Ok(Some(event)) => out.push(event),
                Ok(None) => break,
                Err(e) => {
                    out.error = Some(e);
                    return out;
                }
            }
        }
        if check_buffer {
            let cap = parser.limits().max_header_bytes;
            assert!(
                buf.len() <= cap,
                "parser left {} bytes buffered (cap {cap})",
                buf.len()
            );
        }
    }
    out
}

/// Every offset: `[1, 2, ..., len - 1]`.
pub fn byte_cuts(len: usize) -> Vec<usize> {
    (1..len).collect()
}

pub fn request_outcome(limits: Limits, input: &[u8], cuts: &[usize]) -> Outcome<RequestHead> {
    run_split(&mut RequestParser::with_limits(limits), input, cuts, true)
}

pub fn response_outcome(methods: &[Method], input: &[u8], cuts: &[usize]) -> Outcome<ResponseHead> {
    let mut parser = ResponseParser::new();
    for m in methods {
        parser.expect_response(m);
    }
    run_split(&mut parser, input, cuts, false)
}

/// The fields of `headers` as owned pairs, for comparisons.
pub fn fields(headers: &Headers) -> Vec<(Vec<u8>, Vec<u8>)> {
    headers
        .iter()
        .map(|(n, v)| (n.to_vec(), v.to_vec()))
        .collect()
}
