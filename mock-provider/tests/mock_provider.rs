//! The mock Next Identity provider, over real sockets, against its documentation.

use tower_oidc_logout_mock::browser as http_client;

use http::{Method, StatusCode};
use http_client::CookieClient;
use tower_oidc_logout_mock::{HOSTED_SESSION_COOKIE, LOGOUT_PARAM_VALUE, MockProvider};

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
async fn sign_in(browser: &mut CookieClient, provider: &MockProvider, user: &str) {
    let page = browser.get(&format!("{}/login?user={user}", provider.url())).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.url.path().ends_with("/authorize"), "{}", page.url);
    assert!(page.body.contains("active"), "{}", page.body);
    assert!(provider.has_session(user));
}

fn assert_json_error(page: &http_client::Page, status: StatusCode) {
    assert_eq!(page.status, status, "{}", page.body);
    assert_eq!(page.header("content-type"), Some("application/json"));
    assert_eq!(page.header("location"), None, "an error must not redirect");
    assert_eq!(page.header("cache-control"), Some("no-store"));
}

#[tokio::test]
async fn unknown_or_missing_client_id_is_forbidden_with_the_documented_body() {
    let provider = provider().await;
    let mut browser = CookieClient::new();
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
    let mut browser = CookieClient::new();
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
    let mut browser = CookieClient::new();
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
    let mut browser = CookieClient::new();
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
    let (mut alice, mut bob) = (CookieClient::new(), CookieClient::new());
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
    let mut browser = CookieClient::new();
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
    let mut browser = CookieClient::new();
    let page = browser.get(&format!("{}/login?user=%3Cscript%3E", provider.url())).await;
    assert!(page.body.contains("&lt;script&gt;"));
    assert!(!page.body.contains("<script>"));
}

