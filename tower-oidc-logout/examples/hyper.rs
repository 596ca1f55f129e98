//! The logout layer on a plain hyper 1 server, no framework: `cargo run -p tower-oidc-logout --example hyper`.
//!
//! `service_fn` is the app; the layer answers `POST /logout` and checks
//! `GET /logout/callback` before the app sees it. Set
//! `PROVIDER_END_SESSION_URL` to a real provider (default: a Next Identity
//! tenant that does not exist, so the redirect is only for show).

use std::convert::Infallible;

use bytes::Bytes;
use http::{
    HeaderValue, Request, Response,
    header::{CONTENT_TYPE, X_CONTENT_TYPE_OPTIONS},
};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{rt::TokioIo, service::TowerToHyperService};
use tokio::net::TcpListener;
use tower::{Layer, service_fn};
use tower_oidc_logout::{LoggedOut, OidcLogoutLayer, SessionCookie, StateKey};

const ADDR: &str = "127.0.0.1:3000";

async fn app(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Only the callback, validated by the layer, carries `LoggedOut`. Its values
    // come from the request: answered as plain text, they need no escaping.
    let (body, content_type) = match request.extensions().get::<LoggedOut>() {
        Some(done) => (
            format!(
                "Signed out. The provider said logout={}. Continue at {}\n",
                done.logout().unwrap_or("(none)"),
                done.return_target().map_or("/", |t| t.as_str())
            ),
            "text/plain; charset=utf-8",
        ),
        None => (
            "<h1>hyper app</h1><form method=\"post\" action=\"/logout\">\
             <button>Sign out</button></form>"
                .to_owned(),
            "text/html; charset=utf-8",
        ),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let end_session = std::env::var("PROVIDER_END_SESSION_URL")
        .unwrap_or_else(|_| "https://id.example.nextreason.com/endsession".to_owned());
    let logout = OidcLogoutLayer::builder()
        .end_session_endpoint(end_session)
        .client_id("hyper-example")
        .post_logout_redirect_uri(format!("http://{ADDR}/logout/callback"))
        .state_key(StateKey::generate()?)
        .expire_cookie(SessionCookie::new("session"))
        .build()?;
    let service = logout.layer(service_fn(app));

    let listener = TcpListener::bind(ADDR).await?;
    println!("hyper example on http://{ADDR}/ (Ctrl-C to stop)");
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let service = TowerToHyperService::new(service.clone());
                tokio::spawn(async move {
                    if let Err(error) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                        eprintln!("connection error: {error}");
                    }
                });
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
