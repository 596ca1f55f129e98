//! `/revoke` (OAuth 2.0 Token Revocation, RFC 7009): client authentication
//! as at `/token`, what is revoked and what is not, the records, faults and
//! the discovery document.

use std::time::Duration;

use base64::{Engine as _, engine::general_purpose::STANDARD};
use http::{Method, StatusCode};
use serde_json::json;
use tower_oidc_logout_mock::{MockProvider, RevocationFault, browser::CookieClient};

use crate::support::{
    assert_oauth_error, client, json_of, refresh_token_for, sign_in, token_response,
};

const SPA: &str = "spa";
const WEB: &str = "web";
const OTHER: &str = "other";
const SECRET: &str = "web secret:1";

/// The public client [`SPA`] and the confidential [`WEB`] and [`OTHER`] (both [`SECRET`]).
async fn provider() -> MockProvider {
    MockProvider::builder()
        .register(client(SPA))
        .register(client(WEB).secret(SECRET))
        .register(client(OTHER).secret(SECRET))
        .serve("127.0.0.1:0")
        .await
        .expect("mock provider starts")
}

/// A browser signed in as alice.
async fn browser(provider: &MockProvider) -> CookieClient {
    let mut browser = CookieClient::new();
    sign_in(&mut browser, provider, "alice").await;
    browser
}

fn basic(id: &str, secret: &str) -> String {
    let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!("Basic {}", STANDARD.encode(format!("{}:{}", encode(id), encode(secret))))
}

async fn revoke(
    browser: &mut CookieClient,
    provider: &MockProvider,
    form: &[(&str, &str)],
) -> http::StatusCode {
    let page = browser.send(Method::POST, &provider.revoke_url(), Some(form)).await;
    if page.status == StatusCode::OK {
        assert_eq!(page.body, "", "RFC 7009 2.2: the content of the answer is ignored");
        assert_eq!(page.header("cache-control"), Some("no-store"));
    }
    page.status
}

#[tokio::test]
async fn each_client_authentication_of_token_revokes_and_a_wrong_one_is_401() {
    let provider = provider().await;
    let mut browser = browser(&provider).await;

    // client_secret_basic
    let token = refresh_token_for(&mut browser, &provider, WEB, Some(SECRET)).await;
    browser.extra_headers = vec![("authorization", basic(WEB, "wrong"))];
    let page = browser.send(Method::POST, &provider.revoke_url(), Some(&[("token", &token)])).await;
    assert_oauth_error(&page, StatusCode::UNAUTHORIZED, "invalid_client");
    assert_eq!(page.header("www-authenticate"), Some("Basic realm=\"mock-provider\""));
    assert!(provider.token_is_active(&token), "a wrong secret revokes nothing");
    browser.extra_headers = vec![("authorization", basic(WEB, SECRET))];
    assert_eq!(revoke(&mut browser, &provider, &[("token", &token)]).await, StatusCode::OK);
    assert!(!provider.token_is_active(&token));
    browser.extra_headers.clear();

    // client_secret_post
    let token = refresh_token_for(&mut browser, &provider, WEB, Some(SECRET)).await;
    for wrong in [
        vec![("client_id", WEB), ("client_secret", "wrong")],
        vec![("client_id", WEB)],
        vec![],
        vec![("client_id", "nobody")],
    ] {
        let form: Vec<(&str, &str)> =
            [("token", token.as_str())].into_iter().chain(wrong).collect();
        let page = browser.send(Method::POST, &provider.revoke_url(), Some(&form)).await;
        assert_oauth_error(&page, StatusCode::UNAUTHORIZED, "invalid_client");
    }
    assert!(provider.token_is_active(&token));
    let form = [("token", token.as_str()), ("client_id", WEB), ("client_secret", SECRET)];
    assert_eq!(revoke(&mut browser, &provider, &form).await, StatusCode::OK);
    assert!(!provider.token_is_active(&token));

    // A public client, by its client_id alone; a secret from it is refused.
    let token = refresh_token_for(&mut browser, &provider, SPA, None).await;
    let form = [("token", token.as_str()), ("client_id", SPA), ("client_secret", "x")];
    let page = browser.send(Method::POST, &provider.revoke_url(), Some(&form)).await;
    assert_oauth_error(&page, StatusCode::UNAUTHORIZED, "invalid_client");
    assert!(provider.token_is_active(&token));
    assert_eq!(revoke(&mut browser, &provider, &form[..2]).await, StatusCode::OK);
    assert!(!provider.token_is_active(&token));

    let calls = provider.revocations();
    let summary: Vec<(Option<&str>, bool, u16)> =
        calls.iter().map(|c| (c.client_id.as_deref(), c.revoked, c.status)).collect();
    assert_eq!(
        summary,
        [
            (None, false, 401),
            (Some(WEB), true, 200),
            (None, false, 401),
            (None, false, 401),
            (None, false, 401),
            (None, false, 401),
            (Some(WEB), true, 200),
            (None, false, 401),
            (Some(SPA), true, 200),
        ]
    );
    assert_eq!(calls[8].token.as_deref(), Some(token.as_str()));
    assert!(!format!("{calls:?}").contains(&token), "Debug redacts the token: {calls:?}");
}

