//! The builder: every setting checked once, when the layer is built.

use std::{fmt, sync::Arc, time::Duration, time::SystemTime};

use bytes::Bytes;
use http::{HeaderValue, Response, request::Parts};
use url::Url;

use crate::{
    cookies::{SessionCookie, StateCookies},
    end_session::{self, DEFAULT_MAX_END_SESSION_URL_LEN, EndSessionUrl},
    error::{ConfigError, Rejection},
    hook::{EndSessionHook, NoServerSession},
    https_url,
    layer::OidcLogoutLayer,
    reply::RefusalPage,
    same_origin::SameOrigin,
    state::{self, Clock, DEFAULT_STATE_TTL, KeyRing, StateKey},
};

/// A `Clear-Site-Data` directive the logout response may send.
///
/// `"cookies"` is deliberately missing: browsers process it *after* the
/// response's `Set-Cookie`, so it would wipe the state cookie this response
/// sets and every callback would fail; it also clears sibling subdomains.
/// The session cookies are expired one by one instead.
///
/// ```compile_fail
/// let _ = tower_oidc_logout::ClearSiteData::Cookies;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ClearSiteData {
    /// `"storage"`: localStorage, sessionStorage, IndexedDB, service workers (the default).
    Storage,
    /// `"cache"`: the HTTP cache. Some Chromium versions stall on it; opt in knowingly.
    Cache,
    /// `"executionContexts"`: reloads the site's other open documents.
    ExecutionContexts,
    /// `"clientHints"`: client hints the site asked for.
    ClientHints,
}

impl ClearSiteData {
    fn directive(self) -> &'static str {
        match self {
            Self::Storage => "\"storage\"",
            Self::Cache => "\"cache\"",
            Self::ExecutionContexts => "\"executionContexts\"",
            Self::ClientHints => "\"clientHints\"",
        }
    }
}

/// Everything the routes need, validated and precomputed.
pub(crate) struct Config {
    pub(crate) end_session_url: EndSessionUrl,
    pub(crate) logout_path: String,
    pub(crate) callback_path: String,
    pub(crate) same_origin: SameOrigin,
    pub(crate) allow_get: bool,
    pub(crate) accept_missing_state: bool,
    pub(crate) cookie_removals: Vec<HeaderValue>,
    pub(crate) clear_site_data: Option<HeaderValue>,
    pub(crate) state_cookies: StateCookies,
    pub(crate) keys: KeyRing,
    pub(crate) refusal_page: Option<RefusalPage>,
    /// Back-Channel and Front-Channel Logout, when configured.
    #[cfg(feature = "provider-logout")]
    pub(crate) provider_logout: Option<Arc<crate::provider_logout::Routes>>,
    /// The preflight of this configuration (`OidcLogoutLayer::preflight`).
    #[cfg(feature = "discovery")]
    pub(crate) preflight: crate::discovery::Preflight,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("end_session_url", &self.end_session_url)
            .field("logout_path", &self.logout_path)
            .field("callback_path", &self.callback_path)
            .field("same_origin", &self.same_origin)
            .field("allow_get", &self.allow_get)
            .field("accept_missing_state", &self.accept_missing_state)
            .field("cookie_removals", &self.cookie_removals.len())
            .field("clear_site_data", &self.clear_site_data)
            .field("refusal_page", &self.refusal_page.is_some())
            .finish_non_exhaustive()
    }
}

/// Builds an [`OidcLogoutLayer`]; start with [`OidcLogoutLayer::builder`].
///
/// Required: an end-session endpoint ([`end_session_endpoint`](Self::end_session_endpoint)
/// or [`next_identity`](Self::next_identity)), [`client_id`](Self::client_id),
/// [`post_logout_redirect_uri`](Self::post_logout_redirect_uri) and
/// [`state_key`](Self::state_key). [`build`](Self::build) checks everything
/// and says what to fix.
#[must_use]
pub struct OidcLogoutBuilder<H = NoServerSession> {
    settings: Settings,
    hook: H,
}

