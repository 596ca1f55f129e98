//! Setup 2, sign-out with tower-sessions 0.14 and sessions in Redis:
//! `cargo run -p tower-oidc-logout --example tower_sessions_redis`
//! (`REDIS_URL`, default `redis://127.0.0.1:6379/0`).
//!
//! `FlushSession` deletes the session from Redis at sign-out, and sends the
//! ID token kept in it as `id_token_hint`; the session manager sits outside
//! the logout layer, so it sees the flushed session and expires its cookie.

use axum::{Router, response::Html, routing::get};
use tower_oidc_logout::{
    OidcLogoutLayer, SessionCookie, StateKey, discovery::ProviderMetadata,
    tower_sessions::FlushSession,
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

    let logout = OidcLogoutLayer::builder()
        .provider(&provider)
        .client_id("my-client-id")
        .post_logout_redirect_uri("http://127.0.0.1:3000/logout/callback")
        .state_key(StateKey::from_base64(&std::env::var("STATE_KEY")?)?)
        .expire_cookie(SessionCookie::new("id")) // the session manager's cookie
        .end_session_hook(FlushSession::new().id_token_key("id_token"))
        .build()?;
    let sessions = SessionManagerLayer::new(RedisStore::new(pool));

    let app = Router::new()
        .route("/", get(home))
        .route("/logout/callback", get(|| async { Html("<p>Signed out.</p>") }))
        .layer(logout)
        .layer(sessions); // outside the logout layer: added after it
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    axum::serve(listener, app).await?;
    Ok(())
}

async fn home(session: Session) -> Html<String> {
    let user: Option<String> = session.get("user").await.ok().flatten();
    let form = r#"<form method="post" action="/logout"><button>Sign out</button></form>"#;
    Html(format!("<p>User: {}</p>{form}", user.as_deref().unwrap_or("nobody")))
}
