//! `GET /endsession`, as Next Identity documents it, and the `id_token_hint`
//! of OpenID Connect RP-Initiated Logout 1.0.

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use http::{Method, StatusCode};
use serde_json::Value;
use sha2::{Digest as _, Sha256};
use tower_oidc_logout_mock::{
    HOSTED_SESSION_COOKIE, ID_TOKEN_LIFETIME, LOGOUT_PARAM_VALUE, MockProvider,
    browser::CookieClient,
};

use crate::support::{
    CALLBACK, Clock, FORBIDDEN, assert_json_error, builder, client, demo_provider, end_session_url,
    sign_in, tokens_for,
};

#[tokio::test]
async fn unknown_or_missing_client_id_is_forbidden_with_the_documented_body() {
    let provider = demo_provider().await;
    let mut browser = CookieClient::new();
    for query in [
        &[("client_id", "nobody"), ("post_logout_redirect_uri", CALLBACK)][..],
        &[("post_logout_redirect_uri", CALLBACK)][..],
        &[("client_id", ""), ("post_logout_redirect_uri", CALLBACK)][..],
        // A redirect URI registered for another client does not make the client known.
        &[("client_id", "DEMO-CLIENT"), ("post_logout_redirect_uri", CALLBACK)][..],
    ] {
        let page = browser.send(Method::GET, &end_session_url(&provider, query), None).await;
        assert_json_error(&page, StatusCode::FORBIDDEN);
        assert_eq!(page.body, FORBIDDEN);
    }
}

#[tokio::test]
async fn missing_or_unlisted_redirect_uri_is_a_json_error_without_redirect() {
    let provider = demo_provider().await;
    let mut browser = CookieClient::new();
    sign_in(&mut browser, &provider, "alice").await;
    for query in [
        &[("client_id", "demo-client")][..],
        // Exact string comparison: a trailing slash, another case, another client's URI.
        &[
            ("client_id", "demo-client"),
            ("post_logout_redirect_uri", "http://127.0.0.1:3000/logout/callback/"),
        ][..],
        &[
            ("client_id", "demo-client"),
            ("post_logout_redirect_uri", "HTTP://127.0.0.1:3000/logout/callback"),
        ][..],
        &[("client_id", "demo-client"), ("post_logout_redirect_uri", "https://other.example/cb")][..],
        &[
            ("client_id", "demo-client"),
            ("post_logout_redirect_uri", "https://app.example/cb?tenant=a+b"),
        ][..],
    ] {
        let page = browser.send(Method::GET, &end_session_url(&provider, query), None).await;
        assert_json_error(&page, StatusCode::BAD_REQUEST);
        assert!(
            page.body.starts_with(r#"{"error":"invalid_request","error_details":{"message":""#),
            "{}",
            page.body
        );
    }
    assert!(provider.has_session("alice"), "a refused request must not end the session");
}

#[tokio::test]
async fn repeated_parameters_are_refused() {
    let provider = demo_provider().await;
    let mut browser = CookieClient::new();
    let query = [
        ("client_id", "demo-client"),
        ("post_logout_redirect_uri", CALLBACK),
        ("state", "a"),
        ("state", "b"),
    ];
    let page = browser.send(Method::GET, &end_session_url(&provider, &query), None).await;
    assert_json_error(&page, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn success_ends_the_hosted_session_and_returns_state_unchanged() {
    let provider = demo_provider().await;
    let mut browser = CookieClient::new();
    sign_in(&mut browser, &provider, "alice").await;
    assert_eq!(provider.hosted_session_count(), 1);

    let state = "opaque-Value_1.~ with space&amp";
    let query =
        [("client_id", "demo-client"), ("post_logout_redirect_uri", CALLBACK), ("state", state)];
    let page = browser.send(Method::GET, &end_session_url(&provider, &query), None).await;

    assert_eq!(page.status, StatusCode::FOUND);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let location = page.location().unwrap();
    assert!(location.as_str().starts_with(&format!("{CALLBACK}?")), "{location}");
    let params: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert_eq!(
        params,
        [("logout".into(), LOGOUT_PARAM_VALUE.into()), ("state".into(), state.into())]
    );
    assert_eq!(provider.hosted_session_count(), 0);
    assert!(!provider.has_session("alice"));
    assert_eq!(browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE), None, "cookie not removed");

    let authorize = browser.get(&provider.authorize_url()).await;
    assert!(authorize.body.contains("Hosted session: <strong>none</strong>"), "{}", authorize.body);

    let calls = provider.end_session_calls();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].status, 302);
    assert!(calls[0].ended_hosted_session);
    assert_eq!(calls[0].param("state"), Some(state));
}

