//! What the topics share: the clients, a clock, URLs, sign-in, and an ES256
//! check of the mock's tokens written with p256 against `/jwks`, independently
//! of the mock's own code.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{Router, body::Bytes, http::HeaderMap};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use http::{Method, StatusCode};
use p256::ecdsa::{Signature, VerifyingKey, signature::Verifier as _};
use serde_json::{Value, json};
use tower_oidc_logout_mock::{
    BACKCHANNEL_LOGOUT_EVENT, HOSTED_SESSION_COOKIE, LOGOUT_TOKEN_LIFETIME, LOGOUT_TOKEN_TYPE,
    MockClient, MockProvider, MockProviderBuilder,
    browser::{CookieClient, Page},
};

/// The post-logout redirect URI every test client registers.
pub(crate) const CALLBACK: &str = "http://127.0.0.1:3000/logout/callback";
/// A PKCE verifier and its S256 challenge (RFC 7636, appendix B).
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub(crate) const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
/// The tests' "now", in seconds since the epoch.
pub(crate) const START: u64 = 1_800_000_000;
/// The body Next Identity documents for an incorrect `client_id`.
pub(crate) const FORBIDDEN: &str =
    r#"{"error":"http_exception","error_details":{"message":"Forbidden"}}"#;

/// A clock the test moves by hand, starting at [`START`].
#[derive(Clone)]
pub(crate) struct Clock(Arc<AtomicU64>);

impl Clock {
    pub(crate) fn new() -> Self {
        Self(Arc::new(AtomicU64::new(START)))
    }

    pub(crate) fn advance(&self, by: Duration) {
        self.0.fetch_add(by.as_secs(), Ordering::SeqCst);
    }

    /// What [`MockProviderBuilder::clock`] reads.
    pub(crate) fn reader(&self) -> impl Fn() -> SystemTime + Send + Sync + 'static {
        let now = self.0.clone();
        move || UNIX_EPOCH + Duration::from_secs(now.load(Ordering::SeqCst))
    }
}

/// Two clients with post-logout redirect URIs only (one with a query of its
/// own), as in the crate's example.
pub(crate) async fn demo_provider() -> MockProvider {
    MockProvider::builder()
        .client("demo-client", [CALLBACK, "https://app.example/cb?tenant=a%20b"])
        .client("other-client", ["https://other.example/cb"])
        .serve("127.0.0.1:0")
        .await
        .expect("mock provider starts")
}

/// A builder whose clock stands still at [`START`].
pub(crate) fn builder() -> MockProviderBuilder {
    MockProvider::builder().clock(Clock::new().reader())
}

/// A public client that can get tokens (PKCE) at `http://127.0.0.1:3000/<id>/callback`
/// and end the session with [`CALLBACK`].
pub(crate) fn client(id: &str) -> MockClient {
    MockClient::new(id).redirect_uri(client_callback(id)).post_logout_redirect_uri(CALLBACK)
}

pub(crate) fn client_callback(id: &str) -> String {
    format!("http://127.0.0.1:3000/{id}/callback")
}

/// `base` with `params` appended to its query.
fn with_query(base: &str, params: &[(&str, &str)]) -> String {
    let mut url = url::Url::parse(base).unwrap();
    url.query_pairs_mut().extend_pairs(params);
    url.into()
}

/// The end-session endpoint with `params`.
pub(crate) fn end_session_url(provider: &MockProvider, params: &[(&str, &str)]) -> String {
    with_query(&provider.end_session_url(), params)
}

/// The end-session endpoint for `client_id`, back to [`CALLBACK`] with `state`.
pub(crate) fn end_session_for(provider: &MockProvider, client_id: &str, state: &str) -> String {
    end_session_url(
        provider,
        &[("client_id", client_id), ("post_logout_redirect_uri", CALLBACK), ("state", state)],
    )
}

/// The authorization endpoint with `params`.
pub(crate) fn authorize_url(provider: &MockProvider, params: &[(&str, &str)]) -> String {
    with_query(&provider.authorize_url(), params)
}

/// The query parameter `name` of where `page` redirects.
pub(crate) fn param(page: &Page, name: &str) -> Option<String> {
    let location = page.location().expect("a redirect");
    location.query_pairs().find(|(n, _)| n == name).map(|(_, v)| v.into_owned())
}

pub(crate) fn json_of(page: &Page) -> Value {
    serde_json::from_str(&page.body).unwrap_or_else(|e| panic!("{e}: {}", page.body))
}

/// An error the mock answers in JSON, not as a redirect.
pub(crate) fn assert_json_error(page: &Page, status: StatusCode) {
    assert_eq!(page.status, status, "{}", page.body);
    assert_eq!(page.header("content-type"), Some("application/json"));
    assert_eq!(page.header("location"), None, "an error must not redirect");
    assert_eq!(page.header("cache-control"), Some("no-store"));
}

/// Signs `user` in through the mock-only `/login` in `browser` (a new hosted
/// session, its cookie kept); the new session's `sid`.
pub(crate) async fn sign_in(
    browser: &mut CookieClient,
    provider: &MockProvider,
    user: &str,
) -> String {
    let before = provider.hosted_sessions();
    let page = browser.get(&format!("{}/login?user={user}", provider.url())).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.url.path().ends_with("/authorize"), "{}", page.url);
    assert!(page.body.contains("active"), "{}", page.body);
    assert!(browser.cookie(&provider.url(), HOSTED_SESSION_COOKIE).is_some());
    let new = provider.hosted_sessions().into_iter().find(|session| !before.contains(session));
    new.expect("a new hosted session").sid
}

