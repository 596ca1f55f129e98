//! The provider's key lifecycle and the logout token's age, `jti` and `azp`
//! rules through the layer, against the mock provider: a key it rotates in
//! is found within the minimum gap even after a made-up `kid` used a fetch,
//! a key it removes stops verifying once the key set's `max-age` passes, and
//! a token is never accepted once its `jti` may have been forgotten.
//!
//! The mock and the validator share one clock the tests move by hand; no
//! test waits on the wall clock.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use http::StatusCode;
use serde_json::json;
use tower_oidc_logout::provider_logout::{
    DEFAULT_TOKEN_MAX_AGE, DEFAULT_UNKNOWN_KID_MIN_GAP, LogoutTokenValidatorBuilder,
};
use tower_oidc_logout_mock::{LogoutTokenClaims, MockProviderBuilder};

use crate::provider_logout::{CLIENT, Fixture, assert_refused, fixture_on};

/// Seconds since the epoch, moved by hand; starts at the wall clock's now so
/// that the index's own expiries (by the wall clock) are not in the past.
#[derive(Clone)]
struct Clock(Arc<AtomicU64>);

impl Clock {
    fn new() -> Self {
        Self(Arc::new(AtomicU64::new(
            SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs(),
        )))
    }

    fn now(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }

    fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }

    fn reader(&self) -> impl Fn() -> SystemTime + Send + Sync + 'static {
        let now = self.0.clone();
        move || UNIX_EPOCH + Duration::from_secs(now.load(Ordering::SeqCst))
    }
}

/// The provider-logout fixture with one hand-moved clock shared by the mock and the validator.
struct Keys {
    app: Fixture,
    clock: Clock,
}

impl std::ops::Deref for Keys {
    type Target = Fixture;

    fn deref(&self) -> &Fixture {
        &self.app
    }
}

async fn fixture(
    provider: impl FnOnce(MockProviderBuilder) -> MockProviderBuilder,
    validator: impl FnOnce(LogoutTokenValidatorBuilder) -> LogoutTokenValidatorBuilder,
) -> Keys {
    let clock = Clock::new();
    let (for_provider, for_validator) = (clock.reader(), clock.reader());
    let app = fixture_on(
        |builder| provider(builder.clock(for_provider)),
        |builder| validator(builder.clock(for_validator)),
    )
    .await;
    Keys { app, clock }
}

impl Keys {
    /// Signed with the provider's current key.
    fn token(&self, claims: &LogoutTokenClaims) -> String {
        self.provider.logout_token(claims)
    }

    async fn accepted(&self, token: &str) {
        let (response, body) = self.post_token(token).await;
        assert_eq!(response.status(), StatusCode::OK, "{body}");
    }

    async fn refused(&self, token: &str, code: &str) {
        let (response, body) = self.post_token(token).await;
        assert_refused(&response, &body, code);
    }
}

/// Issue 18: a POST with a made-up `kid` (no signature needed) used the one
/// refetch of a 5-minute interval, so a key the provider rotated in during it
/// was refused, and those logouts lost. Now it waits at most the minimum gap.
#[tokio::test]
async fn a_made_up_kid_delays_a_rotated_in_key_by_at_most_the_gap() {
    let app = fixture(|provider| provider, |validator| validator).await;
    let gap = DEFAULT_UNKNOWN_KID_MIN_GAP.as_secs();
    // The keys are fetched by a first token.
    app.accepted(&app.token(&app.claims("s-0", "u-0"))).await;
    app.clock.advance(gap);
    // Anyone's forged kid uses a fetch.
    app.refused(&app.token(&app.claims("s-1", "u-1").kid("made-up")), "unknown_key").await;

    // The provider rotates: the new key beside the old, signing at once.
    let id = app.signed_in("alice", "sid-1").await;
    app.provider.rotate_signing_key(true).unwrap();
    app.clock.advance(1);
    app.refused(&app.token(&app.claims("sid-1", "alice")), "unknown_key").await;
    assert!(app.alive(&id).await);
    // The provider retries the delivery once the gap has passed.
    app.clock.advance(gap - 1);
    app.accepted(&app.token(&app.claims("sid-1", "alice"))).await;
    assert!(!app.alive(&id).await, "the rotated-in key verified");
}

