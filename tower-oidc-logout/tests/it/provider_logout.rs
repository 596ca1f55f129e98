//! Back-Channel and Front-Channel Logout through the layer, against the mock
//! provider's own logout tokens: each rule of Back-Channel Logout 1.0
//! section 2.6 refuses its token (names after the OpenID Foundation's RP
//! back-channel conformance tests where one exists), a valid token ends the
//! app sessions it names in the store, and the provider's own sign-out
//! reaches the app without the browser.

use std::{
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::body::Body;
use http::{Request, Response, StatusCode, header};
use http_body_util::BodyExt;
use tower::{Layer, ServiceExt};
use tower_oidc_logout::{
    ConfigError, OidcLogoutLayer, StateKey,
    discovery::ProviderMetadata,
    provider_logout::{
        LogoutTokenValidator, LogoutTokenValidatorBuilder, ProviderLogout, Refusal,
        index::{
            EndSessions, EndSessionsError, EndSessionsFuture, MemoryIndex, SessionIndex,
            SessionsEnded, SignIn,
        },
    },
    tower_sessions::v0_14::DeleteFromStore,
};
use tower_oidc_logout_mock::{LogoutTokenClaims, MockClient, MockProvider, MockProviderBuilder};
use tower_sessions_0_14::{MemoryStore, Session, SessionStore, session::Id};

pub(crate) const CLIENT: &str = "rp";
const CALLBACK: &str = "https://app.example/logout/callback";
const BACKCHANNEL: &str = "/logout/backchannel";
const FRONTCHANNEL: &str = "/logout/frontchannel";

pub(crate) struct Fixture {
    pub(crate) provider: MockProvider,
    pub(crate) index: Arc<MemoryIndex>,
    pub(crate) store: Arc<MemoryStore>,
    /// How many of the next `end_sessions` calls fail (as a store that is down would).
    pub(crate) store_failures: Arc<AtomicUsize>,
    pub(crate) layer: OidcLogoutLayer,
}

/// `DeleteFromStore` over the fixture's store, failing while `failures` is above zero.
struct FlakyStore {
    store: DeleteFromStore<MemoryStore>,
    failures: Arc<AtomicUsize>,
}

impl EndSessions for FlakyStore {
    fn end_sessions<'a>(&'a self, session_ids: &'a [String]) -> EndSessionsFuture<'a> {
        let fail = self.failures.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1)).is_ok();
        if !fail {
            return self.store.end_sessions(session_ids);
        }
        let source = "store at 10.0.0.7:6379: connection reset (secret detail)".into();
        let failed = session_ids.to_vec();
        let ended = SessionsEnded::default();
        Box::pin(async move { Err(EndSessionsError::Store { ended, failed, source }) })
    }
}

async fn fixture() -> Fixture {
    fixture_with(|validator| validator).await
}

async fn fixture_with(
    validator: impl FnOnce(LogoutTokenValidatorBuilder) -> LogoutTokenValidatorBuilder,
) -> Fixture {
    fixture_on(|provider| provider, validator).await
}

/// The mock (as `provider` sets it up), a layer serving both provider-logout
/// routes with a validator `validator` sets up, the index and the store.
pub(crate) async fn fixture_on(
    provider: impl FnOnce(MockProviderBuilder) -> MockProviderBuilder,
    validator: impl FnOnce(LogoutTokenValidatorBuilder) -> LogoutTokenValidatorBuilder,
) -> Fixture {
    let builder = MockProvider::builder()
        .register(MockClient::new(CLIENT).post_logout_redirect_uri(CALLBACK));
    let provider = provider(builder).serve("127.0.0.1:0").await.unwrap();
    let metadata = ProviderMetadata::discover(provider.issuer()).await.unwrap();
    let validator =
        validator(LogoutTokenValidator::builder().provider(&metadata).client_id(CLIENT))
            .build()
            .unwrap();
    let index = Arc::new(MemoryIndex::new());
    let store = Arc::new(MemoryStore::default());
    let store_failures = Arc::new(AtomicUsize::new(0));
    let flaky = FlakyStore {
        store: DeleteFromStore::from_arc(store.clone()),
        failures: store_failures.clone(),
    };
    let logout = ProviderLogout::new(index.clone(), flaky).validator(validator);
    let layer = OidcLogoutLayer::builder()
        .provider(&metadata)
        .client_id(CLIENT)
        .post_logout_redirect_uri(CALLBACK)
        .state_key(StateKey::generate().unwrap())
        .provider_logout(logout)
        .backchannel_logout(BACKCHANNEL)
        .frontchannel_logout(FRONTCHANNEL)
        .build()
        .unwrap();
    Fixture { provider, index, store, store_failures, layer }
}