#[tokio::test]
async fn instances_share_nothing() {
    let (one, two) =
        (provider().await, MockProvider::builder().serve("127.0.0.1:0").await.unwrap());
    assert_ne!(one.addr(), two.addr());
    let mut browser = CookieClient::new();
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
    let mut browser = CookieClient::new();
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

// ---------------------------------------------------------------------------
// The mock as an OpenID provider: discovery, /authorize, /token, /jwks,
// and id_token_hint at /endsession.
// ---------------------------------------------------------------------------

mod oidc {
    use std::{
        sync::{
            Arc,
            atomic::{AtomicU64, Ordering},
        },
        time::{Duration, UNIX_EPOCH},
    };

    use base64::{
        Engine as _,
        engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    };
    use http::{Method, StatusCode};
    use p256::ecdsa::{Signature, VerifyingKey, signature::Verifier as _};
    use serde_json::{Value, json};
    use sha2::{Digest as _, Sha256};
    use tower_oidc_logout_mock::{
        AUTHORIZATION_CODE_LIFETIME, HOSTED_SESSION_COOKIE, ID_TOKEN_LIFETIME, MockClient,
        MockError, MockProvider,
    };

    use super::http_client::{CookieClient, Page};

    const SPA: &str = "spa";
    const SPA_CALLBACK: &str = "http://127.0.0.1:3000/auth/callback";
    const WEB: &str = "web";
    const WEB_CALLBACK: &str = "https://web.example/cb";
    const WEB_SECRET: &str = "web secret:1";
    const LOGOUT_CALLBACK: &str = "http://127.0.0.1:3000/logout/callback";
    /// RFC 7636, appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const START: u64 = 1_800_000_000;

    /// A clock the test moves by hand, in seconds since the epoch.
    #[derive(Clone)]
    struct Clock(Arc<AtomicU64>);

    impl Clock {
        fn advance(&self, by: Duration) {
            self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
        }
    }

    async fn provider_with_clock() -> (MockProvider, Clock) {
        let clock = Clock(Arc::new(AtomicU64::new(START)));
        let now = clock.clone();
        let provider = MockProvider::builder()
            // The existing API still registers a public client (post-logout URIs only)...
            .client("legacy", [LOGOUT_CALLBACK])
            // ...and `register` takes every setting.
            .register(
                MockClient::new(SPA)
                    .redirect_uri(SPA_CALLBACK)
                    .post_logout_redirect_uri(LOGOUT_CALLBACK),
            )
            .register(
                MockClient::new(WEB)
                    .redirect_uri(WEB_CALLBACK)
                    .post_logout_redirect_uri("https://web.example/bye")
                    .secret(WEB_SECRET)
                    .backchannel_logout_uri("https://web.example/backchannel")
                    .frontchannel_logout_uri("https://web.example/frontchannel"),
            )
            .clock(move || UNIX_EPOCH + Duration::from_secs(now.0.load(Ordering::SeqCst)))
            .serve("127.0.0.1:0")
            .await
            .expect("mock provider starts");
        (provider, clock)
    }

    async fn provider() -> MockProvider {
        provider_with_clock().await.0
    }

    fn authorize_url(provider: &MockProvider, params: &[(&str, &str)]) -> String {
        let mut url = url::Url::parse(&provider.authorize_url()).unwrap();
        url.query_pairs_mut().extend_pairs(params);
        url.into()
    }

    /// A complete authorization request of the public client.
    fn spa_request() -> Vec<(&'static str, &'static str)> {
        vec![
            ("client_id", SPA),
            ("redirect_uri", SPA_CALLBACK),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "st&te"),
            ("nonce", "n-0S6_WzA2Mj"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
    }

    fn query(page: &Page) -> Vec<(String, String)> {
        page.location().expect("a redirect").query_pairs().into_owned().collect()
    }

    fn param(page: &Page, name: &str) -> Option<String> {
        query(page).into_iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The hidden fields and the user name of the sign-in form, as a browser posts them.
    fn form_fields(page: &Page) -> Vec<(String, String)> {
        let mut fields = Vec::new();
        for input in page.body.split("<input ").skip(1) {
            let attr = |name: &str| {
                let start = input.find(&format!("{name}=\""))? + name.len() + 2;
                let end = start + input[start..].find('"')?;
                Some(input[start..end].replace("&amp;", "&").replace("&quot;", "\""))
            };
            fields.push((attr("name").unwrap(), attr("value").unwrap_or_default()));
        }
        fields
    }

    /// Signs in through the form of `/authorize` as `user` (`prompt=login`:
    /// the form even if the browser has a hosted session); the redirect to the client.
    async fn sign_in(browser: &mut CookieClient, provider: &MockProvider, user: &str) -> Page {
        let mut request = spa_request();
        request.push(("prompt", "login"));
        request.push(("user", user));
        let form = browser.send(Method::GET, &authorize_url(provider, &request), None).await;
        assert_eq!(form.status, StatusCode::OK, "{}", form.body);
        assert_eq!(form.header("cache-control"), Some("no-store"));
        assert!(form.body.contains("<form id=\"sign-in\" method=\"post\" action=\"/authorize\">"));
        let fields = form_fields(&form);
        assert!(fields.contains(&("user".to_owned(), user.to_owned())), "pre-filled: {fields:?}");
        assert!(fields.contains(&("state".to_owned(), "st&te".to_owned())), "{fields:?}");
        let fields: Vec<(&str, &str)> =
            fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        browser.send(Method::POST, &provider.authorize_url(), Some(&fields)).await
    }

    async fn token(
        browser: &mut CookieClient,
        provider: &MockProvider,
        form: &[(&str, &str)],
    ) -> Page {
        browser.send(Method::POST, &provider.token_url(), Some(form)).await
    }

    fn spa_exchange(code: &str) -> Vec<(&str, &str)> {
        vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", SPA_CALLBACK),
            ("client_id", SPA),
            ("code_verifier", VERIFIER),
        ]
    }

    fn json_of(page: &Page) -> Value {
        serde_json::from_str(&page.body).unwrap_or_else(|e| panic!("{e}: {}", page.body))
    }

    fn assert_oauth_error(page: &Page, status: StatusCode, error: &str) {
        assert_eq!(page.status, status, "{}", page.body);
        assert_eq!(page.header("content-type"), Some("application/json"));
        assert_eq!(page.header("cache-control"), Some("no-store"));
        let body = json_of(page);
        assert_eq!(body["error"], error, "{body}");
        assert!(body["error_description"].is_string(), "{body}");
    }

    /// Checks the JWS with the key of the provider's JWKS, independently of the
    /// mock's code; the header and the claims.
    fn verify(provider: &MockProvider, id_token: &str) -> (Value, Value) {
        let jwks: Value = serde_json::from_str(&provider.jwks()).unwrap();
        let key = &jwks["keys"][0];
        let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
        let mut sec1 = vec![4u8];
        sec1.extend(coordinate("x"));
        sec1.extend(coordinate("y"));
        let verifying_key = VerifyingKey::from_sec1_bytes(&sec1).unwrap();
        let (signed, signature) = id_token.rsplit_once('.').unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        verifying_key.verify(signed.as_bytes(), &signature).expect("signed with the JWKS key");
        let (header, claims) = signed.split_once('.').unwrap();
        let decode = |part: &str| -> Value {
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
        };
        (decode(header), decode(claims))
    }

    /// A signed-in browser and an ID token of the public client.
    async fn id_token_for(provider: &MockProvider, user: &str) -> (CookieClient, String) {
        let mut browser = CookieClient::new();
        let redirect = sign_in(&mut browser, provider, user).await;
        let code = param(&redirect, "code").unwrap();
        let page = token(&mut browser, provider, &spa_exchange(&code)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        (browser, json_of(&page)["id_token"].as_str().unwrap().to_owned())
    }

    #[tokio::test]
    async fn discovery_lists_the_endpoints_and_the_logout_capabilities() {
        let provider = provider().await;
        let page = CookieClient::new().get(&provider.discovery_url()).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert_eq!(page.header("content-type"), Some("application/json"));
        let doc = json_of(&page);
        let issuer = format!("http://{}", provider.addr());
        assert_eq!(provider.issuer(), issuer);
        assert_eq!(doc["issuer"], issuer, "exactly, no trailing slash");
        assert_eq!(doc["authorization_endpoint"], provider.authorize_url());
        assert_eq!(doc["token_endpoint"], provider.token_url());
        assert_eq!(doc["jwks_uri"], provider.jwks_url());
        assert_eq!(doc["end_session_endpoint"], provider.end_session_url());
        assert_eq!(doc["end_session_endpoint"], format!("{issuer}/endsession"));
        assert_eq!(doc["response_types_supported"], json!(["code"]));
        assert_eq!(doc["subject_types_supported"], json!(["public"]));
        assert_eq!(doc["id_token_signing_alg_values_supported"], json!(["ES256"]));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            doc["token_endpoint_auth_methods_supported"],
            json!(["client_secret_basic", "client_secret_post", "none"])
        );
        for flag in [
            "backchannel_logout_supported",
            "backchannel_logout_session_supported",
            "frontchannel_logout_supported",
            "frontchannel_logout_session_supported",
        ] {
            assert_eq!(doc[flag], true, "{flag}");
        }
    }

    #[tokio::test]
    async fn a_configured_issuer_is_the_base_of_every_endpoint_and_must_be_clean() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://localhost:{}", listener.local_addr().unwrap().port());
        let provider =
            MockProvider::builder().issuer(issuer.clone()).serve_on(listener).await.unwrap();
        assert_eq!(provider.issuer(), issuer);
        assert_eq!(provider.end_session_url(), format!("{issuer}/endsession"));
        let page = CookieClient::new()
            .get(&format!("{}/.well-known/openid-configuration", provider.url()))
            .await;
        assert_eq!(json_of(&page)["issuer"], issuer);
        assert_eq!(json_of(&page)["jwks_uri"], format!("{issuer}/jwks"));

        for bad in
            ["http://localhost:3001/", "localhost:3001", "ftp://x", "http://x/?a=b", "http://x#f"]
        {
            let error = MockProvider::builder().issuer(bad).serve("127.0.0.1:0").await.unwrap_err();
            assert!(
                matches!(error, MockError::Issuer(ref issuer) if issuer == bad),
                "{bad}: {error}"
            );
        }
    }

    #[tokio::test]
    async fn jwks_serves_the_public_signing_key() {
        let provider = provider().await;
        let page = CookieClient::new().get(&provider.jwks_url()).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert_eq!(page.header("content-type"), Some("application/jwk-set+json"));
        let jwks = json_of(&page);
        assert_eq!(jwks, serde_json::from_str::<Value>(&provider.jwks()).unwrap());
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let key = &keys[0];
        assert_eq!(key["kty"], "EC");
        assert_eq!(key["crv"], "P-256");
        assert_eq!(key["alg"], "ES256");
        assert_eq!(key["use"], "sig");
        assert_eq!(key["kid"], provider.signing_key_id());
        assert!(key["x"].is_string() && key["y"].is_string());
        assert!(key.get("d").is_none(), "no private key");
        let other = MockProvider::builder().serve("127.0.0.1:0").await.unwrap();
        assert_ne!(other.signing_key_id(), provider.signing_key_id(), "a key per instance");
    }

    #[tokio::test]
    async fn code_flow_with_pkce_signs_in_and_issues_a_signed_id_token() {
        let provider = provider().await;
        let mut browser = CookieClient::new();
        let redirect = sign_in(&mut browser, &provider, "alice").await;

        // Back to the registered redirect URI, with the code, the state unchanged and iss.
        assert_eq!(redirect.status, StatusCode::SEE_OTHER);
        assert_eq!(redirect.header("cache-control"), Some("no-store"));
        let location = redirect.location().unwrap();
        assert!(location.as_str().starts_with(&format!("{SPA_CALLBACK}?code=")), "{location}");
        assert_eq!(param(&redirect, "state").as_deref(), Some("st&te"));
        assert_eq!(param(&redirect, "iss").as_deref(), Some(provider.issuer()));
        let code = param(&redirect, "code").unwrap();
        assert!(provider.has_session("alice"));
        let cookie = browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE).expect("hosted cookie");

        let page = token(&mut browser, &provider, &spa_exchange(&code)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert_eq!(page.header("content-type"), Some("application/json"));
        let body = json_of(&page);
        assert_eq!(body["token_type"], "Bearer");
        assert!(body["access_token"].as_str().is_some_and(|t| t.len() >= 32));
        assert!(body["expires_in"].as_u64().is_some_and(|s| s > 0));

        let (header, claims) = verify(&provider, body["id_token"].as_str().unwrap());
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], provider.signing_key_id());
        let session = &provider.hosted_sessions()[0];
        assert_eq!(claims["iss"], provider.issuer());
        assert_eq!(claims["aud"], SPA);
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["nonce"], "n-0S6_WzA2Mj");
        assert_eq!(claims["sid"], session.sid.as_str());
        assert_ne!(session.sid, cookie, "the sid is public, the cookie is a bearer secret");
        assert!(!body.to_string().contains(&cookie), "the cookie value never leaves the provider");
        assert_eq!(claims["iat"], START);
        assert_eq!(claims["exp"], START + ID_TOKEN_LIFETIME.as_secs());
        assert_eq!(claims["auth_time"], START);
        assert_eq!(session.auth_time, START);
        assert_eq!(session.user, "alice");
        assert_eq!(session.clients, [SPA], "the session knows which clients got tokens");

        // A code is good once.
        let again = token(&mut browser, &provider, &spa_exchange(&code)).await;
        assert_oauth_error(&again, StatusCode::BAD_REQUEST, "invalid_grant");
    }

    #[tokio::test]
    async fn a_hosted_session_gets_a_code_at_once_unless_prompt_asks() {
        let provider = provider().await;
        let mut browser = CookieClient::new();
        sign_in(&mut browser, &provider, "alice").await;

        // Signed in already: a code without the form, as real providers do.
        let page = browser.send(Method::GET, &authorize_url(&provider, &spa_request()), None).await;
        assert_eq!(page.status, StatusCode::FOUND);
        assert!(param(&page, "code").is_some());
        assert_eq!(param(&page, "state").as_deref(), Some("st&te"));

        // prompt=login shows the form again.
        let mut request = spa_request();
        request.push(("prompt", "login"));
        let page = browser.send(Method::GET, &authorize_url(&provider, &request), None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("id=\"sign-in\""));
        assert!(page.body.contains("signed in as <strong>alice</strong>"));

        // prompt=none without a hosted session: login_required, redirected.
        let mut request = spa_request();
        request.push(("prompt", "none"));
        let page =
            CookieClient::new().send(Method::GET, &authorize_url(&provider, &request), None).await;
        assert_eq!(page.status, StatusCode::FOUND);
        assert_eq!(param(&page, "error").as_deref(), Some("login_required"));
        assert_eq!(param(&page, "state").as_deref(), Some("st&te"));
        assert_eq!(param(&page, "code"), None);

        // Without OAuth parameters /authorize is still the hosted-session page.
        let page = browser.get(&provider.authorize_url()).await;
        assert!(page.body.contains("signed in as <strong>alice</strong>"), "{}", page.body);
        assert!(page.body.contains("action=\"/login\""));
    }

    #[tokio::test]
    async fn signing_in_again_replaces_the_browsers_hosted_session() {
        let provider = provider().await;
        let mut browser = CookieClient::new();
        sign_in(&mut browser, &provider, "alice").await;
        sign_in(&mut browser, &provider, "bob").await;
        assert_eq!(provider.hosted_session_count(), 1);
        assert!(provider.has_session("bob") && !provider.has_session("alice"));
    }

    #[tokio::test]
    async fn an_untrusted_client_or_redirect_uri_is_shown_never_redirected() {
        let provider = provider().await;
        let mut browser = CookieClient::new();
        let without = |name: &str| -> Vec<(&str, &str)> {
            spa_request().into_iter().filter(|(n, _)| *n != name).collect()
        };
        let with = |name: &'static str, value: &'static str| -> Vec<(&str, &str)> {
            without(name).into_iter().chain([(name, value)]).collect()
        };
        for request in [
            with("client_id", "nobody"),
            without("client_id"),
            // A redirect URI registered for another client, with a trailing slash, or none.
            with("redirect_uri", WEB_CALLBACK),
            with("redirect_uri", "http://127.0.0.1:3000/auth/callback/"),
            with("redirect_uri", "https://evil.example/"),
            without("redirect_uri"),
            spa_request().into_iter().chain([("client_id", SPA)]).collect(),
            spa_request().into_iter().chain([("redirect_uri", SPA_CALLBACK)]).collect(),
        ] {
            let page = browser.send(Method::GET, &authorize_url(&provider, &request), None).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{request:?}");
            assert_eq!(page.header("location"), None, "{request:?}");
            assert_eq!(page.header("cache-control"), Some("no-store"));
            assert!(page.body.contains("id=\"error\""), "{}", page.body);
        }
        // The same through the form's POST.
        let page = browser
            .send(Method::POST, &provider.authorize_url(), Some(&with("client_id", "nobody")))
            .await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert_eq!(page.header("location"), None);
        assert_eq!(provider.hosted_session_count(), 0);
    }

    #[tokio::test]
    async fn other_authorization_errors_are_redirected_with_the_state() {
        let provider = provider().await;
        let mut browser = CookieClient::new();
        let replaced = |name: &'static str, value: Option<&'static str>| -> Vec<(&str, &str)> {
            spa_request()
                .into_iter()
                .filter(|(n, _)| *n != name)
                .chain(value.map(|value| (name, value)))
                .collect()
        };
        for (request, error) in [
            (replaced("response_type", None), "invalid_request"),
            (replaced("response_type", Some("token")), "unsupported_response_type"),
            (replaced("response_type", Some("code id_token")), "unsupported_response_type"),
            (replaced("scope", None), "invalid_scope"),
            (replaced("scope", Some("profile email")), "invalid_scope"),
            (replaced("scope", Some("openidx")), "invalid_scope"),
            // PKCE: a public client must send an S256 challenge.
            (replaced("code_challenge", None), "invalid_request"),
            (replaced("code_challenge_method", None), "invalid_request"),
            (replaced("code_challenge_method", Some("plain")), "invalid_request"),
            (replaced("code_challenge", Some("too-short")), "invalid_request"),
            (spa_request().into_iter().chain([("state", "again")]).collect(), "invalid_request"),
            (replaced("prompt", Some("none login")), "invalid_request"),
        ] {
            let page = browser.send(Method::GET, &authorize_url(&provider, &request), None).await;
            assert_eq!(page.status, StatusCode::FOUND, "{request:?}: {}", page.body);
            assert!(
                page.location().unwrap().as_str().starts_with(&format!("{SPA_CALLBACK}?")),
                "{request:?}"
            );
            assert_eq!(param(&page, "error").as_deref(), Some(error), "{request:?}");
            assert!(param(&page, "error_description").is_some());
            assert_eq!(param(&page, "state").as_deref(), Some("st&te"), "{request:?}");
            assert_eq!(param(&page, "iss").as_deref(), Some(provider.issuer()));
            assert_eq!(param(&page, "code"), None);
        }
        // Through the form's POST, errors are redirected too, with 303.
        let mut fields: Vec<(&str, &str)> =
            spa_request().into_iter().filter(|(n, _)| *n != "scope").collect();
        fields.push(("user", "alice"));
        let page = browser.send(Method::POST, &provider.authorize_url(), Some(&fields)).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER);
        assert_eq!(param(&page, "error").as_deref(), Some("invalid_scope"));
        assert_eq!(provider.hosted_session_count(), 0, "no sign-in on a refused request");
        // A user name the form refuses: the form again, with a 400.
        let mut fields = spa_request();
        fields.push(("user", " "));
        let page = browser.send(Method::POST, &provider.authorize_url(), Some(&fields)).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST);
        assert!(page.body.contains("id=\"sign-in\""));
        assert_eq!(provider.hosted_session_count(), 0);
    }

    #[tokio::test]
    async fn the_code_must_come_back_with_its_verifier_redirect_uri_and_client() {
        let provider = provider().await;
        let mut browser = CookieClient::new();
        let other_verifier = "A".repeat(43);
        let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
            ("wrong verifier", vec![("code_verifier", other_verifier.as_str())]),
            ("short verifier", vec![("code_verifier", &VERIFIER[1..])]),
            ("no verifier", vec![("code_verifier", "")]),
            ("other redirect_uri", vec![("redirect_uri", "http://127.0.0.1:3000/auth/callback/")]),
        ];
        for (case, changes) in cases {
            let redirect = sign_in(&mut browser, &provider, "alice").await;
            let code = param(&redirect, "code").unwrap();
            let form: Vec<(&str, &str)> = spa_exchange(&code)
                .into_iter()
                .filter(|(name, _)| !changes.iter().any(|(n, _)| n == name))
                .chain(changes.iter().copied().filter(|(_, v)| !v.is_empty()))
                .collect();
            let page = token(&mut browser, &provider, &form).await;
            assert_eq!(page.status, StatusCode::BAD_REQUEST, "{case}: {}", page.body);
            assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_grant");
            // A failed exchange used the code up.
            let page = token(&mut browser, &provider, &spa_exchange(&code)).await;
            assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_grant");
        }

        // Another client cannot redeem it, even with the right verifier.
        let redirect = sign_in(&mut browser, &provider, "alice").await;
        let code = param(&redirect, "code").unwrap();
        let mut form = spa_exchange(&code);
        form.retain(|(name, _)| *name != "client_id");
        form.push(("client_id", "legacy"));
        let page = token(&mut browser, &provider, &form).await;
        assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_grant");

        let page = token(&mut browser, &provider, &spa_exchange("no-such-code")).await;
        assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_grant");
    }

    #[tokio::test]
    async fn codes_expire() {
        let (provider, clock) = provider_with_clock().await;
        let mut browser = CookieClient::new();
        let code = param(&sign_in(&mut browser, &provider, "alice").await, "code").unwrap();
        clock.advance(AUTHORIZATION_CODE_LIFETIME);
        let page = token(&mut browser, &provider, &spa_exchange(&code)).await;
        assert_eq!(page.status, StatusCode::OK, "still valid at its lifetime: {}", page.body);

        let code = param(&sign_in(&mut browser, &provider, "alice").await, "code").unwrap();
        clock.advance(AUTHORIZATION_CODE_LIFETIME + Duration::from_secs(1));
        let page = token(&mut browser, &provider, &spa_exchange(&code)).await;
        assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_grant");
    }

    #[tokio::test]
    async fn a_code_of_an_ended_hosted_session_is_refused() {
        let provider = provider().await;
        let mut browser = CookieClient::new();
        let code = param(&sign_in(&mut browser, &provider, "alice").await, "code").unwrap();
        let end = format!(
            "{}?client_id={SPA}&post_logout_redirect_uri={}",
            provider.end_session_url(),
            url::form_urlencoded::byte_serialize(LOGOUT_CALLBACK.as_bytes()).collect::<String>()
        );
        assert_eq!(browser.send(Method::GET, &end, None).await.status, StatusCode::FOUND);
        let page = token(&mut browser, &provider, &spa_exchange(&code)).await;
        assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_grant");
    }

    #[tokio::test]
    async fn malformed_token_requests_are_invalid_request_or_unsupported_grant_type() {
        let provider = provider().await;
        let mut browser = CookieClient::new();
        let code = param(&sign_in(&mut browser, &provider, "alice").await, "code").unwrap();
        let exchange = spa_exchange(&code);
        let without = |name: &str| -> Vec<(&str, &str)> {
            exchange.iter().copied().filter(|(n, _)| *n != name).collect()
        };
        for (form, error) in [
            (without("grant_type"), "invalid_request"),
            (without("code"), "invalid_request"),
            (without("redirect_uri"), "invalid_request"),
            (exchange.iter().copied().chain([("code", "x")]).collect(), "invalid_request"),
            (
                without("grant_type").into_iter().chain([("grant_type", "password")]).collect(),
                "unsupported_grant_type",
            ),
            (
                without("grant_type")
                    .into_iter()
                    .chain([("grant_type", "client_credentials")])
                    .collect(),
                "unsupported_grant_type",
            ),
        ] {
            let page = token(&mut browser, &provider, &form).await;
            assert_oauth_error(&page, StatusCode::BAD_REQUEST, error);
        }
        // Not a form at all.
        let page = browser.send(Method::POST, &provider.token_url(), None).await;
        assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_request");
        // Wrong method or path: axum's own answers are no-store too.
        for (method, url) in [
            (Method::GET, provider.token_url()),
            (Method::POST, provider.jwks_url()),
            (Method::GET, format!("{}/nowhere", provider.url())),
        ] {
            let page = browser.send(method.clone(), &url, None).await;
            assert!(page.status.is_client_error(), "{method} {url}");
            assert_eq!(page.header("cache-control"), Some("no-store"), "{method} {url}");
        }
        // None of these used the code up (the checks come before it is looked up).
        let page = token(&mut browser, &provider, &exchange).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    }

    fn basic(id: &str, secret: &str) -> String {
        let encode =
            |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!("Basic {}", STANDARD.encode(format!("{}:{}", encode(id), encode(secret))))
    }

    /// A code for the confidential client, without PKCE.
    async fn web_code(browser: &mut CookieClient, provider: &MockProvider) -> String {
        let request = [
            ("client_id", WEB),
            ("redirect_uri", WEB_CALLBACK),
            ("response_type", "code"),
            ("scope", "openid"),
            ("prompt", "login"),
            ("user", "carol"),
        ];
        let form = browser.send(Method::GET, &authorize_url(provider, &request), None).await;
        let fields = form_fields(&form);
        let fields: Vec<(&str, &str)> =
            fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
        let page = browser.send(Method::POST, &provider.authorize_url(), Some(&fields)).await;
        param(&page, "code").unwrap_or_else(|| panic!("{:?}", page.location()))
    }

    #[tokio::test]
    async fn a_confidential_client_authenticates_by_basic_or_post() {
        let provider = provider().await;
        let mut browser = CookieClient::new();
        let code = web_code(&mut browser, &provider).await;
        browser.extra_headers = vec![("authorization", basic(WEB, WEB_SECRET))];
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", WEB_CALLBACK),
        ];
        let page = token(&mut browser, &provider, &form).await;
        assert_eq!(page.status, StatusCode::OK, "client_secret_basic: {}", page.body);
        let (_, claims) = verify(&provider, json_of(&page)["id_token"].as_str().unwrap());
        assert_eq!(claims["aud"], WEB);
        assert_eq!(claims.get("nonce"), None, "no nonce in the request, none in the token");

        browser.extra_headers.clear();
        let code = web_code(&mut browser, &provider).await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", WEB_CALLBACK),
            ("client_id", WEB),
            ("client_secret", WEB_SECRET),
        ];
        let page = token(&mut browser, &provider, &form).await;
        assert_eq!(page.status, StatusCode::OK, "client_secret_post: {}", page.body);
        assert_eq!(provider.hosted_sessions()[0].clients, [WEB]);

        // A verifier for a code issued without a challenge: refused (PKCE downgrade).
        let code = web_code(&mut browser, &provider).await;
        let mut with_verifier = form.to_vec();
        with_verifier[1] = ("code", code.as_str());
        with_verifier.push(("code_verifier", VERIFIER));
        let page = token(&mut browser, &provider, &with_verifier).await;
        assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_grant");

        let web = provider.client(WEB).unwrap();
        assert!(web.is_confidential());
        assert_eq!(
            web.registered_backchannel_logout_uri(),
            Some("https://web.example/backchannel")
        );
        assert_eq!(
            web.registered_frontchannel_logout_uri(),
            Some("https://web.example/frontchannel")
        );
        assert!(!format!("{web:?}").contains(WEB_SECRET), "the secret is not in Debug output");
        assert!(!provider.client(SPA).unwrap().is_confidential());
    }

    #[tokio::test]
    async fn bad_client_authentication_is_invalid_client_with_a_challenge() {
        let provider = provider().await;
        let mut browser = CookieClient::new();
        let code = web_code(&mut browser, &provider).await;
        let base = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", WEB_CALLBACK),
        ];
        // The Authorization header, if any, and the client's fields in the form.
        type Case<'a> = (Option<String>, Vec<(&'a str, &'a str)>);
        let cases: Vec<Case> = vec![
            (Some(basic(WEB, "wrong")), vec![]),
            (Some(basic(WEB, "")), vec![]),
            (Some(basic("nobody", WEB_SECRET)), vec![]),
            (Some("Basic not-base64!".to_owned()), vec![]),
            (None, vec![("client_id", WEB), ("client_secret", "wrong")]),
            (None, vec![("client_id", WEB)]),
            (None, vec![]),
            (None, vec![("client_id", "nobody")]),
            // A public client has no secret to send.
            (None, vec![("client_id", SPA), ("client_secret", "anything")]),
        ];
        for (authorization, extra) in cases {
            browser.extra_headers =
                authorization.clone().map(|a| ("authorization", a)).into_iter().collect();
            let form: Vec<(&str, &str)> = base.iter().copied().chain(extra.clone()).collect();
            let page = token(&mut browser, &provider, &form).await;
            assert_oauth_error(&page, StatusCode::UNAUTHORIZED, "invalid_client");
            assert_eq!(
                page.header("www-authenticate"),
                Some("Basic realm=\"mock-provider\""),
                "{authorization:?} {extra:?}"
            );
        }
        // Two methods at once is a malformed request (RFC 6749 2.3).
        browser.extra_headers = vec![("authorization", basic(WEB, WEB_SECRET))];
        let form: Vec<(&str, &str)> =
            base.iter().copied().chain([("client_secret", WEB_SECRET)]).collect();
        let page = token(&mut browser, &provider, &form).await;
        assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_request");
        // The code survived every refused client: the right one still redeems it.
        let page = token(&mut browser, &provider, &base).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    }

    #[tokio::test]
    async fn one_hosted_session_records_every_client_that_got_tokens() {
        let provider = provider().await;
        let (mut browser, spa_token) = id_token_for(&provider, "alice").await;
        // Single sign-on: the confidential client gets a code at once for the same session.
        let request = [
            ("client_id", WEB),
            ("redirect_uri", WEB_CALLBACK),
            ("response_type", "code"),
            ("scope", "openid"),
        ];
        let page = browser.send(Method::GET, &authorize_url(&provider, &request), None).await;
        let code = param(&page, "code").unwrap();
        browser.extra_headers = vec![("authorization", basic(WEB, WEB_SECRET))];
        let form =
            [("grant_type", "authorization_code"), ("code", &code), ("redirect_uri", WEB_CALLBACK)];
        let page = token(&mut browser, &provider, &form).await;
        let (_, web_claims) = verify(&provider, json_of(&page)["id_token"].as_str().unwrap());
        let (_, spa_claims) = verify(&provider, &spa_token);
        let sessions = provider.hosted_sessions();
        assert_eq!(sessions.len(), 1);
        assert_eq!(sessions[0].clients, [SPA, WEB]);
        assert_eq!(web_claims["sid"], spa_claims["sid"], "one session, one sid");
        assert_eq!(web_claims["sid"], sessions[0].sid.as_str());
    }

    fn end_session_with_hint(provider: &MockProvider, client_id: &str, hint: &str) -> String {
        let mut url = url::Url::parse(&provider.end_session_url()).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("post_logout_redirect_uri", LOGOUT_CALLBACK)
            .append_pair("id_token_hint", hint)
            .append_pair("state", "s");
        url.into()
    }

    #[tokio::test]
    async fn end_session_accepts_and_records_the_id_token_hint() {
        let (provider, clock) = provider_with_clock().await;
        let (mut browser, id_token) = id_token_for(&provider, "alice").await;
        let sid = provider.hosted_sessions()[0].sid.clone();
        // An expired ID token is still a good hint.
        clock.advance(ID_TOKEN_LIFETIME * 2);
        let page = browser
            .send(Method::GET, &end_session_with_hint(&provider, SPA, &id_token), None)
            .await;
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
        let provider = provider().await;
        let (mut browser, id_token) = id_token_for(&provider, "alice").await;
        let other = provider_with_clock().await.0;
        let (_, foreign) = id_token_for(&other, "alice").await;
        let (header, claims, signature) = {
            let mut parts = id_token.split('.');
            (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap())
        };
        let mut tampered: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        tampered["sub"] = "mallory".into();
        let tampered =
            format!("{header}.{}.{signature}", URL_SAFE_NO_PAD.encode(tampered.to_string()));
        let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(b"x"));
        for (client_id, hint) in [
            ("legacy", id_token.as_str()), // issued to SPA, not to this client
            (SPA, foreign.as_str()),       // another provider's key
            (SPA, tampered.as_str()),
            (SPA, "not-a-jwt"),
            (SPA, digest.as_str()),
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
        let twice = format!(
            "{}&id_token_hint={id_token}",
            end_session_with_hint(&provider, SPA, &id_token)
        );
        let page = browser.send(Method::GET, &twice, None).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{}", page.body);
        assert!(provider.has_session("alice"), "a refused request must not end the session");
    }
}

