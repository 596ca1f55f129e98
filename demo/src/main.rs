//! Sign-in and sign-out in a browser: `cargo run --bin demo`.
//!
//! An axum app (the relying party) that signs in with the authorization code
//! flow and PKCE (the `openidconnect` crate), with the logout layer and a
//! tower-sessions store, and, unless `PROVIDER_ISSUER` or
//! `PROVIDER_END_SESSION_URL` is set, an embedded mock Next Identity provider.
//! Settings (all optional; README.md has the table):
//!
//! - `RP_URL`: the app's public base URL and where it listens (default `http://127.0.0.1:3000`)
//! - `MOCK_PROVIDER_URL`: the embedded mock's base URL and issuer (default
//!   `http://localhost:3001`, another host name, so the return from the provider is
//!   cross-site as in production)
//! - `CLIENT_ID`: the client ID (default `demo-client`)
//! - `CLIENT_SECRET`: the client's secret at the token endpoint (default: none, a public
//!   client with PKCE)
//! - `PROVIDER_ISSUER`: an external provider's issuer, configured by discovery for sign-in
//!   and sign-out; the mock is then not started
//! - `PROVIDER_END_SESSION_URL`: an external provider's end-session endpoint, for sign-out
//!   only (`/login` then signs in locally at once); the mock is then not started
//! - `STATE_KEY`: base64 key sealing the logout state (default: generated at start)
//! - `LOGOUT_STATE_TTL_SECS`: how long a sign-out may take at the provider (default 300)
//! - `SESSION_STORE`: where server-side sessions live: `memory` (default) or a Redis URL
//!   `redis://host:port/db`; two demos on other `RP_URL` ports with the same `STATE_KEY` and
//!   Redis serve one user (signed in through one, signed out through the other); the index of
//!   sign-ins for Back-Channel Logout lives beside the sessions (in memory, or in the same Redis)
//!
//! With sign-in at a provider (the mock or `PROVIDER_ISSUER`), the app also serves
//! Back-Channel Logout at `RP_URL/logout/backchannel` and Front-Channel Logout at
//! `RP_URL/logout/frontchannel`: sign out at the provider (the mock's "Sign out everywhere")
//! and the app's session is gone.

use tower_oidc_logout_demo as app;

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
    match (&demo.mock, &settings.provider) {
        (Some((_, url)), _) => {
            println!("  mock Next Identity:   {url}   (hosted-session page: {url}/authorize)");
        }
        (None, app::Provider::Issuer { issuer }) => {
            println!(
                "  external provider:    {issuer}   (by discovery; embedded mock not started)"
            );
        }
        (None, app::Provider::External { end_session_url }) => {
            println!(
                "  external provider:    {end_session_url}   (sign-out only; embedded mock not started)"
            );
        }
        (None, app::Provider::Mock { .. }) => {}
    }
    if let Some(issuer) = &demo.issuer {
        println!("  sign-in: authorization code flow with PKCE, issuer {issuer}");
    }
    let confidential =
        if settings.client_secret.is_some() { "confidential" } else { "public, PKCE" };
    let where_ =
        if demo.mock.is_some() { "registered at the mock" } else { "register at the provider" };
    println!("  client `{}` ({confidential}); {where_}:", settings.client_id);
    if !matches!(settings.provider, app::Provider::External { .. }) {
        println!("    redirect URI              {}", settings.redirect_uri());
    }
    println!("    post-logout redirect URI  {}", settings.post_logout_redirect_uri());
    if demo.issuer.is_some() {
        println!("    back-channel logout URI   {}", settings.backchannel_logout_uri());
        let front =
            if demo.mock.is_some() { "   (served; not registered at the mock)" } else { "" };
        println!("    front-channel logout URI  {}{front}", settings.frontchannel_logout_uri());
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
    if matches!(settings.provider, app::Provider::External { .. }) {
        println!(
            "  1. click \"Sign in\": signs in here only (PROVIDER_END_SESSION_URL: sign-out only);"
        );
    } else {
        println!(
            "  1. click \"Sign in\": the provider's sign-in form, then back here with a code; the app checks \
             the ID token and shows you, your `sid` and all three sessions;"
        );
    }
    let hint = if demo.issuer.is_some() { " sends the ID token as id_token_hint," } else { "" };
    println!(
        "  2. click \"Sign out\": the app ends its sessions,{hint} the provider ends its own session \
         and sends you back;"
    );
    println!(
        "  3. the callback page shows what was validated; the home page shows no session left."
    );
    if let Some((_, url)) = &demo.mock {
        println!(
            "Signed out elsewhere (Back-Channel Logout): sign in, open {url}/authorize in another tab, \
             click \"Sign out everywhere\", reload the app: signed out."
        );
    } else if demo.issuer.is_some() {
        println!(
            "Signed out elsewhere (Back-Channel Logout): sign in, sign out at the provider in another \
             tab, reload the app: signed out."
        );
    }
    println!("Press Ctrl-C to stop.");
    println!();
    print!("{}", app::preflight_checklist(&demo).await);

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