/// The settings as given, checked only by [`OidcLogoutBuilder::build`]; kept
/// apart from the hook so that changing the hook's type moves them whole.
struct Settings {
    end_session_endpoint: Option<String>,
    /// From discovery: the provider's metadata.
    #[cfg(feature = "discovery")]
    provider: Option<crate::discovery::ProviderMetadata>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    logout_path: String,
    callback_path: Option<String>,
    app_origin: Option<String>,
    trusted_origins: Vec<String>,
    cookies: Vec<SessionCookie>,
    state_key: Option<StateKey>,
    previous_keys: Vec<StateKey>,
    state_ttl: Duration,
    ui_locales: Option<String>,
    max_url_len: usize,
    allow_get: bool,
    accept_missing_state: bool,
    clear_site_data: Vec<ClearSiteData>,
    clock: Option<Clock>,
    refusal_page: Option<RefusalPage>,
    /// The routes' parts, and their paths (each set with its part).
    #[cfg(feature = "provider-logout")]
    provider_logout: Option<crate::provider_logout::ProviderLogout>,
    #[cfg(feature = "provider-logout")]
    backchannel_path: Option<String>,
    #[cfg(feature = "provider-logout")]
    frontchannel_path: Option<String>,
}

impl<H> fmt::Debug for OidcLogoutBuilder<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let settings = &self.settings;
        f.debug_struct("OidcLogoutBuilder")
            .field("end_session_endpoint", &settings.end_session_endpoint)
            .field("client_id", &settings.client_id)
            .field("post_logout_redirect_uri", &settings.post_logout_redirect_uri)
            .field("logout_path", &settings.logout_path)
            .finish_non_exhaustive()
    }
}

impl Default for OidcLogoutBuilder {
    fn default() -> Self {
        let settings = Settings {
            end_session_endpoint: None,
            #[cfg(feature = "discovery")]
            provider: None,
            client_id: None,
            post_logout_redirect_uri: None,
            logout_path: "/logout".to_owned(),
            callback_path: None,
            app_origin: None,
            trusted_origins: Vec::new(),
            cookies: Vec::new(),
            state_key: None,
            previous_keys: Vec::new(),
            state_ttl: DEFAULT_STATE_TTL,
            ui_locales: None,
            max_url_len: DEFAULT_MAX_END_SESSION_URL_LEN,
            allow_get: false,
            accept_missing_state: false,
            clear_site_data: vec![ClearSiteData::Storage],
            clock: None,
            refusal_page: None,
            #[cfg(feature = "provider-logout")]
            provider_logout: None,
            #[cfg(feature = "provider-logout")]
            backchannel_path: None,
            #[cfg(feature = "provider-logout")]
            frontchannel_path: None,
        };
        Self { settings, hook: NoServerSession }
    }
}

impl<H> OidcLogoutBuilder<H> {
    /// The provider's `end_session_endpoint`, as a full URL.
    ///
    /// Any query it already has is kept. `https` is required, except `http`
    /// on loopback hosts for development.
    pub fn end_session_endpoint(mut self, url: impl Into<String>) -> Self {
        self.settings.end_session_endpoint = Some(url.into());
        self
    }

    /// Takes the end-session endpoint from the provider's discovered metadata;
    /// with [`provider_logout`](Self::provider_logout), also the issuer and
    /// the key set (`jwks_uri`) its logout tokens are checked against.
    ///
    /// An endpoint set by hand with
    /// [`end_session_endpoint`](Self::end_session_endpoint) (or
    /// [`next_identity`](Self::next_identity)) wins. Without either, a
    /// provider whose document has no `end_session_endpoint` is refused by
    /// [`build`](Self::build) with [`ConfigError::NoEndSessionEndpoint`].
    ///
    /// ```no_run
    /// use tower_oidc_logout::{OidcLogoutLayer, StateKey, discovery::ProviderMetadata};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// // Fetched once, at start-up; nothing is fetched per request.
    /// let provider = ProviderMetadata::discover("https://id.eu.nextreason.com").await?;
    /// let layer = OidcLogoutLayer::builder()
    ///     .provider(&provider)
    ///     .client_id("my-client-id")
    ///     .post_logout_redirect_uri("https://app.example/logout/callback")
    ///     .state_key(StateKey::generate()?)
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    #[cfg(feature = "discovery")]
    pub fn provider(mut self, metadata: &crate::discovery::ProviderMetadata) -> Self {
        self.settings.provider = Some(metadata.clone());
        self
    }