// ---------------------------------------------------------------------------
// The mock as the sender of Back-Channel and Front-Channel Logout: a relying
// party's endpoint is a small axum receiver on an ephemeral loopback port;
// tokens are checked with p256 against /jwks, independently of the mock's code.
// ---------------------------------------------------------------------------

mod logout_senders {
    use std::{
        sync::{Arc, Mutex},
        time::{Duration, Instant, UNIX_EPOCH},
    };

    use axum::{Router, body::Bytes, http::HeaderMap};
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    use hmac::{Hmac, KeyInit as _, Mac as _};
    use http::{Method, StatusCode};
    use p256::ecdsa::{Signature, VerifyingKey, signature::Verifier as _};
    use serde_json::{Map, Value, json};
    use sha2::Sha256;
    use tower_oidc_logout_mock::{
        BACKCHANNEL_LOGOUT_EVENT, FRONTCHANNEL_CONTINUE_AFTER, HOSTED_SESSION_COOKIE,
        LOGOUT_PARAM_VALUE, LOGOUT_TOKEN_LIFETIME, LOGOUT_TOKEN_TYPE, MockClient, MockProvider,
        MockProviderBuilder,
    };

    use super::http_client::CookieClient;

    const START: u64 = 1_800_000_000;
    const CALLBACK: &str = "http://127.0.0.1:3000/logout/callback";
    /// RFC 7636, appendix B.
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    /// One request a receiver got.
    #[derive(Debug, Clone)]
    struct Received {
        method: String,
        path_and_query: String,
        content_type: Option<String>,
        body: String,
    }

