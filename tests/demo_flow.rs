//! The whole sign-out flow over real loopback sockets: the demo app, the mock
//! provider, and a browser that keeps cookies per host and follows redirects.

#[allow(dead_code)]
#[path = "../examples/demo/app.rs"]
mod app;
mod http_client;

use std::str::FromStr;

use http::{Method, StatusCode};
use http_client::CookieClient;
use tokio::net::TcpListener;
use tower_sessions_0_14::session::Id;

use app::{DEMO_USER, LOCAL_COOKIE, SESSION_COOKIE};

/// The demo on ephemeral ports: the app on 127.0.0.1, the mock on `localhost`
/// (another host, so cookies do not cross, as in production).
async fn demo_with(extra: &[(&str, &str)]) -> app::Demo {
    let rp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mock = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rp_url = format!("http://127.0.0.1:{}", rp.local_addr().unwrap().port());
    let mock_url = format!("http://localhost:{}", mock.local_addr().unwrap().port());
    let settings = app::Settings::from_lookup(|name| match name {
        "RP_URL" => Some(rp_url.clone()),
        "MOCK_PROVIDER_URL" => Some(mock_url.clone()),
        _ => extra.iter().find(|(n, _)| *n == name).map(|(_, v)| (*v).to_owned()),
    })
    .expect("settings");
    app::start(settings, Some(rp), Some(mock)).await.expect("demo starts")
}

async fn demo() -> app::Demo {
    demo_with(&[]).await
}

/// Signs in at `/login` (locally, then at the mock); returns the server-side session ID.
async fn sign_in(browser: &mut CookieClient, demo: &app::Demo) -> Id {
    let home = browser.get(&format!("{}/login", demo.rp_url)).await;
    assert_eq!(home.status, StatusCode::OK);
    assert_eq!(home.url.path(), "/", "back home after signing in at the mock");
    assert!(
        home.visited.iter().any(|u| u.host_str() == Some("localhost") && u.path() == "/login"),
        "went through the mock's login: {:?}",
        home.visited
    );
    assert!(home.body.contains("<strong>Signed in</strong>"), "{}", home.body);
    assert!(home.body.contains("<strong>active</strong> for demo-user"), "{}", home.body);

    assert_eq!(browser.cookie(&demo.rp_url, LOCAL_COOKIE).as_deref(), Some(DEMO_USER));
    let session_id = browser.cookie(&demo.rp_url, SESSION_COOKIE).expect("session cookie");
    let id = Id::from_str(&session_id).expect("session ID");
    assert!(demo.store.load(&id).await.unwrap().is_some(), "server session stored");
    let (mock, _) = demo.mock.as_ref().unwrap();
    assert!(mock.has_session(DEMO_USER));
    id
}

#[tokio::test]
async fn sign_out_ends_the_local_server_and_hosted_sessions() {
    let demo = demo().await;
    let (mock, _) = demo.mock.clone().unwrap();
    let mut browser = CookieClient::new();

    let home = browser.get(&format!("{}/", demo.rp_url)).await;
    assert!(home.body.contains("Not signed in"), "{}", home.body);
    let id = sign_in(&mut browser, &demo).await;

    let done =
        browser.post_form(&format!("{}/logout", demo.rp_url), &[("return_to", "/goodbye")]).await;

    // Through the provider and back to the callback, which the layer let through.
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.url.path(), "/logout/callback");
    let provider_hop = &done.visited[1];
    assert_eq!(provider_hop.host_str(), Some("localhost"));
    assert_eq!(provider_hop.path(), "/endsession");
    assert!(done.body.contains("<strong>Signed out.</strong>"), "{}", done.body);
    assert!(done.body.contains("<code>success</code>"), "the logout parameter is shown");
    assert!(done.body.contains("href=\"/goodbye\""), "the sealed return target is offered");

    // Locally: no session cookie, no local cookie, no state cookie left.
    assert_eq!(browser.cookie_names(&demo.rp_url), Vec::<String>::new());
    // On the server: the record is gone from the store.
    assert!(demo.store.load(&id).await.unwrap().is_none(), "server session still stored");
    // At the provider: the hosted session and its cookie are gone.
    assert_eq!(mock.hosted_session_count(), 0);
    assert_eq!(
        browser.cookie_names(&mock.url().replace("127.0.0.1", "localhost")),
        Vec::<String>::new()
    );
    let call = &mock.end_session_calls()[0];
    assert!(call.ended_hosted_session);
    assert_eq!(call.param("client_id"), Some("demo-client"));
    assert_eq!(
        call.param("post_logout_redirect_uri"),
        Some(format!("{}/logout/callback", demo.rp_url).as_str())
    );

    let home = browser.get(&format!("{}/", demo.rp_url)).await;
    assert!(home.body.contains("Not signed in"), "{}", home.body);
    assert!(home.body.contains("<strong>none</strong> for demo-user"), "{}", home.body);
    let landing = browser.get(&format!("{}/goodbye", demo.rp_url)).await;
    assert_eq!(landing.status, StatusCode::OK);
}

