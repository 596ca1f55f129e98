//! Setup 4, sign-out that also revokes the tokens (RFC 7009), with a
//! start-up preflight: `cargo run -p tower-oidc-logout --example revocation
//! --features revocation,tower-sessions-0-14` (`CLIENT_SECRET`, `STATE_KEY`).
//!
//! The app's sign-in (not shown) keeps the refresh token in the session under
//! `refresh_token`. At sign-out `FlushSession` revokes it at the provider's
//! `revocation_endpoint` while the store deletes the session, then the layer
//! sends the browser to the provider. The preflight says at start-up whether
//! the provider accepts this client, its post-logout URI and revocation.

use axum::{Router, response::Html, routing::get};
use tower_oidc_logout::{
    OidcLogoutLayer, SessionCookie, StateKey,
    discovery::ProviderMetadata,
    revocation::{ClientAuth, TokenRevoker},
    tower_sessions::FlushSession,
};
use tower_sessions_0_14::{MemoryStore, SessionManagerLayer};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let provider = ProviderMetadata::discover("https://id.eu.nextreason.com").await?;
    let client = ClientAuth::secret_basic("my-client-id", std::env::var("CLIENT_SECRET")?);
    let revoker = TokenRevoker::from_metadata(&provider, client); // .strict() to fail sign-outs instead

    let logout = OidcLogoutLayer::builder()
        .provider(&provider)
        .client_id("my-client-id")
        .post_logout_redirect_uri("http://127.0.0.1:3000/logout/callback")
        .state_key(StateKey::from_base64(&std::env::var("STATE_KEY")?)?)
        .expire_cookie(SessionCookie::new("id"))
        .end_session_hook(
            FlushSession::new()
                .id_token_key("id_token")
                .revoke_refresh_token("refresh_token", revoker),
        )
        .build()?;
    let report = logout.preflight().revocation(true).run().await;
    print!("{report}");
    if report.has_failures() {
        return Err("the provider refuses part of this app's sign-out".into());
    }

    let app = Router::new()
        .route("/logout/callback", get(|| async { Html("<p>Signed out.</p>") }))
        .layer(logout)
        .layer(SessionManagerLayer::new(MemoryStore::default()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}
