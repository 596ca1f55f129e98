//! The tower-oidc-logout demo: an axum app (the relying party) that signs in
//! at an OpenID provider and signs out of it through the logout layer.
//!
//! It shows the three ways a session ends: the user's sign-out (`POST /logout`
//! ends the local and server-side sessions, sends the browser to the
//! provider's end-session endpoint, and the layer lets the callback through
//! only with the state it sealed), and the provider's Back- and Front-Channel
//! Logout (a sign-out elsewhere deletes this app's sessions from the store).
//!
//! Where to look first: this file, the wiring. [`start`] builds the
//! [`OidcLogoutLayer`] (the end-session endpoint, the sealed state, the
//! cookies to expire, [`FlushSession`] to end the server-side session,
//! [`ProviderLogout`] for the provider's logouts), puts the tower-sessions
//! layer outside it, and serves the routes; the same code runs on either store
//! (`MemoryStore`, or Redis for many instances). The crate appears in two
//! other places: `login.rs` records each sign-in in the session index
//! (`record_sign_in`), which is how a provider's logout finds the sessions to
//! end; `pages.rs` shows what the layer hands the callback page
//! ([`LoggedOut`](tower_oidc_logout::LoggedOut)) and its refusals.
//!
//! The rest is the demo's own: `settings.rs` (the environment variables),
//! `pages.rs` (the HTML, and what the layer hands the callback page),
//! `signin.rs` (the authorization code flow with PKCE, by `openidconnect`),
//! `mock.rs` (the embedded mock provider). `main.rs` is the binary `demo`
//! (`cargo run --bin demo`); the tests under `tests/` start the same app.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use axum::{Router, http::Response, middleware::map_response, routing::get};
use tokio::{net::TcpListener, task::JoinHandle};
use tower_oidc_logout::{
    ConfigError, OidcLogoutLayer, SessionCookie, StateKey,
    discovery::{Discovery, Preflight, ProviderMetadata},
    provider_logout::{
        ProviderLogout,
        index::{MemoryIndex, RedisIndex, SessionIndex},
    },
    revocation::{ClientAuth, TokenRevoker},
    tower_sessions::{FlushSession, v0_14::DeleteFromStore},
};
use tower_oidc_logout_mock::MockProvider;
use tower_sessions_0_14::{MemoryStore, SessionManagerLayer, SessionStore, cookie::SameSite};
use tower_sessions_redis_store::RedisStore;

mod login;
mod mock;
mod pages;
mod settings;
mod signin;

pub use login::{DEMO_USER, ID_TOKEN_KEY, LOCAL_COOKIE, REFRESH_TOKEN_KEY, SID_KEY, USER_KEY};
pub use settings::{
    BACKCHANNEL_PATH, CALLBACK_PATH, FRONTCHANNEL_PATH, Provider, SessionBackend, Settings,
    SettingsError,
};
pub use signin::LOGIN_CALLBACK_PATH;

use settings::bad;
use signin::SignIn;

/// The tower-sessions cookie: the ID of the server-side session.
pub const SESSION_COOKIE: &str = "demo_session";

/// The running demo.
#[derive(Debug)]
pub struct Demo {
    /// The app's public base URL (`RP_URL`, without trailing slash).
    pub rp_url: String,
    /// Where the app listens.
    pub rp_addr: SocketAddr,
    /// The embedded mock provider and its public base URL, if it runs.
    pub mock: Option<(MockProvider, String)>,
    /// The issuer signed in with (the mock's or `PROVIDER_ISSUER`), if the demo signs in.
    pub issuer: Option<String>,
    /// The server-side session store the app uses (for a test to look in).
    pub store: Arc<dyn SessionStore>,
    /// Whether the state key was generated at start (no `STATE_KEY`).
    pub key_generated: bool,
    /// The layer's start-up check of the provider ([`preflight_checklist`] runs it).
    pub preflight: Preflight,
    /// The app's server; it ends only on an error.
    pub server: JoinHandle<std::io::Result<()>>,
}

