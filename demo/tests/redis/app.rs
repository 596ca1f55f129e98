//! An app instance with its sessions in Redis (tower-sessions 0.14 and
//! tower-sessions-redis-store), and a bare HTTP client that sends the cookies
//! it is given, as a browser replaying them would.

use std::net::SocketAddr;

use axum::{Extension, Router, body::Body, middleware::map_response, routing::get};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Empty};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use tokio::{net::TcpListener, task::JoinHandle};
use tower_oidc_logout::{
    EndSessionFailed, LoggedOut, OidcLogoutLayer, SessionCookie, StateKey,
    tower_sessions::FlushSession,
};
use tower_sessions_0_14::{Session, SessionManagerLayer};
use tower_sessions_redis_store::{RedisStore, fred::prelude::Pool};
use url::Url;

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

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    /// Every `Set-Cookie` line.
    pub(crate) fn set_cookies(&self) -> Vec<&str> {
        self.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect()
    }

    /// `name=value` of a cookie this reply sets (not removes).
    pub(crate) fn cookie_set(&self, name_prefix: &str) -> Option<String> {
        self.set_cookies()
            .into_iter()
            .filter(|c| c.starts_with(name_prefix) && !c.contains("Max-Age=0"))
            .map(|c| c.split(';').next().unwrap().to_owned())
            .next()
    }

    /// Whether this reply removes the cookie `name`.
    pub(crate) fn removes(&self, name: &str) -> bool {
        self.set_cookies()
            .into_iter()
            .any(|c| c.starts_with(&format!("{name}=")) && c.contains("Max-Age=0"))
    }

    /// The `Location`, parsed.
    pub(crate) fn location(&self) -> Option<Url> {
        self.headers.get(header::LOCATION).map(|v| Url::parse(v.to_str().unwrap()).unwrap())
    }
}

/// A client that keeps no cookies: each request carries those it is given.
#[derive(Clone, Debug)]
pub(crate) struct Http(Client<HttpConnector, Empty<Bytes>>);

impl Http {
    pub(crate) fn new() -> Self {
        Self(Client::builder(TokioExecutor::new()).build_http())
    }

    pub(crate) async fn send(&self, method: Method, url: &str, cookies: &[&str]) -> Reply {
        let mut request = Request::builder().method(method).uri(url);
        if !cookies.is_empty() {
            request = request.header(header::COOKIE, cookies.join("; "));
        }
        let response = self.0.request(request.body(Empty::new()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    /// Signs in on `instance`; returns the session cookie (`id=...`).
    pub(crate) async fn sign_in(&self, instance: &Instance) -> String {
        let reply = self.send(Method::GET, &format!("{}/login", instance.base), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.cookie_set(&format!("{SESSION_COOKIE}=")).expect("a session cookie at sign-in")
    }

    /// The session's user as `instance` sees it (`nobody` without a session).
    pub(crate) async fn me(&self, instance: &Instance, session_cookie: &str) -> String {
        let reply =
            self.send(Method::GET, &format!("{}/me", instance.base), &[session_cookie]).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        reply.body
    }

    /// `POST /logout` on `instance` with the session cookie.
    pub(crate) async fn sign_out(&self, instance: &Instance, session_cookie: &str) -> Reply {
        self.sign_out_at(&instance.base, session_cookie).await
    }

    /// `POST /logout` on the app at `base` with the session cookie.
    pub(crate) async fn sign_out_at(&self, base: &str, session_cookie: &str) -> Reply {
        self.send(Method::POST, &format!("{base}/logout"), &[session_cookie]).await
    }

    /// What the provider makes the browser do after its own sign-out: the
    /// callback with the state it was given and `logout=success`, carrying
    /// the state cookie the sign-out set.
    pub(crate) async fn come_back(&self, instance: &Instance, signed_out: &Reply) -> Reply {
        self.come_back_to(&instance.base, signed_out).await
    }

    /// [`come_back`](Self::come_back) to the app at `base`.
    pub(crate) async fn come_back_to(&self, base: &str, signed_out: &Reply) -> Reply {
        let location = signed_out.location().expect("a redirect to the provider");
        let state = location
            .query_pairs()
            .find(|(name, _)| name == "state")
            .map(|(_, value)| value.into_owned())
            .expect("a state for the provider to echo");
        // `__Host-` on an https callback URI, without the prefix on http.
        let state_cookie = signed_out
            .cookie_set("__Host-oidc-logout-")
            .or_else(|| signed_out.cookie_set("oidc-logout-"))
            .expect("a state cookie with the redirect");
        let url = format!("{base}{CALLBACK}?state={state}&logout=success");
        self.send(Method::GET, &url, &[&state_cookie]).await
    }
}

/// The session ID in a session cookie `name=<ID>`: the record's key in Redis.
pub(crate) fn session_key(session_cookie: &str) -> String {
    session_cookie.split_once('=').map_or("", |(_, id)| id).to_owned()
}
