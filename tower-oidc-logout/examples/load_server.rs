//! The server `scripts/load.sh` measures: one core, one layer, a hello-world route.
//!
//! `cargo run --release --example load_server -- <bare addr> <layered addr> <no-op addr>`
//!
//! Serves the same app three times from one thread: without the layer on the
//! first address, behind [`OidcLogoutLayer`] on the second, and behind a layer
//! that does nothing on the third (what `Router::layer` itself costs). All
//! answer `GET /hello` with a short text; the layered one also answers
//! `POST /logout` and `GET /logout/callback`.

use std::{net::SocketAddr, process::ExitCode, time::Duration};

use axum::{Extension, Router, routing::get};
use tower_oidc_logout::{LoggedOut, OidcLogoutLayer, SessionCookie, StateKey};

fn main() -> ExitCode {
    let addrs: Vec<_> = std::env::args().skip(1).map(|arg| arg.parse::<SocketAddr>()).collect();
    let [Ok(bare), Ok(layered), Ok(noop)] = addrs[..] else {
        eprintln!(
            "usage: load_server <bare addr> <layered addr> <no-op addr>, \
             e.g. 127.0.0.1:3190 127.0.0.1:3191 127.0.0.1:3192"
        );
        return ExitCode::FAILURE;
    };
    let app = Router::new().route("/hello", get(|| async { "hello" })).route(
        "/logout/callback",
        get(|Extension(_): Extension<LoggedOut>| async { "signed out" }),
    );
    let layer = match layer(layered) {
        Ok(layer) => layer,
        Err(error) => {
            eprintln!("load_server: {error}");
            return ExitCode::FAILURE;
        }
    };
    // One thread for all three servers, so they share a core and an allocator
    // and differ only by the layer; the load generator gets the other core.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let Ok(runtime) = runtime else {
        eprintln!("load_server: could not start the runtime");
        return ExitCode::FAILURE;
    };
    let served: Result<(), std::io::Error> = runtime.block_on(async move {
        let bare_listener = tokio::net::TcpListener::bind(bare).await?;
        let layered_listener = tokio::net::TcpListener::bind(layered).await?;
        let noop_listener = tokio::net::TcpListener::bind(noop).await?;
        let bare = axum::serve(bare_listener, app.clone());
        let noop =
            axum::serve(noop_listener, app.clone().layer(tower::layer::util::Identity::new()));
        let layered = axum::serve(layered_listener, app.layer(layer));
        tokio::try_join!(bare.into_future(), layered.into_future(), noop.into_future()).map(|_| ())
    });
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("load_server: {error}");
            ExitCode::FAILURE
        }
    }
}

fn layer(addr: SocketAddr) -> Result<OidcLogoutLayer, tower_oidc_logout::ConfigError> {
    OidcLogoutLayer::builder()
        .next_identity("id.eu.nextreason.com")
        .client_id("load-test-client")
        .post_logout_redirect_uri(format!("http://{addr}/logout/callback"))
        .state_key(StateKey::from_bytes(b"load test key: 32 bytes or more!")?)
        // Long enough for one state to be replayed for the whole callback run.
        .state_ttl(Duration::from_secs(3600))
        .expire_cookie(SessionCookie::new("session"))
        .build()
}
