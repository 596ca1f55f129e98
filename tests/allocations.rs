//! The pass-through path allocates nothing: counted with an instrumented allocator.

use std::{
    alloc::System,
    convert::Infallible,
    future::{Ready, ready},
    pin::pin,
    task::{Context, Poll, Waker},
};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use tower::{Layer, Service};
use tower_oidc_logout::{OidcLogoutLayer, StateKey};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// An inner service that allocates nothing either.
#[derive(Clone)]
struct Static;

impl Service<Request<Full<Bytes>>> for Static {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Full<Bytes>>) -> Self::Future {
        ready(Ok(Response::new(Full::new(Bytes::from_static(b"hello")))))
    }
}

#[test]
fn pass_through_allocates_nothing() {
    let layer = OidcLogoutLayer::builder()
        .end_session_endpoint("https://op.example/endsession")
        .client_id("client")
        .post_logout_redirect_uri("https://app.example/logout/callback")
        .state_key(StateKey::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap())
        .build()
        .unwrap();
    let mut service = layer.layer(Static);
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
