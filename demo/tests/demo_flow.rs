//! The whole flow over real loopback sockets: the demo app signing in at the
//! mock provider (authorization code flow with PKCE) and signing out, and a
//! client that keeps cookies per host and follows redirects as a browser does.

use tower_oidc_logout_demo as app;
use tower_oidc_logout_mock::browser as http_client;

use std::str::FromStr;

use http::{Method, StatusCode};
use http_client::CookieClient;
use tokio::net::TcpListener;
use tower_sessions_0_14::session::Id;

use app::{
    DEMO_USER, ID_TOKEN_KEY, LOCAL_COOKIE, REFRESH_TOKEN_KEY, SESSION_COOKIE, SID_KEY, USER_KEY,
};
use http_client::Page;
use tower_sessions_0_14::session::Record;

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

/// Follows `/login` to the mock's sign-in form: the page that shows it.
async fn to_sign_in_form(browser: &mut CookieClient, demo: &app::Demo) -> Page {
    let form = browser.get(&format!("{}/login", demo.rp_url)).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert_eq!(form.url.host_str(), Some("localhost"), "at the mock: {:?}", form.visited);
    assert_eq!(form.url.path(), "/authorize");
    assert!(form.body.contains("<form id=\"sign-in\" method=\"post\" action=\"/authorize\">"));
    form
}

/// Submits the mock's sign-in form as `user`: its hidden fields are the
/// authorization request's parameters, i.e. the query of the form's page.
async fn submit_sign_in_form(browser: &mut CookieClient, form: &Page, user: &str) -> Page {
    let mut fields: Vec<(String, String)> = form.url.query_pairs().into_owned().collect();
    fields.retain(|(name, _)| name != "user");
    fields.push(("user".to_owned(), user.to_owned()));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let action = form.url.join("/authorize").unwrap();
    browser.post_form(action.as_str(), &fields).await
}

/// The server-side session behind the browser's session cookie.
async fn server_session(browser: &CookieClient, demo: &app::Demo) -> (Id, Option<Record>) {
    let cookie = browser.cookie(&demo.rp_url, SESSION_COOKIE).expect("session cookie");
    let id = Id::from_str(&cookie).expect("session ID");
    let record = demo.store.load(&id).await.unwrap();
    (id, record)
}

fn text(record: &Record, key: &str) -> Option<String> {
    record.data.get(key).and_then(|v| v.as_str()).map(str::to_owned)
}

/// Signs in through the mock's form (authorization code flow with PKCE);
/// returns the server-side session ID and the `sid` it holds.
async fn sign_in(browser: &mut CookieClient, demo: &app::Demo) -> (Id, String) {
    let form = to_sign_in_form(browser, demo).await;
    let home = submit_sign_in_form(browser, &form, DEMO_USER).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    assert_eq!(home.url.path(), "/", "back home after the callback: {:?}", home.visited);
    assert!(
        home.visited.iter().any(|u| u.path() == app::LOGIN_CALLBACK_PATH),
        "through the app's sign-in callback: {:?}",
        home.visited
    );
    assert!(
        home.body.contains("<strong>Signed in</strong> as <span id=\"user\">demo-user</span>"),
        "{}",
        home.body
    );
    assert!(home.body.contains("<strong>active</strong> for demo-user"), "{}", home.body);

    assert_eq!(browser.cookie(&demo.rp_url, LOCAL_COOKIE).as_deref(), Some(DEMO_USER));
    let (id, record) = server_session(browser, demo).await;
    let record = record.expect("server session stored");
    let (mock, _) = demo.mock.as_ref().unwrap();
    assert!(mock.has_session(DEMO_USER));
    // The session holds what the validated ID token said: sub, sid, and the token itself.
    assert_eq!(text(&record, USER_KEY).as_deref(), Some(DEMO_USER));
    let sid = text(&record, SID_KEY).expect("sid in the session");
    let hosted = mock.hosted_sessions();
    assert_eq!(hosted.len(), 1);
    assert_eq!(hosted[0].sid, sid, "the session's sid is the hosted session's");
    let id_token = text(&record, ID_TOKEN_KEY).expect("ID token in the session");
    assert_eq!(id_token.split('.').count(), 3, "a JWS: {id_token}");
    assert!(home.body.contains(&format!("<code id=\"sid\">{sid}</code>")), "{}", home.body);
    assert!(!record.data.contains_key("pending_sign_in"), "the pending sign-in is used up");
    (id, sid)
}

