//! The logout route: same-origin rules, the storage hook, then 303 to the provider.

use std::{
    convert::Infallible,
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{
    HeaderName, HeaderValue, Method, Request, Response,
    header::{CONTENT_TYPE, ORIGIN},
    request::Parts,
};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use url::form_urlencoded;

use crate::{
    BoxError, EndSessionFailed, EndSessionHook, LogoutHints, NoServerSession, Rejection,
    ReturnTarget, body::ReplyBody, config::Config, cookies::request_cookies, reply, state::KeyRing,
};

/// Name of the query parameter or form field that carries the return target.
pub const RETURN_TO_PARAM: &str = "return_to";
/// Most state cookies a browser keeps at once: parallel sign-outs in other tabs.
pub const MAX_PENDING_STATES: usize = 4;
/// Largest form body read from a logout request.
const MAX_FORM_LEN: usize = 4096;

const ALLOW_POST: HeaderValue = HeaderValue::from_static("POST");
const ALLOW_GET_POST: HeaderValue = HeaderValue::from_static("GET, POST");
const SEC_FETCH_SITE: HeaderName = HeaderName::from_static("sec-fetch-site");
const CLEAR_SITE_DATA: HeaderName = HeaderName::from_static("clear-site-data");

/// The logout route on its own, for framework authors who route themselves.
///
/// Answers every request it is given as a sign-out (it does not look at the
/// path). Get one from [`OidcLogoutLayer::logout_service`](crate::OidcLogoutLayer::logout_service).
pub struct LogoutService<H = NoServerSession> {
    config: Arc<Config>,
    hook: Arc<H>,
}

impl<H> LogoutService<H> {
    pub(crate) fn new(config: Arc<Config>, hook: Arc<H>) -> Self {
        Self { config, hook }
    }
}

impl<H> Clone for LogoutService<H> {
    fn clone(&self) -> Self {
        Self { config: self.config.clone(), hook: self.hook.clone() }
    }
}

impl<H> fmt::Debug for LogoutService<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogoutService").field("config", &self.config).finish_non_exhaustive()
    }
}

impl<H, B> tower_service::Service<Request<B>> for LogoutService<H>
where
    H: EndSessionHook,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    type Response = Response<ReplyBody>;
    type Error = Infallible;
    type Future = LogoutFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> LogoutFuture {
        sign_out(&self.config, &self.hook, request)
    }
}

/// Response future of [`LogoutService`].
pub struct LogoutFuture {
    future: Pin<Box<dyn Future<Output = Response<ReplyBody>> + Send>>,
}

impl fmt::Debug for LogoutFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogoutFuture").finish_non_exhaustive()
    }
}

impl Future for LogoutFuture {
    type Output = Result<Response<ReplyBody>, Infallible>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.future.as_mut().poll(cx).map(Ok)
    }
}

/// Checks the request, then runs the sign-out (boxed: it awaits the body and the hook).
#[inline(never)] // Keeps the pass-through path of `OidcLogout::call` small.
pub(crate) fn sign_out<H, B>(
    config: &Arc<Config>,
    hook: &Arc<H>,
    request: Request<B>,
) -> LogoutFuture
where
    H: EndSessionHook,
    B: Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let future: Pin<Box<dyn Future<Output = _> + Send>> = match check_request(config, &request) {
        Ok(()) => Box::pin(end_session(config.clone(), hook.clone(), request)),
        Err((rejection, allow)) => Box::pin(std::future::ready(reply::rejection(rejection, allow))),
    };
    LogoutFuture { future }
}

/// Method and same-origin rules, before anything changes.
fn check_request<B>(
    config: &Config,
    request: &Request<B>,
) -> Result<(), (Rejection, Option<HeaderValue>)> {
    let method = request.method();
    let allowed = method == Method::POST || (config.allow_get && method == Method::GET);
    if !allowed {
        let allow = if config.allow_get { ALLOW_GET_POST } else { ALLOW_POST };
        return Err((Rejection::MethodNotAllowed, Some(allow)));
    }
    if !is_same_origin(config, request.headers()) {
        return Err((Rejection::CrossSite, None));
    }
    Ok(())
}

/// `Sec-Fetch-Site` when the browser sends it, else `Origin`.
///
/// `same-origin` and `none` (typed or bookmarked) pass; `same-site` and
/// `cross-site` pass only with an `Origin` the app trusts. Without either
/// header the request is not from a browser that could be tricked into
/// sending it cross-site with the user's cookies, and passes.
fn is_same_origin(config: &Config, headers: &http::HeaderMap) -> bool {
    let trusted_origin = || {
        headers.get(ORIGIN).and_then(|origin| origin.to_str().ok()).is_some_and(|origin| {
            config.trusted_origins.iter().any(|t| t.eq_ignore_ascii_case(origin))
        })
    };
    match headers.get(SEC_FETCH_SITE).map(HeaderValue::as_bytes) {
        Some(b"same-origin" | b"none") => true,
        Some(_) => trusted_origin(),
        None => !headers.contains_key(ORIGIN) || trusted_origin(),
    }
}