impl Fixture {
    /// An app session of `sub` in the provider session `sid`, saved and indexed.
    pub(crate) async fn signed_in(&self, sub: &str, sid: &str) -> Id {
        let session = Session::new(None, self.store.clone(), None);
        session.insert("sub", sub).await.unwrap();
        session.save().await.unwrap();
        let id = session.id().unwrap();
        let expires = SystemTime::now() + Duration::from_secs(3600);
        let sign_in = SignIn::new(self.provider.issuer(), sub, id.to_string(), expires).sid(sid);
        self.index.record(&sign_in).await.unwrap();
        id
    }

    pub(crate) async fn alive(&self, id: &Id) -> bool {
        self.store.load(id).await.unwrap().is_some()
    }

    pub(crate) fn claims(&self, sid: &str, sub: &str) -> LogoutTokenClaims {
        self.provider.logout_token_claims(CLIENT, sid, sub)
    }

    pub(crate) async fn send(&self, request: Request<Body>) -> (Response<()>, String) {
        let app = tower::service_fn(|_: Request<Body>| async {
            Ok::<_, Infallible>(Response::new(Body::from("app")))
        });
        let response = self.layer.layer(app).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (Response::from_parts(parts, ()), String::from_utf8_lossy(&body).into_owned())
    }

    pub(crate) async fn post_token(&self, token: &str) -> (Response<()>, String) {
        let form = format!("logout_token={token}");
        self.send(form_request(form)).await
    }
}

fn form_request(form: String) -> Request<Body> {
    Request::post(BACKCHANNEL)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form))
        .unwrap()
}

pub(crate) fn assert_refused(response: &Response<()>, body: &str, code: &str) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{code}: {body}");
    assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
    let json: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(json["error"], "invalid_request", "{body}");
    let description = json["error_description"].as_str().unwrap();
    assert!(description.starts_with(&format!("{code}: ")), "expected {code}: {description}");
    assert_eq!(response.extensions().get::<Refusal>().map(Refusal::code), Some(code));
    assert_no_cache(response);
}

fn assert_no_cache(response: &Response<()>) {
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-cache, no-store");
    assert_eq!(response.headers()[header::PRAGMA], "no-cache");
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test]
async fn a_valid_token_ends_the_provider_sessions_app_sessions_and_nothing_else() {
    let app = fixture().await;
    let mine = app.signed_in("alice", "sid-1").await;
    let other_tab = app.signed_in("alice", "sid-1").await;
    let elsewhere = app.signed_in("alice", "sid-2").await;
    let bob = app.signed_in("bob", "sid-3").await;

    let token = app.provider.logout_token(&app.claims("sid-1", "alice"));
    let (response, body) = app.post_token(&token).await;
    assert_eq!((response.status(), body.as_str()), (StatusCode::OK, ""));
    assert_no_cache(&response);
    assert!(!app.alive(&mine).await && !app.alive(&other_tab).await, "sid-1's sessions ended");
    assert!(app.alive(&elsewhere).await && app.alive(&bob).await, "no other session ended");

    // The same token again is a replay; a new one for a session with nothing left is a 200.
    let (response, body) = app.post_token(&token).await;
    assert_refused(&response, &body, "replayed");
    let (response, _) =
        app.post_token(&app.provider.logout_token(&app.claims("sid-unknown", "carol"))).await;
    assert_eq!(response.status(), StatusCode::OK, "no session matched is still a 200");
}

#[tokio::test]
async fn a_sub_only_token_ends_every_session_of_that_user_and_no_one_elses() {
    let app = fixture().await;
    let a = app.signed_in("alice", "sid-1").await;
    let b = app.signed_in("alice", "sid-2").await;
    let bob = app.signed_in("bob", "sid-3").await;
    let token = app.provider.logout_token(&app.claims("x", "alice").without("sid"));
    let (response, _) = app.post_token(&token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!app.alive(&a).await && !app.alive(&b).await);
    assert!(app.alive(&bob).await);
}