#[tokio::test]
async fn without_state_no_state_comes_back_and_the_uris_query_is_kept() {
    let provider = demo_provider().await;
    let mut browser = CookieClient::new();
    let query = [
        ("client_id", "demo-client"),
        ("post_logout_redirect_uri", "https://app.example/cb?tenant=a%20b"),
    ];
    let page = browser.send(Method::GET, &end_session_url(&provider, &query), None).await;
    assert_eq!(page.status, StatusCode::FOUND);
    assert_eq!(
        page.header("location"),
        Some(format!("https://app.example/cb?tenant=a%20b&logout={LOGOUT_PARAM_VALUE}").as_str())
    );
    // Nobody was signed in: still a success, as Next Identity ends a session "if one is present".
    assert!(!provider.end_session_calls()[0].ended_hosted_session);
}

#[tokio::test]
async fn only_the_browsers_own_hosted_session_ends() {
    let provider = demo_provider().await;
    let (mut alice, mut bob) = (CookieClient::new(), CookieClient::new());
    sign_in(&mut alice, &provider, "alice").await;
    sign_in(&mut bob, &provider, "bob").await;
    let query = [("client_id", "demo-client"), ("post_logout_redirect_uri", CALLBACK)];
    let page = alice.send(Method::GET, &end_session_url(&provider, &query), None).await;
    assert_eq!(page.status, StatusCode::FOUND);
    assert!(!provider.has_session("alice"));
    assert!(provider.has_session("bob"));
    assert!(
        bob.get(&provider.authorize_url()).await.body.contains("signed in as <strong>bob</strong>")
    );
}

/// One HTTP/1.1 GET over a raw socket, with a `Cookie` header of any bytes
/// (the test client only sends strings); the response's head, as text.
async fn raw_get(provider: &MockProvider, path_and_query: &str, cookie: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(provider.addr()).await.unwrap();
    let mut request = format!(
        "GET {path_and_query} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nCookie: ",
        provider.addr()
    )
    .into_bytes();
    request.extend_from_slice(cookie);
    request.extend_from_slice(b"\r\n\r\n");
    stream.write_all(&request).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut response))
        .await
        .expect("an answer within 10 s")
        .unwrap();
    let response = String::from_utf8_lossy(&response).into_owned();
    response.split("\r\n\r\n").next().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_utf8_or_binary_cookie_beside_the_hosted_one_does_not_hide_it() {
    let provider = demo_provider().await;
    let mut browser = CookieClient::new();
    sign_in(&mut browser, &provider, "alice").await;
    let id = browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE).unwrap();
    // As a browser sends it: every cookie of the host in one header, UTF-8 as is.
    let mut cookie = b"lang=fran\xc3\xa7ais; x=\xff; ".to_vec();
    cookie.extend_from_slice(format!("{HOSTED_SESSION_COOKIE}={id}").as_bytes());

    let url = url::Url::parse(&end_session_url(
        &provider,
        &[("client_id", "demo-client"), ("post_logout_redirect_uri", CALLBACK)],
    ))
    .unwrap();
    let head = raw_get(&provider, &url[url::Position::BeforePath..], &cookie).await;

    assert!(head.starts_with("HTTP/1.1 302"), "{head}");
    assert!(!provider.has_session("alice"), "the hosted session survived: {head}");
    assert_eq!(provider.hosted_session_count(), 0);
    assert!(provider.end_session_calls()[0].ended_hosted_session);
}