    /// Targets Next Identity: `https://<base_domain>/endsession`.
    ///
    /// `base_domain` is the integration's base domain, e.g.
    /// `id.eu.nextreason.com` (a leading `https://` and trailing `/` are
    /// accepted).
    pub fn next_identity(self, base_domain: impl AsRef<str>) -> Self {
        self.end_session_endpoint(end_session::next_identity_endpoint(base_domain.as_ref()))
    }

    /// The client ID the provider issued for this app (sent as `client_id`).
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.settings.client_id = Some(client_id.into());
        self
    }

    /// Where the provider sends the browser back after sign-out.
    ///
    /// Sent byte for byte as given, because providers compare it exactly with
    /// the registered value. Its path is the callback route; when that is the
    /// site root (`https://app.example/`), which is also the home page, only
    /// requests to `/` carrying `state` or `logout` are treated as callbacks
    /// and the rest reach the app untouched. Absolute `https`,
    /// or `http` on loopback hosts (`localhost`, `127.0.0.1`, `[::1]`) for
    /// development.
    pub fn post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.settings.post_logout_redirect_uri = Some(uri.into());
        self
    }

    /// The app's local logout route (default `/logout`).
    pub fn logout_path(mut self, path: impl Into<String>) -> Self {
        self.settings.logout_path = path.into();
        self
    }

    /// The callback route's path as the layer receives it, when that is not
    /// the path of [`post_logout_redirect_uri`](Self::post_logout_redirect_uri)
    /// (the default).
    ///
    /// Behind a proxy that strips a prefix (the provider sends the browser to
    /// `https://example.com/myapp/logout/callback`, the app receives
    /// `/logout/callback`) or with the layer inside axum's
    /// `Router::nest("/auth", ...)` (which strips `/auth` before inner layers
    /// run), the two differ: without this setting the layer would not
    /// recognise the callback, and forged callbacks would reach the app
    /// unchecked. `post_logout_redirect_uri` is still sent exactly as
    /// configured. [`OidcLogoutLayer::callback_path`](crate::OidcLogoutLayer::callback_path)
    /// shows what the layer watches.
    pub fn callback_path(mut self, path: impl Into<String>) -> Self {
        self.settings.callback_path = Some(path.into());
        self
    }

    /// The app's own origin, for the cross-site check of the logout route.
    ///
    /// Defaults to the origin of `post_logout_redirect_uri`.
    pub fn app_origin(mut self, origin: impl Into<String>) -> Self {
        self.settings.app_origin = Some(origin.into());
        self
    }

    /// Another origin whose pages may post to the logout route (e.g. a
    /// sibling subdomain of the same site).
    pub fn trust_origin(mut self, origin: impl Into<String>) -> Self {
        self.settings.trusted_origins.push(origin.into());
        self
    }

    /// A local cookie to expire at sign-out; call once per cookie.
    pub fn expire_cookie(mut self, cookie: SessionCookie) -> Self {
        self.settings.cookies.push(cookie);
        self
    }

    /// The key that seals new states; shared by every instance of the app.
    pub fn state_key(mut self, key: StateKey) -> Self {
        self.settings.state_key = Some(key);
        self
    }

    /// Older keys still accepted when opening states, newest first.
    ///
    /// To rotate: make the new key current and list the old one here for at
    /// least the state lifetime, so logouts in flight still complete.
    pub fn previous_state_keys(mut self, keys: impl IntoIterator<Item = StateKey>) -> Self {
        self.settings.previous_keys = keys.into_iter().collect();
        self
    }

    /// How long a sign-out may take at the provider: the state and its cookie
    /// expire after it ([`DEFAULT_STATE_TTL`] unless set, between
    /// [`MIN_STATE_TTL`](crate::limits::MIN_STATE_TTL) and [`MAX_STATE_TTL`](crate::limits::MAX_STATE_TTL)).
    pub fn state_ttl(mut self, ttl: Duration) -> Self {
        self.settings.state_ttl = ttl;
        self
    }

    /// `ui_locales` for the provider's sign-out pages, e.g. `"fr-CA fr en"`.
    pub fn ui_locales(mut self, locales: impl Into<String>) -> Self {
        self.settings.ui_locales = Some(locales.into());
        self
    }

    /// Cap on the end-session URL's length (default
    /// [`DEFAULT_MAX_END_SESSION_URL_LEN`]).
    ///
    /// When a hint would push the URL over the cap it is dropped, never
    /// truncated: `id_token_hint` (often kilobytes) goes first, then
    /// `logout_hint` is sent if it fits. `client_id` is always sent, so the
    /// provider still knows the client.
    pub fn max_end_session_url_len(mut self, bytes: usize) -> Self {
        self.settings.max_url_len = bytes;
        self
    }

    /// Also accept `GET` on the logout route (default: `POST` only).
    ///
    /// Dangerous: link prefetchers, previews and `<img>` tags can then sign
    /// users out. Cross-site requests are still refused.
    pub fn dangerous_allow_get_logout(mut self) -> Self {
        self.settings.allow_get = true;
        self
    }

    /// The `Clear-Site-Data` directives of the logout response (default
    /// `"storage"`); an empty list sends none.
    ///
    /// Browsers honour the header on secure contexts only: it is defence in
    /// depth, not the primary mechanism.
    pub fn clear_site_data(mut self, directives: impl IntoIterator<Item = ClearSiteData>) -> Self {
        self.settings.clear_site_data = directives.into_iter().collect();
        self
    }

    /// Accept a callback that carries no `state` (default: refused).
    ///
    /// Dangerous: for providers that do not echo `state`. The callback then
    /// passes if the browser holds a valid, unexpired state cookie (the
    /// newest is used and expired), so it still proves this browser started a
    /// sign-out here; but it no longer proves the provider sent it back.
    /// [`LoggedOut::state_echoed`](crate::LoggedOut::state_echoed) tells which.
    pub fn dangerous_accept_callback_without_state(mut self) -> Self {
        self.settings.accept_missing_state = true;
        self
    }

    /// Where the middleware reads the time (default [`SystemTime::now`]); for
    /// tests of expiry.
    pub fn clock(mut self, clock: impl Fn() -> SystemTime + Send + Sync + 'static) -> Self {
        self.settings.clock = Some(Arc::new(clock));
        self
    }

    /// The hook that ends the server-side session (default: none).
    pub fn end_session_hook<H2: EndSessionHook>(self, hook: H2) -> OidcLogoutBuilder<H2> {
        OidcLogoutBuilder { settings: self.settings, hook }
    }

    /// The app's own page for a refused request, instead of the default
    /// `<code>: <message>` text.
    ///
    /// `page` gets the [`Rejection`] and the request's parts (read-only) and
    /// returns a response whose body is anything `Into<Bytes>` (a `String`
    /// of HTML, say). Whatever it returns, the crate sets the status to
    /// [`Rejection::status`], `Cache-Control: no-store`,
    /// `X-Content-Type-Options: nosniff`, `Allow` on a `405`, the state
    /// cookie removals a refused callback carries, and the [`Rejection`] in
    /// the response extensions; `Content-Type` defaults to
    /// `text/html; charset=utf-8` when the page sets none. Escape anything
    /// from the request that the page shows.
    ///
    /// ```
    /// use http::{Response, request::Parts};
    /// use tower_oidc_logout::{OidcLogoutLayer, Rejection, StateKey};
    ///
    /// # fn main() -> Result<(), tower_oidc_logout::ConfigError> {
    /// let layer = OidcLogoutLayer::builder()
    ///     .end_session_endpoint("https://op.example/endsession")
    ///     .client_id("my-client-id")
    ///     .post_logout_redirect_uri("https://app.example/logout/callback")
    ///     .state_key(StateKey::generate()?)
    ///     .refusal_page(|rejection: &Rejection, _request: &Parts| {
    ///         // `rejection`'s text is fixed by the crate: no escaping needed.
    ///         Response::new(format!(
    ///             "<!doctype html><title>Sign-out</title><h1>That did not work</h1>\
    ///              <p>{rejection}</p><p><a href=\"/\">Home</a></p>"
    ///         ))
    ///     })
    ///     .build()?;
    /// # let _ = layer;
    /// # Ok(())
    /// # }
    /// ```
    pub fn refusal_page<F, B>(mut self, page: F) -> Self
    where
        F: Fn(&Rejection, &Parts) -> Response<B> + Send + Sync + 'static,
        B: Into<Bytes>,
    {
        self.settings.refusal_page =
            Some(Arc::new(move |rejection, parts| page(rejection, parts).map(Into::into)));
        self
    }

    /// Ends the app's sessions when the provider says they ended: the index
    /// and store of [`backchannel_logout`](Self::backchannel_logout) and
    /// [`frontchannel_logout`](Self::frontchannel_logout) (see
    /// [`provider_logout`](crate::provider_logout)). Logout tokens are
    /// checked against the [`provider`](Self::provider) and
    /// [`client_id`](Self::client_id) given here, unless `logout` carries
    /// its own [validator](crate::provider_logout::ProviderLogout::validator).
    #[cfg(feature = "provider-logout")]
    pub fn provider_logout(mut self, logout: crate::provider_logout::ProviderLogout) -> Self {
        self.settings.provider_logout = Some(logout);
        self
    }

    /// Serves OpenID Connect Back-Channel Logout 1.0 at `path` (e.g.
    /// `/logout/backchannel`), with the parts given to
    /// [`provider_logout`](Self::provider_logout): the provider POSTs a
    /// `logout_token`; once it passes every check of section 2.6 and its
    /// `jti` is new, the app sessions of its `sid` (or of its `sub`) are
    /// deleted from the app's store. No cross-site check: the caller is the
    /// provider's server. Register `<origin><path>` as the client's
    /// `backchannel_logout_uri`. The answers are described in
    /// [`provider_logout`](crate::provider_logout#the-routes).
    #[cfg(feature = "provider-logout")]
    pub fn backchannel_logout(mut self, path: impl Into<String>) -> Self {
        self.settings.backchannel_path = Some(path.into());
        self
    }

    /// Serves OpenID Connect Front-Channel Logout 1.0 at `path` (e.g.
    /// `/logout/frontchannel`), with the parts given to
    /// [`provider_logout`](Self::provider_logout): the provider's page frames
    /// `<path>?iss=...&sid=...`; when `iss` is the provider's, the app
    /// sessions of `sid` are ended server-side.
    ///
    /// Prefer [`backchannel_logout`](Self::backchannel_logout): anyone who
    /// knows a `sid` can end that session through this route; browsers
    /// that block third-party cookies send none in the provider's iframe, so
    /// only this server-side lookup works there; and a page that is never
    /// loaded (the user closed the tab) ends nothing. The answer is a small
    /// page that only the provider's origin may frame (`frame-ancestors`).
    #[cfg(feature = "provider-logout")]
    pub fn frontchannel_logout(mut self, path: impl Into<String>) -> Self {
        self.settings.frontchannel_path = Some(path.into());
        self
    }

    /// Checks the configuration and builds the layer.
    pub fn build(self) -> Result<OidcLogoutLayer<H>, ConfigError>
    where
        H: EndSessionHook,
    {
        let config = self.settings.into_config()?;
        Ok(OidcLogoutLayer::new(Arc::new(config), Arc::new(self.hook)))
    }
}

