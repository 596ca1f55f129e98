//! The demo app: settings, the axum relying party, and the embedded mock provider.
//!
//! Shared by `main.rs` and the end-to-end tests under `tests/`.

use std::{fmt, net::SocketAddr, sync::Arc, time::Duration};

mod html;
mod signin;
use html::escape;
pub use signin::LOGIN_CALLBACK_PATH;
use signin::{CallbackQuery, PendingSignIn, SignIn};

use axum::{
    Extension, Router,
    body::Body,
    extract::{Query, State, rejection::QueryRejection},
    http::{
        HeaderMap, HeaderValue, Response, StatusCode,
        header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE},
    },
    middleware::map_response,
    routing::get,
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use tokio::{net::TcpListener, task::JoinHandle};
use tower_oidc_logout::{
    ConfigError, EndSessionFailed, LoggedOut, OidcLogoutLayer, Rejection, SessionCookie, StateKey,
    discovery::ProviderMetadata,
    provider_logout::{
        LogoutTokenValidator, ProviderLogout,
        index::{MemoryIndex, RedisIndex, SessionIndex},
    },
    tower_sessions::{
        FlushSession,
        v0_14::{DeleteFromStore, record_sign_in},
    },
};
use tower_oidc_logout_mock::{MockClient, MockProvider};
use tower_sessions_0_14::{
    MemoryStore, Session, SessionManagerLayer, SessionStore, cookie::SameSite,
};
use tower_sessions_redis_store::{
    RedisStore,
    fred::prelude::{Builder, ClientLike, Config as RedisConfig, Pool, ReconnectPolicy},
};
use url::Url;

/// The user the mock's sign-in form offers, and the one a local sign-in is for.
pub const DEMO_USER: &str = "demo-user";
/// Session keys: the user (`sub`), the provider's session (`sid`), the ID token
/// (sent as `id_token_hint` at sign-out), and a sign-in on its way.
pub const USER_KEY: &str = "user";
pub const SID_KEY: &str = "sid";
pub const ID_TOKEN_KEY: &str = "id_token";
const PENDING_SIGN_IN_KEY: &str = "pending_sign_in";
/// What the local cookie's value escapes of the user name (`sub` is any string).
const COOKIE_VALUE_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');
/// The local cookie the app sets at sign-in (besides the session cookie).
pub const LOCAL_COOKIE: &str = "demo_user";
/// The tower-sessions cookie: the ID of the server-side session.
pub const SESSION_COOKIE: &str = "demo_session";
/// The callback path, under `RP_URL`.
pub const CALLBACK_PATH: &str = "/logout/callback";
/// Back-Channel Logout: the provider POSTs a logout token here, under `RP_URL`.
pub const BACKCHANNEL_PATH: &str = "/logout/backchannel";
/// Front-Channel Logout: the provider's page loads this in an iframe, under `RP_URL`.
pub const FRONTCHANNEL_PATH: &str = "/logout/frontchannel";
/// Where the sign-out form offers to land afterwards.
const LANDINGS: [(&str, &str); 3] = [
    ("/goodbye", "a goodbye page"),
    ("/", "the home page"),
    ("/help?topic=sign-out", "the help page"),
];

/// The demo's settings, read from the environment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The app's public base URL (no trailing slash); also where it listens.
    pub rp_url: String,
    pub client_id: String,
    /// `None`: a public client (PKCE only).
    pub client_secret: Option<String>,
    pub provider: Provider,
    /// `None`: a key generated at start.
    pub state_key: Option<StateKey>,
    pub state_ttl: Option<Duration>,
    /// Where the server-side sessions live (`SESSION_STORE`).
    pub session_store: SessionBackend,
}

/// Where the server-side sessions live: two demo processes with the same
/// `STATE_KEY` and one Redis serve one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionBackend {
    /// In this process only (tower-sessions' `MemoryStore`).
    Memory,
    /// In Redis at this `redis://host:port/db` URL (tower-sessions-redis-store).
    Redis { url: String },
}

/// Which provider the app signs in with and out of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// The embedded mock, at this base URL (no trailing slash), which is also its issuer.
    Mock { url: String },
    /// An external provider, configured by discovery from its issuer.
    Issuer { issuer: String },
    /// An external provider's end-session endpoint only: sign-out, no sign-in.
    External { end_session_url: String },
}