#[tokio::test]
async fn every_rule_of_section_2_6_refuses_its_token() {
    let app = fixture().await;
    let id = app.signed_in("alice", "sid-1").await;
    let valid = || app.claims("sid-1", "alice");
    let cases: Vec<(&str, LogoutTokenClaims, &str)> = vec![
        ("alg none", valid().unsigned(), "alg_none"),
        (
            "wrong alg (HS256 keyed with the public key)",
            valid().hmac_with_public_key(),
            "alg_not_allowed",
        ),
        (
            "signed with a key the provider never published",
            valid().signed_with_unpublished_key().kid("k-unpublished"),
            "unknown_key",
        ),
        ("wrong issuer", valid().iss("https://evil.example"), "wrong_issuer"),
        ("wrong audience", valid().aud("another-client"), "wrong_audience"),
        ("no event", valid().without("events"), "missing_events"),
        (
            "wrong event",
            valid()
                .claim("events", serde_json::json!({"http://schemas.openid.net/event/other": {}})),
            "wrong_event",
        ),
        ("nonce present", valid().nonce("n-0S6_WzA2Mj"), "nonce_present"),
        ("expired", valid().iat(now() - 600).exp(now() - 300), "expired"),
        ("missing exp", valid().without("exp"), "missing_exp"),
        ("iat in the future", valid().iat(now() + 600).exp(now() + 900), "iat_in_future"),
        ("missing iat", valid().without("iat"), "missing_iat"),
        ("neither sid nor sub", valid().without("sid").without("sub"), "no_sid_or_sub"),
        ("missing jti", valid().without("jti"), "missing_jti"),
        ("wrong typ", valid().typ("JWT"), "wrong_typ"),
        (
            "unknown kid, and a refetch that does not find it",
            valid().kid("no-such-key"),
            "unknown_key",
        ),
    ];
    for (name, claims, code) in cases {
        let (response, body) = app.post_token(&app.provider.logout_token(&claims)).await;
        assert!(response.status() == StatusCode::BAD_REQUEST, "{name}: {body}");
        assert_refused(&response, &body, code);
    }
    // Bad signature: a valid token with one signature character changed.
    let token = app.provider.logout_token(&valid());
    let mut bytes = token.into_bytes();
    let last = bytes.len() - 10;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let (response, body) = app.post_token(&String::from_utf8(bytes).unwrap()).await;
    assert_refused(&response, &body, "bad_signature");
    assert!(app.alive(&id).await, "no refused token ended anything");
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_keys_and_finds_a_rotated_one() {
    // No wait between refetches, so the test need not wait out the interval.
    let app = fixture_with(|validator| validator.unknown_kid_min_gap(Duration::ZERO)).await;
    let id = app.signed_in("alice", "sid-1").await;
    // Keys fetched (and cached) by a first token, then the provider rotates.
    let (response, _) = app.post_token(&app.provider.logout_token(&app.claims("x", "y"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    app.provider.rotate_signing_key(false).unwrap();
    let (response, body) =
        app.post_token(&app.provider.logout_token(&app.claims("sid-1", "alice"))).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    assert!(!app.alive(&id).await);
    // A kid that the refetched set does not hold either is still refused.
    let (response, body) =
        app.post_token(&app.provider.logout_token(&app.claims("s", "u").kid("gone"))).await;
    assert_refused(&response, &body, "unknown_key");
}

#[tokio::test]
async fn requests_that_are_not_a_logout_token_form_are_refused() {
    let app = fixture().await;
    let (response, body) = app.send(Request::get(BACKCHANNEL).body(Body::empty()).unwrap()).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{body}");
    assert_eq!(response.headers()[header::ALLOW], "POST");
    assert_no_cache(&response);

    let token = app.provider.logout_token(&app.claims("sid-1", "alice"));
    let json = Request::post(BACKCHANNEL)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(format!("{{\"logout_token\":\"{token}\"}}")))
        .unwrap();
    let (response, body) = app.send(json).await;
    assert_refused(&response, &body, "not_a_form");

    let (response, body) = app.send(form_request("logout_token=a&logout_token=b".into())).await;
    assert_refused(&response, &body, "no_logout_token");
    let (response, body) = app.send(form_request("token=a".into())).await;
    assert_refused(&response, &body, "no_logout_token");
    let (response, body) = app.send(form_request(format!("pad={}", "x".repeat(64 * 1024)))).await;
    assert_refused(&response, &body, "too_large");
    let (response, body) = app.send(form_request("logout_token=not.a.jwt".into())).await;
    assert_refused(&response, &body, "malformed");
}

#[tokio::test]
async fn the_front_channel_route_ends_the_sessions_of_the_providers_sid() {
    let app = fixture().await;
    let mine = app.signed_in("alice", "sid-1").await;
    let bob = app.signed_in("bob", "sid-2").await;
    let issuer: String =
        url::form_urlencoded::byte_serialize(app.provider.issuer().as_bytes()).collect();
    let get = |query: String| {
        Request::get(format!("{FRONTCHANNEL}?{query}")).body(Body::empty()).unwrap()
    };

    let (response, _) = app.send(get("iss=https%3A%2F%2Fevil.example&sid=sid-1".to_owned())).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (response, _) = app.send(get(format!("iss={issuer}"))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "sid is required");
    let (response, _) = app.send(get(format!("iss={issuer}&sid=sid-1&sid=sid-2"))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST, "once each");
    assert!(app.alive(&mine).await);

    // Loaded as anything but a frame or a page (an <img>, a fetch from any page): refused.
    for dest in ["image", "empty", "script"] {
        let mut request = get(format!("iss={issuer}&sid=sid-1"));
        request.headers_mut().insert("sec-fetch-dest", dest.parse().unwrap());
        let (response, _) = app.send(request).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{dest}");
        assert_eq!(response.extensions().get::<Refusal>().unwrap().code(), "not_a_frame");
    }
    // HEAD would end sessions where every other route treats it as harmless.
    let head = Request::head(format!("{FRONTCHANNEL}?iss={issuer}&sid=sid-1"))
        .body(Body::empty())
        .unwrap();
    let (response, _) = app.send(head).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()[header::ALLOW], "GET");
    assert!(app.alive(&mine).await, "refused requests ended the session");

    let mut framed = get(format!("iss={issuer}&sid=sid-1"));
    framed.headers_mut().insert("sec-fetch-dest", "iframe".parse().unwrap());
    let (response, body) = app.send(framed).await;
    assert_eq!(response.status(), StatusCode::OK, "{body}");
    assert_no_cache(&response);
    let provider_origin = app.provider.issuer().trim_end_matches('/').to_owned();
    let csp = response.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.starts_with(&format!("frame-ancestors {provider_origin};")), "{csp}");
    assert!(!app.alive(&mine).await);
    assert!(app.alive(&bob).await);

    let post = Request::post(format!("{FRONTCHANNEL}?iss={issuer}&sid=sid-2"))
        .body(Body::empty())
        .unwrap();
    let (response, _) = app.send(post).await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(app.alive(&bob).await);
}

#[tokio::test]
async fn other_requests_pass_through_untouched() {
    let app = fixture().await;
    let (response, body) =
        app.send(Request::get("/logout/backchannel/x").body(Body::empty()).unwrap()).await;
    assert_eq!((response.status(), body.as_str()), (StatusCode::OK, "app"));
}

#[test]
fn the_routes_must_not_collide_with_the_others() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let app = runtime.block_on(fixture());
    let validator = LogoutTokenValidator::builder()
        .issuer(app.provider.issuer())
        .client_id(CLIENT)
        .jwks_uri(app.provider.jwks_url())
        .build()
        .unwrap();
    let logout =
        ProviderLogout::new(app.index.clone(), DeleteFromStore::from_arc(app.store.clone()))
            .validator(validator);
    let builder = || {
        OidcLogoutLayer::builder()
            .end_session_endpoint(app.provider.end_session_url())
            .client_id(CLIENT)
            .post_logout_redirect_uri(CALLBACK)
            .state_key(StateKey::generate().unwrap())
    };
    for path in ["/logout", "/logout/callback"] {
        let error =
            builder().provider_logout(logout.clone()).backchannel_logout(path).build().unwrap_err();
        assert_eq!(error, ConfigError::RoutesCollide(path.into()));
    }
    let same = builder()
        .provider_logout(logout.clone())
        .backchannel_logout("/bc")
        .frontchannel_logout("/bc")
        .build()
        .unwrap_err();
    assert_eq!(same, ConfigError::RoutesCollide("/bc".into()));
    // The parts without a route, a route without the parts, no provider to check tokens against.
    let error = builder().provider_logout(logout.clone()).build().unwrap_err();
    assert_eq!(error, ConfigError::ProviderLogoutRouteMissing);
    let error = builder().backchannel_logout("/bc").build().unwrap_err();
    assert_eq!(error, ConfigError::ProviderLogoutMissing);
    let unchecked =
        ProviderLogout::new(app.index.clone(), DeleteFromStore::from_arc(app.store.clone()));
    let error = builder().provider_logout(unchecked).backchannel_logout("/bc").build().unwrap_err();
    assert_eq!(error, ConfigError::ProviderLogoutWithoutProvider);
    assert!(error.to_string().contains("provider(&metadata)"), "{error}");
}

