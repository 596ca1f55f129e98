//! The logout layer on a tonic server (with the gRPC health service): `cargo run -p tower-oidc-logout --example tonic`.
//!
//! gRPC calls pass through the layer untouched; browsers sharing the host get
//! `POST /logout` and a validated `GET /logout/callback`, which redirects to the
//! return target (tonic's router only knows gRPC services). Set
//! `PROVIDER_END_SESSION_URL` to a real provider (default: a placeholder).

use std::convert::Infallible;

use http::{Request, Response};
use tonic::{body::Body, service::Routes, transport::Server};
use tonic_health::ServingStatus;
use tower::{ServiceExt, layer::layer_fn, service_fn};
use tower_oidc_logout::{LoggedOut, OidcLogoutLayer, StateKey, body::WrapBodyLayer};

const ADDR: &str = "127.0.0.1:50051";

/// Answers the callback the logout layer validated; everything else goes to tonic.
async fn signed_out_page(
    routes: Routes,
    request: Request<Body>,
) -> Result<Response<Body>, Infallible> {
    if let Some(done) = request.extensions().get::<LoggedOut>() {
        // A `ReturnTarget` is a checked path on this site: safe as a `Location`.
        let target = done.return_target().map_or("/", |t| t.as_str());
        let mut response = Response::new(Body::empty());
        *response.status_mut() = http::StatusCode::SEE_OTHER;
        if let Ok(location) = http::HeaderValue::try_from(target) {
            response.headers_mut().insert(http::header::LOCATION, location);
        }
        return Ok(response);
    }
    routes.oneshot(request).await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let end_session = std::env::var("PROVIDER_END_SESSION_URL")
        .unwrap_or_else(|_| "https://id.example.nextreason.com/endsession".to_owned());
    let logout = OidcLogoutLayer::builder()
        .end_session_endpoint(end_session)
        .client_id("tonic-example")
        .post_logout_redirect_uri(format!("http://{ADDR}/logout/callback"))
        .state_key(StateKey::generate()?)
        .build()?;

    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_service_status("", ServingStatus::Serving).await;

    println!("tonic example on http://{ADDR} (gRPC health + POST /logout; Ctrl-C to stop)");
    Server::builder()
        // Browsers speak HTTP/1.1 to a plain-http server.
        .accept_http1(true)
        .layer(logout)
        // tonic's body is not `From<Bytes>`: the logout layer answers in a wrapper.
        .layer(WrapBodyLayer)
        .layer(layer_fn(|routes: Routes| {
            service_fn(move |request| signed_out_page(routes.clone(), request))
        }))
        .add_service(health)
        .serve_with_shutdown(ADDR.parse()?, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