/// The ID token [`client`] `client_id` gets with the browser's hosted session
/// (single sign-on: a code at once, exchanged with PKCE).
pub(crate) async fn tokens_for(
    browser: &mut CookieClient,
    provider: &MockProvider,
    client_id: &str,
) -> String {
    let redirect_uri = client_callback(client_id);
    let request = [
        ("client_id", client_id),
        ("redirect_uri", &redirect_uri),
        ("response_type", "code"),
        ("scope", "openid"),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let page = browser.send(Method::GET, &authorize_url(provider, &request), None).await;
    assert_eq!(page.status, StatusCode::FOUND, "{}", page.body);
    let code = param(&page, "code").unwrap();
    let form = [
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &redirect_uri),
        ("client_id", client_id),
        ("code_verifier", VERIFIER),
    ];
    let page = browser.send(Method::POST, &provider.token_url(), Some(&form)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    json_of(&page)["id_token"].as_str().unwrap().to_owned()
}

/// The JWK Set as `/jwks` serves it.
pub(crate) async fn fetch_jwks(provider: &MockProvider) -> Value {
    serde_json::from_str(&CookieClient::new().get(&provider.jwks_url()).await.body).unwrap()
}

fn decode(part: &str) -> Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The header, claims and signature of a compact JWS, unverified.
pub(crate) fn parts(token: &str) -> (Value, Value, Vec<u8>) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "{token}");
    (decode(parts[0]), decode(parts[1]), URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
}

/// `04 || x || y` of a P-256 JWK.
pub(crate) fn sec1(jwk: &Value) -> Vec<u8> {
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let mut sec1 = vec![4u8];
    sec1.extend(coordinate("x"));
    sec1.extend(coordinate("y"));
    sec1
}

/// Whether `token`'s signature is the ES256 signature of the P-256 JWK `jwk`,
/// whatever its header says.
pub(crate) fn es256_verifies(jwk: &Value, token: &str) -> bool {
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let Ok(signature) = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()) else {
        return false;
    };
    let key = VerifyingKey::from_sec1_bytes(&sec1(jwk)).unwrap();
    key.verify(signed.as_bytes(), &signature).is_ok()
}

/// Verifies `token` as a relying party would: ES256, by the key of `jwks` its
/// `kid` names; its header and claims.
pub(crate) fn verify(jwks: &Value, token: &str) -> Result<(Value, Value), String> {
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

/// Checks every claim and header member a Logout Token of the mock must (and
/// must not) have, issued at [`START`]; its claims.
pub(crate) fn assert_logout_token(
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

/// One request a [`Receiver`] got.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) method: String,
    pub(crate) path_and_query: String,
    pub(crate) content_type: Option<String>,
    pub(crate) body: String,
}

/// A relying party's logout endpoint on an ephemeral loopback port: records
/// every request and answers `status` after `delay`.
pub(crate) struct Receiver {
    pub(crate) url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    pub(crate) async fn start(status: u16, delay: Duration) -> Self {
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
        Self { url, received }
    }

    pub(crate) fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

/// The `logout_token` of a form body that has exactly that one field.
pub(crate) fn logout_token_of(body: &str) -> String {
    let fields: Vec<(String, String)> =
        url::form_urlencoded::parse(body.as_bytes()).into_owned().collect();
    assert_eq!(fields.len(), 1, "{body}");
    assert_eq!(fields[0].0, "logout_token");
    fields[0].1.clone()
}

/// The token response `/token` gives [`client`] `client_id` (PKCE; with
/// `client_secret_post` if `secret` is given) for the browser's hosted
/// session and an authorization request with `scope`.
pub(crate) async fn token_response(
    browser: &mut CookieClient,
    provider: &MockProvider,
    client_id: &str,
    secret: Option<&str>,
    scope: &str,
) -> Value {
    let redirect_uri = client_callback(client_id);
    let request = [
        ("client_id", client_id),
        ("redirect_uri", &redirect_uri),
        ("response_type", "code"),
        ("scope", scope),
        ("code_challenge", CHALLENGE),
        ("code_challenge_method", "S256"),
    ];
    let page = browser.send(Method::GET, &authorize_url(provider, &request), None).await;
    assert_eq!(page.status, StatusCode::FOUND, "{}", page.body);
    let code = param(&page, "code").unwrap();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("code", &code),
        ("redirect_uri", &redirect_uri),
        ("client_id", client_id),
        ("code_verifier", VERIFIER),
    ];
    if let Some(secret) = secret {
        form.push(("client_secret", secret));
    }
    let page = browser.send(Method::POST, &provider.token_url(), Some(&form)).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    json_of(&page)
}

/// The refresh token of a [`token_response`] with `offline_access`.
pub(crate) async fn refresh_token_for(
    browser: &mut CookieClient,
    provider: &MockProvider,
    client_id: &str,
    secret: Option<&str>,
) -> String {
    let body = token_response(browser, provider, client_id, secret, "openid offline_access").await;
    body["refresh_token"].as_str().expect("a refresh token with offline_access").to_owned()
}

/// An OAuth error in JSON (RFC 6749 5.2), `no-store`.
pub(crate) fn assert_oauth_error(page: &Page, status: StatusCode, error: &str) {
    assert_json_error(page, status);
    let body = json_of(page);
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}
