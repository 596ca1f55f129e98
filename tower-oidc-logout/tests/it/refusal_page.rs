//! The app's own refusal page: whatever it returns, the crate keeps the
//! status, `no-store`, `nosniff`, `Allow`, the state cookie removals and the
//! `Rejection` in the extensions.

use crate::layer_fixtures;

use http::{Response, StatusCode, header, request::Parts};
use layer_fixtures::*;
use tower::Layer;
use tower_oidc_logout::Rejection;

/// A page that tries to get everything wrong: 200, cacheable, its own
/// `Allow`, and that shows what it was given.
fn page(rejection: &Rejection, request: &Parts) -> Response<String> {
    let mut page = Response::new(format!(
        "<h1>Sorry</h1><p>{}</p><p>{} {}</p>",
        rejection.code(),
        request.method,
        request.uri.path()
    ));
    let headers = page.headers_mut();
    headers.insert(header::CACHE_CONTROL, "public, max-age=3600".parse().unwrap());
    headers.insert("x-app-page", "yes".parse().unwrap());
    page
}

fn service() -> impl tower::Service<
    http::Request<http_body_util::Full<bytes::Bytes>>,
    Response = Response<http_body_util::Full<bytes::Bytes>>,
    Error = std::convert::Infallible,
    Future: Send,
> + Clone {
    builder(&TestClock::new()).refusal_page(page).build().unwrap().layer(App::default().service())
}

#[tokio::test]
async fn a_refused_callback_gets_the_apps_page_with_the_crates_guarantees() {
    let (response, body) =
        send(service(), callback("AAAAAAAAAAAAAAAAAAAAAA", &("n".into(), "v".into()))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "the page's status does not count");
    assert_eq!(body, "<h1>Sorry</h1><p>state_cookie_missing</p><p>GET /logout/callback</p>");
    let headers = response.headers();
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(headers["x-app-page"], "yes", "the page's own headers are kept");
    assert_eq!(rejection(&response), Rejection::StateCookieMissing);
}

#[tokio::test]
async fn a_refused_callback_still_expires_the_state_cookie_it_names() {
    let service = service();
    let (response, _) = send(service.clone(), post("/logout").body(empty()).unwrap()).await;
    let state = param(&location(response.headers()), "state").unwrap();
    let (name, sealed) = state_cookie(response.headers());
    let mut tampered = sealed.into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let cookie = (name.clone(), String::from_utf8(tampered).unwrap());
    let (response, body) = send(service, callback(&state, &cookie)).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(body.contains("state_tampered"), "{body}");
    let removals = set_cookies(response.headers());
    assert!(
        removals.iter().any(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0")),
        "{removals:?}"
    );
}

#[tokio::test]
async fn a_refused_sign_out_gets_the_page_with_allow_on_a_405() {
    let request = http::Request::put("/logout").body(empty()).unwrap();
    let (response, body) = send(service(), request).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "POST");
    assert!(body.contains("method_not_allowed</p><p>PUT /logout"), "{body}");

    let cross_site = http::Request::post("/logout")
        .header("sec-fetch-site", "cross-site")
        .body(empty())
        .unwrap();
    let (response, body) = send(service(), cross_site).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.headers().get(header::ALLOW).is_none());
    assert!(body.contains("cross_site"), "{body}");
    assert_eq!(rejection(&response), Rejection::CrossSite);
}

#[tokio::test]
async fn without_a_page_refusals_stay_plain_text() {
    let service = builder(&TestClock::new()).build().unwrap().layer(App::default().service());
    let request = http::Request::put("/logout").body(empty()).unwrap();
    let (response, body) = send(service, request).await;
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert!(body.starts_with("method_not_allowed: "), "{body}");
}