/// Starts the app (and the mock provider, unless an external one is set).
///
/// Listeners not given are bound from `RP_URL` and `MOCK_PROVIDER_URL`. A
/// provider that cannot be discovered, a Redis that does not answer or a
/// configuration the layer refuses stops it, naming the setting.
pub async fn start(
    settings: Settings,
    rp_listener: Option<TcpListener>,
    mock_listener: Option<TcpListener>,
) -> Result<Demo, SettingsError> {
    let (mock, issuer) = match &settings.provider {
        Provider::Mock { url } => {
            let mock = mock::start(&settings, url, mock_listener).await?;
            (Some((mock, url.clone())), Some(("MOCK_PROVIDER_URL", url)))
        }
        Provider::Issuer { issuer } => (None, Some(("PROVIDER_ISSUER", issuer))),
        Provider::External { .. } => (None, None),
    };
    let provider = match issuer {
        Some((name, issuer)) => Some(discover(&settings, name, issuer).await?),
        None => None,
    };
    let key_generated = settings.state_key.is_none();
    let state_key = match settings.state_key.clone() {
        Some(key) => key,
        None => StateKey::generate().map_err(|e| bad("STATE_KEY", e.to_string()))?,
    };
    // The store, and the index of sign-ins beside it: in this process, or both in one Redis.
    let (app, store, preflight) = match &settings.session_store {
        SessionBackend::Memory => {
            let (store, index) = (MemoryStore::default(), MemoryIndex::new());
            app(&settings, state_key, provider, mock.as_ref(), store, index)?
        }
        SessionBackend::Redis { url } => {
            let pool = settings::redis_pool(url).await?;
            let (store, index) = (RedisStore::new(pool.clone()), RedisIndex::new(pool));
            app(&settings, state_key, provider, mock.as_ref(), store, index)?
        }
    };

    let rp_listener = match rp_listener {
        Some(listener) => listener,
        None => settings::bind("RP_URL", &settings.rp_url).await?,
    };
    let rp_addr = rp_listener.local_addr().map_err(|e| bad("RP_URL", e.to_string()))?;
    let server = tokio::spawn(async move { axum::serve(rp_listener, app).await });
    let issuer = issuer.map(|(_, issuer)| issuer.clone());
    Ok(Demo {
        rp_url: settings.rp_url,
        rp_addr,
        mock,
        issuer,
        store,
        key_generated,
        preflight,
        server,
    })
}

/// Runs the layer's preflight (does the provider accept this app's
/// sign-out?) and returns the checklist `main` prints under its start-up
/// text: a wrong `CLIENT_ID` or an `RP_URL` the provider does not know shows
/// here, before anyone opens a browser. At most two requests of 3 s each.
pub async fn preflight_checklist(demo: &Demo) -> String {
    let fetcher =
        Discovery::new().connect_timeout(Duration::from_secs(2)).timeout(Duration::from_secs(3));
    let report = demo.preflight.clone().fetcher(fetcher).run().await;
    let verdict = if report.is_ok() {
        "the provider accepts this app's sign-out."
    } else if report.has_failures() {
        "the provider will refuse part of this app's sign-out: fix the [FAIL] lines above."
    } else {
        "some checks could not tell ([?] lines above): check them by hand."
    };
    format!("Preflight (does the provider accept this app's sign-out?):\n{report}=> {verdict}\n")
}

/// A provider the demo signs in at, discovered once at start.
struct Discovered {
    /// The setting that names it (`MOCK_PROVIDER_URL` or `PROVIDER_ISSUER`).
    setting: &'static str,
    /// Its issuer, as the setting gives it: the `iss` its sign-ins are recorded under.
    issuer: String,
    /// The layer's end-session endpoint and the logout tokens' keys.
    metadata: ProviderMetadata,
    /// The sign-in's endpoints.
    sign_in: SignIn,
}

async fn discover(
    settings: &Settings,
    setting: &'static str,
    issuer: &str,
) -> Result<Discovered, SettingsError> {
    let metadata = ProviderMetadata::discover(issuer)
        .await
        .map_err(|e| bad(setting, format!("discovery of `{issuer}` failed: {e}")))?;
    let sign_in = SignIn::discover(
        issuer,
        &settings.client_id,
        settings.client_secret.as_deref(),
        &settings.redirect_uri(),
    )
    .await
    .map_err(|e| bad(setting, e))?;
    Ok(Discovered { setting, issuer: issuer.to_owned(), metadata, sign_in })
}

