//! The logout route: rules, hook, redirect, cookies.

use crate::layer_fixtures;

use std::{
    convert::Infallible,
    io,
    sync::{Arc, Mutex, atomic::Ordering},
};

use http::{Request, StatusCode, header};
use layer_fixtures::*;
use tower::Layer;
use tower_oidc_logout::{
    EndSessionFailed, EndSessionHook, LogoutHints, OidcLogout, Rejection, SessionCookie,
    limits::MAX_PENDING_STATES,
};

/// The app behind a layer whose storage hook is `hook`.
fn with_hook<H: EndSessionHook>(hook: H) -> OidcLogout<AppService, H> {
    builder(&TestClock::new())
        .end_session_hook(hook)
        .build()
        .unwrap()
        .layer(App::default().service())
}

#[tokio::test]
async fn post_redirects_to_the_end_session_endpoint() {
    let clock = TestClock::new();
    let app = App::default();
    let service = builder(&clock).build().unwrap().layer(app.service());
    let (response, _) = send(service, post("/logout").body(empty()).unwrap()).await;

    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let url = location(response.headers());
    assert_eq!(url.as_str().split('?').next(), Some("https://op.example/endsession"));
    assert_eq!(param(&url, "client_id").as_deref(), Some("client-1"));
    assert_eq!(param(&url, "post_logout_redirect_uri").as_deref(), Some(REDIRECT));
    let state = param(&url, "state").unwrap();
    assert_eq!(state.len(), 22, "128 bits in base64url");
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    assert_eq!(response.headers()["clear-site-data"], "\"storage\"");
    assert_eq!(app.calls(), 0, "the logout route short-circuits");
}

#[tokio::test]
async fn state_cookie_is_bound_to_the_state_and_browser_safe() {
    let service = builder(&TestClock::new()).build().unwrap().layer(App::default().service());
    let (response, _) = send(service, post("/logout").body(empty()).unwrap()).await;
    let state = param(&location(response.headers()), "state").unwrap();
    let (name, _) = state_cookie(response.headers());
    assert_eq!(name, format!("__Host-oidc-logout-{}", &state[..8]));
    let set = set_cookies(response.headers()).into_iter().find(|c| c.starts_with(&name)).unwrap();
    for attr in ["HttpOnly", "SameSite=Lax", "Secure", "Path=/", "Max-Age=300"] {
        assert!(set.contains(attr), "{set} lacks {attr}");
    }
    assert!(!set.contains("Domain"), "{set}");
}

#[tokio::test]
async fn configured_cookies_are_expired_with_their_attributes() {
    let service = builder(&TestClock::new())
        .expire_cookie(SessionCookie::new("__Host-session"))
        .expire_cookie(
            SessionCookie::new("sso").domain("app.example").path("/auth").also_host_only(),
        )
        .build()
        .unwrap()
        .layer(App::default().service());
    let (response, _) = send(service, post("/logout").body(empty()).unwrap()).await;
    let cookies = set_cookies(response.headers());
    let removal = |prefix: &str, has: &[&str], lacks: &[&str]| {
        let found = cookies.iter().any(|c| {
            c.starts_with(prefix)
                && c.contains("Max-Age=0")
                && has.iter().all(|a| c.contains(a))
                && lacks.iter().all(|a| !c.contains(a))
        });
        assert!(found, "no removal {prefix} {has:?} without {lacks:?} in {cookies:#?}");
    };
    removal("__Host-session=;", &["Path=/", "Secure"], &["Domain"]);
    removal("sso=;", &["Path=/auth", "Domain=app.example", "Secure"], &[]);
    removal("sso=;", &["Path=/auth", "Secure"], &["Domain"]);
}

#[tokio::test]
async fn other_methods_get_405_with_allow() {
    let service = builder(&TestClock::new()).build().unwrap().layer(App::default().service());
    for method in ["GET", "PUT", "DELETE", "HEAD"] {
        let request = Request::builder().method(method).uri("/logout").body(empty()).unwrap();
        let (response, body) = send(service.clone(), request).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method}");
        assert_eq!(response.headers()[header::ALLOW], "POST");
        assert_eq!(rejection(&response), Rejection::MethodNotAllowed);
        assert!(method == "HEAD" || body.starts_with("method_not_allowed: "), "{body}");
        assert!(set_cookies(response.headers()).is_empty(), "nothing changes on a refusal");
    }
}