/// Stands for the provider's metadata in a build without discovery.
#[cfg(not(feature = "discovery"))]
struct Undiscovered;

#[cfg(not(feature = "discovery"))]
impl Undiscovered {
    fn end_session_endpoint(&self) -> Option<&str> {
        None
    }

    fn issuer(&self) -> &str {
        ""
    }
}

/// The provider-logout routes: their paths checked against the others and
/// each other, and the logout-token validator (given, or built from the
/// provider and the client ID).
#[cfg(feature = "provider-logout")]
fn provider_logout_routes(
    logout: Option<crate::provider_logout::ProviderLogout>,
    (back, front): (Option<String>, Option<String>),
    taken: [&String; 2],
    provider: Option<&crate::discovery::ProviderMetadata>,
    client_id: &str,
    clock: Option<Clock>,
) -> Result<Option<Arc<crate::provider_logout::Routes>>, ConfigError> {
    use crate::provider_logout::{LogoutTokenValidator, Routes};

    let logout = match (logout, back.is_some() || front.is_some()) {
        (None, false) => return Ok(None),
        (None, true) => return Err(ConfigError::ProviderLogoutMissing),
        (Some(_), false) => return Err(ConfigError::ProviderLogoutRouteMissing),
        (Some(logout), true) => logout,
    };
    for path in back.iter().chain(&front) {
        if !is_route_path(path) {
            return Err(ConfigError::InvalidLogoutPath(path.clone()));
        }
        if taken.contains(&path) {
            return Err(ConfigError::RoutesCollide(path.clone()));
        }
    }
    if back.is_some() && back == front {
        return Err(ConfigError::RoutesCollide(back.unwrap_or_default()));
    }
    let validator = match (logout.validator.clone(), provider) {
        (Some(validator), _) => validator,
        (None, Some(provider)) => {
            let mut builder =
                LogoutTokenValidator::builder().provider(provider).client_id(client_id);
            if let Some(clock) = clock {
                builder = builder.clock(move || clock());
            }
            builder.build().map_err(|error| ConfigError::LogoutTokenValidator(error.to_string()))?
        }
        (None, None) => return Err(ConfigError::ProviderLogoutWithoutProvider),
    };
    let routes = Routes::new(validator, logout, back, front).ok_or(ConfigError::InvalidUrl {
        what: "the logout tokens' issuer",
        value: String::new(),
        reason: "it has no origin the front-channel page could name",
    })?;
    Ok(Some(Arc::new(routes)))
}