/// The sign-out's storage hook: ends the server-side session, sends its ID
/// token as `id_token_hint`, drops the sign-in from the index and, at a
/// provider that publishes `revocation_endpoint`, revokes the refresh token
/// (beside the store's delete; a failure is logged and the sign-out goes on).
fn sign_out_hook(
    settings: &Settings,
    provider: Option<&Discovered>,
    index: &Arc<dyn SessionIndex>,
) -> FlushSession {
    let hook = FlushSession::new().id_token_key(ID_TOKEN_KEY).session_index(index.clone());
    let Some(provider) = provider else { return hook };
    let client = match &settings.client_secret {
        Some(secret) => ClientAuth::secret_basic(&settings.client_id, secret),
        None => ClientAuth::public(&settings.client_id),
    };
    let revoker = TokenRevoker::from_metadata(&provider.metadata, client);
    hook.revoke_refresh_token(REFRESH_TOKEN_KEY, revoker)
}

/// What the handlers need.
#[derive(Clone)]
struct AppState {
    rp_url: String,
    client_id: String,
    mock: Option<(MockProvider, String)>,
    /// `None`: `PROVIDER_END_SESSION_URL` only, `/login` signs in locally.
    sign_in: Option<SignIn>,
    /// Where each sign-in at the provider is recorded (issuer, index), for
    /// Back- and Front-Channel Logout; `None` without sign-in at a provider.
    index: Option<(String, Arc<dyn SessionIndex>)>,
}

/// The app on session store `S`, with `index` beside it: one function for every store type.
/// Also the layer's preflight, for `main` to run.
fn app<S: SessionStore + Clone>(
    settings: &Settings,
    state_key: StateKey,
    provider: Option<Discovered>,
    mock: Option<&(MockProvider, String)>,
    store: S,
    index: impl SessionIndex + 'static,
) -> Result<(Router, Arc<dyn SessionStore>, Preflight), SettingsError> {
    let index: Arc<dyn SessionIndex> = Arc::new(index);
    let mut logout = OidcLogoutLayer::builder()
        .client_id(&settings.client_id)
        .post_logout_redirect_uri(settings.post_logout_redirect_uri())
        .state_key(state_key)
        .expire_cookie(SessionCookie::new(LOCAL_COOKIE))
        .expire_cookie(SessionCookie::new(SESSION_COOKIE))
        // Ends the server-side session, sends its ID token as `id_token_hint`,
        // and drops the sign-in from the index.
        .end_session_hook(sign_out_hook(settings, provider.as_ref(), &index))
        .refusal_page(|rejection, _request| Response::new(pages::refusal_page(rejection)));
    if let Provider::External { end_session_url } = &settings.provider {
        logout = logout.end_session_endpoint(end_session_url);
    }
    if let Some(ttl) = settings.state_ttl {
        logout = logout.state_ttl(ttl);
    }
    if let Some(provider) = &provider {
        logout = logout.provider(&provider.metadata);
        // Back- and Front-Channel Logout: the provider's logout token (checked
        // against its keys and this client) names sessions in the index,
        // `DeleteFromStore` deletes them from the store.
        logout = logout
            .provider_logout(ProviderLogout::new(
                index.clone(),
                DeleteFromStore::new(store.clone()),
            ))
            .backchannel_logout(BACKCHANNEL_PATH)
            .frontchannel_logout(FRONTCHANNEL_PATH);
    }
    let logout = logout.build().map_err(|e| match (&e, &provider) {
        (ConfigError::LogoutTokenValidator(_), Some(provider)) => {
            bad(provider.setting, e.to_string())
        }
        _ => settings::layer_refused(&e),
    })?;
    let preflight = logout.preflight().revocation(provider.is_some());

    let state = AppState {
        rp_url: settings.rp_url.clone(),
        client_id: settings.client_id.clone(),
        mock: mock.cloned(),
        index: provider.as_ref().map(|p| (p.issuer.clone(), index)),
        sign_in: provider.map(|p| p.sign_in),
    };
    let app = Router::new()
        .route("/", get(pages::home))
        .route("/login", get(login::login))
        .route(LOGIN_CALLBACK_PATH, get(login::login_callback))
        .route(CALLBACK_PATH, get(pages::signed_out))
        .route("/goodbye", get(pages::goodbye))
        .route("/help", get(pages::help))
        .with_state(state)
        .layer(logout)
        .layer(map_response(pages::end_session_failed_page))
        // Outside the logout layer, so that `FlushSession` finds the session.
        .layer(
            SessionManagerLayer::new(store.clone())
                .with_name(SESSION_COOKIE)
                .with_secure(settings.rp_url.starts_with("https:"))
                // Lax, not the default Strict: the browser comes back from the provider cross-site.
                .with_same_site(SameSite::Lax),
        );
    Ok((app, Arc::new(store), preflight))
}
