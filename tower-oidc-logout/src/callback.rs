//! The post-logout callback: open the state, then hand over to the inner service.

use std::{
    borrow::Cow,
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use http::{HeaderValue, Method, Request, Response};

use crate::{
    body::{FromReply, ReplyBody},
    config::Config,
    cookies::request_cookies,
    error::Rejection,
    form,
    future::ResponseFuture,
    reply,
    state::{OpenError, decode_state},
    target::ReturnTarget,
};

/// Longest callback query string read.
const MAX_QUERY_LEN: usize = 4096;
const ALLOW_GET: HeaderValue = HeaderValue::from_static("GET");

/// What the callback validated, placed in the request extensions before the
/// inner service is called.
///
/// ```
/// # async fn handler(logged_out: axum::Extension<tower_oidc_logout::LoggedOut>) -> axum::response::Redirect {
/// let target = logged_out.return_target().map_or("/", |t| t.as_str());
/// axum::response::Redirect::to(target)
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOut {
    logout: Option<String>,
    return_target: Option<ReturnTarget>,
    state_echoed: bool,
}

impl LoggedOut {
    /// The provider's `logout` parameter, passed on as received.
    ///
    /// Next Identity documents that it sends one but not its value: treat it
    /// as opaque and do not depend on it.
    #[must_use]
    pub fn logout(&self) -> Option<&str> {
        self.logout.as_deref()
    }

    /// Where the user asked to land after sign-out, validated and sealed at
    /// the logout route (never read from the callback URL).
    #[must_use]
    pub fn return_target(&self) -> Option<&ReturnTarget> {
        self.return_target.as_ref()
    }

    /// Whether the provider echoed `state` (always, unless
    /// [`dangerous_accept_callback_without_state`](crate::OidcLogoutBuilder::dangerous_accept_callback_without_state)
    /// let a callback without it through).
    #[must_use]
    pub fn state_echoed(&self) -> bool {
        self.state_echoed
    }
}

/// The callback route on its own, for framework authors who route themselves.
///
/// Validates every request it is given as a post-logout callback (it does
/// not look at the path, except at a site-root callback: see
/// [`OidcLogoutLayer::callback_service`](crate::OidcLogoutLayer::callback_service),
/// which makes one), and calls `S` only for a valid one.
#[derive(Clone)]
pub struct CallbackService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> CallbackService<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        Self { inner, config }
    }
}

impl<S: fmt::Debug> fmt::Debug for CallbackService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackService").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for CallbackService<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: FromReply,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        validate_then_call(&self.config, &mut self.inner, request)
    }
}

/// Whether a request to the callback path is a post-logout callback.
///
/// At the site root the callback path is also the home page, so there only
/// a request carrying `state` or `logout` (what providers send back) is a
/// callback; anywhere else every request to the path is.
fn is_callback<B>(config: &Config, request: &Request<B>) -> bool {
    config.callback_path != "/"
        || request.uri().query().is_some_and(|query| {
            query.split('&').any(|pair| {
                let name = pair.split_once('=').map_or(pair, |(name, _)| name);
                name == "state" || name == "logout"
            })
        })
}

/// Validates the callback and calls `inner` only if it holds (at the site root,
/// requests that are not callbacks pass straight through).
#[inline]
pub(crate) fn validate_then_call<S, ReqBody, ResBody>(
    config: &Config,
    inner: &mut S,
    mut request: Request<ReqBody>,
) -> ResponseFuture<S::Future>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    match check(config, &mut request) {
        Ok(removal) => ResponseFuture::inner(inner.call(request), removal),
        Err(refusal) => ResponseFuture::reply(refuse(config, request, refusal)),
    }
}

/// The callback's checks, on the request in place (so it is not moved): the
/// state cookie's removal to add to the inner service's response (none when
/// a request at the site root is not a callback), or why it is refused.
#[inline(never)] // Keeps the pass-through path of `OidcLogout::call` small.
pub(crate) fn check<B>(
    config: &Config,
    request: &mut Request<B>,
) -> Result<Option<HeaderValue>, Refusal> {
    if !is_callback(config, request) {
        return Ok(None);
    }
    let (logged_out, removal) = validate(config, request)?;
    request.extensions_mut().insert(logged_out);
    Ok(Some(removal))
}