impl Settings {
    /// Every check of [`OidcLogoutBuilder::build`], in the order a user fixes them.
    fn into_config(self) -> Result<Config, ConfigError> {
        #[cfg(feature = "discovery")]
        let discovered = self.provider.as_ref();
        #[cfg(not(feature = "discovery"))]
        let discovered: Option<&Undiscovered> = None;
        let endpoint_text = match (self.end_session_endpoint, discovered) {
            (Some(by_hand), _) => by_hand,
            (None, Some(provider)) => match provider.end_session_endpoint() {
                Some(endpoint) => endpoint.to_owned(),
                None => {
                    let issuer = provider.issuer().to_owned();
                    return Err(ConfigError::NoEndSessionEndpoint { issuer });
                }
            },
            (None, None) => return Err(ConfigError::MissingEndSessionEndpoint),
        };
        let endpoint = parse_url("end-session endpoint", &endpoint_text)?;
        let client_id =
            self.client_id.filter(|id| !id.is_empty()).ok_or(ConfigError::MissingClientId)?;
        let redirect_text =
            self.post_logout_redirect_uri.ok_or(ConfigError::MissingPostLogoutRedirectUri)?;
        let redirect = parse_url("post_logout_redirect_uri", &redirect_text)?;

        let logout_path = self.logout_path;
        if !is_route_path(&logout_path) {
            return Err(ConfigError::InvalidLogoutPath(logout_path));
        }
        let callback_path = match self.callback_path {
            Some(path) if !is_route_path(&path) => {
                return Err(ConfigError::InvalidCallbackPath(path));
            }
            Some(path) => path,
            None => redirect.path().to_owned(),
        };
        if callback_path == logout_path {
            return Err(ConfigError::RoutesCollide(logout_path));
        }
        #[cfg(feature = "provider-logout")]
        let routes_on = (self.backchannel_path.is_some(), self.frontchannel_path.is_some());
        #[cfg(feature = "provider-logout")]
        let provider_logout = provider_logout_routes(
            self.provider_logout,
            (self.backchannel_path, self.frontchannel_path),
            [&logout_path, &callback_path],
            self.provider.as_ref(),
            &client_id,
            self.clock.clone(),
        )?;

        let app_origin = match self.app_origin {
            Some(origin) => origin_of("app_origin", &origin)?,
            None => redirect.origin().ascii_serialization(),
        };
        let mut trusted_origins = vec![app_origin];
        for origin in &self.trusted_origins {
            trusted_origins.push(origin_of("trust_origin", origin)?);
        }

        let secure_site = redirect.scheme() == "https";
        let mut cookie_removals = Vec::with_capacity(self.cookies.len());
        for cookie in &self.cookies {
            cookie_removals.extend(cookie.removals(secure_site)?);
        }

        let state_key = self.state_key.ok_or(ConfigError::MissingStateKey)?;
        let ttl_secs = state::ttl_secs(self.state_ttl)?;
        #[cfg(feature = "discovery")]
        let preflight = {
            let mut preflight =
                crate::discovery::Preflight::new(endpoint.as_str(), &client_id, &redirect_text);
            if let Some(provider) = &self.provider {
                preflight = preflight.metadata(provider);
            }
            #[cfg(feature = "provider-logout")]
            {
                preflight = preflight.backchannel(routes_on.0).frontchannel(routes_on.1);
            }
            preflight
        };
        let end_session_url = EndSessionUrl::new(
            endpoint,
            &client_id,
            &redirect_text,
            self.ui_locales.as_deref(),
            self.max_url_len,
        )?;

        let clear_site_data = if self.clear_site_data.is_empty() {
            None
        } else {
            let directives: Vec<_> = self.clear_site_data.iter().map(|d| d.directive()).collect();
            // Quoted ASCII tokens only, so this is always a valid header value.
            HeaderValue::try_from(directives.join(", ")).ok()
        };

        Ok(Config {
            end_session_url,
            logout_path,
            callback_path,
            same_origin: SameOrigin::new(trusted_origins),
            allow_get: self.allow_get,
            accept_missing_state: self.accept_missing_state,
            cookie_removals,
            clear_site_data,
            state_cookies: StateCookies::new(secure_site, ttl_secs),
            keys: KeyRing::new(state_key, self.previous_keys, ttl_secs, self.clock),
            refusal_page: self.refusal_page,
            #[cfg(feature = "provider-logout")]
            provider_logout,
            #[cfg(feature = "discovery")]
            preflight,
        })
    }
}