#[tokio::test]
async fn get_works_only_when_opted_in() {
    let service = builder(&TestClock::new())
        .dangerous_allow_get_logout()
        .build()
        .unwrap()
        .layer(App::default().service());
    let request =
        Request::get("/logout").header("sec-fetch-site", "same-origin").body(empty()).unwrap();
    let (response, _) = send(service.clone(), request).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let put = Request::put("/logout").body(empty()).unwrap();
    let (response, _) = send(service, put).await;
    assert_eq!(response.headers()[header::ALLOW], "GET, POST");
}

#[tokio::test]
async fn cross_site_requests_are_refused() {
    let service = builder(&TestClock::new())
        .trust_origin("https://www.app.example")
        .build()
        .unwrap()
        .layer(App::default().service());
    let cases: &[(&[(&str, &str)], bool)] = &[
        (&[("sec-fetch-site", "same-origin")], true),
        (&[("sec-fetch-site", "none")], true),
        (&[], true),
        (&[("origin", ORIGIN)], true),
        (&[("sec-fetch-site", "same-site"), ("origin", "https://www.app.example")], true),
        (&[("sec-fetch-site", "cross-site")], false),
        (&[("sec-fetch-site", "same-site")], false),
        (&[("sec-fetch-site", "cross-site"), ("origin", "https://evil.example")], false),
        (&[("origin", "https://evil.example")], false),
        (&[("origin", "null")], false),
        (&[("origin", "https://app.example.evil.example")], false),
        (&[("origin", "http://app.example")], false),
    ];
    for (headers, allowed) in cases {
        let mut request = Request::post("/logout");
        for (name, value) in *headers {
            request = request.header(*name, *value);
        }
        let (response, body) = send(service.clone(), request.body(empty()).unwrap()).await;
        if *allowed {
            assert_eq!(response.status(), StatusCode::SEE_OTHER, "{headers:?}");
        } else {
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "{headers:?}");
            assert_eq!(rejection(&response), Rejection::CrossSite);
            assert!(body.starts_with("cross_site: "), "{body}");
            assert!(set_cookies(response.headers()).is_empty(), "a forged logout changes nothing");
        }
    }
}

#[tokio::test]
async fn the_hook_runs_first_with_the_request_and_its_hints_are_sent() {
    let seen = Arc::new(Mutex::new(None::<String>));
    let hook_seen = seen.clone();
    let hook = move |parts: &http::request::Parts| {
        let cookie = parts.headers.get(header::COOKIE).map(|v| v.to_str().unwrap().to_owned());
        let seen = hook_seen.clone();
        async move {
            *seen.lock().unwrap() = cookie;
            Ok::<_, Infallible>(
                LogoutHints::new().id_token_hint("eyJ.token.sig").logout_hint("ann@example.com"),
            )
        }
    };
    let service = with_hook(hook);
    let request = post("/logout").header(header::COOKIE, "sid=abc").body(empty()).unwrap();
    let (response, _) = send(service, request).await;
    assert_eq!(seen.lock().unwrap().as_deref(), Some("sid=abc"));
    let url = location(response.headers());
    assert_eq!(param(&url, "id_token_hint").as_deref(), Some("eyJ.token.sig"));
    assert_eq!(param(&url, "logout_hint").as_deref(), Some("ann@example.com"));
}

#[tokio::test]
async fn an_oversized_id_token_hint_is_dropped_and_logout_hint_kept() {
    let hook = |_: &http::request::Parts| async {
        Ok::<_, Infallible>(LogoutHints::new().id_token_hint("x".repeat(5000)).logout_hint("ann"))
    };
    let service = builder(&TestClock::new())
        .end_session_hook(hook)
        .max_end_session_url_len(2048)
        .build()
        .unwrap()
        .layer(App::default().service());
    let (response, _) = send(service, post("/logout").body(empty()).unwrap()).await;
    let url = location(response.headers());
    assert!(url.as_str().len() <= 2048);
    assert_eq!(param(&url, "id_token_hint"), None);
    assert_eq!(param(&url, "logout_hint").as_deref(), Some("ann"));
}