/// The answer to a refused callback: the refusal (the app's page, if it has
/// one) with the removals of the state cookies it names.
#[inline(never)]
fn refuse<B>(
    config: &Config,
    request: Request<B>,
    (rejection, removals): Refusal,
) -> Response<ReplyBody> {
    let (parts, _) = request.into_parts();
    let allow = (rejection == Rejection::MethodNotAllowed).then_some(ALLOW_GET);
    let mut response = reply::rejection(config.refusal_page.as_ref(), &parts, rejection, allow);
    reply::set_cookies(&mut response, removals);
    response
}

/// Why a callback is refused, and the state cookies to expire with it.
pub(crate) type Refusal = (Rejection, Vec<HeaderValue>);

fn validate<B>(config: &Config, request: &Request<B>) -> Result<(LoggedOut, HeaderValue), Refusal> {
    let cookies = &config.state_cookies;
    // Without a usable `state` no cookie can be singled out: expire them all.
    let expire_all = |rejection| {
        let removals = request_cookies(request.headers())
            .filter(|(name, _)| cookies.is_state_cookie(name))
            .map(|(name, _)| cookies.removal(name))
            .collect();
        (rejection, removals)
    };
    if request.method() != Method::GET {
        return Err((Rejection::MethodNotAllowed, Vec::new()));
    }
    let [state, logout] =
        read_query(request.uri().query().unwrap_or_default()).map_err(expire_all)?;
    let logout = logout.map(Cow::into_owned);

    let Some(state) = state else {
        if config.accept_missing_state {
            return newest_pending(config, request, logout)
                .ok_or_else(|| expire_all(Rejection::StateCookieMissing));
        }
        return Err(expire_all(Rejection::StateMissing));
    };
    let nonce = decode_state(&state).ok_or_else(|| expire_all(Rejection::StateMalformed))?;

    let name = cookies.name(state.as_bytes());
    // A sibling subdomain may have tossed in a cookie of the same name: any
    // authentic, matching one passes.
    let mut failure = Rejection::StateCookieMissing;
    for (_, sealed) in request_cookies(request.headers()).filter(|(n, _)| name.is(n)) {
        failure = match config.keys.open(sealed) {
            Ok(opened) if opened.matches(&nonce) => {
                let logged_out =
                    LoggedOut { logout, return_target: opened.return_target, state_echoed: true };
                return Ok((logged_out, cookies.removal_of(name)));
            }
            Ok(_) => Rejection::StateMismatch,
            Err(OpenError::Expired) => Rejection::StateExpired,
            Err(OpenError::Tampered) => Rejection::StateTampered,
        };
    }
    Err((failure, vec![cookies.removal_of(name)]))
}

/// `state` and `logout` from the query; each at most once.
fn read_query(query: &str) -> Result<[Option<Cow<'_, str>>; 2], Rejection> {
    if query.len() > MAX_QUERY_LEN {
        return Err(Rejection::TooLarge);
    }
    form::params_once_str(query, ["state", "logout"]).map_err(|_| Rejection::MalformedQuery)
}

/// With no `state` echoed (opt-in only): the newest valid state cookie.
fn newest_pending<B>(
    config: &Config,
    request: &Request<B>,
    logout: Option<String>,
) -> Option<(LoggedOut, HeaderValue)> {
    let cookies = &config.state_cookies;
    let (name, opened) = request_cookies(request.headers())
        .filter(|(name, _)| cookies.is_state_cookie(name))
        .filter_map(|(name, sealed)| Some((name, config.keys.open(sealed).ok()?)))
        .max_by_key(|(_, opened)| opened.expires_at)?;
    let logged_out = LoggedOut { logout, return_target: opened.return_target, state_echoed: false };
    Some((logged_out, cookies.removal(name)))
}
