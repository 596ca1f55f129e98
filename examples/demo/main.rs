//! The whole sign-out flow in a browser: `cargo run --example demo`.
//!
//! An axum app (the relying party) with the logout layer and a tower-sessions
//! store, and, unless `PROVIDER_END_SESSION_URL` is set, an embedded mock
//! Next Identity provider. Settings (all optional):
//!
//! - `RP_URL`: the app's public base URL and where it listens (default `http://127.0.0.1:3000`)
//! - `MOCK_PROVIDER_URL`: the embedded mock's base URL (default `http://localhost:3001`,
//!   another host name, so the return from the provider is cross-site as in production)
//! - `CLIENT_ID`: the client ID (default `demo-client`)
//! - `PROVIDER_END_SESSION_URL`: an external provider's end-session endpoint; the mock is then not started
//! - `STATE_KEY`: base64 key sealing the logout state (default: generated at start)
//! - `LOGOUT_STATE_TTL_SECS`: how long a sign-out may take at the provider (default 300)
//! - `SESSION_STORE`: where server-side sessions live: `memory` (default) or a Redis URL
//!   `redis://host:port/db`; two demos on other `RP_URL` ports with the same `STATE_KEY` and
//!   Redis serve one user (signed in through one, signed out through the other)

// Loaded by path, as the tests load it, so its own `#[path]` resolves the same.
#[path = "app.rs"]
mod app;

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match app::Settings::from_lookup(|name| std::env::var(name).ok()) {
        Ok(settings) => settings,
        Err(error) => return stop(&error),
    };
    let demo = match app::start(settings.clone(), None, None).await {
        Ok(demo) => demo,
        Err(error) => return stop(&error),
    };

    println!("tower-oidc-logout demo");
    println!("  app (relying party):  {}   (listening on {})", demo.rp_url, demo.rp_addr);
    match &demo.mock {
        Some((_, url)) => {
            println!("  mock Next Identity:   {url}   (hosted-session page: {url}/authorize)");
            println!(
                "  client `{}` may return to {}",
                settings.client_id,
                settings.post_logout_redirect_uri()
            );
        }
        None => {
            if let app::Provider::External { end_session_url } = &settings.provider {
                println!("  external provider:    {end_session_url}   (embedded mock not started)");
                println!(
                    "  register {} as a post-logout redirect URI of client `{}` there",
                    settings.post_logout_redirect_uri(),
                    settings.client_id
                );
            }
        }
    }
    match &settings.session_store {
        app::SessionBackend::Memory => {
            println!("  sessions: in this process (SESSION_STORE=memory)")
        }
        app::SessionBackend::Redis { url } => println!("  sessions: in Redis at {url}"),
    }
    if demo.key_generated {
        println!(
            "  state key: generated at start (sign-outs in flight fail after a restart; set STATE_KEY to keep one)"
        );
    } else {
        println!("  state key: from STATE_KEY");
    }
    println!();
    println!("Open {}/ in a browser:", demo.rp_url);
    println!(
        "  1. click \"Sign in\": signs in here and at the provider; the home page shows all three sessions;"
    );
    println!(
        "  2. click \"Sign out\": the app ends its sessions, the provider ends its own and sends you back;"
    );
    println!(
        "  3. the callback page shows what was validated; the home page shows no session left."
    );
    println!("Press Ctrl-C to stop.");

    tokio::select! {
        _ = tokio::signal::ctrl_c() => ExitCode::SUCCESS,
        result = demo.server => {
            eprintln!("the app stopped: {result:?}");
            ExitCode::FAILURE
        }
    }
}

fn stop(error: &app::SettingsError) -> ExitCode {
    eprintln!("demo not started, bad setting {error}");
    ExitCode::from(2)
}