/// A route's path as the layer compares it: absolute, visible ASCII, no query or fragment.
fn is_route_path(path: &str) -> bool {
    path.starts_with('/')
        && path.bytes().all(|b| (0x21..=0x7e).contains(&b) && b != b'?' && b != b'#')
}

/// Parses a configured URL by the crate's URL rule (`https_url`).
fn parse_url(what: &'static str, text: &str) -> Result<Url, ConfigError> {
    https_url::parse(text).map_err(|reason| ConfigError::InvalidUrl {
        what,
        value: text.to_owned(),
        reason,
    })
}

fn origin_of(what: &'static str, text: &str) -> Result<String, ConfigError> {
    let url = parse_url(what, text)?;
    if url.path() != "/" || url.query().is_some() {
        return Err(ConfigError::InvalidUrl {
            what,
            value: text.to_owned(),
            reason: "an origin is a scheme, host and port only, like `https://app.example`",
        });
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::OidcLogoutLayer;

    fn key() -> StateKey {
        StateKey::from_bytes(b"0123456789abcdef0123456789abcdef").unwrap()
    }

    fn builder() -> OidcLogoutBuilder {
        OidcLogoutLayer::builder()
            .next_identity("id.eu.nextreason.com")
            .client_id("client")
            .post_logout_redirect_uri("https://app.example/logout/callback")
            .state_key(key())
    }

    fn error(builder: OidcLogoutBuilder) -> ConfigError {
        builder.build().map(|_| ()).unwrap_err()
    }

    #[test]
    fn next_identity_targets_endsession() {
        for base in ["id.eu.nextreason.com", "https://id.eu.nextreason.com/"] {
            let layer = builder().next_identity(base).build().unwrap();
            assert!(
                layer
                    .config()
                    .end_session_url
                    .base()
                    .starts_with("https://id.eu.nextreason.com/endsession?client_id=client&"),
                "{}",
                layer.config().end_session_url.base()
            );
        }
    }

    #[test]
    fn keeps_the_endpoints_query_and_sends_the_redirect_uri_exactly() {
        let layer = builder()
            .end_session_endpoint("https://op.example/oidc/logout?tenant=a%20b")
            .post_logout_redirect_uri("https://app.example:8443/cb?x=1")
            .ui_locales("fr-CA en")
            .build()
            .unwrap();
        let base = layer.config().end_session_url.base();
        assert!(
            base.starts_with("https://op.example/oidc/logout?tenant=a%20b&client_id=client&"),
            "{base}"
        );
        let url = Url::parse(base).unwrap();
        let redirect = url.query_pairs().find(|(k, _)| k == "post_logout_redirect_uri").unwrap().1;
        assert_eq!(redirect, "https://app.example:8443/cb?x=1");
        assert!(url.query_pairs().any(|(k, v)| k == "ui_locales" && v == "fr-CA en"));
        assert_eq!(layer.config().callback_path, "/cb");
    }

    #[test]
    fn trailing_slash_is_not_added_to_the_redirect_uri() {
        let layer = builder()
            .post_logout_redirect_uri("https://app.example")
            .logout_path("/bye")
            .build()
            .unwrap();
        let url = Url::parse(layer.config().end_session_url.base()).unwrap();
        let redirect = url.query_pairs().find(|(k, _)| k == "post_logout_redirect_uri").unwrap().1;
        assert_eq!(redirect, "https://app.example");
    }

    #[test]
    fn missing_settings_are_named() {
        let none = OidcLogoutLayer::builder();
        assert_eq!(error(none), ConfigError::MissingEndSessionEndpoint);
        assert_eq!(error(builder().client_id("")), ConfigError::MissingClientId);
        let no_key = OidcLogoutLayer::builder()
            .next_identity("id.example")
            .client_id("c")
            .post_logout_redirect_uri("https://app.example/cb");
        assert_eq!(error(no_key), ConfigError::MissingStateKey);
        let no_redirect = OidcLogoutLayer::builder().next_identity("id.example").client_id("c");
        assert_eq!(error(no_redirect), ConfigError::MissingPostLogoutRedirectUri);
    }

    #[test]
    fn urls_must_be_https_except_on_loopback() {
        for bad in [
            "http://app.example/cb",
            "ftp://app.example/cb",
            "/cb",
            " https://app.example/cb",
            "https://app.example/cb#x",
            "https://user:pw@app.example/cb",
        ] {
            let err = error(builder().post_logout_redirect_uri(bad));
            assert!(
                matches!(err, ConfigError::InvalidUrl { what: "post_logout_redirect_uri", .. }),
                "{bad}: {err}"
            );
        }
        for ok in ["http://localhost:3000/cb", "http://127.0.0.1:3000/cb", "http://[::1]/cb"] {
            assert!(builder().post_logout_redirect_uri(ok).build().is_ok(), "{ok}");
        }
        let err = error(builder().end_session_endpoint("http://op.example/endsession"));
        assert!(matches!(err, ConfigError::InvalidUrl { what: "end-session endpoint", .. }));
    }

    #[test]
    fn routes_must_differ_and_be_paths() {
        assert_eq!(
            error(builder().logout_path("/logout/callback")),
            ConfigError::RoutesCollide("/logout/callback".into())
        );
        assert!(matches!(
            error(builder().logout_path("logout")),
            ConfigError::InvalidLogoutPath(_)
        ));
        assert!(matches!(
            error(builder().logout_path("/log out")),
            ConfigError::InvalidLogoutPath(_)
        ));
        assert!(matches!(
            error(builder().callback_path("logout/callback")),
            ConfigError::InvalidCallbackPath(_)
        ));
        assert_eq!(
            error(builder().logout_path("/bye").callback_path("/bye")),
            ConfigError::RoutesCollide("/bye".into())
        );
        let layer = builder().callback_path("/cb").build().unwrap();
        assert_eq!((layer.logout_path(), layer.callback_path()), ("/logout", "/cb"));
        let layer = builder().build().unwrap();
        assert_eq!(layer.callback_path(), "/logout/callback");
    }

    #[test]
    fn bad_values_are_refused() {
        assert_eq!(
            error(builder().state_ttl(Duration::from_secs(0))),
            ConfigError::InvalidStateTtl { secs: 0, min: 10, max: 3600, default: 300 }
        );
        assert_eq!(
            error(builder().state_ttl(Duration::from_secs(86_400))),
            ConfigError::InvalidStateTtl { secs: 86_400, min: 10, max: 3600, default: 300 }
        );
        assert!(matches!(error(builder().ui_locales("en;fr")), ConfigError::InvalidUiLocales(_)));
        assert!(matches!(
            error(builder().max_end_session_url_len(64)),
            ConfigError::UrlCapTooSmall { cap: 64, .. }
        ));
        assert!(matches!(
            error(builder().app_origin("https://app.example/path")),
            ConfigError::InvalidUrl { .. }
        ));
        assert!(matches!(
            error(builder().expire_cookie(SessionCookie::new("__Host-x").path("/a"))),
            ConfigError::InvalidCookie { .. }
        ));
    }

    #[test]
    fn clear_site_data_defaults_to_storage() {
        let layer = builder().build().unwrap();
        assert_eq!(layer.config().clear_site_data.as_ref().unwrap(), "\"storage\"");
        let none = builder().clear_site_data([]).build().unwrap();
        assert!(none.config().clear_site_data.is_none());
        let two = builder()
            .clear_site_data([ClearSiteData::Storage, ClearSiteData::ExecutionContexts])
            .build()
            .unwrap();
        assert_eq!(
            two.config().clear_site_data.as_ref().unwrap(),
            "\"storage\", \"executionContexts\""
        );
    }
}