#[tokio::test]
async fn another_clients_or_an_unknown_token_is_answered_200_and_not_revoked() {
    let provider = provider().await;
    let mut browser = browser(&provider).await;
    let body =
        token_response(&mut browser, &provider, WEB, Some(SECRET), "openid offline_access").await;
    let refresh = body["refresh_token"].as_str().unwrap();
    let access = body["access_token"].as_str().unwrap();
    let other = [("client_id", OTHER), ("client_secret", SECRET)];
    for token in [refresh, access] {
        let form: Vec<(&str, &str)> = [("token", token)].into_iter().chain(other).collect();
        assert_eq!(revoke(&mut browser, &provider, &form).await, StatusCode::OK);
        assert!(provider.token_is_active(token), "another client's token stays active");
    }
    let form: Vec<(&str, &str)> = [("token", "unknown")].into_iter().chain(other).collect();
    assert_eq!(revoke(&mut browser, &provider, &form).await, StatusCode::OK);
    // Revoked twice: 200 both times, revoked once.
    let mine = [("token", refresh), ("client_id", WEB), ("client_secret", SECRET)];
    assert_eq!(revoke(&mut browser, &provider, &mine).await, StatusCode::OK);
    assert_eq!(revoke(&mut browser, &provider, &mine).await, StatusCode::OK);
    let calls = provider.revocations();
    let revoked: Vec<(Option<&str>, bool)> =
        calls.iter().map(|c| (c.client_id.as_deref(), c.revoked)).collect();
    assert_eq!(
        revoked,
        [
            (Some(OTHER), false),
            (Some(OTHER), false),
            (Some(OTHER), false),
            (Some(WEB), true),
            (Some(WEB), false)
        ]
    );
}

