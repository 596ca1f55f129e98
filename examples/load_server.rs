//! The server `scripts/load.sh` measures: one core, one layer, a hello-world route.
//!
//! `cargo run --release --example load_server -- <addr> <layered|bare>`
//!
//! `layered` serves the app behind [`OidcLogoutLayer`]; `bare` serves the same
//! app without it. Both answer `GET /hello` with a short text; the layered one
//! also answers `POST /logout` and `GET /logout/callback`.

use std::{net::SocketAddr, process::ExitCode, time::Duration};

use axum::{Extension, Router, routing::get};
use tower_oidc_logout::{LoggedOut, OidcLogoutLayer, SessionCookie, StateKey};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(mode)) = (args.next(), args.next()) else {
        eprintln!("usage: load_server <addr> <layered|bare>");
        return ExitCode::FAILURE;
    };
    let Ok(addr) = addr.parse::<SocketAddr>() else {
        eprintln!("load_server: `{addr}` is not a socket address like 127.0.0.1:3100");
        return ExitCode::FAILURE;
    };
    let app = Router::new().route("/hello", get(|| async { "hello" })).route(
        "/logout/callback",
        get(|Extension(_): Extension<LoggedOut>| async { "signed out" }),
    );
    let app = match mode.as_str() {
        "bare" => app,
        "layered" => match layer(addr) {
            Ok(layer) => app.layer(layer),
            Err(error) => {
                eprintln!("load_server: {error}");
                return ExitCode::FAILURE;
            }
        },
        other => {
            eprintln!("load_server: mode `{other}` is neither `layered` nor `bare`");
            return ExitCode::FAILURE;
        }
    };
    // One core for the server: the load generator gets the other.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
    let Ok(runtime) = runtime else {
        eprintln!("load_server: could not start the runtime");
        return ExitCode::FAILURE;
    };
    let served: Result<(), std::io::Error> = runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        axum::serve(listener, app).await
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
