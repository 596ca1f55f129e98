//! The harness behind the callgrind instruction counts in BENCHMARKS.md:
//! `scripts/instructions.sh` runs it under `valgrind --tool=callgrind`.
//!
//! `instructions <path> <count>`, where `<path>` is one of
//!
//! - `pass-through`: `GET /api/items?page=2` to the app behind the layer;
//! - `logout`: a same-origin `POST /logout` to its 303, removing
//!   `__Host-session`, with the default (no-op) hook;
//! - `callback`: the provider's redirect back with a valid state and its
//!   cookie, through to the app;
//!
//! or `build-only-<path>`, which builds and drops the same requests without
//! calling the service. Both do the same setup (the layer, and one call
//! through it: the sign-out a callback needs, or a check that the path answers
//! as expected), build `<count>` requests into a vector, and then go through
//! it once: each request is sent through the service (or only dropped) and its
//! response dropped, inside the loop, with the global allocator. Fixed costs
//! (process start, setup, this vector) cancel out in the difference between
//! two counts; the script reports
//! `((I(2000) - I(1000)) - (B(2000) - B(1000))) / 1000` per path.
//!
//! The layer and the requests are those of benches/middleware.rs
//! (benches/common/mod.rs). Nothing in the loop is random beyond what the
//! middleware does itself (a sign-out draws 16 bytes from its pool).

use std::{hint::black_box, process::ExitCode};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{Layer, Service};

mod common;
use common::{
    Hello, Removals, call, callback_requests, layer, logout_request, pass_through_request, sign_out,
};

const USAGE: &str = "usage: instructions [build-only-]pass-through|logout|callback <count>";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `cargo bench` runs every bench target with `--bench` (and `cargo test
    // --benches` with nothing): not an error, there is just nothing to count.
    if args.is_empty() || args.iter().any(|arg| arg == "--bench") {
        eprintln!("instructions: run under callgrind by scripts/instructions.sh; {USAGE}");
        return ExitCode::SUCCESS;
    }
    let [path, count] = args.as_slice() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let Ok(count) = count.parse::<usize>() else {
        eprintln!("{USAGE}");
        return ExitCode::FAILURE;
    };
    let (path, send) = match path.strip_prefix("build-only-") {
        Some(path) => (path, false),
        None => (path.as_str(), true),
    };
    let mut service = layer(Removals::HostSession).layer(Hello);
    match path {
        "pass-through" => {
            measure(&mut service, pass_through_request, StatusCode::OK, count, send);
        }
        "logout" => {
            measure(&mut service, logout_request, StatusCode::SEE_OTHER, count, send);
        }
        "callback" => {
            let (state, cookie) = sign_out(&mut service);
            let requests = callback_requests(&state, &cookie);
            measure(&mut service, requests, StatusCode::OK, count, send);
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Checks that one request answers `expected`, builds `count` requests, then
/// sends each through `service` (if `send`) or only drops it.
fn measure<S, B>(
    service: &mut S,
    mut request: impl FnMut() -> Request<Full<Bytes>>,
    expected: StatusCode,
    count: usize,
    send: bool,
) where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    // Outside the measured difference (done once at any count): the path is the one we mean.
    assert_eq!(call(service, request()).status(), expected);

    let requests: Vec<_> = (0..count).map(|_| request()).collect();
    if send {
        let mut last = expected;
        for request in requests {
            last = black_box(call(service, request).status());
        }
        assert_eq!(last, expected);
    } else {
        for request in requests {
            drop(black_box(request));
        }
    }
}