/// A bad setting: which one, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub name: &'static str,
    pub reason: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.reason)
    }
}

impl std::error::Error for SettingsError {}

fn bad(name: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError { name, reason: reason.into() }
}

impl Settings {
    /// Reads the settings through `var` (the environment in `main`).
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, SettingsError> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let rp_url =
            base_url("RP_URL", var("RP_URL").as_deref().unwrap_or("http://127.0.0.1:3000"))?;
        let client_id = var("CLIENT_ID").unwrap_or_else(|| "demo-client".to_owned());
        if client_id.trim() != client_id {
            return Err(bad("CLIENT_ID", "it has leading or trailing spaces"));
        }
        let client_secret = var("CLIENT_SECRET");
        let provider = match (var("PROVIDER_ISSUER"), var("PROVIDER_END_SESSION_URL")) {
            (Some(_), Some(_)) => {
                return Err(bad(
                    "PROVIDER_END_SESSION_URL",
                    "set PROVIDER_ISSUER (sign-in and sign-out, by discovery) or \
                     PROVIDER_END_SESSION_URL (sign-out only), not both",
                ));
            }
            (Some(issuer), None) => {
                let url = Url::parse(&issuer).map_err(|e| {
                    bad("PROVIDER_ISSUER", format!("`{issuer}` is not an absolute URL ({e})"))
                })?;
                if !matches!(url.scheme(), "http" | "https")
                    || url.query().is_some()
                    || url.fragment().is_some()
                {
                    return Err(bad(
                        "PROVIDER_ISSUER",
                        format!("`{issuer}` must be an https URL without query or fragment"),
                    ));
                }
                Provider::Issuer { issuer }
            }
            (None, Some(end_session_url)) => {
                if client_secret.is_some() {
                    return Err(bad(
                        "CLIENT_SECRET",
                        "it is used for sign-in only, which PROVIDER_END_SESSION_URL does not do \
                         (set PROVIDER_ISSUER instead)",
                    ));
                }
                Url::parse(&end_session_url).map_err(|e| {
                    bad(
                        "PROVIDER_END_SESSION_URL",
                        format!("`{end_session_url}` is not an absolute URL ({e})"),
                    )
                })?;
                Provider::External { end_session_url }
            }
            (None, None) => {
                let url = base_url(
                    "MOCK_PROVIDER_URL",
                    var("MOCK_PROVIDER_URL").as_deref().unwrap_or("http://localhost:3001"),
                )?;
                if url.starts_with("https:") {
                    return Err(bad(
                        "MOCK_PROVIDER_URL",
                        "the embedded mock serves plain http only",
                    ));
                }
                if listen_addr(&url) == listen_addr(&rp_url) {
                    return Err(bad(
                        "MOCK_PROVIDER_URL",
                        "it must listen on another port than RP_URL",
                    ));
                }
                Provider::Mock { url }
            }
        };
        let state_key = var("STATE_KEY")
            .map(|key| StateKey::from_base64(&key).map_err(|e| bad("STATE_KEY", e.to_string())))
            .transpose()?;
        let state_ttl = var("LOGOUT_STATE_TTL_SECS")
            .map(|secs| {
                secs.trim().parse::<u64>().map(Duration::from_secs).map_err(|_| {
                    bad(
                        "LOGOUT_STATE_TTL_SECS",
                        format!("`{secs}` is not a whole number of seconds"),
                    )
                })
            })
            .transpose()?;
        let session_store = match var("SESSION_STORE") {
            None => SessionBackend::Memory,
            Some(value) if value.trim() == "memory" => SessionBackend::Memory,
            Some(url) if url.starts_with("redis://") => {
                RedisConfig::from_url(&url).map_err(|e| {
                    bad("SESSION_STORE", format!("`{url}` is not a usable Redis URL ({e})"))
                })?;
                SessionBackend::Redis { url }
            }
            Some(value) => {
                return Err(bad(
                    "SESSION_STORE",
                    format!(
                        "`{value}` is neither `memory` nor a Redis URL like redis://127.0.0.1:6379/0"
                    ),
                ));
            }
        };
        Ok(Self { rp_url, client_id, client_secret, provider, state_key, state_ttl, session_store })
    }

    /// The callback URL registered with the provider.
    pub fn post_logout_redirect_uri(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.rp_url)
    }

    /// The sign-in redirect URI registered with the provider.
    pub fn redirect_uri(&self) -> String {
        format!("{}{LOGIN_CALLBACK_PATH}", self.rp_url)
    }

    /// The Back-Channel Logout URI registered with the provider.
    pub fn backchannel_logout_uri(&self) -> String {
        format!("{}{BACKCHANNEL_PATH}", self.rp_url)
    }

    /// The Front-Channel Logout URI registered with the provider.
    pub fn frontchannel_logout_uri(&self) -> String {
        format!("{}{FRONTCHANNEL_PATH}", self.rp_url)
    }
}

