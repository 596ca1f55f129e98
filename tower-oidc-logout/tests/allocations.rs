//! The pass-through path allocates nothing: counted with an instrumented allocator.
//!
//! The allocator's counts are global, so the tests take turns.

use std::{
    alloc::System,
    pin::pin,
    sync::Mutex,
    task::{Context, Poll, Waker},
};

use bytes::Bytes;
use http::Request;
use http_body_util::Full;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::{Layer, Service};
use tower_oidc_logout::{OidcLogoutLayer, StateKey};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Held while a test counts.
static COUNTING: Mutex<()> = Mutex::new(());

fn layer() -> OidcLogoutLayer {
    OidcLogoutLayer::builder()
        .end_session_endpoint("https://op.example/endsession")
        .client_id("client")
        .post_logout_redirect_uri("https://app.example/logout/callback")
        .state_key(StateKey::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap())
        .build()
        .unwrap()
}

/// The app behind the layer: answers at once from a static buffer and
/// allocates nothing, so what is counted is the layer.
fn hello(
    _: Request<Full<Bytes>>,
) -> std::future::Ready<Result<http::Response<Full<Bytes>>, std::convert::Infallible>> {
    std::future::ready(Ok(http::Response::new(Full::new(Bytes::from_static(b"hello")))))
}

#[test]
fn pass_through_allocates_nothing() {
    let _counting = COUNTING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut service = layer().layer(tower::service_fn(hello));
    let requests: Vec<_> = ["/", "/api/items?page=2", "/logout/x", "/logout/callback/x"]
        .into_iter()
        .map(|uri| Request::get(uri).header("cookie", "sid=1").body(Full::default()).unwrap())
        .collect();
    let mut cx = Context::from_waker(Waker::noop());

    let mut responses = Vec::with_capacity(requests.len());
    let region = Region::new(GLOBAL);
    for request in requests {
        assert!(service.poll_ready(&mut cx).is_ready());
        let Poll::Ready(Ok(response)) = pin!(service.call(request)).poll(&mut cx) else {
            panic!("the inner service is ready at once");
        };
        responses.push(response);
    }
    let stats = region.change();
    assert_eq!(responses.len(), 4);
    assert_eq!((stats.allocations, stats.reallocations), (0, 0), "{stats:?}");
}

/// Allocations of one `GET /hello` through `app`, after a first request warmed it up.
fn allocations_per_request(app: axum::Router) -> (usize, usize) {
    // Turns the handlers into services once, as `axum::serve` does (called
    // as it is, a router would redo it, and box the layer, per request).
    let mut app = app.with_state::<()>(());
    let mut cx = Context::from_waker(Waker::noop());
    let mut request = || {
        let request = Request::get("/hello").header("cookie", "sid=1");
        let request = request.body(axum::body::Body::empty()).unwrap();
        assert!(Service::<Request<axum::body::Body>>::poll_ready(&mut app, &mut cx).is_ready());
        let Poll::Ready(Ok(response)) = pin!(app.call(request)).poll(&mut cx) else {
            panic!("the handler is ready at once");
        };
        response
    };
    drop(request());
    let region = Region::new(GLOBAL);
    let response = request();
    let stats = region.change();
    drop(response);
    (stats.allocations, stats.reallocations)
}

/// Through axum, the layer allocates no more than a layer that does nothing:
/// the inner body passes through as axum's own `Body`, which axum does not
/// box again. (`Router::layer` itself boxes the layered service and its
/// future, whatever the layer.)
#[test]
fn axum_pass_through_allocates_no_more_than_a_no_op_layer() {
    let _counting = COUNTING.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let app = || axum::Router::new().route("/hello", axum::routing::get(|| async { "hello" }));
    let bare = allocations_per_request(app());
    let no_op = allocations_per_request(app().layer(tower::layer::util::Identity::new()));
    let layered = allocations_per_request(app().layer(layer()));
    assert!(
        bare.0 > 0 && no_op.0 >= bare.0,
        "the count sees axum's allocations: {bare:?} {no_op:?}"
    );
    assert_eq!(layered, no_op, "(allocations, reallocations) behind the layer vs a no-op layer");
}
