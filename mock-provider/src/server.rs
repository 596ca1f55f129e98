//! Registration of clients, the running server and what tests can ask it.

use std::{
    collections::HashMap,
    fmt, io,
    net::SocketAddr,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, SystemTime},
};

use axum::{
    Router,
    middleware::map_response,
    routing::{get, post},
};
use tokio::{
    net::{TcpListener, ToSocketAddrs},
    sync::watch,
    task::JoinHandle,
};
use url::Url;

use crate::{
    authorize,
    backchannel::{self, DEFAULT_BACKCHANNEL_TIMEOUT},
    client::MockClient,
    discovery, endsession,
    hosted::HostedSession,
    key_ring::KeyRing,
    logout_token::LogoutTokenClaims,
    pages,
    records::{BackchannelDelivery, EndSessionCall, FrontchannelLogout, RevocationCall},
    reply, revoke,
    signing_key::SigningKey,
    state::{Advertised, Clock, Provider},
    token,
    tokens::{RefreshTokens, RevocationFault},
};

/// Registers clients, then starts a [`MockProvider`].
///
/// Start with [`MockProvider::builder`].
#[derive(Default, Clone)]
#[must_use]
pub struct MockProviderBuilder {
    clients: HashMap<String, MockClient>,
    issuer: Option<String>,
    clock: Option<Clock>,
    backchannel_timeout: Option<Duration>,
    jwks_max_age: Option<Duration>,
    signing_key: Option<SigningKey>,
    advertised: Advertised,
    jwks_document: Option<String>,
    refresh_tokens: RefreshTokens,
}

/// How many of a user's refresh tokens are active and revoked ([`MockProvider::refresh_tokens_of`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct RefreshTokenCount {
    /// Issued and not revoked.
    pub active: usize,
    /// Revoked.
    pub revoked: usize,
}

/// A logout capability the discovery document advertises (each `true` by
/// default); [`MockProviderBuilder::advertise`] turns one off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LogoutCapability {
    /// `backchannel_logout_supported` (Back-Channel Logout 1.0).
    Backchannel,
    /// `backchannel_logout_session_supported`: logout tokens carry `sid`.
    BackchannelSession,
    /// `frontchannel_logout_supported` (Front-Channel Logout 1.0).
    Frontchannel,
    /// `frontchannel_logout_session_supported`: front-channel requests carry `iss` and `sid`.
    FrontchannelSession,
}

impl fmt::Debug for MockProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockProviderBuilder")
            .field("clients", &self.clients)
            .field("issuer", &self.issuer)
            .field("clock", &self.clock.as_ref().map(|_| "injected"))
            .field("backchannel_timeout", &self.backchannel_timeout)
            .field("jwks_max_age", &self.jwks_max_age)
            .field("signing_key", &self.signing_key)
            .field("advertised", &self.advertised)
            .field("jwks_document", &self.jwks_document.as_ref().map(String::len))
            .field("refresh_tokens", &self.refresh_tokens)
            .finish()
    }
}

impl MockProviderBuilder {
    /// Registers `client_id` with its allow-listed post-logout redirect URIs.
    ///
    /// The URIs are compared with `post_logout_redirect_uri` as exact strings,
    /// as Next Identity does: `https://app.example/cb` and
    /// `https://app.example/cb/` are different. Registering the same client
    /// again adds to its allow-list. The client is public and has no
    /// redirect URIs for `/authorize`; use [`register`](Self::register) for more.
    pub fn client<I, U>(
        mut self,
        client_id: impl Into<String>,
        post_logout_redirect_uris: I,
    ) -> Self
    where
        I: IntoIterator<Item = U>,
        U: Into<String>,
    {
        let client_id = client_id.into();
        self.clients
            .entry(client_id.clone())
            .or_insert_with(|| MockClient::new(client_id))
            .add_post_logout_redirect_uris(post_logout_redirect_uris.into_iter().map(Into::into));
        self
    }

    /// Registers `client`, replacing any client registered with the same ID.
    pub fn register(mut self, client: MockClient) -> Self {
        self.clients.insert(client.id().to_owned(), client);
        self
    }