/// A retry after a failed store delete: the same token, then the session is gone.
#[tokio::test]
async fn a_store_that_fails_once_loses_nothing_the_providers_retry_ends_the_session() {
    let app = fixture().await;
    let id = app.signed_in("alice", "sid-1").await;
    let token = app.provider.logout_token(&app.claims("sid-1", "alice"));

    app.store_failures.store(1, SeqCst);
    let (response, body) = app.post_token(&token).await;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        (response.status(), &json["error"]),
        (StatusCode::BAD_REQUEST, &"server_error".into())
    );
    assert!(!body.contains("10.0.0.7") && !body.contains("secret"), "internals sent: {body}");
    assert!(app.alive(&id).await);
    assert_eq!(app.index.len(), 1, "the index gave up a session the store still holds");

    let (response, body) = app.post_token(&token).await;
    assert_eq!(response.status(), StatusCode::OK, "the retry was refused: {body}");
    assert!(!app.alive(&id).await, "the retry did not end the session");
    assert!(app.index.is_empty());
    let (response, body) = app.post_token(&token).await;
    assert_refused(&response, &body, "replayed");
}

/// A fresh token for the same `sid` after a failed delivery also ends the session.
#[tokio::test]
async fn after_a_failed_delivery_a_new_token_for_the_sid_still_ends_the_session() {
    let app = fixture().await;
    let id = app.signed_in("alice", "sid-1").await;
    app.store_failures.store(1, SeqCst);
    let (response, _) =
        app.post_token(&app.provider.logout_token(&app.claims("sid-1", "alice"))).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let (response, _) =
        app.post_token(&app.provider.logout_token(&app.claims("sid-1", "alice"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!app.alive(&id).await);
}

/// A front-channel request whose store delete failed leaves the entry for the next one.
#[tokio::test]
async fn a_failed_front_channel_logout_leaves_the_session_for_the_next_request() {
    let app = fixture().await;
    let id = app.signed_in("alice", "sid-1").await;
    let issuer: String =
        url::form_urlencoded::byte_serialize(app.provider.issuer().as_bytes()).collect();
    let get = || {
        Request::get(format!("{FRONTCHANNEL}?iss={issuer}&sid=sid-1")).body(Body::empty()).unwrap()
    };
    app.store_failures.store(1, SeqCst);
    let (response, _) = app.send(get()).await;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(app.alive(&id).await && app.index.len() == 1);
    let (response, _) = app.send(get()).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!app.alive(&id).await && app.index.is_empty());
}

/// Two instances (one index, one store) receiving the provider's retry at once end it once.
#[tokio::test]
async fn two_instances_receiving_the_same_retry_at_once_end_the_session() {
    let app = fixture().await;
    let id = app.signed_in("alice", "sid-1").await;
    let token = app.provider.logout_token(&app.claims("sid-1", "alice"));
    app.store_failures.store(1, SeqCst);
    assert_eq!(app.post_token(&token).await.0.status(), StatusCode::BAD_REQUEST);

    let (a, b) = tokio::join!(app.post_token(&token), app.post_token(&token));
    let statuses = [a.0.status(), b.0.status()];
    assert!(statuses.contains(&StatusCode::OK), "{statuses:?}: {} {}", a.1, b.1);
    for (response, body) in [&a, &b] {
        if response.status() != StatusCode::OK {
            assert_refused(response, body, "replayed");
        }
    }
    assert!(!app.alive(&id).await);
    assert!(app.index.is_empty() && app.index.token_ids() == 1);
    let (response, body) = app.post_token(&token).await;
    assert_refused(&response, &body, "replayed");
}

/// One user signing in 200 000 times crowds out no one: another user still
/// signs in, and her provider logout still ends her session.
#[tokio::test]
async fn one_subject_signing_in_again_and_again_stops_no_one_elses_logout() {
    let app = fixture().await;
    let expires = SystemTime::now() + Duration::from_secs(3600);
    for n in 0..200_000u32 {
        let sign_in = SignIn::new(app.provider.issuer(), "mallory", format!("m{n}"), expires)
            .sid(format!("sid-m{n}"));
        app.index.record(&sign_in).await.unwrap();
    }
    let alice = app.signed_in("alice", "sid-a").await;
    let (response, _) =
        app.post_token(&app.provider.logout_token(&app.claims("sid-a", "alice"))).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!app.alive(&alice).await, "her session outlived her provider logout");
    assert_eq!(
        app.index.len(),
        tower_oidc_logout::provider_logout::index::DEFAULT_MAX_SIGN_INS_PER_SUBJECT
    );
}

/// `keys_unavailable` tells the caller no internal URL or network error.
#[tokio::test]
async fn unavailable_keys_are_refused_without_internal_details() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let app =
        fixture_with(|validator| validator.jwks_uri(format!("http://{closed}/secret-jwks"))).await;
    let (response, body) =
        app.post_token(&app.provider.logout_token(&app.claims("sid-1", "alice"))).await;
    assert_refused(&response, &body, "keys_unavailable");
    assert!(!body.contains("secret-jwks") && !body.contains(&closed.to_string()), "{body}");
}
