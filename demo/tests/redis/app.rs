//! An app instance with its sessions in Redis (tower-sessions 0.14 and
//! tower-sessions-redis-store), and what a browser does with it, through the
//! mock's `CookieClient`: it keeps cookies per host, so a browser signed in on
//! one instance sends its session cookie to every instance on 127.0.0.1.

use std::net::SocketAddr;

use axum::{Extension, Router, body::Body, middleware::map_response, routing::get};
use http::{HeaderValue, Method, Response, StatusCode, header};
use tokio::{net::TcpListener, task::JoinHandle};
use tower_oidc_logout::{
    EndSessionFailed, LoggedOut, OidcLogoutLayer, SessionCookie, StateKey,
    tower_sessions::FlushSession,
};
use tower_oidc_logout_mock::browser::{CookieClient, Page};
use tower_sessions_0_14::{Session, SessionManagerLayer};
use tower_sessions_redis_store::{RedisStore, fred::prelude::Pool};

/// The provider's end-session endpoint (never contacted: the test plays the provider).
pub(crate) const END_SESSION: &str = "http://127.0.0.1:9/endsession";
/// The callback path; the registered URI is the one public URL of all instances.
pub(crate) const CALLBACK: &str = "/logout/callback";
/// The session manager's cookie.
pub(crate) const SESSION_COOKIE: &str = "id";
/// What `/login` keeps in the session, and the hook sends as `id_token_hint`.
pub(crate) const ID_TOKEN: &str = "eyJ.instance-a.sig";

/// Where the instance shows the test why its storage hook failed.
pub(crate) const HOOK_ERROR: &str = "x-test-hook-error";

/// One app instance on an ephemeral loopback port.
#[derive(Debug)]
pub(crate) struct Instance {
    pub(crate) base: String,
    server: JoinHandle<std::io::Result<()>>,
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Instance {
    /// Routes: `/login` signs in (a fresh session ID, a user, an ID token);
    /// `/me` shows the session's user or `nobody`; the callback answers 200.
    pub(crate) async fn start(pool: Pool, key: StateKey) -> Self {
        let logout = OidcLogoutLayer::builder()
            .end_session_endpoint(END_SESSION)
            .client_id("client-1")
            .post_logout_redirect_uri(format!("https://app.example{CALLBACK}"))
            .state_key(key)
            .expire_cookie(SessionCookie::new(SESSION_COOKIE))
            .end_session_hook(FlushSession::new().id_token_key("id_token"))
            .build()
            .unwrap();
        let app = Router::new()
            .route(
                "/login",
                get(|session: Session| async move {
                    let signed_in = async {
                        session.cycle_id().await?;
                        session.insert("user", "alice").await?;
                        session.insert("id_token", ID_TOKEN).await
                    };
                    match signed_in.await {
                        Ok(()) => (StatusCode::OK, "signed in".to_owned()),
                        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                    }
                }),
            )
            .route(
                "/me",
                get(|session: Session| async move {
                    match session.get::<String>("user").await {
                        Ok(user) => (StatusCode::OK, user.unwrap_or_else(|| "nobody".to_owned())),
                        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
                    }
                }),
            )
            .route(CALLBACK, get(|Extension(_): Extension<LoggedOut>| async { "signed out" }))
            .layer(logout)
            .layer(map_response(show_hook_error))
            .layer(SessionManagerLayer::new(RedisStore::new(pool)).with_secure(false));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base: format!("http://{addr}"), server }
    }
}

/// Copies the hook's error from the response extensions into a header.
async fn show_hook_error(mut response: Response<Body>) -> Response<Body> {
    let error = response.extensions().get::<EndSessionFailed>().map(|f| f.error().to_string());
    if let Some(value) = error.and_then(|e| HeaderValue::try_from(e).ok()) {
        response.headers_mut().insert(HOOK_ERROR, value);
    }
    response
}

/// What the tests read of a response's `Set-Cookie` lines.
pub(crate) trait SetCookies {
    /// Every `Set-Cookie` line.
    fn set_cookies(&self) -> Vec<&str>;

    /// `name=value` of a cookie this response sets (not removes).
    fn cookie_set(&self, name_prefix: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .filter(|c| c.starts_with(name_prefix) && !c.contains("Max-Age=0"))
            .map(|c| c.split(';').next().unwrap().to_owned())
            .next()
    }

    /// Whether this response removes the cookie `name`.
    fn removes(&self, name: &str) -> bool {
        self.set_cookies()
            .into_iter()
            .any(|c| c.starts_with(&format!("{name}=")) && c.contains("Max-Age=0"))
    }
}

impl SetCookies for Page {
    fn set_cookies(&self) -> Vec<&str> {
        self.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect()
    }
}

/// A browser holding only `cookie` (`name=value`), replayed as copied: for
/// one request (a cookie the answer sets would be sent beside it).
pub(crate) fn replaying(cookie: &str) -> CookieClient {
    let mut browser = CookieClient::new();
    browser.extra_headers.push(("cookie", cookie.to_owned()));
    browser
}

/// Signs in on `instance`; returns the session cookie (`id=...`), which the browser keeps.
pub(crate) async fn sign_in(browser: &mut CookieClient, instance: &Instance) -> String {
    let page = browser.send(Method::GET, &format!("{}/login", instance.base), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.cookie_set(&format!("{SESSION_COOKIE}=")).expect("a session cookie at sign-in")
}

/// The session's user as `instance` sees it (`nobody` without a session).
pub(crate) async fn me(browser: &mut CookieClient, instance: &Instance) -> String {
    let page = browser.send(Method::GET, &format!("{}/me", instance.base), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    page.body
}

/// `POST /logout` on the app at `base`; the redirect to the provider is not
/// followed (the test plays the provider).
pub(crate) async fn sign_out(browser: &mut CookieClient, base: &str) -> Page {
    browser.send(Method::POST, &format!("{base}/logout"), None).await
}

/// What the provider makes the browser do after its own sign-out: the
/// callback at `base` with the state it was given and `logout=success`; the
/// browser sends the state cookie the sign-out set.
pub(crate) async fn come_back(browser: &mut CookieClient, base: &str, signed_out: &Page) -> Page {
    let location = signed_out.location().expect("a redirect to the provider");
    let state = location
        .query_pairs()
        .find(|(name, _)| name == "state")
        .map(|(_, value)| value.into_owned())
        .expect("a state for the provider to echo");
    // `__Host-` on an https callback URI, without the prefix on http.
    signed_out
        .cookie_set("__Host-oidc-logout-")
        .or_else(|| signed_out.cookie_set("oidc-logout-"))
        .expect("a state cookie with the redirect");
    let url = format!("{base}{CALLBACK}?state={state}&logout=success");
    browser.send(Method::GET, &url, None).await
}

/// The session ID in a session cookie `name=<ID>`: the record's key in Redis.
pub(crate) fn session_key(session_cookie: &str) -> String {
    session_cookie.split_once('=').map_or("", |(_, id)| id).to_owned()
}