#[tokio::test]
async fn a_failing_hook_expires_cookies_but_does_not_send_the_user_on() {
    let hook = |_: &http::request::Parts| async {
        Err::<(), _>(io::Error::other("session store is down"))
    };
    let service = builder(&TestClock::new())
        .expire_cookie(SessionCookie::new("sid"))
        .end_session_hook(hook)
        .build()
        .unwrap()
        .layer(App::default().service());
    let (response, body) = send(service, post("/logout").body(empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.starts_with("end_session_failed: "), "{body}");
    assert!(response.headers().get(header::LOCATION).is_none());
    let cookies = set_cookies(response.headers());
    assert!(
        cookies.iter().any(|c| c.starts_with("sid=;") && c.contains("Max-Age=0")),
        "{cookies:?}"
    );
    assert!(
        !cookies.iter().any(|c| c.contains("oidc-logout-") && !c.contains("Max-Age=0")),
        "no new state"
    );
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let failure =
        response.extensions().get::<EndSessionFailed>().expect("the error in the extensions");
    assert_eq!(failure.error().to_string(), "session store is down");
}

/// A session layer inside the logout layer (or none) is a mistake in the app,
/// not a passing fault: the 500 says so, in words a developer can act on.
#[tokio::test]
async fn a_session_layer_on_the_wrong_side_is_named_in_the_500() {
    let service = with_hook(tower_oidc_logout::tower_sessions::FlushSession::new());
    let (response, body) = send(service, post("/logout").body(empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.starts_with("end_session_failed: "), "{body}");
    assert!(body.contains("session layer must wrap the logout layer"), "{body}");
    assert!(!body.contains("try signing out again"), "retrying never helps: {body}");

    let hook = |_: &http::request::Parts| async { Err::<(), _>(io::Error::other("down")) };
    let (_, body) = send(with_hook(hook), post("/logout").body(empty()).unwrap()).await;
    assert!(!body.contains("session layer"), "{body}");
}

#[tokio::test]
async fn logout_without_any_session_still_completes() {
    let (calls, hook) = counting_hook();
    let service = with_hook(hook);
    for _ in 0..2 {
        let (response, _) = send(service.clone(), post("/logout").body(empty()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn return_target_is_taken_from_query_or_form_and_checked() {
    let (calls, hook) = counting_hook();
    let service = with_hook(hook);

    let query = post("/logout?return_to=%2Faccount").body(empty()).unwrap();
    assert_eq!(send(service.clone(), query).await.0.status(), StatusCode::SEE_OTHER);
    let form = post("/logout")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded; charset=UTF-8")
        .body("return_to=%2Fbye&other=1".into())
        .unwrap();
    assert_eq!(send(service.clone(), form).await.0.status(), StatusCode::SEE_OTHER);
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    for bad in [
        "return_to=%2F%2Fevil.example",
        "return_to=https%3A%2F%2Fevil.example",
        "return_to=/a&return_to=/b",
    ] {
        let request = post(&format!("/logout?{bad}")).body(empty()).unwrap();
        let (response, body) = send(service.clone(), request).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        assert!(body.contains(rejection(&response).code()), "{body}");
        assert!(set_cookies(response.headers()).is_empty(), "nothing changes: {bad}");
    }
    let big_form = post("/logout")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("return_to=/{}", "a".repeat(10_000)).into())
        .unwrap();
    let (response, _) = send(service.clone(), big_form).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(calls.load(Ordering::SeqCst), 2, "the hook never ran for a refused request");
}

#[tokio::test]
async fn pending_state_cookies_are_bounded() {
    let layer = builder(&TestClock::new()).build().unwrap();
    let service = layer.layer(App::default().service());
    let mut jar: Vec<(String, String)> = Vec::new();
    for round in 0..MAX_PENDING_STATES + 3 {
        let cookie_header =
            jar.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
        let mut request = post("/logout");
        if !cookie_header.is_empty() {
            request = request.header(header::COOKIE, cookie_header);
        }
        let (response, _) = send(service.clone(), request.body(empty()).unwrap()).await;
        for set in set_cookies(response.headers()) {
            let (name, value) = set.split(';').next().unwrap().split_once('=').unwrap();
            jar.retain(|(n, _)| n != name);
            if !set.contains("Max-Age=0") {
                jar.push((name.to_owned(), value.to_owned()));
            }
        }
        assert!(jar.len() <= MAX_PENDING_STATES, "round {round}: {} pending", jar.len());
    }
    assert_eq!(jar.len(), MAX_PENDING_STATES);
}

#[tokio::test]
async fn other_routes_pass_straight_through() {
    let app = App::default();
    let service = builder(&TestClock::new()).build().unwrap().layer(app.service());
    for uri in ["/", "/logout/", "/logout/other", "/LOGOUT", "/api?x=/logout"] {
        let request = Request::post(uri).header(header::COOKIE, "sid=1").body(empty()).unwrap();
        let (response, body) = send(service.clone(), request).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        assert_eq!(body, "inner");
        assert_eq!(
            response.headers().len(),
            1,
            "only the app's own header: {:?}",
            response.headers()
        );
    }
    assert_eq!(app.calls(), 5);
}
