//! Setup 3, sessions that end at the provider (Back-Channel Logout), on Redis:
//! `cargo run -p tower-oidc-logout --example backchannel_redis`
//! (`REDIS_URL`, `STATE_KEY`).
//!
//! The provider POSTs a signed logout token to `/logout/backchannel` on any
//! instance; the sessions of that provider session are deleted from Redis,
//! so a copied cookie is dead everywhere. One Redis pool holds the sessions,
//! the index of sign-ins and the logout tokens already used.

use std::sync::Arc;

use axum::{Router, response::Html, routing::get};
use tower_oidc_logout::{
    OidcLogoutLayer, SessionCookie, StateKey,
    discovery::ProviderMetadata,
    provider_logout::{ProviderLogout, index::RedisIndex},
    tower_sessions::{
        FlushSession,
        v0_14::{DeleteFromStore, record_sign_in},
    },
};
use tower_sessions_0_14::{Session, SessionManagerLayer};
use tower_sessions_redis_store::{RedisStore, fred::prelude::*};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let redis_url =
        std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/0".to_owned());
    let pool = Pool::new(Config::from_url(&redis_url)?, None, None, None, 4)?;
    pool.init().await?;
    let provider = ProviderMetadata::discover("https://id.eu.nextreason.com").await?;
    let store = RedisStore::new(pool.clone());
    let index = Arc::new(RedisIndex::new(pool));

    let logout = OidcLogoutLayer::builder()
        .provider(&provider) // end-session endpoint, issuer and signing keys
        .client_id("my-client-id")
        .post_logout_redirect_uri("https://app.example/logout/callback")
        .state_key(StateKey::from_base64(&std::env::var("STATE_KEY")?)?)
        .expire_cookie(SessionCookie::new("id"))
        .end_session_hook(FlushSession::new().session_index(index.clone()))
        .provider_logout(ProviderLogout::new(index.clone(), DeleteFromStore::new(store.clone())))
        .backchannel_logout("/logout/backchannel") // register as backchannel_logout_uri
        .build()?;

    let app = Router::new()
        .route("/", get(|| async { Html("<p>Home</p>") }))
        .layer(logout)
        .layer(SessionManagerLayer::new(store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}

/// Called by the app's sign-in once the ID token is validated and the
/// session saved: the provider's logouts can then find this session.
pub async fn signed_in(
    index: &RedisIndex<Pool>,
    session: &Session,
    iss: &str,
    sid: Option<&str>,
    sub: &str,
) -> Result<(), tower_oidc_logout::provider_logout::index::RecordSignInError> {
    record_sign_in(index, session, iss, sid, sub).await
}
