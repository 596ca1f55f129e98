//! Cost of the middleware per request: pass-through, logout, callback.
//!
//! `cargo bench --bench middleware`; figures and method in BENCHMARKS.md.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Full;
use tower::{Layer, Service};

mod common;
use common::{
    Hello, Removals, call, callback_requests, layer, logout_request, pass_through_request, sign_out,
};

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

fn pass_through(c: &mut Criterion) {
    let mut group = c.benchmark_group("pass_through");
    // The request is built without allocating, so the figures are the services' own cost.
    let mut bare = Hello;
    group.bench_function("bare", |b| {
        b.iter(|| black_box(call(&mut bare, pass_through_request()).status()))
    });
    let mut layered = layer(Removals::HostSessionAndSso).layer(Hello);
    group.bench_function("layered", |b| {
        b.iter(|| black_box(call(&mut layered, pass_through_request()).status()))
    });
    group.finish();
}

fn logout(c: &mut Criterion) {
    let mut group = c.benchmark_group("logout");
    for (name, removals) in
        [("no_cookies", Removals::None), ("three_cookies", Removals::HostSessionAndSso)]
    {
        let mut service = layer(removals).layer(Hello);
        group.bench_function(name, |b| time_prepared(b, &mut service, logout_request));
    }
    group.finish();
}

fn callback(c: &mut Criterion) {
    let mut group = c.benchmark_group("callback");
    let mut service = layer(Removals::HostSessionAndSso).layer(Hello);
    let (state, cookie) = sign_out(&mut service);
    group.bench_function("valid", |b| {
        time_prepared(b, &mut service, callback_requests(&state, &cookie))
    });
    let mut wrong = state.clone();
    wrong.replace_range(21.., if state.ends_with('A') { "Q" } else { "A" });
    group.bench_function("rejected", |b| {
        time_prepared(b, &mut service, callback_requests(&wrong, &cookie))
    });
    group.finish();
}

criterion_group!(benches, pass_through, logout, callback);
criterion_main!(benches);
