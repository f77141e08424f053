//! Half-close over TCP: `end` sends a FIN; the peer sees `end` and can still
//! write back. With `allow_half_open(false)` (Node's default for sockets)
//! the peer's writable side ends right after its `end` event; with `true`
//! it stays open until the peer calls `end` itself.

mod util;

use bytes::Bytes;
use eventide_loop_phases::Loop;
use eventide_streams::StreamOptions;
use eventide_streams::net::{Server, ServerOptions, Socket, SocketOptions};
use util::{Log, ms, record_readable, run_bounded, shared};

fn socket_options(half_open: bool) -> SocketOptions {
    SocketOptions {
        stream: StreamOptions::default()
            .allow_half_open(half_open)
            .label("socket"),
        ..SocketOptions::default()
    }
}

fn server_options(half_open: bool) -> ServerOptions {
    ServerOptions {
        socket: socket_options(half_open),
        ..ServerOptions::default()
    }
}

fn b(s: &'static str) -> Bytes {
    Bytes::from_static(s.as_bytes())
}

/// The client ends first; the server answers after the FIN, from a timer
/// (half-open) or from its `end` handler (not half-open).
#[test]
fn client_ends_first_server_still_answers() {
    for server_half_open in [true, false] {
        let mut lp = Loop::new();
        let slog = Log::new();
        let sl = slog.clone();
        let server_got = shared(Vec::new());
        let sg = server_got.clone();
        let server = Server::listen_tcp(
            &mut lp,
            "127.0.0.1:0".parse().unwrap(),
            server_options(server_half_open),
            move |lp, conn| {
                let got = record_readable(lp, *conn, &sl);
                let (sg, sl2) = (sg.clone(), sl.clone());
                conn.on_end(lp, move |lp| {
                    let sl2 = sl2.clone();
                    sg.borrow_mut().extend_from_slice(&got.borrow());
                    if server_half_open {
                        // Still writable after the peer's FIN, as long as we like.
                        lp.set_timeout(ms(50), move |lp| {
                            sl2.push(format!("writable_ended={}", conn.writable_ended(lp)));
                            conn.write(lp, b("answer"));
                            conn.end(lp, None);
                        });
                    } else {
                        // Written before the automatic end that follows this event.
                        conn.write(lp, b("answer"));
                        let sl3 = sl2.clone();
                        lp.set_timeout(ms(20), move |lp| {
                            sl3.push(format!("writable_ended={}", conn.writable_ended(lp)));
                        });
                    }
                });
            },
        )
        .unwrap();
        let addr = server.local_addr(&lp).unwrap();
        let client = Socket::connect_tcp(&mut lp, addr, SocketOptions::default());
        let clog = Log::new();
        let client_got = record_readable(&mut lp, *client, &clog);
        client.end(&mut lp, Some(b("question")));
        client.on_close(&mut lp, move |lp| server.close(lp));
        run_bounded(&mut lp, 10, "half-close, client first");

        assert_eq!(*server_got.borrow(), b"question");
        assert_eq!(
            *client_got.borrow(),
            b"answer",
            "server half-open {server_half_open}"
        );
        let sl = slog.get();
        assert!(
            sl.contains(&format!("writable_ended={}", !server_half_open)),
            "{sl:?}"
        );
        assert_eq!(sl.iter().filter(|e| *e == "end").count(), 1);
        assert_eq!(sl.iter().filter(|e| *e == "close").count(), 1, "{sl:?}");
        assert!(!sl.iter().any(|e| e.starts_with("error")), "{sl:?}");
        let cl = clog.get();
        assert_eq!(cl[cl.len() - 2..], ["end", "close"]);
        assert!(!cl.iter().any(|e| e.starts_with("error")));
    }
}

/// The server ends first (a greeting then FIN); the client sees `end` and
/// answers afterwards (half-open) or from its `end` handler.
#[test]
fn server_ends_first_client_still_answers() {
    for client_half_open in [true, false] {
        let mut lp = Loop::new();
        let server_got = shared(Vec::new());
        let slog = Log::new();
        let (sg, sl) = (server_got.clone(), slog.clone());
        let server = Server::listen_tcp(
            &mut lp,
            "127.0.0.1:0".parse().unwrap(),
            server_options(false),
            move |lp, conn| {
                let got = record_readable(lp, *conn, &sl);
                let sg = sg.clone();
                conn.on_end(lp, move |_| {
                    sg.borrow_mut().extend_from_slice(&got.borrow())
                });
                conn.end(lp, Some(b("hello")));
            },
        )
        .unwrap();
        let addr = server.local_addr(&lp).unwrap();
        let client = Socket::connect_tcp(&mut lp, addr, socket_options(client_half_open));
        let clog = Log::new();
        let client_got = record_readable(&mut lp, *client, &clog);
        client.on_end(&mut lp, move |lp| {
            if client_half_open {
                lp.set_timeout(ms(50), move |lp| {
                    client.write(lp, b("late reply"));
                    client.end(lp, None);
                });
            } else {
                client.write(lp, b("late reply"));
            }
        });
        client.on_close(&mut lp, move |lp| server.close(lp));
        run_bounded(&mut lp, 10, "half-close, server first");

        assert_eq!(*client_got.borrow(), b"hello");
        assert_eq!(
            *server_got.borrow(),
            b"late reply",
            "client half-open {client_half_open}"
        );
        assert_eq!(slog.get()[slog.get().len() - 2..], ["end", "close"]);
        let cl = clog.get();
        assert_eq!(cl[cl.len() - 2..], ["end", "close"]);
    }
}

/// A write after `end` on a socket is an error event on that socket, not
/// a panic; the server's side of the connection just sees the end.
#[test]
fn write_after_end_on_a_socket_is_an_error_event() {
    let mut lp = Loop::new();
    let slog = Log::new();
    let sl = slog.clone();
    let server_cell = std::rc::Rc::new(std::cell::Cell::new(None::<Server>));
    let sc = server_cell.clone();
    let server = Server::listen_tcp(
        &mut lp,
        "127.0.0.1:0".parse().unwrap(),
        server_options(false),
        move |lp, conn| {
            let _ = record_readable(lp, *conn, &sl);
            let sc = sc.clone();
            conn.on_close(lp, move |lp| {
                if let Some(s) = sc.get() {
                    s.close(lp);
                }
            });
        },
    )
    .unwrap();
    server_cell.set(Some(server));
    let addr = server.local_addr(&lp).unwrap();
    let client = Socket::connect_tcp(&mut lp, addr, SocketOptions::default());
    let clog = Log::new();
    let _ = record_readable(&mut lp, *client, &clog);
    client.on_connect(&mut lp, move |lp| {
        client.write(lp, b("data"));
        client.end(lp, None);
        assert!(!client.write(lp, b("too late")));
    });
    run_bounded(&mut lp, 10, "write after end");
    assert_eq!(clog.get(), ["error:ERR_STREAM_WRITE_AFTER_END", "close"]);
    let sl = slog.get();
    assert_eq!(sl.last().map(String::as_str), Some("close"), "{sl:?}");
}