    /// The issuer identifier, when the mock is reached at another base URL
    /// than `http://<addr>` (e.g. `http://localhost:3001` behind a bind on
    /// `127.0.0.1:3001`). It must be an `http` or `https` URL without query,
    /// fragment or trailing slash; every endpoint in the discovery document
    /// is under it.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The clock for code and token lifetimes (`iat`, `exp`, `auth_time`),
    /// e.g. one a test moves by hand. The system clock by default.
    pub fn clock(mut self, now: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(now));
        self
    }

    /// How long one Back-Channel Logout delivery may take (connect, request
    /// and the answer's status line) before it is recorded as failed;
    /// [`DEFAULT_BACKCHANNEL_TIMEOUT`] by default. The sign-out that
    /// triggered it waits for its deliveries, all sent at once, so this
    /// bounds how long it waits.
    pub fn backchannel_timeout(mut self, timeout: Duration) -> Self {
        self.backchannel_timeout = Some(timeout);
        self
    }

    /// Serve `/jwks` with `Cache-Control: public, max-age=<seconds>`, as
    /// many providers do, instead of `no-store`: how long a relying party may
    /// keep the key set before fetching it again (whole seconds).
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks_max_age = Some(max_age);
        self
    }

    /// The key the provider signs with from the start, instead of a new one
    /// generated at each start: with [`SigningKey::from_secret`], the `kid`
    /// and the JWK Set are known before the server runs, and a test can sign
    /// tokens as the provider with [`LogoutTokenClaims::sign`].
    pub fn signing_key(mut self, key: SigningKey) -> Self {
        self.signing_key = Some(key);
        self
    }

    /// Whether the discovery document advertises `capability` (`true`, the
    /// default, or `false`), to test how a relying party takes a provider
    /// without it. Only the document changes: the mock still sends
    /// Back- and Front-Channel Logouts to the clients registered for them.
    pub fn advertise(mut self, capability: LogoutCapability, on: bool) -> Self {
        let flag = match capability {
            LogoutCapability::Backchannel => &mut self.advertised.backchannel,
            LogoutCapability::BackchannelSession => &mut self.advertised.backchannel_session,
            LogoutCapability::Frontchannel => &mut self.advertised.frontchannel,
            LogoutCapability::FrontchannelSession => &mut self.advertised.frontchannel_session,
        };
        *flag = on;
        self
    }

    /// Serve `document` at `/jwks` instead of the provider's public keys
    /// (e.g. a key set with only an `oct` key), to test how a relying party
    /// takes a key set it cannot use. Tokens are still signed with the real key.
    pub fn jwks_document(mut self, document: impl Into<String>) -> Self {
        self.jwks_document = Some(document.into());
        self
    }

    /// Whether the discovery document advertises `revocation_endpoint` and
    /// `revocation_endpoint_auth_methods_supported` (`true`, the default, or
    /// `false`), to test how a relying party takes a provider without
    /// revocation. Only the document changes: `/revoke` still answers.
    pub fn advertise_revocation(mut self, on: bool) -> Self {
        self.advertised.revocation = on;
        self
    }

    /// When `/token` issues a refresh token with the tokens of an
    /// authorization code: [`RefreshTokens::WithOfflineAccess`] by default
    /// (when the authorization request's `scope` had `offline_access`).
    pub fn refresh_tokens(mut self, when: RefreshTokens) -> Self {
        self.refresh_tokens = when;
        self
    }

    /// Binds `addr` (use port `0` for an ephemeral port) and starts serving.
    pub async fn serve(self, addr: impl ToSocketAddrs) -> Result<MockProvider, MockError> {
        let listener = TcpListener::bind(addr).await.map_err(MockError::Bind)?;
        self.serve_on(listener).await
    }

    /// Starts serving on a listener the caller bound.
    pub async fn serve_on(self, listener: TcpListener) -> Result<MockProvider, MockError> {
        let addr = listener.local_addr().map_err(MockError::Bind)?;
        let issuer = match self.issuer {
            Some(issuer) => checked_issuer(issuer)?,
            None => format!("http://{addr}"),
        };
        let (stop, mut stopped) = watch::channel(false);
        let mut provider = Provider::new(
            issuer,
            self.clients,
            KeyRing::new(match self.signing_key {
                Some(key) => key,
                None => SigningKey::generate().map_err(|_| MockError::Randomness)?,
            }),
            self.clock.unwrap_or_else(|| Arc::new(SystemTime::now)),
            self.backchannel_timeout.unwrap_or(DEFAULT_BACKCHANNEL_TIMEOUT),
            self.jwks_max_age,
            stopped.clone(),
        );
        provider.advertised = self.advertised;
        provider.jwks_document = self.jwks_document;
        provider.refresh_tokens = self.refresh_tokens;
        let provider = Arc::new(provider);
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery::configuration))
            .route("/jwks", get(discovery::jwks))
            .route("/authorize", get(authorize::authorize).post(authorize::sign_in))
            .route("/token", post(token::token))
            .route("/revoke", post(revoke::revoke))
            .route("/endsession", get(endsession::end_session))
            .route("/login", get(pages::login))
            .route("/logout", post(pages::sign_out_everywhere))
            .with_state(provider.clone())
            // Every answer, axum's own 404 and 405 included.
            .layer(map_response(reply::no_store));
        let server = tokio::spawn(async move {
            let shutdown = async move {
                // Stops on `shutdown()` or when every handle is dropped.
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            axum::serve(listener, router).with_graceful_shutdown(shutdown).await
        });
        Ok(MockProvider {
            addr,
            provider,
            control: Arc::new(Control { stop, server: Mutex::new(Some(server)) }),
        })
    }
}