/// Issue 18: keys were refetched only on an unknown `kid`, so a key removed
/// from the provider's JWKS kept verifying for ever. The mock states
/// `Cache-Control: max-age=60`; after it, the removed key is refused.
#[tokio::test]
async fn a_key_the_provider_removes_stops_verifying_once_the_key_sets_max_age_passes() {
    let app =
        fixture(|provider| provider.jwks_max_age(Duration::from_secs(60)), |validator| validator)
            .await;
    let first = app.signed_in("alice", "sid-1").await;
    let second = app.signed_in("bob", "sid-2").await;
    // Tokens signed with the key about to be removed (e.g. it leaked).
    let leaked_1 = app.token(&app.claims("sid-1", "alice"));
    let leaked_2 = app.token(&app.claims("sid-2", "bob"));
    app.accepted(&app.token(&app.claims("s-0", "u-0"))).await;

    app.provider.rotate_signing_key(true).unwrap();
    assert_eq!(app.provider.retire_previous_signing_keys(), 1);
    // Still within the 60 s the provider said the set stays fresh.
    app.clock.advance(59);
    app.accepted(&leaked_1).await;
    assert!(!app.alive(&first).await);
    // Past it: fetched again, without the removed key.
    app.clock.advance(1);
    app.refused(&leaked_2, "unknown_key").await;
    assert!(app.alive(&second).await, "a removed key ended nothing");
    app.accepted(&app.token(&app.claims("sid-2", "bob"))).await;
    assert!(!app.alive(&second).await);
}

#[tokio::test]
async fn claims_the_replay_check_and_the_audience_rules_need_are_enforced() {
    let app = fixture(|provider| provider, |validator| validator).await;
    let id = app.signed_in("alice", "sid-1").await;
    let valid = || app.claims("sid-1", "alice");
    let now = app.clock.now();
    let max_age = DEFAULT_TOKEN_MAX_AGE.as_secs();
    let cases: Vec<(&str, LogoutTokenClaims, &str)> = vec![
        ("empty jti", valid().jti(""), "empty_jti"),
        ("another audience, no azp", valid().claim("aud", json!([CLIENT, "other"])), "missing_azp"),
        (
            "another authorized party",
            valid().claim("aud", json!([CLIENT, "other"])).claim("azp", "other"),
            "azp_mismatch",
        ),
        ("issued too long ago", valid().iat(now - max_age - 61).exp(now + 3600), "too_old"),
    ];
    for (name, claims, code) in cases {
        println!("{name}");
        app.refused(&app.token(&claims), code).await;
    }
    assert!(app.alive(&id).await, "no refused token ended anything");
    app.accepted(&app.token(&valid().claim("aud", json!([CLIENT, "other"])).claim("azp", CLIENT)))
        .await;
    assert!(!app.alive(&id).await);
}

/// Issue 18: `exp: 1e300` kept a `jti` remembered for about 8 700 years. Now
/// it is remembered until the token max age passes, and the token is refused
/// from then on, so forgetting it opens no replay.
#[tokio::test]
async fn a_far_exp_token_is_refused_once_its_jti_may_be_forgotten() {
    let app = fixture(|provider| provider, |validator| validator).await;
    app.signed_in("alice", "sid-1").await;
    let token = app.token(&app.claims("sid-1", "alice").claim("exp", json!(1e300)));
    app.accepted(&token).await;
    app.refused(&token, "replayed").await;
    // iat + the token max age + the clock skew (60 s): the jti may be forgotten now.
    app.clock.advance(DEFAULT_TOKEN_MAX_AGE.as_secs() + 60);
    app.refused(&token, "too_old").await;
}
