//! Shared fixtures: a configured layer with a controllable clock, and request helpers.
#![allow(dead_code)]

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, UNIX_EPOCH},
};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, header};
use http_body_util::{BodyExt, Full};
use tower::{ServiceExt, service_fn};
use tower_oidc_logout::{OidcLogoutBuilder, OidcLogoutLayer, StateKey};
use url::Url;

pub(crate) const KEY: &[u8] = b"test key: 32 bytes or more, yes!";
pub(crate) const OLD_KEY: &[u8] = b"the previous key, also 32 bytes.";
pub(crate) const REDIRECT: &str = "https://app.example/logout/callback";
pub(crate) const ORIGIN: &str = "https://app.example";

/// A clock the test moves by hand.
#[derive(Clone, Default)]
pub(crate) struct TestClock(Arc<AtomicU64>);

impl TestClock {
    pub(crate) fn new() -> Self {
        Self(Arc::new(AtomicU64::new(1_800_000_000)))
    }
    pub(crate) fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }
}

pub(crate) fn key() -> StateKey {
    StateKey::from_bytes(KEY).unwrap()
}

pub(crate) fn builder(clock: &TestClock) -> OidcLogoutBuilder {
    let now = clock.0.clone();
    OidcLogoutLayer::builder()
        .end_session_endpoint("https://op.example/endsession")
        .client_id("client-1")
        .post_logout_redirect_uri(REDIRECT)
        .state_key(key())
        .clock(move || UNIX_EPOCH + Duration::from_secs(now.load(Ordering::SeqCst)))
}

/// What [`App::service`] returns.
pub(crate) type AppService =
    tower::util::BoxCloneService<Request<Full<Bytes>>, Response<Full<Bytes>>, Infallible>;

/// The inner app: counts its calls and echoes what the callback validated.
#[derive(Clone, Default)]
pub(crate) struct App {
    pub calls: Arc<AtomicUsize>,
}

impl App {
    pub(crate) fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    pub(crate) fn service(&self) -> AppService {
        tower::util::BoxCloneService::new(app_service(self.calls.clone()))
    }
}

fn app_service(
    calls: Arc<AtomicUsize>,
) -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone
+ Send {
    service_fn(move |request: Request<Full<Bytes>>| {
        calls.fetch_add(1, Ordering::SeqCst);
        let seen = request
            .extensions()
            .get::<tower_oidc_logout::LoggedOut>()
            .map(|done| {
                format!("{:?}|{:?}", done.logout(), done.return_target().map(|t| t.as_str()))
            })
            .unwrap_or_else(|| "inner".to_owned());
        async move {
            let mut response = Response::new(Full::from(seen));
            response.headers_mut().insert("x-app", "yes".parse().unwrap());
            Ok::<_, Infallible>(response)
        }
    })
}

pub(crate) fn post(uri: &str) -> http::request::Builder {
    Request::post(uri).header("sec-fetch-site", "same-origin")
}

pub(crate) fn empty() -> Full<Bytes> {
    Full::default()
}

/// Sends one request through `service` and returns the response with its body as text.
pub(crate) async fn send<S, B>(service: S, request: Request<Full<Bytes>>) -> (Response<()>, String)
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let response = service.oneshot(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    (Response::from_parts(parts, ()), String::from_utf8(bytes.to_vec()).unwrap())
}

pub(crate) fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect()
}

/// The fresh state cookie a logout response sets: (name, value).
pub(crate) fn state_cookie(headers: &HeaderMap) -> (String, String) {
    set_cookies(headers)
        .iter()
        .filter(|c| c.contains("oidc-logout-") && !c.contains("Max-Age=0"))
        .map(|c| {
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            (name.to_owned(), value.to_owned())
        })
        .next()
        .expect("a state cookie")
}

pub(crate) fn location(headers: &HeaderMap) -> Url {
    Url::parse(headers[header::LOCATION].to_str().unwrap()).unwrap()
}

pub(crate) fn param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}

/// The callback request the provider's redirect leads to, carrying the state cookie.
pub(crate) fn callback(state: &str, cookie: &(String, String)) -> Request<Full<Bytes>> {
    Request::get(format!("/logout/callback?state={state}&logout=true"))
        .header(header::COOKIE, format!("{}={}", cookie.0, cookie.1))
        .body(empty())
        .unwrap()
}

pub(crate) fn rejection(response: &Response<()>) -> tower_oidc_logout::Rejection {
    *response.extensions().get::<tower_oidc_logout::Rejection>().expect("a Rejection extension")
}

/// A hook that only counts its calls.
pub(crate) fn counting_hook() -> (Arc<AtomicUsize>, impl tower_oidc_logout::EndSessionHook) {
    let calls = Arc::new(AtomicUsize::new(0));
    let hook_calls = calls.clone();
    let hook = move |_: &http::request::Parts| {
        hook_calls.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(()) }
    };
    (calls, hook)
}