#[tokio::test]
async fn a_tampered_state_is_refused_with_a_readable_page() {
    let demo = demo().await;
    let mut browser = CookieClient::new();
    sign_in(&mut browser, &demo).await;

    let to_provider =
        browser.send(Method::POST, &format!("{}/logout", demo.rp_url), Some(&[])).await;
    assert_eq!(to_provider.status, StatusCode::SEE_OTHER);
    let back = browser.send(Method::GET, to_provider.location().unwrap().as_str(), None).await;
    assert_eq!(back.status, StatusCode::FOUND);
    let callback = back.location().unwrap();
    let state = callback.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();

    // Same length, alphabet and cookie name (first 8 characters), one
    // character changed away from the last one (whose low bits must stay
    // zero): only the seal can tell.
    let mut tampered = state.clone().into_bytes();
    tampered[10] = if tampered[10] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let mut forged = callback.clone();
    forged
        .query_pairs_mut()
        .clear()
        .append_pair("logout", "success")
        .append_pair("state", &tampered);

    let refused = browser.send(Method::GET, forged.as_str(), None).await;
    assert!(refused.status.is_client_error(), "{}", refused.status);
    assert_eq!(refused.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(refused.body.contains("<h1>Sign-out could not be completed</h1>"), "{}", refused.body);
    assert!(
        refused.body.contains("<code>state_mismatch</code>"),
        "names the reason: {}",
        refused.body
    );
    assert!(!refused.body.contains("Signed out."), "the callback page must not be shown");

    // No state in the callback at all: refused too, readably.
    let missing = browser.get(&format!("{}/logout/callback?logout=success", demo.rp_url)).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert!(missing.body.contains("<code>state_missing</code>"), "{}", missing.body);
}

#[tokio::test]
async fn a_cross_site_sign_out_is_refused_readably() {
    let demo = demo().await;
    let mut browser = CookieClient::new();
    let id = sign_in(&mut browser, &demo).await;
    // A form on another site posting to /logout with the user's cookies.
    browser.extra_headers = vec![
        ("origin", "https://evil.example".to_owned()),
        ("sec-fetch-site", "cross-site".to_owned()),
    ];
    let page = browser.post_form(&format!("{}/logout", demo.rp_url), &[("return_to", "/")]).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("<code>cross_site</code>"), "{}", page.body);
    assert!(demo.store.load(&id).await.unwrap().is_some(), "nothing may change");
    assert_eq!(browser.cookie(&demo.rp_url, LOCAL_COOKIE).as_deref(), Some(DEMO_USER));
}

