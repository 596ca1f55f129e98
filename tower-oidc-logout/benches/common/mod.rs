//! Setup shared by benches/middleware.rs (criterion) and benches/instructions.rs
//! (callgrind): the layer, the requests of each path, and a way to call a
//! service whose futures never wait. Included by both as `mod common;`.

use std::{
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use bytes::Bytes;
use http::{Request, Uri, header};
use http_body_util::Full;
use tower::Service;
use tower_oidc_logout::{OidcLogoutLayer, SessionCookie, StateKey};

/// The app behind the layer: answers at once from a static buffer and
/// allocates nothing, so what is measured is the layer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hello;

impl tower::Service<http::Request<http_body_util::Full<bytes::Bytes>>> for Hello {
    type Response = http::Response<http_body_util::Full<bytes::Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<http_body_util::Full<bytes::Bytes>>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(http_body_util::Full::new(
            bytes::Bytes::from_static(b"hello"),
        ))))
    }
}

/// Polls a future that completes without waiting (every one here does).
pub(crate) fn run<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
    }
}

/// Sends `request` through `service` (readiness first) and returns its response.
pub(crate) fn call<S, B>(service: &mut S, request: Request<B>) -> S::Response
where
    S: Service<Request<B>>,
    S::Error: std::fmt::Debug,
{
    let _ = run(std::future::poll_fn(|cx| service.poll_ready(cx)));
    run(service.call(request)).unwrap()
}

/// The session cookies the layer removes at sign-out.
#[derive(Clone, Copy, Debug)]
#[allow(dead_code, reason = "each benchmark uses some of them")]
pub(crate) enum Removals {
    /// None.
    None,
    /// `__Host-session` (one removal cookie).
    HostSession,
    /// `__Host-session`, and `sso` for `app.example` and host-only (three removal cookies).
    HostSessionAndSso,
}

/// The layer for Next Identity with a `__Host-` setup and the default (no-op) hook.
pub(crate) fn layer(removals: Removals) -> OidcLogoutLayer {
    let mut builder = OidcLogoutLayer::builder()
        .next_identity("id.eu.nextreason.com")
        .client_id("a1b2c3d4-client")
        .post_logout_redirect_uri("https://app.example/logout/callback")
        .state_key(StateKey::from_bytes(b"benchmark key, 32 bytes or more!").unwrap());
    if let Removals::HostSession | Removals::HostSessionAndSso = removals {
        builder = builder.expire_cookie(SessionCookie::new("__Host-session"));
    }
    if let Removals::HostSessionAndSso = removals {
        builder =
            builder.expire_cookie(SessionCookie::new("sso").domain("app.example").also_host_only());
    }
    builder.build().unwrap()
}

/// `GET /api/items?page=2`, built without allocating, so what is measured is
/// the services' own cost.
pub(crate) fn pass_through_request() -> Request<Full<Bytes>> {
    let mut request = Request::new(Full::default());
    *request.uri_mut() = Uri::from_static("/api/items?page=2");
    request
}

/// A same-origin `POST /logout` with session cookies.
pub(crate) fn logout_request() -> Request<Full<Bytes>> {
    Request::post("/logout")
        .header(header::HOST, "app.example")
        .header("sec-fetch-site", "same-origin")
        .header(header::COOKIE, "__Host-session=abc123; sso=xyz")
        .body(Full::default())
        .unwrap()
}

/// Signs out once through `service`; returns the state its redirect carries
/// and the state cookie it sets (`name=value`).
pub(crate) fn sign_out<S, B>(service: &mut S) -> (String, String)
where
    S: Service<Request<Full<Bytes>>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
{
    let response = call(service, logout_request());
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
    (state, cookie)
}

/// Builds the callback request carrying `state` and the state cookie `cookie`
/// (as [`sign_out`] returns them), one per call.
pub(crate) fn callback_requests(
    state: &str,
    cookie: &str,
) -> impl FnMut() -> Request<Full<Bytes>> + use<> {
    let uri = format!("/logout/callback?state={state}&logout=1");
    let cookie = cookie.to_owned();
    move || {
        Request::get(uri.as_str())
            .header(header::HOST, "app.example")
            .header(header::COOKIE, cookie.as_str())
            .body(Full::default())
            .unwrap()
    }
}