#[tokio::test]
async fn sign_out_ends_the_local_server_and_hosted_sessions() {
    let demo = demo().await;
    let (mock, _) = demo.mock.clone().unwrap();
    let mut browser = CookieClient::new();

    let home = browser.get(&format!("{}/", demo.rp_url)).await;
    assert!(home.body.contains("Not signed in"), "{}", home.body);
    let (id, sid) = sign_in(&mut browser, &demo).await;

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
    let call = mock.last_end_session_call().expect("a call at /endsession");
    assert!(call.ended_hosted_session);
    // The layer sent the ID token the sign-in stored, and the mock accepted it for this session.
    assert!(call.id_token_hint.is_some(), "id_token_hint sent: {:?}", call.params);
    assert_eq!(call.id_token_hint_sid.as_deref(), Some(sid.as_str()), "the hint names the session");
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

/// The state `/login` gave the browser, from the authorization URL it was sent to.
fn authorization_state(form: &Page) -> String {
    form.url.query_pairs().find(|(k, _)| k == "state").expect("state sent").1.into_owned()
}

/// Submits the sign-in form as [`DEMO_USER`] without following the
/// provider's answer: the redirect to the app's `/login/callback`.
async fn provider_answer(browser: &mut CookieClient, form: &Page) -> url::Url {
    let mut fields: Vec<(String, String)> = form.url.query_pairs().into_owned().collect();
    fields.push(("user".to_owned(), DEMO_USER.to_owned()));
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    let action = form.url.join("/authorize").unwrap();
    let answer = browser.send(Method::POST, action.as_str(), Some(&fields)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let callback = answer.location().unwrap();
    assert_eq!(callback.path(), app::LOGIN_CALLBACK_PATH);
    callback
}

/// `url` with the query parameter `name` set to `value`, the others kept in order.
fn with_param(url: &url::Url, name: &str, value: &str) -> url::Url {
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let mut changed = url.clone();
    let mut query = changed.query_pairs_mut();
    query.clear();
    for (n, v) in &pairs {
        query.append_pair(n, if n == name { value } else { v });
    }
    drop(query);
    changed
}

#[tokio::test]
async fn a_tampered_sign_in_state_is_refused_and_signs_nobody_in() {
    let demo = demo().await;
    let (mock, _) = demo.mock.clone().unwrap();
    let mut browser = CookieClient::new();
    let form = to_sign_in_form(&mut browser, &demo).await;
    let state = authorization_state(&form);

    // The provider's answer, not followed: its redirect to the app's callback.
    let callback = provider_answer(&mut browser, &form).await;
    assert_eq!(
        callback.query_pairs().find(|(k, _)| k == "state").map(|(_, v)| v.into_owned()),
        Some(state.clone())
    );

    // The same code with another state: refused, readably, and nobody is signed in.
    let forged = with_param(&callback, "state", &format!("{state}x"));
    let refused = browser.get(forged.as_str()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert_eq!(refused.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(refused.body.contains("<h1>Sign-in could not be completed</h1>"), "{}", refused.body);
    assert!(refused.body.contains("<code>state_mismatch</code>"), "{}", refused.body);
    assert_eq!(browser.cookie(&demo.rp_url, LOCAL_COOKIE), None, "no local session");
    let (_, record) = server_session(&browser, &demo).await;
    let signed_in = record.as_ref().and_then(|r| text(r, USER_KEY));
    assert_eq!(signed_in, None, "no server-side session");

    // The pending sign-in was used up by the refusal: the genuine return fails too.
    let late = browser.get(callback.as_str()).await;
    assert_eq!(late.status, StatusCode::BAD_REQUEST);
    assert!(late.body.contains("<code>no_sign_in_pending</code>"), "{}", late.body);
    // A callback without any sign-in started, or without state, is refused the same way.
    let mut stranger = CookieClient::new();
    let cold =
        stranger.get(&format!("{}{}?code=x&state=y", demo.rp_url, app::LOGIN_CALLBACK_PATH)).await;
    assert_eq!(cold.status, StatusCode::BAD_REQUEST);
    assert!(cold.body.contains("<code>no_sign_in_pending</code>"), "{}", cold.body);
    let home = browser.get(&format!("{}/", demo.rp_url)).await;
    assert!(home.body.contains("Not signed in"), "{}", home.body);
    // The hosted session exists (the user did sign in at the provider); the app refused the return.
    assert!(mock.has_session(DEMO_USER));
}

#[tokio::test]
async fn a_code_returned_in_another_issuers_name_is_refused() {
    let demo = demo().await;
    let mut browser = CookieClient::new();
    let form = to_sign_in_form(&mut browser, &demo).await;
    let callback = provider_answer(&mut browser, &form).await;
    // RFC 9207 mix-up defence: the right state and code, the `iss` of another provider.
    let mixed = with_param(&callback, "iss", "https://evil.example");
    let refused = browser.get(mixed.as_str()).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("<code>issuer_mismatch</code>"), "{}", refused.body);
    assert_eq!(browser.cookie(&demo.rp_url, LOCAL_COOKIE), None, "nobody signed in");
}

#[tokio::test]
async fn a_missing_sign_in_state_is_refused() {
    let demo = demo().await;
    let mut browser = CookieClient::new();
    let form = to_sign_in_form(&mut browser, &demo).await;
    assert!(!authorization_state(&form).is_empty());
    let bare = browser.get(&format!("{}{}?code=abc", demo.rp_url, app::LOGIN_CALLBACK_PATH)).await;
    assert_eq!(bare.status, StatusCode::BAD_REQUEST);
    assert!(bare.body.contains("<code>state_mismatch</code>"), "{}", bare.body);
    assert_eq!(browser.cookie(&demo.rp_url, LOCAL_COOKIE), None);
}

#[tokio::test]
async fn a_confidential_client_signs_in_with_its_secret() {
    let demo = demo_with(&[("CLIENT_SECRET", "s3cret")]).await;
    let (mock, _) = demo.mock.clone().unwrap();
    assert!(mock.client("demo-client").unwrap().is_confidential());
    let mut browser = CookieClient::new();
    let (id, sid) = sign_in(&mut browser, &demo).await;
    browser.post_form(&format!("{}/logout", demo.rp_url), &[("return_to", "/")]).await;
    assert!(demo.store.load(&id).await.unwrap().is_none());
    assert_eq!(mock.last_end_session_call().unwrap().id_token_hint_sid, Some(sid));
}

#[tokio::test]
async fn an_external_issuer_is_configured_by_discovery() {
    // Another provider, not the demo's: the demo knows it by its issuer only.
    let (provider, demo) = demo_at_a_provider_that_knows("my-app", None).await;
    let (issuer, rp_url) = (provider.issuer().to_owned(), demo.rp_url.clone());
    assert!(demo.mock.is_none(), "the embedded mock is not started");
    assert_eq!(demo.issuer.as_deref(), Some(issuer.as_str()));

    let mut browser = CookieClient::new();
    let form = browser.get(&format!("{rp_url}/login")).await;
    assert_eq!(form.url.origin(), url::Url::parse(&issuer).unwrap().origin(), "{:?}", form.visited);
    let home = submit_sign_in_form(&mut browser, &form, "alice").await;
    assert!(home.body.contains("<span id=\"user\">alice</span>"), "{}", home.body);
    let sid = provider.hosted_sessions()[0].sid.clone();

    let done = browser.post_form(&format!("{rp_url}/logout"), &[("return_to", "/")]).await;
    assert_eq!(done.url.path(), "/logout/callback", "{:?}", done.visited);
    // The end-session endpoint came from discovery, with the hint of alice's session.
    let call = provider.last_end_session_call().unwrap();
    assert_eq!(call.id_token_hint_sid, Some(sid));
    assert_eq!(provider.hosted_session_count(), 0);
    // The revocation endpoint came from discovery too: alice's refresh token is dead.
    let tokens = provider.refresh_tokens_of("alice");
    assert_eq!((tokens.active, tokens.revoked), (0, 1));
}

#[tokio::test]
async fn a_cross_site_sign_out_is_refused_readably() {
    let demo = demo().await;
    let mut browser = CookieClient::new();
    let (id, _) = sign_in(&mut browser, &demo).await;
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
    // Signed in locally at once: /login's own response sets the cookies.
    let login = browser.send(Method::GET, &format!("{rp_url}/login"), None).await;
    assert_eq!(login.status, StatusCode::SEE_OTHER);
    assert_eq!(login.header("location"), Some("/"));
    let set: Vec<&str> =
        login.headers.get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).collect();
    assert!(set.iter().any(|c| c.starts_with(&format!("{LOCAL_COOKIE}=demo-user"))), "{set:?}");
    assert!(set.iter().any(|c| c.starts_with(&format!("{SESSION_COOKIE}="))), "{set:?}");
    let home = browser.get(&format!("{rp_url}/")).await;
    assert!(home.body.contains("<strong>Signed in</strong>"), "{}", home.body);
    assert!(!home.body.contains("id=\"sid\""), "no sid without a provider sign-in");
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
    assert_eq!(settings.client_secret, None);
    assert_eq!(settings.redirect_uri(), "http://127.0.0.1:3000/login/callback");
}

#[tokio::test]
async fn an_unreachable_issuer_stops_the_demo_naming_it() {
    // A port nobody listens on (bound, then closed).
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap().port();
    let rp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rp_url = format!("http://127.0.0.1:{}", rp.local_addr().unwrap().port());
    let settings = app::Settings::from_lookup(|name| match name {
        "RP_URL" => Some(rp_url.clone()),
        "PROVIDER_ISSUER" => Some(format!("http://127.0.0.1:{closed}")),
        _ => None,
    })
    .unwrap();
    let error = app::start(settings, Some(rp), None).await.unwrap_err();
    assert_eq!(error.name, "PROVIDER_ISSUER", "{error}");
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
    assert_eq!(error("PROVIDER_ISSUER", "id.example.com").name, "PROVIDER_ISSUER");
    assert_eq!(
        error("PROVIDER_ISSUER", "https://id.example.com/?tenant=1").name,
        "PROVIDER_ISSUER"
    );
    let both = app::Settings::from_lookup(|n| match n {
        "PROVIDER_ISSUER" => Some("https://id.example.com".into()),
        "PROVIDER_END_SESSION_URL" => Some("https://id.example.com/endsession".into()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(both.name, "PROVIDER_END_SESSION_URL", "{both}");
    let unused_secret = app::Settings::from_lookup(|n| match n {
        "CLIENT_SECRET" => Some("s3cret".into()),
        "PROVIDER_END_SESSION_URL" => Some("https://id.example.com/endsession".into()),
        _ => None,
    })
    .unwrap_err();
    assert_eq!(unused_secret.name, "CLIENT_SECRET", "{unused_secret}");
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

/// The browser's server-side session after a sign-out at the provider that the
/// browser never brought to the app: gone from the store, and the home page,
/// with the old cookie, shows nobody signed in.
async fn assert_signed_out_elsewhere(browser: &mut CookieClient, demo: &app::Demo, id: &Id) {
    assert!(demo.store.load(id).await.unwrap().is_none(), "server session still stored");
    assert!(
        browser.cookie(&demo.rp_url, SESSION_COOKIE).is_some(),
        "the browser still sends its old session cookie"
    );
    // The local cookie is the browser's own, left behind; it signs nobody in.
    assert_eq!(browser.cookie(&demo.rp_url, LOCAL_COOKIE).as_deref(), Some(DEMO_USER));
    let home = browser.get(&format!("{}/", demo.rp_url)).await;
    assert_eq!(home.status, StatusCode::OK, "{}", home.body);
    assert!(home.body.contains("Not signed in"), "{}", home.body);
    assert!(
        home.body.contains("<strong>none</strong> in the tower-sessions store"),
        "{}",
        home.body
    );
}

#[tokio::test]
async fn a_sign_out_at_the_provider_reaches_the_app_by_back_channel() {
    let demo = demo().await;
    let (mock, _) = demo.mock.clone().unwrap();
    let mut browser = CookieClient::new();
    let (id, sid) = sign_in(&mut browser, &demo).await;
    let home = browser.get(&format!("{}/", demo.rp_url)).await;
    assert!(home.body.contains("Sign out everywhere"), "the home page explains: {}", home.body);

    // The provider ends its session; the browser does not visit the app.
    mock.end_session_by_sid(&sid).await;
    let deliveries = mock.backchannel_deliveries();
    assert_eq!(deliveries.len(), 1, "{deliveries:?}");
    let delivery = &deliveries[0];
    assert_eq!(delivery.uri, format!("{}{}", demo.rp_url, app::BACKCHANNEL_PATH));
    assert_eq!(delivery.sid, sid);
    assert_eq!(delivery.sub, DEMO_USER);
    assert_eq!(delivery.status, Some(200), "{delivery:?}");

    assert_signed_out_elsewhere(&mut browser, &demo, &id).await;
}

#[tokio::test]
async fn a_front_channel_logout_ends_the_apps_session() {
    let demo = demo().await;
    let mut browser = CookieClient::new();
    let (id, sid) = sign_in(&mut browser, &demo).await;
    let issuer = demo.issuer.clone().unwrap();

    // What the provider's logged-out page loads in an iframe (another client, no app cookie needed).
    let mut url = url::Url::parse(&format!("{}{}", demo.rp_url, app::FRONTCHANNEL_PATH)).unwrap();
    url.query_pairs_mut().append_pair("iss", &issuer).append_pair("sid", &sid);
    let frame = CookieClient::new().get(url.as_str()).await;
    assert_eq!(frame.status, StatusCode::OK, "{}", frame.body);

    assert_signed_out_elsewhere(&mut browser, &demo, &id).await;
}

#[tokio::test]
async fn the_start_up_checklist_says_the_embedded_mock_accepts_the_sign_out() {
    let demo = demo().await;
    let text = app::preflight_checklist(&demo).await;
    assert!(text.contains("[ok]   end session: client_id known"), "{text}");
    assert!(text.contains("[ok]   end session: post_logout_redirect_uri allowed"), "{text}");
    assert!(text.contains("[ok]   back-channel: jwks_uri holds a usable key"), "{text}");
    assert!(text.ends_with("=> the provider accepts this app's sign-out.\n"), "{text}");
}

/// A demo pointed (by `PROVIDER_ISSUER`) at a provider of its own that
/// knows client `my-app` with redirect URIs under `registered` (the demo's
/// own `RP_URL` when `None`); the demo's `CLIENT_ID` is `client_id`.
async fn demo_at_a_provider_that_knows(
    client_id: &str,
    registered: Option<&str>,
) -> (tower_oidc_logout_mock::MockProvider, app::Demo) {
    let rp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let rp_url = format!("http://127.0.0.1:{}", rp.local_addr().unwrap().port());
    let registered = registered.unwrap_or(&rp_url);
    let provider = tower_oidc_logout_mock::MockProvider::builder()
        .register(
            tower_oidc_logout_mock::MockClient::new("my-app")
                .redirect_uri(format!("{registered}/login/callback"))
                .post_logout_redirect_uri(format!("{registered}/logout/callback")),
        )
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let issuer = provider.issuer().to_owned();
    let settings = app::Settings::from_lookup(|name| match name {
        "RP_URL" => Some(rp_url.clone()),
        "PROVIDER_ISSUER" => Some(issuer.clone()),
        "CLIENT_ID" => Some(client_id.to_owned()),
        _ => None,
    })
    .unwrap();
    let demo = app::start(settings, Some(rp), None).await.unwrap();
    (provider, demo)
}

/// The start-up checklist of [`demo_at_a_provider_that_knows`].
async fn checklist_at_a_provider_that_knows(client_id: &str, registered: Option<&str>) -> String {
    let (provider, demo) = demo_at_a_provider_that_knows(client_id, registered).await;
    let text = app::preflight_checklist(&demo).await;
    // The preflight ended no session and the provider saw one bare request.
    let calls = provider.end_session_calls();
    assert_eq!(calls.len(), 1, "{text}");
    assert_eq!(calls[0].id_token_hint, None);
    assert!(!calls[0].ended_hosted_session);
    text
}

#[tokio::test]
async fn the_start_up_checklist_names_a_client_id_the_provider_does_not_know() {
    let text = checklist_at_a_provider_that_knows("not-my-app", None).await;
    assert!(text.contains("[FAIL] end session: client_id known"), "{text}");
    assert!(text.contains("403 Forbidden: http_exception: Forbidden"), "{text}");
    assert!(text.contains("check the CLIENT_ID setting"), "{text}");
    assert!(text.contains("fix the [FAIL] lines above"), "{text}");

    let good = checklist_at_a_provider_that_knows("my-app", None).await;
    assert!(good.ends_with("=> the provider accepts this app's sign-out.\n"), "{good}");
}

#[tokio::test]
async fn the_start_up_checklist_names_an_rp_url_the_provider_does_not_know() {
    let text = checklist_at_a_provider_that_knows("my-app", Some("https://app.example")).await;
    assert!(text.contains("[ok]   end session: client_id known"), "{text}");
    assert!(text.contains("[FAIL] end session: post_logout_redirect_uri allowed"), "{text}");
    assert!(
        text.contains("/logout/callback` exactly as written to the client's allow-list"),
        "{text}"
    );
}

#[tokio::test]
async fn sign_out_revokes_the_refresh_token_even_when_the_browser_stops_at_the_provider() {
    let demo = demo().await;
    let (mock, _) = demo.mock.clone().unwrap();
    let mut browser = CookieClient::new();
    let (id, _) = sign_in(&mut browser, &demo).await;
    let record = demo.store.load(&id).await.unwrap().expect("server session");
    let refresh = text(&record, REFRESH_TOKEN_KEY).expect("a refresh token kept at sign-in");
    assert!(mock.token_is_active(&refresh));
    let home = browser.get(&format!("{}/", demo.rp_url)).await;
    assert!(home.body.contains("<strong>1 active</strong> for demo-user"), "{}", home.body);

    // Only the sign-out's own answer: the browser never goes on to the provider.
    let answer = browser.send(Method::POST, &format!("{}/logout", demo.rp_url), Some(&[])).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    assert_eq!(mock.hosted_session_count(), 1, "the browser did not reach the provider");
    assert!(!mock.token_is_active(&refresh), "the refresh token outlived the sign-out");
    let revocations = mock.revocations();
    assert_eq!(revocations.len(), 1);
    assert_eq!(revocations[0].client_id.as_deref(), Some("demo-client"));
    assert_eq!(revocations[0].token_type_hint.as_deref(), Some("refresh_token"));
    assert!(revocations[0].revoked);

    // A thief holding a copy gets nothing more from it.
    let refused = CookieClient::new()
        .send(
            Method::POST,
            &mock.token_url(),
            Some(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", "demo-client"),
            ]),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
    assert!(refused.body.contains("invalid_grant"), "{}", refused.body);
    let home = browser.get(&format!("{}/", demo.rp_url)).await;
    assert!(
        home.body.contains("<strong>none active</strong> for demo-user (1 revoked at sign-out)"),
        "{}",
        home.body
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_concurrent_sign_outs_revoke_each_refresh_token_once_at_the_provider() {
    let demo = demo().await;
    let (mock, _) = demo.mock.clone().unwrap();
    let mut browsers = Vec::new();
    for _ in 0..200 {
        let mut browser = CookieClient::new();
        let form = to_sign_in_form(&mut browser, &demo).await;
        let home = submit_sign_in_form(&mut browser, &form, DEMO_USER).await;
        assert_eq!(home.url.path(), "/", "{:?}", home.visited);
        browsers.push(browser);
    }
    assert_eq!(mock.refresh_tokens_of(DEMO_USER).active, 200);

    let sign_outs = browsers.into_iter().map(|mut browser| {
        let url = format!("{}/logout", demo.rp_url);
        tokio::spawn(async move { browser.send(Method::POST, &url, Some(&[])).await.status })
    });
    for sign_out in sign_outs.collect::<Vec<_>>() {
        assert_eq!(sign_out.await.unwrap(), StatusCode::SEE_OTHER);
    }
    let tokens = mock.refresh_tokens_of(DEMO_USER);
    assert_eq!((tokens.active, tokens.revoked), (0, 200), "a token missed");
    let revocations = mock.revocations();
    assert_eq!(revocations.len(), 200, "a token revoked twice");
    assert!(revocations.iter().all(|call| call.revoked && call.status == 200));
}