#[tokio::test]
async fn an_external_provider_replaces_the_mock() {
    let rp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rp_url = format!("http://127.0.0.1:{}", rp.local_addr().unwrap().port());
    let settings = app::Settings::from_lookup(|name| match name {
        "RP_URL" => Some(rp_url.clone()),
        "PROVIDER_END_SESSION_URL" => {
            Some("https://id.example.com/endsession?tenant=t1".to_owned())
        }
        "CLIENT_ID" => Some("my-app".to_owned()),
        _ => None,
    })
    .unwrap();
    let demo = app::start(settings, Some(rp), None).await.unwrap();
    assert!(demo.mock.is_none());

    let mut browser = CookieClient::new();
    let home = browser.get(&format!("{rp_url}/login")).await;
    assert!(home.body.contains("<strong>Signed in</strong>"), "{}", home.body);
    let page = browser.send(Method::POST, &format!("{rp_url}/logout"), Some(&[])).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    let location = page.header("location").unwrap();
    assert!(
        location.starts_with(
            "https://id.example.com/endsession?tenant=t1&client_id=my-app&post_logout_redirect_uri="
        ),
        "{location}"
    );
    assert_eq!(browser.cookie(&rp_url, LOCAL_COOKIE), None);
}

#[test]
fn defaults_work_without_any_setting() {
    let settings = app::Settings::from_lookup(|_| None).unwrap();
    assert_eq!(settings.rp_url, "http://127.0.0.1:3000");
    assert_eq!(settings.client_id, "demo-client");
    assert_eq!(settings.provider, app::Provider::Mock { url: "http://localhost:3001".into() });
    assert_eq!(settings.post_logout_redirect_uri(), "http://127.0.0.1:3000/logout/callback");
    assert!(settings.state_key.is_none());
}

#[test]
fn bad_settings_name_the_setting() {
    let error = |name: &str, value: &str| {
        let (name, value) = (name.to_owned(), value.to_owned());
        app::Settings::from_lookup(move |n| (n == name).then(|| value.clone())).unwrap_err()
    };
    assert_eq!(error("RP_URL", "127.0.0.1:3000").name, "RP_URL");
    assert_eq!(error("RP_URL", "http://127.0.0.1:3000/app").name, "RP_URL");
    assert_eq!(error("MOCK_PROVIDER_URL", "http://127.0.0.1:3000").name, "MOCK_PROVIDER_URL");
    assert_eq!(error("PROVIDER_END_SESSION_URL", "not a url").name, "PROVIDER_END_SESSION_URL");
    assert_eq!(error("STATE_KEY", "c2hvcnQ=").name, "STATE_KEY");
    assert_eq!(error("LOGOUT_STATE_TTL_SECS", "five").name, "LOGOUT_STATE_TTL_SECS");
    assert_eq!(error("SESSION_STORE", "mongodb://127.0.0.1/0").name, "SESSION_STORE");
    assert_eq!(error("SESSION_STORE", "redis://127.0.0.1:port/0").name, "SESSION_STORE");
    let message = error("STATE_KEY", "c2hvcnQ=").to_string();
    assert!(message.starts_with("STATE_KEY: "), "{message}");
}

#[tokio::test]
async fn settings_the_layer_refuses_name_the_setting() {
    let rp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rp_url = format!("http://127.0.0.1:{}", rp.local_addr().unwrap().port());
    let settings = app::Settings::from_lookup(|name| match name {
        "RP_URL" => Some(rp_url.clone()),
        "PROVIDER_END_SESSION_URL" => Some("http://id.example.com/endsession".to_owned()),
        _ => None,
    })
    .unwrap();
    let error = app::start(settings.clone(), Some(rp), None).await.unwrap_err();
    assert_eq!(error.name, "PROVIDER_END_SESSION_URL", "{error}");

    let rp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let mut settings = settings;
    settings.provider =
        app::Provider::External { end_session_url: "https://id.example.com/endsession".into() };
    settings.state_ttl = Some(std::time::Duration::from_secs(5));
    let error = app::start(settings, Some(rp), None).await.unwrap_err();
    assert_eq!(error.name, "LOGOUT_STATE_TTL_SECS", "{error}");
}
