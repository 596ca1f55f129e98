//! The post-logout callback: state validation, then the inner service.

use crate::layer_fixtures;

use std::time::Duration;

use http::{Request, StatusCode, header};
use layer_fixtures::*;
use tower::Layer;
use tower_oidc_logout::{Rejection, StateKey};

/// Runs a logout through `service` and returns (state, state cookie).
async fn start_logout<S, B>(service: S, uri: &str) -> (String, (String, String))
where
    S: tower::Service<Request<http_body_util::Full<bytes::Bytes>>, Response = http::Response<B>>,
    S::Error: std::fmt::Debug,
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let (response, _) = send(service, post(uri).body(empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    (param(&location(response.headers()), "state").unwrap(), state_cookie(response.headers()))
}

fn assert_refused(
    response: &http::Response<()>,
    body: &str,
    expected: Rejection,
    cookie: Option<&str>,
) {
    assert_eq!(rejection(response), expected, "{body}");
    assert_eq!(response.status(), expected.status());
    assert!(body.starts_with(&format!("{}: ", expected.code())), "{body}");
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    if let Some(name) = cookie {
        let removed = set_cookies(response.headers())
            .iter()
            .any(|c| c.starts_with(&format!("{name}=;")) && c.contains("Max-Age=0"));
        assert!(removed, "the state cookie {name} is expired anyway");
    }
}

#[tokio::test]
async fn a_valid_callback_reaches_the_app_with_what_was_validated() {
    let app = App::default();
    let service = builder(&TestClock::new()).build().unwrap().layer(app.service());
    let (state, cookie) = start_logout(service.clone(), "/logout?return_to=/goodbye").await;
    let (response, body) = send(service, callback(&state, &cookie)).await;

    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body, "Some(\"true\")|Some(\"/goodbye\")");
    assert_eq!(app.calls(), 1);
    assert_eq!(response.headers()["x-app"], "yes", "the app's own response");
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let removal = set_cookies(response.headers());
    assert!(
        removal
            .iter()
            .any(|c| c.starts_with(&format!("{}=;", cookie.0)) && c.contains("Max-Age=0"))
    );
}

