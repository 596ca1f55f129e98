//! The logout route: the method and same-origin rules, the storage hook,
//! the local cookies, then 303 to the provider's end-session URL.

use std::{
    borrow::Cow,
    convert::Infallible,
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use http::{HeaderName, HeaderValue, Method, Request, Response, request::Parts};
use http_body::Body;
use http_body_util::{BodyExt, LengthLimitError, Limited};

use crate::{
    body::ReplyBody,
    config::Config,
    cookies::request_cookies,
    error::{BoxError, EndSessionFailed, Rejection},
    form,
    hook::{EndSessionHook, NoServerSession},
    reply,
    state::KeyRing,
    target::ReturnTarget,
};

/// Name of the query parameter or form field that carries the return target.
pub const RETURN_TO_PARAM: &str = "return_to";
/// Most state cookies a browser keeps at once: parallel sign-outs in other tabs.
pub const MAX_PENDING_STATES: usize = 4;
/// Largest form body read from a logout request.
const MAX_FORM_LEN: usize = 4096;

const ALLOW_POST: HeaderValue = HeaderValue::from_static("POST");
const ALLOW_GET_POST: HeaderValue = HeaderValue::from_static("GET, POST");
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

impl LogoutFuture {
    /// A route's answer, computed by `future`.
    pub(crate) fn new(future: Pin<Box<dyn Future<Output = Response<ReplyBody>> + Send>>) -> Self {
        Self { future }
    }
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
    let (parts, body) = request.into_parts();
    let future: Pin<Box<dyn Future<Output = _> + Send>> = match check_request(config, &parts) {
        Ok(()) => Box::pin(end_session(config.clone(), hook.clone(), parts, body)),
        Err((rejection, allow)) => {
            let page = config.refusal_page.as_ref();
            Box::pin(std::future::ready(reply::rejection(page, &parts, rejection, allow)))
        }
    };
    LogoutFuture::new(future)
}

/// Method and same-origin rules, before anything changes.
fn check_request(config: &Config, parts: &Parts) -> Result<(), (Rejection, Option<HeaderValue>)> {
    let method = &parts.method;
    let allowed = method == Method::POST || (config.allow_get && method == Method::GET);
    if !allowed {
        let allow = if config.allow_get { ALLOW_GET_POST } else { ALLOW_POST };
        return Err((Rejection::MethodNotAllowed, Some(allow)));
    }
    if !config.same_origin.allows(&parts.headers) {
        return Err((Rejection::CrossSite, None));
    }
    Ok(())
}

async fn end_session<H, B>(
    config: Arc<Config>,
    hook: Arc<H>,
    parts: Parts,
    body: B,
) -> Response<ReplyBody>
where
    H: EndSessionHook,
    B: Body,
    B::Error: Into<BoxError>,
{
    let target = match return_target(&parts, body).await {
        Ok(target) => target,
        Err(rejection) => {
            return reply::rejection(config.refusal_page.as_ref(), &parts, rejection, None);
        }
    };
    // Mint before the hook, so a failure here changes nothing.
    let Ok(minted) = config.keys.mint() else {
        return reply::unavailable();
    };

    let hints = match hook.end_session(&parts).await {
        Ok(hints) => hints.into(),
        Err(error) => {
            let layer_order = hook.is_layer_order(&error);
            let failure = EndSessionFailed::new(error.into(), layer_order);
            let mut response = reply::end_session_failed(failure);
            expire_local_session(&config, &parts, &mut response, None);
            return response;
        }
    };

    let location = config.end_session_url.with_state(minted.state(), &hints);
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

fn find_param(pairs: &[u8], found: Option<String>) -> Result<Option<String>, Rejection> {
    let [value] =
        form::params_once(pairs, [RETURN_TO_PARAM]).map_err(|_| Rejection::MalformedQuery)?;
    match (found, value) {
        (Some(_), Some(_)) => Err(Rejection::MalformedQuery),
        (found, value) => Ok(found.or(value.map(Cow::into_owned))),
    }
}

fn is_form(parts: &Parts) -> bool {
    parts.method == Method::POST && form::has_form_body(&parts.headers)
}