/// An `http(s)://host[:port]` URL without path, query or fragment; returned without trailing slash.
fn base_url(name: &'static str, text: &str) -> Result<String, SettingsError> {
    let url = Url::parse(text)
        .map_err(|e| bad(name, format!("`{text}` is not an absolute URL ({e})")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(bad(
            name,
            format!("`{text}` must be an http(s) URL like http://127.0.0.1:3000"),
        ));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(
            name,
            format!("`{text}` must be a scheme, host and port only, with no path"),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Where to listen for a base URL: its host and port (`localhost` as 127.0.0.1).
fn listen_addr(base_url: &str) -> Option<(String, u16)> {
    let url = Url::parse(base_url).ok()?;
    let host = match url.host_str()? {
        "localhost" => "127.0.0.1",
        host => host.trim_start_matches('[').trim_end_matches(']'),
    };
    Some((host.to_owned(), url.port_or_known_default()?))
}

async fn bind(name: &'static str, base_url: &str) -> Result<TcpListener, SettingsError> {
    let (host, port) = listen_addr(base_url).ok_or_else(|| bad(name, "no host or port"))?;
    TcpListener::bind((host.as_str(), port))
        .await
        .map_err(|e| bad(name, format!("cannot listen on {host}:{port}: {e}")))
}

/// The running demo.
#[derive(Debug)]
pub struct Demo {
    pub rp_url: String,
    pub rp_addr: SocketAddr,
    /// The embedded mock provider and its public base URL, if it runs.
    pub mock: Option<(MockProvider, String)>,
    /// The issuer signed in with (the mock's or `PROVIDER_ISSUER`), if the demo signs in.
    pub issuer: Option<String>,
    /// The server-side session store (the full-flow test looks in it).
    #[allow(dead_code)]
    pub store: Arc<dyn SessionStore>,
    /// Whether the state key was generated at start.
    pub key_generated: bool,
    pub server: JoinHandle<std::io::Result<()>>,
}

/// What the pages need.
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

/// Starts the app (and the mock provider, unless an external one is set).
///
/// Listeners not given are bound from `RP_URL` and `MOCK_PROVIDER_URL`.
pub async fn start(
    settings: Settings,
    rp_listener: Option<TcpListener>,
    mock_listener: Option<TcpListener>,
) -> Result<Demo, SettingsError> {
    let (issuer, mock) = match &settings.provider {
        Provider::External { .. } => (None, None),
        Provider::Issuer { issuer } => (Some(("PROVIDER_ISSUER", issuer.clone())), None),
        Provider::Mock { url } => {
            let listener = match mock_listener {
                Some(listener) => listener,
                None => bind("MOCK_PROVIDER_URL", url).await?,
            };
            let mut client = MockClient::new(&settings.client_id)
                .redirect_uri(settings.redirect_uri())
                .post_logout_redirect_uri(settings.post_logout_redirect_uri())
                // Back-channel only: with a front-channel URI registered, the mock's
                // /endsession answers with an iframe page that continues after a delay,
                // instead of the redirect the sign-out flow shows. The app still serves
                // FRONTCHANNEL_PATH, for a provider that has it registered.
                .backchannel_logout_uri(settings.backchannel_logout_uri());
            if let Some(secret) = &settings.client_secret {
                client = client.secret(secret);
            }
            let mock = MockProvider::builder()
                // The URL the browser uses (it binds 127.0.0.1 but is called localhost).
                .issuer(url)
                .register(client)
                .serve_on(listener)
                .await
                .map_err(|e| bad("MOCK_PROVIDER_URL", e.to_string()))?;
            (Some(("MOCK_PROVIDER_URL", url.clone())), Some((mock, url.clone())))
        }
    };
    // Discovery, once at start: the layer's end-session endpoint and the sign-in's endpoints.
    let (metadata, sign_in) = match &issuer {
        None => (None, None),
        Some((name, issuer)) => {
            let metadata = ProviderMetadata::discover(issuer)
                .await
                .map_err(|e| bad(name, format!("discovery of `{issuer}` failed: {e}")))?;
            let sign_in = SignIn::discover(
                issuer,
                &settings.client_id,
                settings.client_secret.as_deref(),
                &settings.redirect_uri(),
            )
            .await
            .map_err(|e| bad(name, e))?;
            (Some(metadata), Some(sign_in))
        }
    };

    let key_generated = settings.state_key.is_none();
    let state_key = match settings.state_key.clone() {
        Some(key) => key,
        None => StateKey::generate().map_err(|e| bad("STATE_KEY", e.to_string()))?,
    };
    let mut logout = OidcLogoutLayer::builder();
    if let Some(metadata) = &metadata {
        logout = logout.provider(metadata);
    }
    if let Provider::External { end_session_url } = &settings.provider {
        logout = logout.end_session_endpoint(end_session_url);
    }
    logout = logout
        .client_id(&settings.client_id)
        .post_logout_redirect_uri(settings.post_logout_redirect_uri())
        .state_key(state_key)
        .expire_cookie(SessionCookie::new(LOCAL_COOKIE))
        .expire_cookie(SessionCookie::new(SESSION_COOKIE));
    if let Some(ttl) = settings.state_ttl {
        logout = logout.state_ttl(ttl);
    }
    // The store, and the index of sign-ins beside it: in this process, or both in one Redis.
    let (backend, index): (Backend, Arc<dyn SessionIndex>) = match &settings.session_store {
        SessionBackend::Memory => {
            (Backend::Memory(MemoryStore::default()), Arc::new(MemoryIndex::new()))
        }
        SessionBackend::Redis { url } => {
            let pool = redis_pool(url).await?;
            (Backend::Redis(RedisStore::new(pool.clone())), Arc::new(RedisIndex::new(pool)))
        }
    };
    // Back- and Front-Channel Logout, when the demo signs in at a provider it discovered.
    if let (Some(metadata), Some((name, _))) = (&metadata, &issuer) {
        let validator = LogoutTokenValidator::builder()
            .provider(metadata)
            .client_id(&settings.client_id)
            .build()
            .map_err(|e| bad(name, format!("logout token validation: {e}")))?;
        // `DeleteFromStore` deletes the sessions the index names from the demo's own store.
        let sessions = match &backend {
            Backend::Memory(store) => {
                ProviderLogout::new(index.clone(), DeleteFromStore::new(store.clone()))
            }
            Backend::Redis(store) => {
                ProviderLogout::new(index.clone(), DeleteFromStore::new(store.clone()))
            }
        };
        logout = logout
            .provider_logout(sessions.validator(validator))
            .backchannel_logout(BACKCHANNEL_PATH)
            .frontchannel_logout(FRONTCHANNEL_PATH);
    }
    let logout = logout
        .end_session_hook(
            FlushSession::new().id_token_key(ID_TOKEN_KEY).session_index(index.clone()),
        )
        .refusal_page(|rejection, _request| Response::new(refusal_page(rejection)))
        .build()
        .map_err(|e| bad(setting_of(&e), e.to_string()))?;

    let state = AppState {
        rp_url: settings.rp_url.clone(),
        client_id: settings.client_id.clone(),
        mock: mock.clone(),
        index: sign_in
            .as_ref()
            .and(issuer.as_ref())
            .map(|(_, issuer)| (issuer.clone(), index.clone())),
        sign_in,
    };
    let app = Router::new()
        .route("/", get(home))
        .route("/login", get(login))
        .route(LOGIN_CALLBACK_PATH, get(login_callback))
        .route(CALLBACK_PATH, get(signed_out))
        .route("/goodbye", get(goodbye))
        .route("/help", get(help))
        .with_state(state)
        .layer(logout)
        .layer(map_response(end_session_failed_page));
    let secure = settings.rp_url.starts_with("https:");
    let (app, store): (Router, Arc<dyn SessionStore>) = match backend {
        Backend::Memory(store) => {
            (app.layer(session_layer(store.clone(), secure)), Arc::new(store))
        }
        Backend::Redis(store) => (app.layer(session_layer(store.clone(), secure)), Arc::new(store)),
    };

    let rp_listener = match rp_listener {
        Some(listener) => listener,
        None => bind("RP_URL", &settings.rp_url).await?,
    };
    let rp_addr = rp_listener.local_addr().map_err(|e| bad("RP_URL", e.to_string()))?;
    let server = tokio::spawn(async move { axum::serve(rp_listener, app).await });
    let issuer = issuer.map(|(_, issuer)| issuer);
    Ok(Demo { rp_url: settings.rp_url, rp_addr, mock, issuer, store, key_generated, server })
}

/// The demo's session store.
enum Backend {
    Memory(MemoryStore),
    Redis(RedisStore<Pool>),
}

/// The session manager, outside the logout layer so that `FlushSession` finds the session.
fn session_layer<S: SessionStore + Clone>(store: S, secure: bool) -> SessionManagerLayer<S> {
    SessionManagerLayer::new(store)
        .with_name(SESSION_COOKIE)
        .with_secure(secure)
        // Lax, not the default Strict: the browser comes back from the provider cross-site.
        .with_same_site(SameSite::Lax)
}

/// Connects to the Redis of `SESSION_STORE`; a Redis that does not answer stops the demo.
async fn redis_pool(url: &str) -> Result<Pool, SettingsError> {
    let cannot = |e: &dyn fmt::Display| bad("SESSION_STORE", format!("Redis at `{url}`: {e}"));
    let config = RedisConfig::from_url(url).map_err(|e| cannot(&e))?;
    let pool = Builder::from_config(config)
        // A Redis that stops answering fails a sign-out in a second, rather than hanging it.
        .with_connection_config(|c| c.connection_timeout = Duration::from_secs(1))
        .with_performance_config(|p| p.default_command_timeout = Duration::from_secs(1))
        .set_policy(ReconnectPolicy::new_constant(0, 200))
        .build_pool(2)
        .map_err(|e| cannot(&e))?;
    match tokio::time::timeout(Duration::from_secs(3), pool.init()).await {
        Ok(Ok(_)) => Ok(pool),
        Ok(Err(e)) => Err(cannot(&e)),
        Err(_) => Err(cannot(&"no answer within 3 s")),
    }
}

/// The setting behind a configuration error of the layer.
fn setting_of(error: &ConfigError) -> &'static str {
    match error {
        ConfigError::NoEndSessionEndpoint { .. } => "PROVIDER_ISSUER",
        ConfigError::InvalidUrl { what: "end-session endpoint", .. }
        | ConfigError::MissingEndSessionEndpoint
        | ConfigError::UrlCapTooSmall { .. } => "PROVIDER_END_SESSION_URL",
        ConfigError::MissingClientId => "CLIENT_ID",
        ConfigError::InvalidStateTtl { .. } => "LOGOUT_STATE_TTL_SECS",
        ConfigError::MissingStateKey
        | ConfigError::WeakStateKey(_)
        | ConfigError::StateKeyNotBase64 => "STATE_KEY",
        _ => "RP_URL",
    }
}

async fn home(State(app): State<AppState>, session: Session, headers: HeaderMap) -> Response<Body> {
    let (user, sessions) = sessions_now(&app, &session, &headers).await;
    // Signed in at a provider, the server-side session is the sign-in: when the provider
    // ended it by Back- or Front-Channel Logout, a local cookie left behind signs nobody in.
    let user = match &app.index {
        Some(_) => session.get::<String>(USER_KEY).await.ok().flatten(),
        None => user,
    };
    let mut body = match &user {
        Some(user) => {
            let sid = match session.get::<String>(SID_KEY).await.ok().flatten() {
                Some(sid) => format!(
                    "<p>Session at the provider (<code>sid</code>): <code id=\"sid\">{}</code>.</p>",
                    escape(&sid)
                ),
                None => String::new(),
            };
            format!(
                "<p id=\"status\"><strong>Signed in</strong> as <span id=\"user\">{}</span>.</p>{sid}",
                escape(user)
            )
        }
        None => {
            "<p id=\"status\"><strong>Not signed in.</strong> <a href=\"/login\">Sign in</a></p>"
                .to_owned()
        }
    };
    body.push_str(&sessions);
    body.push_str(&elsewhere(&app));
    body.push_str(&logout_form());
    body.push_str(&format!(
        "<p><small>Client ID <code>{}</code>; the provider sends the browser back to <code>{rp}{LOGIN_CALLBACK_PATH}</code> \
         after sign-in and to <code>{rp}{CALLBACK_PATH}</code> after sign-out.</small></p>",
        escape(&app.client_id),
        rp = escape(&app.rp_url)
    ));
    page(StatusCode::OK, "tower-oidc-logout demo", &body)
}

/// Who is signed in (locally or on the server), and the three sessions as HTML.
async fn sessions_now(
    app: &AppState,
    session: &Session,
    headers: &HeaderMap,
) -> (Option<String>, String) {
    let local = request_cookie(headers, LOCAL_COOKIE);
    let server = session.get::<String>(USER_KEY).await.ok().flatten();
    let local_line = match &local {
        Some(user) => {
            format!("<strong>present</strong>: <code>{LOCAL_COOKIE}={}</code>", escape(user))
        }
        None => format!("<strong>none</strong> (no <code>{LOCAL_COOKIE}</code> cookie)"),
    };
    let server_line = match (&server, session.id()) {
        (Some(user), Some(id)) => {
            let token = match session.get::<String>(ID_TOKEN_KEY).await.ok().flatten() {
                Some(token) => format!(
                    ", with its ID token ({} bytes, sent as <code>id_token_hint</code> at sign-out)",
                    token.len()
                ),
                None => String::new(),
            };
            format!(
                "<strong>present</strong> in the tower-sessions store: session <code>{id}</code> for {}{token}",
                escape(user)
            )
        }
        _ => "<strong>none</strong> in the tower-sessions store".to_owned(),
    };
    let user = server.clone().or_else(|| {
        local.as_ref().map(|value| percent_decode_str(value).decode_utf8_lossy().into_owned())
    });
    let html = format!(
        "<h2>Sessions</h2><ul>\
         <li>Local session (cookie in this browser): <span id=\"local\">{local_line}</span></li>\
         <li>Server-side session: <span id=\"server\">{server_line}</span></li>\
         <li>Hosted session at the provider: <span id=\"hosted\">{}</span></li></ul>",
        hosted_status(app, user.as_deref().unwrap_or(DEMO_USER))
    );
    (user, html)
}

fn hosted_status(app: &AppState, user: &str) -> String {
    match &app.mock {
        Some((mock, url)) => {
            let state = if mock.has_session(user) { "active" } else { "none" };
            format!(
                "<strong>{state}</strong> for {user} at the mock provider \
                 (<a href=\"{url}/authorize\">see the provider's own page</a>)",
                user = escape(user),
                url = escape(url)
            )
        }
        None => "unknown: the demo cannot see an external provider's sessions".to_owned(),
    }
}

/// How to see Back-Channel Logout: a sign-out at the provider that the browser never brings here.
fn elsewhere(app: &AppState) -> String {
    if app.index.is_none() {
        return String::new();
    }
    let provider = match &app.mock {
        Some((_, url)) => format!(
            "open <a id=\"provider-page\" href=\"{url}/authorize\" target=\"_blank\">the provider's \
             page</a> in another tab, click \"Sign out everywhere\"",
            url = escape(url)
        ),
        None => "sign out at the provider in another tab".to_owned(),
    };
    format!(
        "<h2>Sign out elsewhere</h2><p id=\"elsewhere\">To see Back-Channel Logout: {provider}, \
         then reload this page: signed out. The provider sends a logout token to \
         <code>{rp}{BACKCHANNEL_PATH}</code>, which ends this app's sessions in that provider \
         session (Front-Channel Logout: <code>{rp}{FRONTCHANNEL_PATH}</code>).</p>",
        rp = escape(&app.rp_url)
    )
}

fn logout_form() -> String {
    let options: String = LANDINGS
        .iter()
        .map(|(path, label)| format!("<option value=\"{}\">{label}</option>", escape(path)))
        .collect();
    format!(
        "<h2>Sign out</h2><form method=\"post\" action=\"/logout\">\
         <label>Afterwards, go to <select name=\"return_to\">{options}</select></label> \
         <button type=\"submit\">Sign out</button></form>\
         <p><small>Signing out ends the local session, the server-side session and the hosted session \
         at the provider, whether or not you are signed in.</small></p>"
    )
}

/// Starts a sign-in at the provider (authorization code flow with PKCE), or,
/// with `PROVIDER_END_SESSION_URL` only, signs in locally at once.
async fn login(State(app): State<AppState>, session: Session) -> Response<Body> {
    let Some(sign_in) = &app.sign_in else {
        return signed_in(&session, DEMO_USER, None, None, None).await;
    };
    let (authorization_url, pending) = sign_in.start();
    // Single use, in the session until the provider sends the browser back.
    if let Err(e) = session.insert(PENDING_SIGN_IN_KEY, pending).await {
        return store_failed(&e);
    }
    see_other(
        page(StatusCode::SEE_OTHER, "Signing in", "<p>To the provider...</p>"),
        &authorization_url,
    )
}

/// The provider's return from sign-in: state, code, ID token checked, then the session starts.
async fn login_callback(
    State(app): State<AppState>,
    session: Session,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response<Body> {
    let Some(sign_in) = &app.sign_in else {
        return page(StatusCode::NOT_FOUND, "Not found", "<p>This demo signs in locally.</p>");
    };
    // Taken out whatever happens next: a pending sign-in is used once.
    let pending = match session.remove::<PendingSignIn>(PENDING_SIGN_IN_KEY).await {
        Ok(pending) => pending,
        Err(e) => return store_failed(&e),
    };
    // A query that does not parse (a repeated parameter, say) has no usable state: refused below.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    match sign_in.finish(pending, query).await {
        Ok(user) => {
            signed_in(
                &session,
                &user.sub,
                user.sid.as_deref(),
                Some(&user.id_token),
                app.index.as_ref().map(|(iss, index)| (iss.as_str(), &**index)),
            )
            .await
        }
        Err(failure) => {
            let status = StatusCode::from_u16(failure.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let body = format!(
                "<p id=\"error\">{} (<code>{}</code>)</p><p>HTTP status {status}. Nobody was signed \
                 in.</p><p><a href=\"/login\">Try again</a> · <a href=\"/\">Home</a></p>",
                escape(&failure.to_string()),
                failure.code()
            );
            page(status, "Sign-in could not be completed", &body)
        }
    }
}

/// Starts the server-side session for `user` under a fresh ID (no session
/// fixation), records it in the index under (`iss`, `sid`, `sub`) so that the
/// provider's Back- or Front-Channel Logout can end it, sets the local
/// cookie, and goes home.
async fn signed_in(
    session: &Session,
    user: &str,
    sid: Option<&str>,
    id_token: Option<&str>,
    index: Option<(&str, &dyn SessionIndex)>,
) -> Response<Body> {
    let saved = async {
        session.cycle_id().await?;
        session.insert(USER_KEY, user).await?;
        if let Some(sid) = sid {
            session.insert(SID_KEY, sid).await?;
        }
        if let Some(id_token) = id_token {
            session.insert(ID_TOKEN_KEY, id_token).await?;
        }
        // Saved now, so that the session has its (new) ID to record.
        session.save().await?;
        Ok::<_, tower_sessions_0_14::session::Error>(())
    };
    if let Err(e) = saved.await {
        return store_failed(&e);
    }
    if let Some((iss, index)) = index
        && let Err(e) = record_sign_in(index, session, iss, sid, user).await
    {
        return store_failed(&e);
    }
    let mut response =
        see_other(page(StatusCode::SEE_OTHER, "Signed in", "<p>Signed in.</p>"), "/");
    let value = utf8_percent_encode(user, COOKIE_VALUE_ESCAPES);
    if let Ok(cookie) =
        HeaderValue::try_from(format!("{LOCAL_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax"))
    {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

fn see_other(mut response: Response<Body>, location: &str) -> Response<Body> {
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

fn store_failed(error: &dyn std::fmt::Display) -> Response<Body> {
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Sign-in failed",
        &format!("<p id=\"error\">The session store failed: {}</p>", escape(&error.to_string())),
    )
}

/// The callback, reached only with a state the layer validated.
async fn signed_out(
    State(app): State<AppState>,
    Extension(done): Extension<LoggedOut>,
    session: Session,
    headers: HeaderMap,
) -> Response<Body> {
    let logout = match done.logout() {
        Some(value) => format!("<code>{}</code> (opaque: shown, not relied on)", escape(value)),
        None => "none".to_owned(),
    };
    let target = escape(done.return_target().map_or("/", |t| t.as_str()));
    let (_, sessions) = sessions_now(&app, &session, &headers).await;
    let body = format!(
        "<p id=\"status\"><strong>Signed out.</strong> The provider sent you back with the state \
         this browser was given, so the layer let this page through.</p>\
         <h2>What the layer validated</h2><ul>\
         <li>State echoed by the provider and matching the sealed cookie: {echoed}</li>\
         <li>Provider's <code>logout</code> parameter: {logout}</li>\
         <li>Where you asked to land: <code>{target}</code></li></ul>\
         {sessions}<p><a id=\"continue\" href=\"{target}\">Continue to {target}</a></p>",
        echoed = if done.state_echoed() { "yes" } else { "no (accepted without state)" },
    );
    page(StatusCode::OK, "Signed out", &body)
}

async fn goodbye() -> Response<Body> {
    page(StatusCode::OK, "Goodbye", "<p>You are signed out. <a href=\"/\">Home</a></p>")
}

async fn help() -> Response<Body> {
    page(
        StatusCode::OK,
        "Help",
        "<p>Signing out here also signs you out at the identity provider. <a href=\"/\">Home</a></p>",
    )
}

/// The layer's refusals (a cross-site sign-out, a bad `state` at the
/// callback, ...) as a readable page; the layer keeps the status, the cookies
/// and the [`Rejection`] in the extensions.
fn refusal_page(rejection: &Rejection) -> String {
    let detail = format!("{} (<code>{}</code>)", escape(&rejection.to_string()), rejection.code());
    error_html("Sign-out could not be completed", &detail, rejection.status())
}

/// A failed storage hook ([`EndSessionFailed`], a 500) as a readable page.
///
/// The layer's `refusal_page` covers [`Rejection`]s only; this failure is
/// not one (nothing was refused: the store failed), so this one small
/// `map_response` stays for it.
async fn end_session_failed_page(response: Response<Body>) -> Response<Body> {
    let Some(failure) = response.extensions().get::<EndSessionFailed>() else {
        return response;
    };
    let detail = escape(&failure.to_string());
    let (mut parts, _) = response.into_parts();
    let html = error_html("Sign-out failed on the server", &detail, parts.status);
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    Response::from_parts(parts, Body::from(html))
}

fn error_html(title: &str, detail: &str, status: StatusCode) -> String {
    let body = format!(
        "<p id=\"error\">{detail}</p><p>HTTP status {status}. Nothing was signed out by following \
         this link, and no page of the app was shown.</p>{form}<p><a href=\"/\">Home</a></p>",
        form = logout_form(),
    );
    html_document(title, &body)
}

fn html_document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; max-width: 44em; margin: 2em auto; line-height: 1.5\">\n\
         <p><small>tower-oidc-logout demo app</small></p>\n<h1>{title}</h1>\n{body}\n</body></html>\n",
        title = escape(title)
    )
}

fn page(status: StatusCode, title: &str, body: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(html_document(title, body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn request_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}