/// A public client with a redirect URI, another without tokens, and a clock.
async fn provider_with_clock() -> (MockProvider, Clock) {
    let clock = Clock::new();
    let provider = MockProvider::builder()
        .clock(clock.reader())
        .register(client("spa"))
        .register(client("legacy"))
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    (provider, clock)
}

fn end_session_with_hint(provider: &MockProvider, client_id: &str, hint: &str) -> String {
    end_session_url(
        provider,
        &[
            ("client_id", client_id),
            ("post_logout_redirect_uri", CALLBACK),
            ("id_token_hint", hint),
            ("state", "s"),
        ],
    )
}

/// A signed-in browser and an ID token of the client "spa".
async fn id_token_for(provider: &MockProvider, user: &str) -> (CookieClient, String) {
    let mut browser = CookieClient::new();
    sign_in(&mut browser, provider, user).await;
    let id_token = tokens_for(&mut browser, provider, "spa").await;
    (browser, id_token)
}

#[tokio::test]
async fn end_session_accepts_and_records_the_id_token_hint() {
    let (provider, clock) = provider_with_clock().await;
    let (mut browser, id_token) = id_token_for(&provider, "alice").await;
    let sid = provider.hosted_sessions()[0].sid.clone();
    // An expired ID token is still a good hint.
    clock.advance(ID_TOKEN_LIFETIME * 2);
    let page =
        browser.send(Method::GET, &end_session_with_hint(&provider, "spa", &id_token), None).await;
    assert_eq!(page.status, StatusCode::FOUND, "{}", page.body);
    assert_eq!(provider.hosted_session_count(), 0);
    let call = provider.last_end_session_call().unwrap();
    assert_eq!(call.id_token_hint.as_deref(), Some(id_token.as_str()));
    assert_eq!(call.id_token_hint_sid.as_deref(), Some(sid.as_str()));
    assert_eq!(call.param("id_token_hint"), Some(id_token.as_str()));
    assert!(call.ended_hosted_session);
}

#[tokio::test]
async fn end_session_refuses_a_hint_it_did_not_issue_to_the_client() {
    let provider = provider_with_clock().await.0;
    let (mut browser, id_token) = id_token_for(&provider, "alice").await;
    let other = builder().register(client("spa")).serve("127.0.0.1:0").await.unwrap();
    let (_, foreign) = id_token_for(&other, "alice").await;
    let (header, claims, signature) = {
        let mut parts = id_token.split('.');
        (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap())
    };
    let mut tampered: Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    tampered["sub"] = "mallory".into();
    let tampered = format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(tampered.to_string()));
    let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(b"x"));
    for (client_id, hint) in [
        ("legacy", id_token.as_str()), // issued to "spa", not to this client
        ("spa", foreign.as_str()),     // another provider's key
        ("spa", tampered.as_str()),
        ("spa", "not-a-jwt"),
        ("spa", digest.as_str()),
    ] {
        let page = browser
            .send(Method::GET, &end_session_with_hint(&provider, client_id, hint), None)
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{client_id}: {}", page.body);
        assert_eq!(page.header("location"), None);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        let call = provider.last_end_session_call().unwrap();
        assert_eq!(call.id_token_hint.as_deref(), Some(hint));
        assert_eq!(call.id_token_hint_sid, None);
    }
    // The hint given twice.
    let twice =
        format!("{}&id_token_hint={id_token}", end_session_with_hint(&provider, "spa", &id_token));
    let page = browser.send(Method::GET, &twice, None).await;
    assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
    assert!(provider.has_session("alice"), "a refused request must not end the session");
}