/// A running mock Next Identity provider.
///
/// Cloning gives another handle to the same server; it stops when
/// [`shutdown`](Self::shutdown) is called or every handle is dropped.
/// Each server started has its own clients, sessions and records.
#[derive(Clone)]
pub struct MockProvider {
    addr: SocketAddr,
    provider: Arc<Provider>,
    control: Arc<Control>,
}

impl fmt::Debug for MockProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockProvider")
            .field("addr", &self.addr)
            .field("issuer", &self.provider.issuer)
            .field("clients", &self.provider.clients)
            .field("hosted_sessions", &self.provider.sessions.count())
            .finish_non_exhaustive()
    }
}

impl MockProvider {
    /// Starts registering clients.
    pub fn builder() -> MockProviderBuilder {
        MockProviderBuilder::default()
    }

    /// The address the server listens on.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, `http://<addr>`, without a trailing slash.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The issuer identifier: [`url`](Self::url) unless the builder set
    /// another; no trailing slash. The `iss` of its ID tokens and the
    /// `issuer` of its discovery document, exactly.
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.provider.issuer
    }

    /// The discovery document, `<issuer>/.well-known/openid-configuration`.
    #[must_use]
    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.issuer())
    }

    /// The end-session endpoint, `<issuer>/endsession`.
    #[must_use]
    pub fn end_session_url(&self) -> String {
        format!("{}/endsession", self.issuer())
    }

    /// The authorization endpoint, `<issuer>/authorize`; without OAuth
    /// parameters, the page showing whether the browser has a hosted session.
    #[must_use]
    pub fn authorize_url(&self) -> String {
        format!("{}/authorize", self.issuer())
    }

    /// The token endpoint, `<issuer>/token`.
    #[must_use]
    pub fn token_url(&self) -> String {
        format!("{}/token", self.issuer())
    }

    /// The revocation endpoint (RFC 7009), `<issuer>/revoke`.
    #[must_use]
    pub fn revoke_url(&self) -> String {
        format!("{}/revoke", self.issuer())
    }

    /// The JWK Set endpoint, `<issuer>/jwks`.
    #[must_use]
    pub fn jwks_url(&self) -> String {
        format!("{}/jwks", self.issuer())
    }

    /// The JWK Set `/jwks` serves, as JSON text: the current signing key
    /// first, then the earlier ones [`rotate_signing_key`](Self::rotate_signing_key) kept.
    #[must_use]
    pub fn jwks(&self) -> String {
        self.provider.keys.jwks().to_string()
    }

    /// The `kid` of the current signing key, in the JWK Set and in the header
    /// of every ID token and Logout Token signed from now on.
    #[must_use]
    pub fn signing_key_id(&self) -> String {
        self.provider.keys.kid()
    }

    /// Generates a new signing key with a new `kid` and signs with it from
    /// now on. With `keep_previous`, the key it replaces stays in the JWK
    /// Set (and still verifies an `id_token_hint`), after the new one; without
    /// it, the JWK Set holds the new key alone. For a relying party's "unknown
    /// `kid` → fetch the JWK Set again". The new `kid`.
    pub fn rotate_signing_key(&self, keep_previous: bool) -> Result<String, MockError> {
        let key = SigningKey::generate().map_err(|_| MockError::Randomness)?;
        Ok(self.provider.keys.rotate(key, keep_previous))
    }

    /// Removes the earlier keys that [`rotate_signing_key(true)`](Self::rotate_signing_key)
    /// kept from the JWK Set, leaving the current key alone: the second half
    /// of a rotation as a real provider makes it (the new key published
    /// beside the old, the old removed later, e.g. once it is compromised).
    /// Tokens signed with a removed key no longer verify at the mock; how
    /// many keys were removed.
    pub fn retire_previous_signing_keys(&self) -> usize {
        self.provider.keys.retire_previous()
    }

    /// A valid Logout Token's claims for `client_id` about the session `sid`
    /// of `sub`, as the mock sends them (issued now by its clock), to alter
    /// with [`LogoutTokenClaims`]' setters and sign with
    /// [`logout_token`](Self::logout_token). Neither the client nor the
    /// session needs to exist.
    pub fn logout_token_claims(&self, client_id: &str, sid: &str, sub: &str) -> LogoutTokenClaims {
        LogoutTokenClaims::new(&self.provider.issuer, client_id, sid, sub, self.provider.now())
    }

    /// `claims` signed as they say (by default ES256 with the current key),
    /// as a compact JWS; nothing is sent.
    #[must_use]
    pub fn logout_token(&self, claims: &LogoutTokenClaims) -> String {
        claims.sign(&self.provider.keys.current())
    }

    /// Ends the hosted session whose public ID is `sid`, as an administrator
    /// would, and sends a Logout Token to each of its clients with a
    /// `backchannel_logout_uri` (no browser, so no front-channel). Nothing is
    /// ended or sent for an unknown `sid`.
    pub async fn end_session_by_sid(&self, sid: &str) -> EndedSessions {
        let sessions = self.provider.sessions.end_by_sid(sid);
        self.announce(sessions).await
    }

    /// Ends every hosted session of `user` (every browser), and sends a
    /// Logout Token for each to each of its clients with a `backchannel_logout_uri`.
    pub async fn end_sessions_of(&self, user: &str) -> EndedSessions {
        let sessions = self.provider.sessions.end_of_user(user);
        self.announce(sessions).await
    }

    async fn announce(&self, sessions: Vec<HostedSession>) -> EndedSessions {
        let backchannel = backchannel::notify(&self.provider, &sessions).await;
        EndedSessions { sessions, backchannel }
    }

    /// Every Back-Channel Logout delivery so far (from `/endsession`, the
    /// "sign out everywhere" button, a new sign-in replacing a session, and the
    /// `end_session*` methods), oldest sign-out first.
    #[must_use]
    pub fn backchannel_deliveries(&self) -> Vec<BackchannelDelivery> {
        self.provider.backchannel_deliveries()
    }

    /// Every Front-Channel Logout iframe the mock's logged-out pages rendered so far, oldest first.
    #[must_use]
    pub fn frontchannel_logouts(&self) -> Vec<FrontchannelLogout> {
        self.provider.frontchannel_logouts()
    }

    /// Whether `token` is a refresh token `/token` issued and nobody revoked,
    /// or an access token it issued that is neither revoked nor expired
    /// ([`ACCESS_TOKEN_LIFETIME`](crate::ACCESS_TOKEN_LIFETIME), by the
    /// provider's clock). Refresh tokens do not expire.
    #[must_use]
    pub fn token_is_active(&self, token: &str) -> bool {
        self.provider.tokens.is_active(token, self.provider.now())
    }

    /// The refresh tokens issued to user `sub` (any client): how many are
    /// still active and how many were revoked, for a page that shows it.
    #[must_use]
    pub fn refresh_tokens_of(&self, sub: &str) -> RefreshTokenCount {
        let (active, revoked) = self.provider.tokens.refresh_tokens_of(sub);
        RefreshTokenCount { active, revoked }
    }

    /// How many refresh tokens `/token` issued so far (revoked ones included).
    #[must_use]
    pub fn refresh_tokens_issued(&self) -> usize {
        self.provider.tokens.refresh_tokens_issued()
    }

    /// Every request `/revoke` received so far, in the order they were
    /// answered (a [`RevocationFault::Hang`] on arrival).
    #[must_use]
    pub fn revocations(&self) -> Vec<RevocationCall> {
        self.provider.revocations()
    }

    /// Answers `fault` to the next `times` requests of `/revoke` instead of
    /// reading them (nothing is revoked; each is recorded with
    /// `client_id: None`), then revokes again. Replaces a fault still
    /// pending; `times` 0 clears it.
    pub fn fail_revocations(&self, fault: RevocationFault, times: usize) {
        self.provider.set_revocation_fault(fault, times);
    }

    /// The registered client `client_id`, if any.
    #[must_use]
    pub fn client(&self, client_id: &str) -> Option<&MockClient> {
        self.provider.clients.get(client_id)
    }

    /// How many hosted sessions exist right now.
    #[must_use]
    pub fn hosted_session_count(&self) -> usize {
        self.provider.sessions.count()
    }

    /// Whether `user` has a hosted session (started through `/login` or `/authorize`).
    #[must_use]
    pub fn has_session(&self, user: &str) -> bool {
        self.provider.sessions.has_user(user)
    }

    /// Every hosted session right now, with its `sid` and the clients that
    /// received tokens for it; sorted by user, then sign-in time.
    #[must_use]
    pub fn hosted_sessions(&self) -> Vec<HostedSession> {
        self.provider.sessions.all()
    }

    /// Every request `/endsession` received so far, oldest first.
    #[must_use]
    pub fn end_session_calls(&self) -> Vec<EndSessionCall> {
        self.provider.end_session_calls()
    }

    /// The latest request `/endsession` received, if any.
    #[must_use]
    pub fn last_end_session_call(&self) -> Option<EndSessionCall> {
        self.provider.last_end_session_call()
    }

    /// Stops accepting connections and waits for the open ones to finish.
    pub async fn shutdown(&self) {
        let _ = self.control.stop.send(true);
        let server = self.control.server.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(server) = server {
            let _ = server.await;
        }
    }
}

