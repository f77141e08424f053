//! The panic policy: a handler that panics gets its exchange answered with
//! 500 and its connection closed; the panic reaches the caller of `run` with
//! the loop consistent; running the loop again serves every other client,
//! with the same handler.

mod server_util;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use bytes::Bytes;
use eventide_loop_phases::RunMode;
use server_util::*;

#[test]
fn a_panicking_handler_answers_500_and_the_server_goes_on() {
    let (mut lp, server, addr) = serve(test_options(), |lp, req, res| {
        if req.path() == "/panic" {
            panic!("handler bug on /panic");
        }
        res.end(lp, Some(Bytes::from_static(b"fine\n")));
    });
    watchdog(&mut lp, WATCHDOG);

    // A well-behaved keep-alive client before and after, on its own connection.
    let mut honest = Client::connect(addr);
    honest.request(b"GET /before HTTP/1.1\r\nHost: t\r\n\r\n");
    let victim = std::thread::spawn(move || {
        let mut c = Client::connect(addr);
        c.request(
            b"GET /panic HTTP/1.1\r\nHost: t\r\n\r\nGET /after-panic HTTP/1.1\r\nHost: t\r\n\r\n",
        );
        let r = c.response();
        let closed = c.wait_closed(Duration::from_secs(5));
        (r.status(), r.says_close(), r.body_str().to_string(), closed)
    });

    // The panic reaches the caller of `run`.
    let caught = catch_unwind(AssertUnwindSafe(|| lp.run(RunMode::Default)));
    let message = caught.expect_err("the handler's panic reaches run's caller");
    assert_eq!(
        message.downcast_ref::<&str>(),
        Some(&"handler bug on /panic")
    );

    // Run again: the 500 goes out, the victim's connection closes without
    // answering its second request, and the honest client is served.
    let (status, close, body, closed) = {
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let d = done.clone();
        let h = std::thread::spawn(move || {
            let r = victim.join().unwrap();
            d.store(true, std::sync::atomic::Ordering::SeqCst);
            r
        });
        let honest_result = std::thread::spawn(move || {
            let first = honest.response();
            honest.request(b"GET /later HTTP/1.1\r\nHost: t\r\n\r\n");
            (
                first.body_str().to_string(),
                honest.response().body_str().to_string(),
            )
        });
        run_until(&mut lp, server, move |_| {
            done.load(std::sync::atomic::Ordering::SeqCst)
        });
        let (first, later) = honest_result.join().unwrap();
        assert_eq!((first.as_str(), later.as_str()), ("fine\n", "fine\n"));
        h.join().unwrap()
    };
    assert_eq!(status, 500);
    assert!(close, "the 500 says Connection: close");
    assert!(body.contains("panicked"), "body: {body}");
    assert!(
        matches!(&closed, Closed::Yes(rest) if rest.is_empty()),
        "the connection closes after the 500, answering nothing more: {closed:?}"
    );
}
