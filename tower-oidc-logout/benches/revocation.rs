//! What revoking the refresh token adds to a sign-out: the same sign-out
//! through axum, tower-sessions' `MemoryStore` and `FlushSession`, without
//! and with `revoke_refresh_token` against the mock provider's `/revoke` on
//! loopback (one HTTP/1.1 connection per revocation, as the crate makes it).
//!
//! `cargo bench -p tower-oidc-logout --bench revocation --features revocation,tower-sessions-0-14`.
//! Each measured sign-out has a fresh session holding a refresh token (made
//! outside the timing). The mock answers `200` for a token it does not know
//! (RFC 7009), after the same client authentication and lookup as for one it issued.

use std::time::{Duration, Instant};

use axum::{Router, body::Body, routing::get};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, StatusCode, header};
use tower::ServiceExt;
use tower_oidc_logout::{
    OidcLogoutLayer, SessionCookie, StateKey,
    revocation::{ClientAuth, TokenRevoker},
    tower_sessions::FlushSession,
};
use tower_oidc_logout_mock::{MockClient, MockProvider};
use tower_sessions_0_14::{MemoryStore, Session, SessionManagerLayer};

fn app(hook: FlushSession) -> Router {
    let logout = OidcLogoutLayer::builder()
        .end_session_endpoint("https://op.example/endsession")
        .client_id("client-1")
        .post_logout_redirect_uri("https://app.example/logout/callback")
        .state_key(StateKey::generate().unwrap())
        .expire_cookie(SessionCookie::new("id"))
        .end_session_hook(hook)
        .build()
        .unwrap();
    Router::new()
        .route(
            "/login",
            get(|session: Session| async move {
                session.insert("refresh_token", "rt-0123456789abcdef").await.unwrap();
                "signed in"
            }),
        )
        .layer(logout)
        .layer(SessionManagerLayer::new(MemoryStore::default()).with_secure(false))
}

/// Signs in (not timed), then times one sign-out.
async fn timed_sign_out(app: &Router) -> Duration {
    let response =
        app.clone().oneshot(Request::get("/login").body(Body::empty()).unwrap()).await.unwrap();
    let cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("id="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap();
    let request = Request::post("/logout")
        .header(header::COOKIE, format!("id={cookie}"))
        .body(Body::empty())
        .unwrap();
    let started = Instant::now();
    let response = app.clone().oneshot(request).await.unwrap();
    let took = started.elapsed();
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    took
}

fn revocation(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let provider = runtime.block_on(async {
        MockProvider::builder()
            .register(MockClient::new("client-1").secret("s3cret"))
            .serve("127.0.0.1:0")
            .await
            .unwrap()
    });
    let revoker =
        TokenRevoker::new(&provider.revoke_url(), ClientAuth::secret_basic("client-1", "s3cret"))
            .unwrap()
            .strict(); // a failed revocation would fail the bench, not hide in a log
    let plain = app(FlushSession::new());
    let revoking = app(FlushSession::new().revoke_refresh_token("refresh_token", revoker));

    let mut group = c.benchmark_group("sign_out");
    for (name, app) in [("flush_only", &plain), ("flush_and_revoke", &revoking)] {
        group.bench_function(name, |b| {
            b.iter_custom(|iterations| {
                runtime.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        total += timed_sign_out(app).await;
                    }
                    total
                })
            });
        });
    }
    group.finish();
    assert!(provider.revocations().iter().all(|call| call.status == 200));
}

criterion_group!(benches, revocation);
criterion_main!(benches);