/// The mock could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// The address could not be bound.
    #[error("the mock provider could not listen: {0}")]
    Bind(#[source] io::Error),
    /// The issuer given to the builder is not an `http(s)` URL without
    /// query, fragment or trailing slash.
    #[error(
        "the mock provider's issuer `{0}` must be an http(s) URL without query, fragment or trailing slash"
    )]
    Issuer(String),
    /// The operating system gave no randomness for the signing key.
    #[error("the mock provider could not generate its signing key: no randomness")]
    Randomness,
}

/// `issuer` if it is a usable issuer identifier (OpenID Connect Discovery 1.0, section 2).
fn checked_issuer(issuer: String) -> Result<String, MockError> {
    let usable = Url::parse(&issuer).is_ok_and(|url| {
        matches!(url.scheme(), "http" | "https")
            && url.host().is_some()
            && url.query().is_none()
            && url.fragment().is_none()
            && !issuer.ends_with('/')
    });
    if usable { Ok(issuer) } else { Err(MockError::Issuer(issuer)) }
}

/// What [`MockProvider::end_session_by_sid`] and [`MockProvider::end_sessions_of`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EndedSessions {
    /// The hosted sessions ended (as they were), oldest sign-in first.
    pub sessions: Vec<HostedSession>,
    /// The Logout Tokens sent for them, sorted by `sid`, then client.
    pub backchannel: Vec<BackchannelDelivery>,
}

struct Control {
    stop: watch::Sender<bool>,
    server: Mutex<Option<JoinHandle<io::Result<()>>>>,
}
