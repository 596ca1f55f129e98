//! The mock as an OpenID provider: `/authorize` (the code flow with PKCE and
//! its sign-in form) and `/token`.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use http::{Method, StatusCode};
use serde_json::Value;
use tower_oidc_logout_mock::{
    ACCESS_TOKEN_LIFETIME, AUTHORIZATION_CODE_LIFETIME, HOSTED_SESSION_COOKIE, ID_TOKEN_LIFETIME,
    MockClient, MockProvider, RefreshTokens,
    browser::{CookieClient, Page},
};

use crate::support::{
    self, CALLBACK, CHALLENGE, Clock, START, VERIFIER, authorize_url, end_session_url, json_of,
    param, sign_in, token_response, verify,
};

const SPA: &str = "spa";
const SPA_CALLBACK: &str = "http://127.0.0.1:3000/auth/callback";
const WEB: &str = "web";
const WEB_CALLBACK: &str = "https://web.example/cb";
const WEB_SECRET: &str = "web secret:1";

async fn provider_with_clock() -> (MockProvider, Clock) {
    let clock = Clock::new();
    let provider = MockProvider::builder()
        // The existing API still registers a public client (post-logout URIs only)...
        .client("legacy", [CALLBACK])
        // ...and `register` takes every setting.
        .register(
            MockClient::new(SPA).redirect_uri(SPA_CALLBACK).post_logout_redirect_uri(CALLBACK),
        )
        .register(
            MockClient::new(WEB)
                .redirect_uri(WEB_CALLBACK)
                .post_logout_redirect_uri("https://web.example/bye")
                .secret(WEB_SECRET)
                .backchannel_logout_uri("https://web.example/backchannel")
                .frontchannel_logout_uri("https://web.example/frontchannel"),
        )
        .clock(clock.reader())
        .serve("127.0.0.1:0")
        .await
        .expect("mock provider starts");
    (provider, clock)
}

