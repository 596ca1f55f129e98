//! Setup 1, plain sign-out: `cargo run -p tower-oidc-logout --example plain`.
//!
//! The layer in front of an axum app: `POST /logout` ends the local session
//! and redirects to the provider; `GET /logout/callback` reaches the app only
//! with a valid state. `PROVIDER_END_SESSION_URL` names a real provider
//! (default: a Next Identity tenant that does not exist, for show).

use axum::{Extension, Router, response::Html, routing::get};
use tower_oidc_logout::{LoggedOut, OidcLogoutLayer, SessionCookie, StateKey};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let end_session = std::env::var("PROVIDER_END_SESSION_URL")
        .unwrap_or_else(|_| "https://id.example.nextreason.com/endsession".to_owned());
    let logout = OidcLogoutLayer::builder()
        .end_session_endpoint(end_session)
        .client_id("my-client-id")
        .post_logout_redirect_uri("http://127.0.0.1:3000/logout/callback")
        .state_key(StateKey::generate()?) // one key shared by every instance, in production
        .expire_cookie(SessionCookie::new("session"))
        .build()?;

    let app = Router::new()
        .route("/", get(home))
        .route("/logout/callback", get(signed_out))
        .layer(logout);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("http://127.0.0.1:3000");
    axum::serve(listener, app).await?;
    Ok(())
}

async fn home() -> Html<&'static str> {
    Html(r#"<form method="post" action="/logout"><button>Sign out</button></form>"#)
}

/// Reached only once the provider sent the browser back with a valid state.
async fn signed_out(Extension(_done): Extension<LoggedOut>) -> Html<&'static str> {
    Html("<p>Signed out.</p>")
}