#[tokio::test]
async fn a_callback_without_state_is_refused() {
    let app = App::default();
    let service = builder(&TestClock::new()).build().unwrap().layer(app.service());
    let (_, cookie) = start_logout(service.clone(), "/logout").await;
    let request = Request::get("/logout/callback?logout=1")
        .header(header::COOKIE, format!("{}={}", cookie.0, cookie.1))
        .body(empty())
        .unwrap();
    let (response, body) = send(service, request).await;
    assert_refused(&response, &body, Rejection::StateMissing, Some(&cookie.0));
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn a_mismatched_state_is_refused() {
    let app = App::default();
    let service = builder(&TestClock::new()).build().unwrap().layer(app.service());
    let (state, cookie) = start_logout(service.clone(), "/logout").await;
    // Same cookie name (first 8 characters), different bits.
    let mut forged = state.clone();
    let last = if forged.ends_with('A') { "Q" } else { "A" };
    forged.replace_range(21.., last);
    let (response, body) = send(service, callback(&forged, &cookie)).await;
    assert_refused(&response, &body, Rejection::StateMismatch, Some(&cookie.0));
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let clock = TestClock::new();
    let app = App::default();
    let service = builder(&clock).build().unwrap().layer(app.service());
    let (state, cookie) = start_logout(service.clone(), "/logout").await;
    clock.advance(Duration::from_secs(299));
    let (response, _) = send(service.clone(), callback(&state, &cookie)).await;
    assert_eq!(response.status(), StatusCode::OK, "still valid just before the end");

    let (state, cookie) = start_logout(service.clone(), "/logout").await;
    clock.advance(Duration::from_secs(300));
    let (response, body) = send(service, callback(&state, &cookie)).await;
    assert_refused(&response, &body, Rejection::StateExpired, Some(&cookie.0));
    assert_eq!(app.calls(), 1);
}

#[tokio::test]
async fn a_tampered_or_oversized_cookie_is_refused() {
    let app = App::default();
    let service = builder(&TestClock::new()).build().unwrap().layer(app.service());
    let (state, cookie) = start_logout(service.clone(), "/logout").await;
    let mut tampered = cookie.1.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = (cookie.0.clone(), String::from_utf8(tampered).unwrap());
    let (response, body) = send(service.clone(), callback(&state, &tampered)).await;
    assert_refused(&response, &body, Rejection::StateTampered, Some(&cookie.0));

    let oversized = (cookie.0.clone(), "A".repeat(100_000));
    let (response, body) = send(service.clone(), callback(&state, &oversized)).await;
    assert_refused(&response, &body, Rejection::StateTampered, Some(&cookie.0));

    let other_key = builder(&TestClock::new())
        .state_key(StateKey::from_bytes(OLD_KEY).unwrap())
        .build()
        .unwrap()
        .layer(App::default().service());
    let (state, cookie) = start_logout(other_key, "/logout").await;
    let (response, body) = send(service, callback(&state, &cookie)).await;
    assert_refused(&response, &body, Rejection::StateTampered, Some(&cookie.0));
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn a_callback_without_the_cookie_is_refused() {
    let app = App::default();
    let service = builder(&TestClock::new()).build().unwrap().layer(app.service());
    let (state, cookie) = start_logout(service.clone(), "/logout").await;
    let request = Request::get(format!("/logout/callback?state={state}")).body(empty()).unwrap();
    let (response, body) = send(service.clone(), request).await;
    assert_refused(&response, &body, Rejection::StateCookieMissing, Some(&cookie.0));

    // Single use: once the first callback expired the cookie, a replay finds none.
    let (first, _) = send(service.clone(), callback(&state, &cookie)).await;
    assert_eq!(first.status(), StatusCode::OK);
    let request = Request::get(format!("/logout/callback?state={state}")).body(empty()).unwrap();
    let (replay, body) = send(service, request).await;
    assert_refused(&replay, &body, Rejection::StateCookieMissing, None);
    assert_eq!(app.calls(), 1);
}

#[tokio::test]
async fn malformed_queries_and_methods_are_refused() {
    let app = App::default();
    let service = builder(&TestClock::new()).build().unwrap().layer(app.service());
    let (state, cookie) = start_logout(service.clone(), "/logout").await;
    let cookie_header = format!("{}={}", cookie.0, cookie.1);
    let cases = [
        (format!("/logout/callback?state={state}&state={state}"), Rejection::MalformedQuery),
        (format!("/logout/callback?state={state}x"), Rejection::StateMalformed),
        ("/logout/callback?state=%FF%FE".to_owned(), Rejection::StateMalformed),
        (format!("/logout/callback?state={}", "A".repeat(5000)), Rejection::TooLarge),
    ];
    for (uri, expected) in cases {
        let request =
            Request::get(&uri).header(header::COOKIE, &cookie_header).body(empty()).unwrap();
        let (response, body) = send(service.clone(), request).await;
        assert_refused(&response, &body, expected, Some(&cookie.0));
    }
    let post = Request::post(format!("/logout/callback?state={state}"))
        .header(header::COOKIE, &cookie_header)
        .body(empty())
        .unwrap();
    let (response, body) = send(service, post).await;
    assert_refused(&response, &body, Rejection::MethodNotAllowed, None);
    assert_eq!(response.headers()[header::ALLOW], "GET");
    assert_eq!(app.calls(), 0);
}

#[tokio::test]
async fn two_tabs_signing_out_at_once_both_complete() {
    let app = App::default();
    let service = builder(&TestClock::new()).build().unwrap().layer(app.service());
    let (state_a, cookie_a) = start_logout(service.clone(), "/logout").await;
    let (state_b, cookie_b) = start_logout(service.clone(), "/logout").await;
    assert_ne!(cookie_a.0, cookie_b.0, "each tab gets its own state cookie");
    let both = format!("{}={}; {}={}", cookie_a.0, cookie_a.1, cookie_b.0, cookie_b.1);
    for state in [&state_b, &state_a] {
        let request = Request::get(format!("/logout/callback?state={state}"))
            .header(header::COOKIE, &both)
            .body(empty())
            .unwrap();
        let (response, _) = send(service.clone(), request).await;
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(app.calls(), 2);
}

#[tokio::test]
async fn states_sealed_under_a_previous_key_still_validate() {
    let old = builder(&TestClock::new())
        .state_key(StateKey::from_bytes(OLD_KEY).unwrap())
        .build()
        .unwrap()
        .layer(App::default().service());
    let (state, cookie) = start_logout(old, "/logout").await;

    let rotated = builder(&TestClock::new())
        .previous_state_keys([StateKey::from_bytes(OLD_KEY).unwrap()])
        .build()
        .unwrap()
        .layer(App::default().service());
    let (response, _) = send(rotated, callback(&state, &cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);

    let dropped = builder(&TestClock::new()).build().unwrap().layer(App::default().service());
    let (response, body) = send(dropped, callback(&state, &cookie)).await;
    assert_refused(&response, &body, Rejection::StateTampered, Some(&cookie.0));
}

#[tokio::test]
async fn missing_state_is_accepted_only_when_opted_in() {
    let app = App::default();
    let service = builder(&TestClock::new())
        .dangerous_accept_callback_without_state()
        .build()
        .unwrap()
        .layer(app.service());
    let (_, cookie) = start_logout(service.clone(), "/logout?return_to=/x").await;
    let request = Request::get("/logout/callback")
        .header(header::COOKIE, format!("{}={}", cookie.0, cookie.1))
        .body(empty())
        .unwrap();
    let (response, body) = send(service.clone(), request).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(body, "None|Some(\"/x\")");

    let request = Request::get("/logout/callback").body(empty()).unwrap();
    let (response, body) = send(service, request).await;
    assert_refused(&response, &body, Rejection::StateCookieMissing, None);
    assert_eq!(app.calls(), 1);
}

#[tokio::test]
async fn a_callback_at_the_site_root_leaves_the_home_page_alone() {
    for redirect in ["https://app.example", "https://app.example/"] {
        let app = App::default();
        let service = builder(&TestClock::new())
            .post_logout_redirect_uri(redirect)
            .build()
            .unwrap()
            .layer(app.service());
        let (state, cookie) = start_logout(service.clone(), "/logout").await;
        let cookie_header = format!("{}={}", cookie.0, cookie.1);

        // A visit to the home page is not a callback, even with a state cookie pending.
        let home =
            Request::get("/?page=2").header(header::COOKIE, &cookie_header).body(empty()).unwrap();
        let (response, body) = send(service.clone(), home).await;
        assert_eq!((response.status(), body.as_str()), (StatusCode::OK, "inner"), "{redirect}");
        assert!(set_cookies(response.headers()).is_empty(), "{redirect}: nothing expired");

        // What the provider sends back is.
        let forged = Request::get("/?state=AAAAAAAAAAAAAAAAAAAAAA&logout=1")
            .header(header::COOKIE, &cookie_header)
            .body(empty())
            .unwrap();
        let (response, body) = send(service.clone(), forged).await;
        assert_refused(&response, &body, Rejection::StateCookieMissing, None);
        let no_state = Request::get("/?logout=1").body(empty()).unwrap();
        let (response, body) = send(service.clone(), no_state).await;
        assert_refused(&response, &body, Rejection::StateMissing, None);

        let valid = Request::get(format!("/?state={state}&logout=1"))
            .header(header::COOKIE, &cookie_header)
            .body(empty())
            .unwrap();
        let (response, body) = send(service, valid).await;
        assert_eq!(response.status(), StatusCode::OK, "{redirect}");
        assert_eq!(body, "Some(\"1\")|None");
        assert_eq!(app.calls(), 2);
    }
}