async fn provider() -> MockProvider {
    provider_with_clock().await.0
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
async fn sign_in_by_form(browser: &mut CookieClient, provider: &MockProvider, user: &str) -> Page {
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
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    browser.send(Method::POST, &provider.authorize_url(), Some(&fields)).await
}

async fn token(browser: &mut CookieClient, provider: &MockProvider, form: &[(&str, &str)]) -> Page {
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

fn assert_oauth_error(page: &Page, status: StatusCode, error: &str) {
    assert_eq!(page.status, status, "{}", page.body);
    assert_eq!(page.header("content-type"), Some("application/json"));
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let body = json_of(page);
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

/// The header and claims of an ID token, verified with the provider's JWK Set.
fn verify_id_token(provider: &MockProvider, id_token: &str) -> (Value, Value) {
    let jwks: Value = serde_json::from_str(&provider.jwks()).unwrap();
    verify(&jwks, id_token).expect("signed with the JWKS key")
}

/// A signed-in browser and an ID token of the public client.
async fn id_token_for(provider: &MockProvider, user: &str) -> (CookieClient, String) {
    let mut browser = CookieClient::new();
    let redirect = sign_in_by_form(&mut browser, provider, user).await;
    let code = param(&redirect, "code").unwrap();
    let page = token(&mut browser, provider, &spa_exchange(&code)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    (browser, json_of(&page)["id_token"].as_str().unwrap().to_owned())
}

#[tokio::test]
async fn code_flow_with_pkce_signs_in_and_issues_a_signed_id_token() {
    let provider = provider().await;
    let mut browser = CookieClient::new();
    let redirect = sign_in_by_form(&mut browser, &provider, "alice").await;

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

    let (header, claims) = verify_id_token(&provider, body["id_token"].as_str().unwrap());
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
    sign_in_by_form(&mut browser, &provider, "alice").await;

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
    sign_in_by_form(&mut browser, &provider, "alice").await;
    sign_in_by_form(&mut browser, &provider, "bob").await;
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
        let redirect = sign_in_by_form(&mut browser, &provider, "alice").await;
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
    let redirect = sign_in_by_form(&mut browser, &provider, "alice").await;
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
    let code = param(&sign_in_by_form(&mut browser, &provider, "alice").await, "code").unwrap();
    clock.advance(AUTHORIZATION_CODE_LIFETIME);
    let page = token(&mut browser, &provider, &spa_exchange(&code)).await;
    assert_eq!(page.status, StatusCode::OK, "still valid at its lifetime: {}", page.body);

    let code = param(&sign_in_by_form(&mut browser, &provider, "alice").await, "code").unwrap();
    clock.advance(AUTHORIZATION_CODE_LIFETIME + Duration::from_secs(1));
    let page = token(&mut browser, &provider, &spa_exchange(&code)).await;
    assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn a_code_of_an_ended_hosted_session_is_refused() {
    let provider = provider().await;
    let mut browser = CookieClient::new();
    let code = param(&sign_in_by_form(&mut browser, &provider, "alice").await, "code").unwrap();
    let end =
        end_session_url(&provider, &[("client_id", SPA), ("post_logout_redirect_uri", CALLBACK)]);
    assert_eq!(browser.send(Method::GET, &end, None).await.status, StatusCode::FOUND);
    let page = token(&mut browser, &provider, &spa_exchange(&code)).await;
    assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_grant");
}

#[tokio::test]
async fn malformed_token_requests_are_invalid_request_or_unsupported_grant_type() {
    let provider = provider().await;
    let mut browser = CookieClient::new();
    let code = param(&sign_in_by_form(&mut browser, &provider, "alice").await, "code").unwrap();
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
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
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
    let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
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
    let (_, claims) = verify_id_token(&provider, json_of(&page)["id_token"].as_str().unwrap());
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
    assert_eq!(web.registered_backchannel_logout_uri(), Some("https://web.example/backchannel"));
    assert_eq!(web.registered_frontchannel_logout_uri(), Some("https://web.example/frontchannel"));
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
    let (_, web_claims) = verify_id_token(&provider, json_of(&page)["id_token"].as_str().unwrap());
    let (_, spa_claims) = verify_id_token(&provider, &spa_token);
    let sessions = provider.hosted_sessions();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].clients, [SPA, WEB]);
    assert_eq!(web_claims["sid"], spa_claims["sid"], "one session, one sid");
    assert_eq!(web_claims["sid"], sessions[0].sid.as_str());
}

/// A provider with the public client `spa-r` and the confidential `web-r`
/// (secret [`WEB_SECRET`]), refresh tokens issued `when`, and its clock.
async fn refresh_provider(when: RefreshTokens) -> (MockProvider, Clock) {
    let clock = Clock::new();
    let provider = MockProvider::builder()
        .register(support::client("spa-r"))
        .register(support::client("web-r").secret(WEB_SECRET))
        .refresh_tokens(when)
        .clock(clock.reader())
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    (provider, clock)
}

#[tokio::test]
async fn a_refresh_token_comes_with_offline_access_or_as_the_setting_says() {
    for (when, scope, issued) in [
        (None, "openid", false),
        (None, "openid offline_access", true),
        (None, "offline_access openid profile", true),
        (Some(RefreshTokens::WithOfflineAccess), "openid", false),
        (Some(RefreshTokens::Always), "openid", true),
        (Some(RefreshTokens::Never), "openid offline_access", false),
    ] {
        let clock = Clock::new();
        let mut builder = MockProvider::builder().register(support::client("spa-r"));
        if let Some(when) = when {
            builder = builder.refresh_tokens(when);
        }
        let provider = builder.clock(clock.reader()).serve("127.0.0.1:0").await.unwrap();
        let mut browser = CookieClient::new();
        sign_in(&mut browser, &provider, "alice").await;
        let body = token_response(&mut browser, &provider, "spa-r", None, scope).await;
        let refresh_token = body.get("refresh_token").and_then(Value::as_str);
        assert_eq!(refresh_token.is_some(), issued, "{when:?} {scope}: {body}");
        assert_eq!(provider.refresh_tokens_issued(), usize::from(issued));
        if let Some(refresh_token) = refresh_token {
            assert!(refresh_token.len() >= 32, "{refresh_token}");
            assert!(provider.token_is_active(refresh_token));
            assert_ne!(Some(refresh_token), body["access_token"].as_str());
        }
        let access_token = body["access_token"].as_str().unwrap();
        assert!(provider.token_is_active(access_token), "access tokens are tracked too");
        clock.advance(ACCESS_TOKEN_LIFETIME + Duration::from_secs(1));
        assert!(!provider.token_is_active(access_token), "an expired access token is not active");
        if let Some(refresh_token) = refresh_token {
            assert!(provider.token_is_active(refresh_token), "refresh tokens do not expire");
        }
    }
}

#[tokio::test]
async fn the_refresh_grant_gives_new_tokens_until_the_refresh_token_is_revoked() {
    let (provider, clock) = refresh_provider(RefreshTokens::WithOfflineAccess).await;
    let mut browser = CookieClient::new();
    let sid = sign_in(&mut browser, &provider, "alice").await;
    let first =
        token_response(&mut browser, &provider, "spa-r", None, "openid offline_access").await;
    let refresh_token = first["refresh_token"].as_str().unwrap();
    let first_access = first["access_token"].as_str().unwrap();
    clock.advance(Duration::from_secs(100));

    let refresh = [("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
    let with_client: Vec<(&str, &str)> =
        refresh.iter().copied().chain([("client_id", "spa-r")]).collect();
    let page = token(&mut browser, &provider, &with_client).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let body = json_of(&page);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["refresh_token"], refresh_token, "the same refresh token: no rotation");
    let access = body["access_token"].as_str().unwrap();
    assert_ne!(access, first_access);
    assert!(provider.token_is_active(access));
    let (_, claims) = verify_id_token(&provider, body["id_token"].as_str().unwrap());
    assert_eq!(claims["aud"], "spa-r");
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["sid"], sid.as_str());
    assert_eq!(claims["iat"], START + 100, "a new ID token");
    assert_eq!(claims["auth_time"], START, "the time of the original sign-in");
    assert_eq!(claims.get("nonce"), None);

    // A narrower scope is fine, a wider one is not.
    let narrower: Vec<(&str, &str)> =
        with_client.iter().copied().chain([("scope", "openid")]).collect();
    assert_eq!(token(&mut browser, &provider, &narrower).await.status, StatusCode::OK);
    let wider: Vec<(&str, &str)> =
        with_client.iter().copied().chain([("scope", "openid email")]).collect();
    assert_oauth_error(
        &token(&mut browser, &provider, &wider).await,
        StatusCode::BAD_REQUEST,
        "invalid_scope",
    );
    // Another client cannot use it (nor learn that it exists), and must authenticate.
    let mut web = refresh.to_vec();
    web.extend([("client_id", "web-r"), ("client_secret", WEB_SECRET)]);
    assert_oauth_error(
        &token(&mut browser, &provider, &web).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    assert_oauth_error(
        &token(&mut browser, &provider, &refresh).await,
        StatusCode::UNAUTHORIZED,
        "invalid_client",
    );
    let missing = [("grant_type", "refresh_token"), ("client_id", "spa-r")];
    assert_oauth_error(
        &token(&mut browser, &provider, &missing).await,
        StatusCode::BAD_REQUEST,
        "invalid_request",
    );
    let unknown =
        [("grant_type", "refresh_token"), ("refresh_token", "nope"), ("client_id", "spa-r")];
    assert_oauth_error(
        &token(&mut browser, &provider, &unknown).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    );
    assert!(provider.token_is_active(refresh_token), "none of these revoked it");

    // Revoked: the refresh token gets nothing more, and its access tokens are dead.
    let revoke = [("token", refresh_token), ("client_id", "spa-r")];
    let page = browser.send(Method::POST, &provider.revoke_url(), Some(&revoke)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let page = token(&mut browser, &provider, &with_client).await;
    assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_grant");
    assert!(!provider.token_is_active(refresh_token));
    assert!(!provider.token_is_active(first_access));
    assert!(!provider.token_is_active(access));
}