    /// A relying party's logout endpoint: records every request and answers `status` after `delay`.
    struct Receiver {
        url: String,
        received: Arc<Mutex<Vec<Received>>>,
    }

    impl Receiver {
        fn received(&self) -> Vec<Received> {
            self.received.lock().unwrap().clone()
        }
    }

    async fn receiver(status: u16, delay: Duration) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let record = received.clone();
        let app = Router::new().fallback(
            move |method: http::Method, uri: http::Uri, headers: HeaderMap, body: Bytes| {
                let record = record.clone();
                async move {
                    record.lock().unwrap().push(Received {
                        method: method.to_string(),
                        path_and_query: uri.path_and_query().unwrap().to_string(),
                        content_type: headers
                            .get("content-type")
                            .map(|v| v.to_str().unwrap().to_owned()),
                        body: String::from_utf8(body.to_vec()).unwrap(),
                    });
                    tokio::time::sleep(delay).await;
                    StatusCode::from_u16(status).unwrap()
                }
            },
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, received }
    }

    /// A client that can get tokens (public, PKCE) and end the session with `CALLBACK`.
    fn client(id: &str) -> MockClient {
        MockClient::new(id)
            .redirect_uri(format!("http://127.0.0.1:3000/{id}/callback"))
            .post_logout_redirect_uri(CALLBACK)
    }

    fn builder() -> MockProviderBuilder {
        MockProvider::builder().clock(|| UNIX_EPOCH + Duration::from_secs(START))
    }

    /// Signs `user` in at the provider (a new hosted session) in `browser`; its `sid`.
    async fn sign_in(browser: &mut CookieClient, provider: &MockProvider, user: &str) -> String {
        let page = browser.get(&format!("{}/login?user={user}", provider.url())).await;
        assert_eq!(page.status, StatusCode::OK);
        let cookie = browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE).unwrap();
        assert!(!cookie.is_empty());
        let sessions = provider.hosted_sessions();
        let newest = sessions.iter().filter(|s| s.user == user).max_by_key(|s| s.auth_time);
        // The clock stands still: the session without clients is the new one.
        let fresh = sessions.iter().find(|s| s.user == user && s.clients.is_empty());
        fresh.or(newest).unwrap().sid.clone()
    }

    /// Gets an ID token for `client_id` with the browser's hosted session (single sign-on).
    async fn tokens_for(browser: &mut CookieClient, provider: &MockProvider, client_id: &str) {
        let redirect_uri = format!("http://127.0.0.1:3000/{client_id}/callback");
        let mut url = url::Url::parse(&provider.authorize_url()).unwrap();
        url.query_pairs_mut().extend_pairs([
            ("client_id", client_id),
            ("redirect_uri", &redirect_uri),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]);
        let page = browser.send(Method::GET, url.as_str(), None).await;
        assert_eq!(page.status, StatusCode::FOUND, "{}", page.body);
        let code = page
            .location()
            .unwrap()
            .query_pairs()
            .find(|(n, _)| n == "code")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &redirect_uri),
            ("client_id", client_id),
            ("code_verifier", VERIFIER),
        ];
        let page = browser.send(Method::POST, &provider.token_url(), Some(&form)).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    }

    fn end_session_url(provider: &MockProvider, client_id: &str, state: &str) -> String {
        let mut url = url::Url::parse(&provider.end_session_url()).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", client_id)
            .append_pair("post_logout_redirect_uri", CALLBACK)
            .append_pair("state", state);
        url.into()
    }

    async fn fetch_jwks(provider: &MockProvider) -> Value {
        serde_json::from_str(&CookieClient::new().get(&provider.jwks_url()).await.body).unwrap()
    }

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    /// The header and claims of a compact JWS, unverified.
    fn parts(token: &str) -> (Value, Value, Vec<u8>) {
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3, "{token}");
        (decode(parts[0]), decode(parts[1]), URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
    }

    fn verifying_key(jwk: &Value) -> VerifyingKey {
        VerifyingKey::from_sec1_bytes(&sec1(jwk)).unwrap()
    }

    /// `04 || x || y` of a P-256 JWK.
    fn sec1(jwk: &Value) -> Vec<u8> {
        let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
        let mut sec1 = vec![4u8];
        sec1.extend(coordinate("x"));
        sec1.extend(coordinate("y"));
        sec1
    }

    fn es256_verifies(jwk: &Value, token: &str) -> bool {
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let Ok(signature) = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap())
        else {
            return false;
        };
        verifying_key(jwk).verify(signed.as_bytes(), &signature).is_ok()
    }

    /// Verifies `token` as a relying party would: ES256, by the JWKS key its `kid` names.
    fn verify(jwks: &Value, token: &str) -> Result<(Value, Value), String> {
        let (header, claims, _) = parts(token);
        if header["alg"] != "ES256" {
            return Err(format!("alg {}", header["alg"]));
        }
        let key = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|key| key["kid"] == header["kid"])
            .ok_or("kid not in the JWKS")?;
        if !es256_verifies(key, token) {
            return Err("bad signature".to_owned());
        }
        Ok((header, claims))
    }

    /// The `logout_token` of a form body that has exactly that one field.
    fn logout_token_of(body: &str) -> String {
        let fields: Vec<(String, String)> =
            url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        assert_eq!(fields.len(), 1, "{body}");
        assert_eq!(fields[0].0, "logout_token");
        fields[0].1.clone()
    }

    /// Checks every claim and header member a Logout Token must (and must not) have.
    fn assert_logout_token(
        jwks: &Value,
        provider: &MockProvider,
        token: &str,
        client_id: &str,
        sid: &str,
        sub: &str,
    ) -> Value {
        let (header, claims) = verify(jwks, token).unwrap();
        assert_eq!(header["typ"], LOGOUT_TOKEN_TYPE);
        assert_eq!(header["typ"], "logout+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], provider.signing_key_id());
        assert_eq!(claims["iss"], provider.issuer());
        assert_eq!(claims["aud"], client_id);
        assert_eq!(claims["iat"], START);
        assert_eq!(claims["exp"], START + LOGOUT_TOKEN_LIFETIME.as_secs());
        assert!(LOGOUT_TOKEN_LIFETIME <= Duration::from_secs(120));
        assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() >= 16), "{claims}");
        assert_eq!(
            claims["events"],
            json!({ "http://schemas.openid.net/event/backchannel-logout": {} })
        );
        assert_eq!(BACKCHANNEL_LOGOUT_EVENT, "http://schemas.openid.net/event/backchannel-logout");
        assert_eq!(claims["sid"], sid);
        assert_eq!(claims["sub"], sub);
        assert!(claims.get("nonce").is_none(), "a Logout Token has no nonce: {claims}");
        let names: Vec<&String> = claims.as_object().unwrap().keys().collect();
        assert_eq!(names.len(), 8, "nothing else: {names:?}");
        claims
    }

    #[tokio::test]
    async fn end_session_posts_one_logout_token_to_each_client_that_had_the_session() {
        let rp = receiver(200, Duration::ZERO).await;
        let provider = builder()
            .register(client("a").backchannel_logout_uri(format!("{}/a", rp.url)))
            .register(client("b").backchannel_logout_uri(format!("{}/b?tenant=1", rp.url)))
            .register(client("c").backchannel_logout_uri(format!("{}/c", rp.url)))
            .register(client("d"))
            .serve("127.0.0.1:0")
            .await
            .unwrap();
        let (mut alice, mut bob) = (CookieClient::new(), CookieClient::new());
        let sid = sign_in(&mut alice, &provider, "alice").await;
        for client_id in ["a", "b", "d"] {
            tokens_for(&mut alice, &provider, client_id).await;
        }
        // Bob's session had "c": it does not end, "c" hears nothing.
        sign_in(&mut bob, &provider, "bob").await;
        tokens_for(&mut bob, &provider, "c").await;

        let page = alice.send(Method::GET, &end_session_url(&provider, "a", "xyz"), None).await;
        // No front-channel client: the redirect is exactly as before.
        assert_eq!(page.status, StatusCode::FOUND);
        assert_eq!(
            page.header("location"),
            Some(format!("{CALLBACK}?logout={LOGOUT_PARAM_VALUE}&state=xyz").as_str())
        );
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert!(!provider.has_session("alice") && provider.has_session("bob"));

        let mut received = rp.received();
        received.sort_by(|x, y| x.path_and_query.cmp(&y.path_and_query));
        let paths: Vec<&str> = received.iter().map(|r| r.path_and_query.as_str()).collect();
        assert_eq!(paths, ["/a", "/b?tenant=1"], "one per client that had the session");
        let jwks = fetch_jwks(&provider).await;
        let mut jtis = Vec::new();
        for (request, client_id) in received.iter().zip(["a", "b"]) {
            assert_eq!(request.method, "POST");
            assert_eq!(request.content_type.as_deref(), Some("application/x-www-form-urlencoded"));
            let token = logout_token_of(&request.body);
            let claims = assert_logout_token(&jwks, &provider, &token, client_id, &sid, "alice");
            jtis.push(claims["jti"].clone());
        }
        assert_ne!(jtis[0], jtis[1], "a jti per token");

        let deliveries = provider.backchannel_deliveries();
        assert_eq!(deliveries.len(), 2);
        for (delivery, request) in deliveries.iter().zip(&received) {
            assert!(delivery.succeeded(), "{delivery:?}");
            assert_eq!(delivery.status, Some(200));
            assert_eq!(delivery.error, None);
            assert_eq!(delivery.sid, sid);
            assert_eq!(delivery.sub, "alice");
            assert_eq!(delivery.logout_token, logout_token_of(&request.body));
            assert_eq!(delivery.uri, format!("{}{}", rp.url, request.path_and_query));
        }
        assert_eq!(deliveries[0].client_id, "a");
        assert_eq!(deliveries[1].client_id, "b");
        assert!(provider.frontchannel_logouts().is_empty());
        assert_eq!(provider.last_end_session_call().unwrap().status, 302);
    }

    #[tokio::test]
    async fn the_sign_out_everywhere_button_ends_the_session_and_tells_its_clients() {
        let rp = receiver(204, Duration::ZERO).await;
        let provider = builder()
            .register(client("a").backchannel_logout_uri(format!("{}/a", rp.url)))
            .register(client("b").backchannel_logout_uri(format!("{}/b", rp.url)))
            .serve("127.0.0.1:0")
            .await
            .unwrap();
        let nobody = CookieClient::new().get(&provider.authorize_url()).await;
        assert!(!nobody.body.contains("sign-out-everywhere"), "no button without a session");

        let mut browser = CookieClient::new();
        let sid = sign_in(&mut browser, &provider, "alice").await;
        tokens_for(&mut browser, &provider, "a").await;
        let page = browser.get(&provider.authorize_url()).await;
        assert!(
            page.body
                .contains("<form id=\"sign-out-everywhere\" method=\"post\" action=\"/logout\">"),
            "{}",
            page.body
        );

        let page = browser.send(Method::POST, &format!("{}/logout", provider.url()), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert!(page.body.contains("<strong>ended</strong>"), "{}", page.body);
        assert_eq!(browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE), None);
        assert_eq!(provider.hosted_session_count(), 0);

        let received = rp.received();
        assert_eq!(received.len(), 1, "only the client that had the session");
        assert_eq!(received[0].path_and_query, "/a");
        let token = logout_token_of(&received[0].body);
        assert_logout_token(&fetch_jwks(&provider).await, &provider, &token, "a", &sid, "alice");
        let deliveries = provider.backchannel_deliveries();
        assert!(deliveries[0].succeeded(), "204 counts as success: {deliveries:?}");

        let page = browser.get(&provider.authorize_url()).await;
        assert!(!page.body.contains("sign-out-everywhere"));
        // Again, signed out: a page that says so, nothing sent.
        let page = browser.send(Method::POST, &format!("{}/logout", provider.url()), None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(page.body.contains("<strong>none</strong>"));
        assert_eq!(rp.received().len(), 1);
    }

    #[tokio::test]
    async fn a_sign_in_that_replaces_the_session_tells_its_clients() {
        let rp = receiver(200, Duration::ZERO).await;
        let provider = builder()
            .register(client("a").backchannel_logout_uri(format!("{}/a", rp.url)))
            .serve("127.0.0.1:0")
            .await
            .unwrap();
        let mut browser = CookieClient::new();
        let sid = sign_in(&mut browser, &provider, "alice").await;
        tokens_for(&mut browser, &provider, "a").await;
        // The sign-in form of /authorize, posted by the same browser as bob.
        let form = [
            ("client_id", "a"),
            ("redirect_uri", "http://127.0.0.1:3000/a/callback"),
            ("response_type", "code"),
            ("scope", "openid"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("user", "bob"),
        ];
        let page = browser.send(Method::POST, &provider.authorize_url(), Some(&form)).await;
        assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
        assert!(provider.has_session("bob") && !provider.has_session("alice"));
        let received = rp.received();
        assert_eq!(received.len(), 1);
        let token = logout_token_of(&received[0].body);
        assert_logout_token(&fetch_jwks(&provider).await, &provider, &token, "a", &sid, "alice");
    }

    #[tokio::test]
    async fn the_api_ends_a_session_by_sid_or_every_session_of_a_user() {
        let rp = receiver(200, Duration::ZERO).await;
        let provider = builder()
            .register(client("a").backchannel_logout_uri(format!("{}/a", rp.url)))
            .register(client("b"))
            .serve("127.0.0.1:0")
            .await
            .unwrap();
        let (mut laptop, mut phone, mut bob) =
            (CookieClient::new(), CookieClient::new(), CookieClient::new());
        let laptop_sid = sign_in(&mut laptop, &provider, "alice").await;
        tokens_for(&mut laptop, &provider, "a").await;
        let phone_sid = sign_in(&mut phone, &provider, "alice").await;
        tokens_for(&mut phone, &provider, "a").await;
        tokens_for(&mut phone, &provider, "b").await;
        sign_in(&mut bob, &provider, "bob").await;
        tokens_for(&mut bob, &provider, "a").await;
        assert_ne!(laptop_sid, phone_sid);

        let unknown = provider.end_session_by_sid("no-such-sid").await;
        assert!(unknown.sessions.is_empty() && unknown.backchannel.is_empty());
        assert_eq!(provider.hosted_session_count(), 3);

        let ended = provider.end_session_by_sid(&laptop_sid).await;
        assert_eq!(ended.sessions.len(), 1);
        assert_eq!(ended.sessions[0].sid, laptop_sid);
        assert_eq!(ended.backchannel.len(), 1);
        assert_eq!(ended.backchannel[0].sid, laptop_sid);
        assert!(ended.backchannel[0].succeeded());
        assert!(provider.has_session("alice"), "the phone's session is another one");

        let ended = provider.end_sessions_of("alice").await;
        assert_eq!(ended.sessions.len(), 1);
        assert_eq!(ended.sessions[0].clients, ["a", "b"]);
        assert_eq!(ended.backchannel.len(), 1, "b has no backchannel_logout_uri");
        assert_eq!(ended.backchannel[0].client_id, "a");
        assert!(!provider.has_session("alice") && provider.has_session("bob"));

        let jwks = fetch_jwks(&provider).await;
        let received = rp.received();
        assert_eq!(received.len(), 2);
        for (request, sid) in received.iter().zip([&laptop_sid, &phone_sid]) {
            let token = logout_token_of(&request.body);
            assert_logout_token(&jwks, &provider, &token, "a", sid, "alice");
        }
        assert_eq!(provider.backchannel_deliveries().len(), 2);
        assert!(provider.end_sessions_of("alice").await.sessions.is_empty());
    }

    #[tokio::test]
    async fn failed_deliveries_are_recorded_and_do_not_break_the_sign_out() {
        let failing = receiver(500, Duration::ZERO).await;
        let slow = receiver(200, Duration::from_secs(30)).await;
        let closed = {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            format!("http://{}/gone", listener.local_addr().unwrap())
        };
        let provider = builder()
            .backchannel_timeout(Duration::from_millis(300))
            .register(client("failing").backchannel_logout_uri(format!("{}/bc", failing.url)))
            .register(client("closed").backchannel_logout_uri(closed.clone()))
            .register(client("slow").backchannel_logout_uri(format!("{}/bc", slow.url)))
            .register(client("tls").backchannel_logout_uri("https://rp.example/bc"))
            .register(client("junk").backchannel_logout_uri("not a uri"))
            .serve("127.0.0.1:0")
            .await
            .unwrap();
        let mut browser = CookieClient::new();
        sign_in(&mut browser, &provider, "alice").await;
        for client_id in ["failing", "closed", "slow", "tls", "junk"] {
            tokens_for(&mut browser, &provider, client_id).await;
        }

        let started = Instant::now();
        let page =
            browser.send(Method::GET, &end_session_url(&provider, "failing", "s"), None).await;
        assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!(page.status, StatusCode::FOUND, "{}", page.body);
        assert_eq!(
            page.header("location"),
            Some(format!("{CALLBACK}?logout={LOGOUT_PARAM_VALUE}&state=s").as_str())
        );
        assert_eq!(provider.hosted_session_count(), 0);

        let deliveries = provider.backchannel_deliveries();
        let by_client = |id: &str| deliveries.iter().find(|d| d.client_id == id).unwrap();
        assert_eq!(deliveries.len(), 5);
        assert_eq!(by_client("failing").status, Some(500));
        assert!(!by_client("failing").succeeded());
        assert_eq!(failing.received().len(), 1);
        for id in ["closed", "slow", "tls", "junk"] {
            let delivery = by_client(id);
            assert_eq!(delivery.status, None, "{delivery:?}");
            assert!(delivery.error.is_some(), "{delivery:?}");
            assert!(!delivery.succeeded());
            assert!(!delivery.logout_token.is_empty(), "the token is recorded all the same");
        }
        assert!(by_client("slow").error.as_deref().unwrap().contains("300 ms"));
        assert_eq!(by_client("closed").uri, closed);
    }

    #[tokio::test]
    async fn front_channel_clients_get_escaped_iframes_before_the_redirect() {
        let rp = receiver(200, Duration::ZERO).await;
        let weird = "http://127.0.0.1:9/fc?tenant=a&b=\"<x>\"";
        let provider = builder()
            .register(client("fc1").frontchannel_logout_uri(weird))
            .register(
                client("fc2")
                    .frontchannel_logout_uri("https://rp2.example/logout")
                    .backchannel_logout_uri(format!("{}/fc2", rp.url)),
            )
            .register(client("fc3").frontchannel_logout_uri("https://rp3.example/logout"))
            .serve("127.0.0.1:0")
            .await
            .unwrap();
        let mut browser = CookieClient::new();
        let sid = sign_in(&mut browser, &provider, "alice").await;
        tokens_for(&mut browser, &provider, "fc1").await;
        tokens_for(&mut browser, &provider, "fc2").await;

        let state = "a\"<b>&c";
        let page = browser.send(Method::GET, &end_session_url(&provider, "fc1", state), None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert_eq!(page.header("location"), None);
        assert_eq!(page.header("cache-control"), Some("no-store"));
        assert_eq!(page.header("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE), None);
        assert!(!provider.has_session("alice"));
        assert_eq!(provider.last_end_session_call().unwrap().status, 200);
        assert!(provider.last_end_session_call().unwrap().ended_hosted_session);
        // Back-channel too, for the client that has both.
        assert_eq!(rp.received().len(), 1);

        let iss =
            url::form_urlencoded::byte_serialize(provider.issuer().as_bytes()).collect::<String>();
        let expected = [
            format!(
                "http://127.0.0.1:9/fc?tenant=a&amp;b=&quot;&lt;x&gt;&quot;&amp;iss={iss}&amp;sid={sid}"
            ),
            format!("https://rp2.example/logout?iss={iss}&amp;sid={sid}"),
        ];
        let srcs: Vec<&str> = page
            .body
            .split("<iframe ")
            .skip(1)
            .map(|iframe| {
                let start = iframe.find("src=\"").unwrap() + 5;
                &iframe[start..start + iframe[start..].find('"').unwrap()]
            })
            .collect();
        assert_eq!(srcs, expected, "{}", page.body);
        assert!(!page.body.contains("<x>") && !page.body.contains("\"<"), "{}", page.body);

        let recorded = provider.frontchannel_logouts();
        assert_eq!(recorded.len(), 2, "fc3 had no tokens for the session");
        for (logout, src) in recorded.iter().zip(&srcs) {
            assert_eq!(logout.sid, sid);
            assert_eq!(
                logout.uri,
                src.replace("&quot;", "\"")
                    .replace("&lt;", "<")
                    .replace("&gt;", ">")
                    .replace("&amp;", "&")
            );
            let url = url::Url::parse(&logout.uri).unwrap();
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            let n = pairs.len();
            assert_eq!(pairs[n - 2], ("iss".to_owned(), provider.issuer().to_owned()));
            assert_eq!(pairs[n - 1], ("sid".to_owned(), sid.clone()));
        }
        assert_eq!(recorded[0].client_id, "fc1");
        assert_eq!(recorded[0].uri, format!("{weird}&iss={iss}&sid={sid}"));

        // Then on to the post-logout redirect URI, without script: a meta refresh and a link.
        let location = format!("{CALLBACK}?logout={LOGOUT_PARAM_VALUE}&amp;state=a%22%3Cb%3E%26c");
        assert!(
            page.body.contains(&format!(
                "<meta http-equiv=\"refresh\" content=\"{}; url={location}\">",
                FRONTCHANNEL_CONTINUE_AFTER.as_secs()
            )),
            "{}",
            page.body
        );
        assert!(page.body.contains(&format!("<a id=\"continue\" href=\"{location}\">")));
        assert!(!page.body.contains("<script"));

        // The button renders the same iframes.
        let mut again = CookieClient::new();
        let sid = sign_in(&mut again, &provider, "bob").await;
        tokens_for(&mut again, &provider, "fc2").await;
        let page = again.send(Method::POST, &format!("{}/logout", provider.url()), None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.body
                .contains(&format!("src=\"https://rp2.example/logout?iss={iss}&amp;sid={sid}\"")),
            "{}",
            page.body
        );
        assert_eq!(page.body.matches("<iframe ").count(), 1);
        assert_eq!(provider.frontchannel_logouts().len(), 3);
    }

    #[tokio::test]
    async fn the_logout_token_builder_produces_what_it_says() {
        let provider = builder().serve("127.0.0.1:0").await.unwrap();
        let jwks = fetch_jwks(&provider).await;
        let jwk = &jwks["keys"][0];
        let valid = provider.logout_token_claims("rp", "sid-1", "alice");
        let token = provider.logout_token(&valid);
        let baseline = assert_logout_token(&jwks, &provider, &token, "rp", "sid-1", "alice");
        let baseline = baseline.as_object().unwrap().clone();

        // Each claim setter changes that claim and nothing else (the jti aside, new per builder).
        let changed = |claims: Value| -> Map<String, Value> {
            let mut claims = claims.as_object().unwrap().clone();
            assert_eq!(claims["jti"], baseline["jti"], "the same builder, the same jti");
            claims.retain(|name, value| baseline.get(name) != Some(value));
            claims
        };
        let dropped = |claims: &Value| -> Vec<String> {
            baseline.keys().filter(|name| claims.get(name.as_str()).is_none()).cloned().collect()
        };
        for (claims, expected_changes, expected_dropped) in [
            (valid.clone().without("iss"), json!({}), vec!["iss"]),
            (
                valid.clone().iss("https://evil.example"),
                json!({"iss": "https://evil.example"}),
                vec![],
            ),
            (valid.clone().aud("other"), json!({"aud": "other"}), vec![]),
            (valid.clone().claim("aud", json!(["rp", "x"])), json!({"aud": ["rp", "x"]}), vec![]),
            (valid.clone().iat(START + 3600), json!({"iat": START + 3600}), vec![]),
            (valid.clone().exp(START - 1), json!({"exp": START - 1}), vec![]),
            (valid.clone().without("exp"), json!({}), vec!["exp"]),
            (valid.clone().claim("events", json!({})), json!({"events": {}}), vec![]),
            (valid.clone().without("events"), json!({}), vec!["events"]),
            (valid.clone().sid("other-sid"), json!({"sid": "other-sid"}), vec![]),
            (valid.clone().without("sid").without("sub"), json!({}), vec!["sid", "sub"]),
            (valid.clone().sub("bob"), json!({"sub": "bob"}), vec![]),
            (valid.clone().nonce("n-1"), json!({"nonce": "n-1"}), vec![]),
        ] {
            let token = provider.logout_token(&claims);
            let (header, claims) = verify(&jwks, &token).expect("still signed by the provider");
            assert_eq!(header["typ"], "logout+jwt");
            if !expected_dropped.contains(&"jti") {
                let mut with_jti = claims.clone();
                with_jti["jti"] = baseline["jti"].clone();
                assert_eq!(Value::Object(changed(with_jti)), expected_changes, "{claims}");
            }
            assert_eq!(dropped(&claims), expected_dropped, "{claims}");
        }
        let replayed =
            provider.logout_token(&provider.logout_token_claims("rp", "s", "u").jti("same"));
        assert_eq!(parts(&replayed).1["jti"], "same");
        assert_ne!(
            parts(&provider.logout_token(&provider.logout_token_claims("rp", "s", "u"))).1["jti"],
            baseline["jti"],
            "each new builder has a new jti"
        );

        // typ.
        let (header, _) = verify(&jwks, &provider.logout_token(&valid.clone().typ("JWT"))).unwrap();
        assert_eq!(header["typ"], "JWT");
        let (header, _) =
            verify(&jwks, &provider.logout_token(&valid.clone().without_header("typ"))).unwrap();
        assert!(header.get("typ").is_none());

        // alg none: no kid, an empty signature.
        let unsigned = provider.logout_token(&valid.clone().unsigned());
        assert!(unsigned.ends_with('.'));
        let (header, claims, signature) = parts(&unsigned);
        assert_eq!(header, json!({"alg": "none", "typ": "logout+jwt"}));
        assert!(signature.is_empty());
        assert_eq!(claims["sid"], "sid-1");
        assert!(verify(&jwks, &unsigned).is_err());

        // Key confusion: HS256 keyed with the public key's SEC1 bytes, under the real kid.
        let confused = provider.logout_token(&valid.clone().hmac_with_public_key());
        let (header, _, mac) = parts(&confused);
        assert_eq!(header, json!({"alg": "HS256", "typ": "logout+jwt", "kid": jwk["kid"]}));
        let signed = confused.rsplit_once('.').unwrap().0;
        let mut expected = Hmac::<Sha256>::new_from_slice(&sec1(jwk)).unwrap();
        expected.update(signed.as_bytes());
        assert_eq!(mac, expected.finalize().into_bytes().to_vec());
        assert!(verify(&jwks, &confused).is_err());
        let with_secret = provider.logout_token(&valid.clone().hmac_with_secret(b"k".to_vec()));
        let mut expected = Hmac::<Sha256>::new_from_slice(b"k").unwrap();
        expected.update(with_secret.rsplit_once('.').unwrap().0.as_bytes());
        assert_eq!(parts(&with_secret).2, expected.finalize().into_bytes().to_vec());

        // An unknown kid, signed with the published key.
        let unknown_kid = provider.logout_token(&valid.clone().kid("no-such-kid"));
        assert_eq!(parts(&unknown_kid).0["kid"], "no-such-kid");
        assert_eq!(verify(&jwks, &unknown_kid), Err("kid not in the JWKS".to_owned()));
        assert!(es256_verifies(jwk, &unknown_kid), "the signature is the provider's");

        // Another key altogether, not in the JWKS.
        let unpublished = provider.logout_token(&valid.clone().signed_with_unpublished_key());
        let (header, _, _) = parts(&unpublished);
        assert_eq!(header["alg"], "ES256");
        assert_ne!(header["kid"], jwk["kid"]);
        assert!(header["kid"].is_string());
        assert_eq!(verify(&jwks, &unpublished), Err("kid not in the JWKS".to_owned()));
        assert!(!es256_verifies(jwk, &unpublished));

        // alg in the header changed, the signature still ES256.
        let lying = provider.logout_token(&valid.header("alg", "ES512"));
        assert_eq!(parts(&lying).0["alg"], "ES512");
        assert!(es256_verifies(jwk, &lying));
    }

    #[tokio::test]
    async fn rotated_keys_sign_from_then_on_and_the_old_one_stays_if_asked() {
        let rp = receiver(200, Duration::ZERO).await;
        let provider = builder()
            .register(client("a").backchannel_logout_uri(format!("{}/a", rp.url)))
            .serve("127.0.0.1:0")
            .await
            .unwrap();
        let first = provider.signing_key_id();
        let before = provider.logout_token(&provider.logout_token_claims("a", "s", "u"));

        let second = provider.rotate_signing_key(true).unwrap();
        assert_ne!(second, first);
        assert_eq!(provider.signing_key_id(), second);
        let jwks = fetch_jwks(&provider).await;
        let kids: Vec<&Value> =
            jwks["keys"].as_array().unwrap().iter().map(|k| &k["kid"]).collect();
        assert_eq!(kids, [&json!(second), &json!(first)]);
        assert!(verify(&jwks, &before).is_ok(), "the old key is still published");

        // Deliveries are signed with the new key.
        let mut browser = CookieClient::new();
        let sid = sign_in(&mut browser, &provider, "alice").await;
        tokens_for(&mut browser, &provider, "a").await;
        let ended = provider.end_sessions_of("alice").await;
        let token = &ended.backchannel[0].logout_token;
        assert_eq!(parts(token).0["kid"], second.as_str());
        assert_logout_token(&jwks, &provider, token, "a", &sid, "alice");

        let third = provider.rotate_signing_key(false).unwrap();
        let jwks = fetch_jwks(&provider).await;
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
        assert_eq!(jwks["keys"][0]["kid"], third.as_str());
        assert_eq!(verify(&jwks, &before), Err("kid not in the JWKS".to_owned()));
        assert_eq!(verify(&jwks, token), Err("kid not in the JWKS".to_owned()));
    }

    /// A rotation as a real provider makes it: the new key published beside
    /// the old, which is removed later (e.g. compromised).
    #[tokio::test]
    async fn a_rotation_retires_the_old_key_later() {
        let provider = builder().serve("127.0.0.1:0").await.unwrap();
        let first = provider.signing_key_id();
        let old = provider.logout_token(&provider.logout_token_claims("a", "s", "u"));
        let second = provider.rotate_signing_key(true).unwrap();
        assert!(verify(&fetch_jwks(&provider).await, &old).is_ok(), "published beside the new");

        assert_eq!(provider.retire_previous_signing_keys(), 1);
        let jwks = fetch_jwks(&provider).await;
        let kids: Vec<&Value> =
            jwks["keys"].as_array().unwrap().iter().map(|k| &k["kid"]).collect();
        assert_eq!(kids, [&json!(second)]);
        assert_ne!(second, first);
        assert_eq!(verify(&jwks, &old), Err("kid not in the JWKS".to_owned()));
        let new = provider.logout_token(&provider.logout_token_claims("a", "s", "u"));
        assert!(verify(&jwks, &new).is_ok());
        assert_eq!(provider.retire_previous_signing_keys(), 0);
    }

    #[tokio::test]
    async fn the_jwks_is_no_store_unless_a_max_age_is_set() {
        let provider = builder().serve("127.0.0.1:0").await.unwrap();
        let page = CookieClient::new().get(&provider.jwks_url()).await;
        assert_eq!(page.header("cache-control"), Some("no-store"));
        let provider =
            builder().jwks_max_age(Duration::from_secs(120)).serve("127.0.0.1:0").await.unwrap();
        let page = CookieClient::new().get(&provider.jwks_url()).await;
        assert_eq!(page.header("cache-control"), Some("public, max-age=120"));
        assert_eq!(page.header("content-type"), Some("application/jwk-set+json"));
    }
}