async fn end_session<H, B>(
    config: Arc<Config>,
    hook: Arc<H>,
    request: Request<B>,
) -> Response<ReplyBody>
where
    H: EndSessionHook,
    B: Body,
    B::Error: Into<BoxError>,
{
    let (parts, body) = request.into_parts();
    let target = match return_target(&parts, body).await {
        Ok(target) => target,
        Err(rejection) => return reply::rejection(rejection, None),
    };
    // Mint before the hook, so a failure here changes nothing.
    let Ok(minted) = config.keys.mint() else {
        return reply::unavailable();
    };

    let hints = match hook.end_session(&parts).await {
        Ok(hints) => hints.into(),
        Err(error) => {
            let mut response = reply::end_session_failed(EndSessionFailed::new(error.into()));
            expire_local_session(&config, &parts, &mut response, None);
            return response;
        }
    };

    let location = end_session_url(&config, minted.state(), &hints);
    let Ok(location) = HeaderValue::try_from(location) else {
        return reply::unavailable();
    };
    let mut response = reply::see_other(location);
    let cookies = &config.state_cookies;
    let target = target.as_ref();
    let state_cookie =
        cookies.set(cookies.name(minted.state()), KeyRing::sealed_len(target), |out| {
            config.keys.seal_into(&minted, target, out);
        });
    expire_local_session(&config, &parts, &mut response, Some(state_cookie));
    response
}

/// Removal cookies, evictions of surplus state cookies, and `Clear-Site-Data`;
/// then the new state cookie, if any.
fn expire_local_session(
    config: &Config,
    parts: &Parts,
    response: &mut Response<ReplyBody>,
    state_cookie: Option<HeaderValue>,
) {
    let surplus = surplus_states(config, parts).map(|name| config.state_cookies.removal(name));
    reply::set_cookies(
        response,
        config.cookie_removals.iter().cloned().chain(surplus).chain(state_cookie),
    );
    if let Some(clear) = &config.clear_site_data {
        response.headers_mut().insert(CLEAR_SITE_DATA, clear.clone());
    }
}

/// State cookies to expire so the browser keeps at most [`MAX_PENDING_STATES`]
/// after this response: every unusable one, then the oldest.
fn surplus_states<'a>(config: &Config, parts: &'a Parts) -> impl Iterator<Item = &'a [u8]> {
    let mut pending: Vec<(u64, &[u8])> = Vec::new();
    if config.state_cookies.any_in(&parts.headers) {
        pending.extend(
            request_cookies(&parts.headers)
                .filter(|(name, _)| config.state_cookies.is_state_cookie(name))
                .map(|(name, sealed)| {
                    (config.keys.open(sealed).map_or(0, |opened| opened.expires_at), name)
                }),
        );
    }
    pending.sort_unstable();
    let usable = pending.iter().filter(|(expires_at, _)| *expires_at > 0).count();
    let keep = usable.min(MAX_PENDING_STATES - 1);
    let surplus = pending.len() - keep;
    pending.into_iter().take(surplus).map(|(_, name)| name)
}

/// The target from `?return_to=` or a form field `return_to`; at most one.
async fn return_target<B>(parts: &Parts, body: B) -> Result<Option<ReturnTarget>, Rejection>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let mut found = None;
    if let Some(query) = parts.uri.query() {
        found = find_param(query.as_bytes(), found)?;
    }
    if is_form(parts) {
        let form = Limited::new(body, MAX_FORM_LEN).collect().await.map_err(|error| {
            if error.downcast_ref::<LengthLimitError>().is_some() {
                Rejection::TooLarge
            } else {
                Rejection::UnreadableBody
            }
        })?;
        found = find_param(&form.to_bytes(), found)?;
    }
    found
        .filter(|target| !target.is_empty())
        .map(|target| ReturnTarget::parse(&target).ok_or(Rejection::InvalidReturnTarget))
        .transpose()
}

fn find_param(pairs: &[u8], mut found: Option<String>) -> Result<Option<String>, Rejection> {
    for (name, value) in form_urlencoded::parse(pairs) {
        if name == RETURN_TO_PARAM {
            if found.is_some() {
                return Err(Rejection::MalformedQuery);
            }
            found = Some(value.into_owned());
        }
    }
    Ok(found)
}

fn is_form(parts: &Parts) -> bool {
    parts.method == Method::POST
        && parts.headers.get(CONTENT_TYPE).is_some_and(|value| {
            let value = value.as_bytes();
            let essence = value.split(|&b| b == b';').next().unwrap_or_default();
            essence.trim_ascii().eq_ignore_ascii_case(b"application/x-www-form-urlencoded")
        })
}

/// The configured base, the fresh `state`, and whichever hints fit the cap.
fn end_session_url(config: &Config, state: &[u8], hints: &LogoutHints) -> Vec<u8> {
    // Exact without hints, so the header value takes the buffer as is.
    let mut url = Vec::with_capacity(config.end_session_base.len() + "&state=".len() + state.len());
    url.extend_from_slice(config.end_session_base.as_bytes());
    url.extend_from_slice(b"&state=");
    url.extend_from_slice(state);
    let hints = [("id_token_hint", &hints.id_token_hint), ("logout_hint", &hints.logout_hint)];
    for (name, value) in hints {
        let Some(value) = value else { continue };
        let encoded: String = form_urlencoded::byte_serialize(value.as_bytes()).collect();
        if url.len() + 2 + name.len() + encoded.len() <= config.max_url_len {
            url.push(b'&');
            url.extend_from_slice(name.as_bytes());
            url.push(b'=');
            url.extend_from_slice(encoded.as_bytes());
        }
    }
    url
}