#[tokio::test]
async fn the_hint_does_not_limit_the_search_and_refresh_tokens_take_their_access_tokens_along() {
    let provider = provider().await;
    let mut browser = browser(&provider).await;
    fn spa(token: &str) -> [(&str, &str); 2] {
        [("token", token), ("client_id", SPA)]
    }

    // A refresh token revoked with the hint access_token (or an unknown hint).
    for hint in ["access_token", "no_such_type"] {
        let body =
            token_response(&mut browser, &provider, SPA, None, "openid offline_access").await;
        let refresh = body["refresh_token"].as_str().unwrap();
        let access = body["access_token"].as_str().unwrap();
        let form: Vec<(&str, &str)> =
            spa(refresh).into_iter().chain([("token_type_hint", hint)]).collect();
        assert_eq!(revoke(&mut browser, &provider, &form).await, StatusCode::OK, "{hint}");
        assert!(!provider.token_is_active(refresh), "{hint}");
        assert!(!provider.token_is_active(access), "revoked with its refresh token ({hint})");
        assert_eq!(provider.revocations().last().unwrap().token_type_hint.as_deref(), Some(hint));
    }

    // An access token revoked (hint refresh_token): its refresh token lives on.
    let body = token_response(&mut browser, &provider, SPA, None, "openid offline_access").await;
    let refresh = body["refresh_token"].as_str().unwrap();
    let access = body["access_token"].as_str().unwrap();
    let form: Vec<(&str, &str)> =
        spa(access).into_iter().chain([("token_type_hint", "refresh_token")]).collect();
    assert_eq!(revoke(&mut browser, &provider, &form).await, StatusCode::OK);
    assert!(!provider.token_is_active(access));
    assert!(provider.token_is_active(refresh));
    // ...and still gets new access tokens, which die with it.
    let grant = [("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", SPA)];
    let page = browser.send(Method::POST, &provider.token_url(), Some(&grant)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let new_access = json_of(&page)["access_token"].as_str().unwrap().to_owned();
    assert!(provider.token_is_active(&new_access));
    // An access token issued without a refresh token is not touched.
    let lone = token_response(&mut browser, &provider, SPA, None, "openid").await;
    let lone = lone["access_token"].as_str().unwrap();
    assert_eq!(revoke(&mut browser, &provider, &spa(refresh)).await, StatusCode::OK);
    assert!(!provider.token_is_active(refresh));
    assert!(!provider.token_is_active(&new_access));
    assert!(provider.token_is_active(lone));
}

#[tokio::test]
async fn malformed_revocation_requests_are_refused() {
    let provider = provider().await;
    let mut browser = browser(&provider).await;
    let token = refresh_token_for(&mut browser, &provider, SPA, None).await;

    let page = browser.send(Method::GET, &provider.revoke_url(), None).await;
    assert_eq!(page.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(page.header("cache-control"), Some("no-store"));
    let page =
        browser.send(Method::POST, &provider.revoke_url(), Some(&[("client_id", SPA)])).await;
    assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_request");
    let twice = [("token", token.as_str()), ("token", "other"), ("client_id", SPA)];
    let page = browser.send(Method::POST, &provider.revoke_url(), Some(&twice)).await;
    assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_request");
    // Not a form: the token in the query string does not count.
    let url = format!("{}?token={token}&client_id={SPA}", provider.revoke_url());
    let page = browser.send(Method::POST, &url, None).await;
    assert_oauth_error(&page, StatusCode::BAD_REQUEST, "invalid_request");
    assert!(provider.token_is_active(&token), "none of these revoked it");
    let statuses: Vec<u16> = provider.revocations().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [400, 400, 400], "405 is axum's, before the handler");
}

#[tokio::test]
async fn discovery_advertises_revocation_unless_turned_off() {
    let provider = provider().await;
    let doc = json_of(&CookieClient::new().get(&provider.discovery_url()).await);
    assert_eq!(doc["revocation_endpoint"], provider.revoke_url());
    assert_eq!(provider.revoke_url(), format!("{}/revoke", provider.issuer()));
    assert_eq!(
        doc["revocation_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post", "none"])
    );
    assert_eq!(
        doc["revocation_endpoint_auth_methods_supported"],
        doc["token_endpoint_auth_methods_supported"]
    );
    assert_eq!(doc["grant_types_supported"], json!(["authorization_code", "refresh_token"]));
    assert!(doc["scopes_supported"].as_array().unwrap().contains(&json!("offline_access")));

    let quiet = MockProvider::builder()
        .register(client(SPA))
        .advertise_revocation(false)
        .serve("127.0.0.1:0")
        .await
        .unwrap();
    let doc = json_of(&CookieClient::new().get(&quiet.discovery_url()).await);
    assert_eq!(doc.get("revocation_endpoint"), None, "{doc}");
    assert_eq!(doc.get("revocation_endpoint_auth_methods_supported"), None, "{doc}");
    assert_eq!(doc["token_endpoint"], quiet.token_url(), "the rest is unchanged");
    // Only the document changes.
    let mut browser = browser(&quiet).await;
    let token = refresh_token_for(&mut browser, &quiet, SPA, None).await;
    assert_eq!(
        revoke(&mut browser, &quiet, &[("token", &token), ("client_id", SPA)]).await,
        StatusCode::OK
    );
    assert!(!quiet.token_is_active(&token));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_revocations_revoke_each_token_exactly_once() {
    let provider = provider().await;
    let mut browser = browser(&provider).await;
    let mut tokens = Vec::new();
    for _ in 0..200 {
        tokens.push(refresh_token_for(&mut browser, &provider, SPA, None).await);
    }
    assert_eq!(provider.refresh_tokens_issued(), 200);
    // Each token revoked by two requests at once: 400 requests in flight.
    let mut tasks = Vec::new();
    for token in tokens.iter().chain(&tokens) {
        let (provider, token) = (provider.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let form = [("token", token.as_str()), ("client_id", SPA)];
            CookieClient::new().send(Method::POST, &provider.revoke_url(), Some(&form)).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    let calls = provider.revocations();
    assert_eq!(calls.len(), 400);
    for token in &tokens {
        assert!(!provider.token_is_active(token));
        let revoking =
            calls.iter().filter(|c| c.token.as_ref() == Some(token) && c.revoked).count();
        assert_eq!(revoking, 1, "each token revoked exactly once");
    }
    assert_eq!(calls.iter().filter(|c| c.revoked).count(), 200);
}

#[tokio::test]
async fn faults_are_answered_the_number_of_times_asked_then_revocation_works() {
    let provider = provider().await;
    let mut browser = browser(&provider).await;
    let token = refresh_token_for(&mut browser, &provider, SPA, None).await;
    let form = [("token", token.as_str()), ("client_id", SPA)];

    provider.fail_revocations(RevocationFault::ServiceUnavailable { retry_after: Some(7) }, 2);
    for _ in 0..2 {
        let page = browser.send(Method::POST, &provider.revoke_url(), Some(&form)).await;
        assert_eq!(page.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(page.header("retry-after"), Some("7"));
        assert_eq!(page.header("cache-control"), Some("no-store"));
    }
    assert!(provider.token_is_active(&token));
    provider.fail_revocations(RevocationFault::UnsupportedTokenType, 1);
    let page = browser.send(Method::POST, &provider.revoke_url(), Some(&form)).await;
    assert_oauth_error(&page, StatusCode::BAD_REQUEST, "unsupported_token_type");
    assert!(provider.token_is_active(&token));
    // A fault cleared with 0 times.
    provider.fail_revocations(RevocationFault::UnsupportedTokenType, 1);
    provider.fail_revocations(RevocationFault::UnsupportedTokenType, 0);
    assert_eq!(revoke(&mut browser, &provider, &form).await, StatusCode::OK);
    assert!(!provider.token_is_active(&token));
    let calls = provider.revocations();
    let summary: Vec<(u16, bool, Option<&str>)> =
        calls.iter().map(|c| (c.status, c.revoked, c.client_id.as_deref())).collect();
    assert_eq!(
        summary,
        [(503, false, None), (503, false, None), (400, false, None), (200, true, Some(SPA))]
    );

    // A hanging answer: no answer within the client's timeout; shutdown still ends it.
    let token = refresh_token_for(&mut browser, &provider, SPA, None).await;
    provider.fail_revocations(RevocationFault::Hang, 1);
    let form = [("token", token.as_str()), ("client_id", SPA)];
    let hung = tokio::time::timeout(
        Duration::from_millis(300),
        browser.send(Method::POST, &provider.revoke_url(), Some(&form)),
    )
    .await;
    assert!(hung.is_err(), "no answer");
    assert_eq!(provider.revocations().len(), 5, "recorded on arrival");
    assert!(provider.token_is_active(&token));
    tokio::time::timeout(Duration::from_secs(5), provider.shutdown()).await.expect("shuts down");
}

#[tokio::test]
async fn a_users_refresh_tokens_are_counted_active_and_revoked() {
    let provider = provider().await;
    let mut browser = browser(&provider).await;
    assert_eq!(provider.refresh_tokens_of("alice"), Default::default());
    let first = refresh_token_for(&mut browser, &provider, SPA, None).await;
    let _second = refresh_token_for(&mut browser, &provider, SPA, None).await;
    let count = provider.refresh_tokens_of("alice");
    assert_eq!((count.active, count.revoked), (2, 0));

    let status = revoke(&mut browser, &provider, &[("token", &first), ("client_id", SPA)]).await;
    assert_eq!(status, StatusCode::OK);
    let count = provider.refresh_tokens_of("alice");
    assert_eq!((count.active, count.revoked), (1, 1));
    assert_eq!(provider.refresh_tokens_of("bob"), Default::default());
}
