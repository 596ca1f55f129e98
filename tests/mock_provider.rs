//! The mock Next Identity provider, over real sockets, against its documentation.

mod support;

use http::{Method, StatusCode};
use support::Browser;
use tower_oidc_logout::mock::{HOSTED_SESSION_COOKIE, LOGOUT_PARAM_VALUE, MockProvider};

const CALLBACK: &str = "http://127.0.0.1:3000/logout/callback";
const FORBIDDEN: &str = r#"{"error":"http_exception","error_details":{"message":"Forbidden"}}"#;

async fn provider() -> MockProvider {
    MockProvider::builder()
        .client("demo-client", [CALLBACK, "https://app.example/cb?tenant=a%20b"])
        .client("other-client", ["https://other.example/cb"])
        .serve("127.0.0.1:0")
        .await
        .expect("mock provider starts")
}

fn end_session(provider: &MockProvider, query: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(&provider.end_session_url()).unwrap();
    url.query_pairs_mut().extend_pairs(query);
    url.into()
}

/// Signs `user` in at the provider in `browser`.
async fn sign_in(browser: &mut Browser, provider: &MockProvider, user: &str) {
    let page = browser.get(&format!("{}/login?user={user}", provider.url())).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.url.path().ends_with("/authorize"), "{}", page.url);
    assert!(page.body.contains("active"), "{}", page.body);
    assert!(provider.has_session(user));
}

fn assert_json_error(page: &support::Page, status: StatusCode) {
    assert_eq!(page.status, status, "{}", page.body);
    assert_eq!(page.header("content-type"), Some("application/json"));
    assert_eq!(page.header("location"), None, "an error must not redirect");
    assert_eq!(page.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn unknown_or_missing_client_id_is_forbidden_with_the_documented_body() {
    let provider = provider().await;
    let mut browser = Browser::new();
    for query in [
        &[("client_id", "nobody"), ("post_logout_redirect_uri", CALLBACK)][..],
        &[("post_logout_redirect_uri", CALLBACK)][..],
        &[("client_id", ""), ("post_logout_redirect_uri", CALLBACK)][..],
        // A redirect URI registered for another client does not make the client known.
        &[("client_id", "DEMO-CLIENT"), ("post_logout_redirect_uri", CALLBACK)][..],
    ] {
        let page = browser.send(Method::GET, &end_session(&provider, query), None).await;
        assert_json_error(&page, StatusCode::FORBIDDEN);
        assert_eq!(page.body, FORBIDDEN);
    }
}

#[tokio::test]
async fn missing_or_unlisted_redirect_uri_is_a_json_error_without_redirect() {
    let provider = provider().await;
    let mut browser = Browser::new();
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
        let page = browser.send(Method::GET, &end_session(&provider, query), None).await;
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
    let provider = provider().await;
    let mut browser = Browser::new();
    let query = [
        ("client_id", "demo-client"),
        ("post_logout_redirect_uri", CALLBACK),
        ("state", "a"),
        ("state", "b"),
    ];
    let page = browser.send(Method::GET, &end_session(&provider, &query), None).await;
    assert_json_error(&page, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn success_ends_the_hosted_session_and_returns_state_unchanged() {
    let provider = provider().await;
    let mut browser = Browser::new();
    sign_in(&mut browser, &provider, "alice").await;
    assert_eq!(provider.hosted_session_count(), 1);

    let state = "opaque-Value_1.~ with space&amp";
    let query =
        [("client_id", "demo-client"), ("post_logout_redirect_uri", CALLBACK), ("state", state)];
    let page = browser.send(Method::GET, &end_session(&provider, &query), None).await;

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
    let provider = provider().await;
    let mut browser = Browser::new();
    let query = [
        ("client_id", "demo-client"),
        ("post_logout_redirect_uri", "https://app.example/cb?tenant=a%20b"),
    ];
    let page = browser.send(Method::GET, &end_session(&provider, &query), None).await;
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
    let provider = provider().await;
    let (mut alice, mut bob) = (Browser::new(), Browser::new());
    sign_in(&mut alice, &provider, "alice").await;
    sign_in(&mut bob, &provider, "bob").await;
    let query = [("client_id", "demo-client"), ("post_logout_redirect_uri", CALLBACK)];
    let page = alice.send(Method::GET, &end_session(&provider, &query), None).await;
    assert_eq!(page.status, StatusCode::FOUND);
    assert!(!provider.has_session("alice"));
    assert!(provider.has_session("bob"));
    assert!(
        bob.get(&provider.authorize_url()).await.body.contains("signed in as <strong>bob</strong>")
    );
}

#[tokio::test]
async fn login_redirects_only_to_the_clients_origins() {
    let provider = provider().await;
    let mut browser = Browser::new();
    let login = |query: &str| format!("{}/login?user=carol&{query}", provider.url());

    let page = browser
        .send(
            Method::GET,
            &login("client_id=demo-client&redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2F"),
            None,
        )
        .await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.header("location"), Some("http://127.0.0.1:3000/"));
    assert!(browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE).is_some());

    let page = browser
        .send(
            Method::GET,
            &login("client_id=demo-client&redirect_uri=https%3A%2F%2Fevil.example%2F"),
            None,
        )
        .await;
    assert_json_error(&page, StatusCode::BAD_REQUEST);
    let page = browser
        .send(
            Method::GET,
            &login("client_id=nobody&redirect_uri=http%3A%2F%2F127.0.0.1%3A3000%2F"),
            None,
        )
        .await;
    assert_json_error(&page, StatusCode::FORBIDDEN);
    let page = browser.send(Method::GET, &format!("{}/login?user=", provider.url()), None).await;
    assert_json_error(&page, StatusCode::BAD_REQUEST);
    assert_eq!(provider.hosted_session_count(), 1);
}

#[tokio::test]
async fn authorize_escapes_the_user_name() {
    let provider = provider().await;
    let mut browser = Browser::new();
    let page = browser.get(&format!("{}/login?user=%3Cscript%3E", provider.url())).await;
    assert!(page.body.contains("&lt;script&gt;"));
    assert!(!page.body.contains("<script>"));
}

#[tokio::test]
async fn instances_share_nothing() {
    let (one, two) =
        (provider().await, MockProvider::builder().serve("127.0.0.1:0").await.unwrap());
    assert_ne!(one.addr(), two.addr());
    let mut browser = Browser::new();
    sign_in(&mut browser, &one, "alice").await;
    assert_eq!(two.hosted_session_count(), 0);
    // `two` has no clients registered at all.
    let query = [("client_id", "demo-client"), ("post_logout_redirect_uri", CALLBACK)];
    let page = browser.send(Method::GET, &end_session(&two, &query), None).await;
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(one.end_session_calls().is_empty());
}

#[tokio::test]
async fn shutdown_stops_the_server() {
    let provider = provider().await;
    let addr = provider.addr();
    provider.shutdown().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
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
    let provider = provider().await;
    let mut browser = Browser::new();
    sign_in(&mut browser, &provider, "alice").await;
    let id = browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE).unwrap();
    // As a browser sends it: every cookie of the host in one header, UTF-8 as is.
    let mut cookie = b"lang=fran\xc3\xa7ais; x=\xff; ".to_vec();
    cookie.extend_from_slice(format!("{HOSTED_SESSION_COOKIE}={id}").as_bytes());

    let url = url::Url::parse(&end_session(
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
