//! Cost of the middleware per request: pass-through, logout, callback.
//!
//! `cargo bench --bench middleware`; figures and method in BENCHMARKS.md.

use std::{
    future::Future,
    hint::black_box,
    pin::pin,
    task::{Context, Poll, Waker},
};

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response, Uri, header};
use http_body_util::Full;
use tower::{Layer, Service};
use tower_oidc_logout::{OidcLogoutLayer, SessionCookie, StateKey};

/// The app behind the layer: answers at once from a static buffer and
/// allocates nothing, so what is measured is the layer.
#[derive(Clone, Copy)]
struct Hello;

impl Service<Request<Full<Bytes>>> for Hello {
    type Response = Response<Full<Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Full<Bytes>>) -> Self::Future {
        std::future::ready(Ok(Response::new(Full::new(Bytes::from_static(b"hello")))))
    }
}

/// Polls a future that completes without waiting (every one here does).
fn run<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

fn call<S, B>(service: &mut S, request: Request<B>) -> S::Response
where
    S: Service<Request<B>>,
    S::Error: std::fmt::Debug,
{
    let _ = run(std::future::poll_fn(|cx| service.poll_ready(cx)));
    run(service.call(request)).unwrap()
}

/// Times `service` on requests built beforehand, each to its response's
/// status. Like `iter_batched`, but the batch's own buffer is freed after the
/// clock stops: freeing it inside (as `iter_batched` does) makes glibc
/// consolidate every chunk the requests freed, a cost of the harness that no
/// server pays per request.
fn time_prepared<S, B>(
    b: &mut criterion::Bencher<'_>,
    service: &mut S,
    mut setup: impl FnMut() -> Request<Full<Bytes>>,
) where
    S: Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
{
    b.iter_batched_ref(
        || Some(setup()),
        |request| {
            let request = request.take().expect("each request is used once");
            black_box(call(service, request).status())
        },
        BatchSize::SmallInput,
    );
}

fn layer(cookies: bool) -> OidcLogoutLayer {
    let mut builder = OidcLogoutLayer::builder()
        .next_identity("id.eu.nextreason.com")
        .client_id("a1b2c3d4-client")
        .post_logout_redirect_uri("https://app.example/logout/callback")
        .state_key(StateKey::from_bytes(b"benchmark key, 32 bytes or more!").unwrap());
    if cookies {
        builder = builder
            .expire_cookie(SessionCookie::new("__Host-session"))
            .expire_cookie(SessionCookie::new("sso").domain("app.example").also_host_only());
    }
    builder.build().unwrap()
}

fn logout_request() -> Request<Full<Bytes>> {
    Request::post("/logout")
        .header(header::HOST, "app.example")
        .header("sec-fetch-site", "same-origin")
        .header(header::COOKIE, "__Host-session=abc123; sso=xyz")
        .body(Full::default())
        .unwrap()
}

fn pass_through(c: &mut Criterion) {
    let mut group = c.benchmark_group("pass_through");
    // Built without allocating, so the figures are the services' own cost.
    let request = || {
        let mut request = Request::new(Full::default());
        *request.uri_mut() = Uri::from_static("/api/items?page=2");
        request
    };
    let mut bare = Hello;
    group.bench_function("bare", |b| b.iter(|| black_box(call(&mut bare, request()).status())));
    let mut layered = layer(true).layer(Hello);
    group.bench_function("layered", |b| {
        b.iter(|| black_box(call(&mut layered, request()).status()))
    });
    group.finish();
}

fn logout(c: &mut Criterion) {
    let mut group = c.benchmark_group("logout");
    for (name, cookies) in [("no_cookies", false), ("three_cookies", true)] {
        let mut service = layer(cookies).layer(Hello);
        group.bench_function(name, |b| time_prepared(b, &mut service, logout_request));
    }
    group.finish();
}

fn callback(c: &mut Criterion) {
    let mut group = c.benchmark_group("callback");
    let mut service = layer(true).layer(Hello);
    let response = call(&mut service, logout_request());
    let location = response.headers()[header::LOCATION].to_str().unwrap();
    let state = location.split("state=").nth(1).unwrap()[..22].to_owned();
    let cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("__Host-oidc-logout-"))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let request = |state: &str| {
        let uri = format!("/logout/callback?state={state}&logout=1");
        let cookie = cookie.clone();
        move || {
            Request::get(uri.as_str())
                .header(header::HOST, "app.example")
                .header(header::COOKIE, cookie.as_str())
                .body(Full::default())
                .unwrap()
        }
    };
    group.bench_function("valid", |b| time_prepared(b, &mut service, request(&state)));
    let mut wrong = state.clone();
    wrong.replace_range(21.., if state.ends_with('A') { "Q" } else { "A" });
    group.bench_function("rejected", |b| time_prepared(b, &mut service, request(&wrong)));
    group.finish();
}

criterion_group!(benches, pass_through, logout, callback);
criterion_main!(benches);
