//! The one layer apps add: routes the logout and callback paths, passes the rest.

use std::{
    fmt,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Request, Response};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;

use crate::{
    body::FromReply,
    callback::{self, CallbackService},
    config::{Config, OidcLogoutBuilder},
    error::BoxError,
    future::ResponseFuture,
    hook::{EndSessionHook, NoServerSession},
    logout::{self, LogoutService},
};

/// Adds OpenID Connect sign-out to a service.
///
/// Requests to the logout path end the local session and are redirected to
/// the provider; requests to the callback path (the path of
/// `post_logout_redirect_uri`) reach the inner service only with a valid
/// `state`; every other request passes straight through, untouched.
///
/// Build one with [`OidcLogoutLayer::builder`]; cloning is cheap.
pub struct OidcLogoutLayer<H = NoServerSession> {
    config: Arc<Config>,
    hook: Arc<H>,
}

impl OidcLogoutLayer {
    /// Starts configuring the layer.
    pub fn builder() -> OidcLogoutBuilder {
        OidcLogoutBuilder::default()
    }
}

impl<H> OidcLogoutLayer<H> {
    pub(crate) fn new(config: Arc<Config>, hook: Arc<H>) -> Self {
        Self { config, hook }
    }

    #[cfg(test)]
    pub(crate) fn config(&self) -> &Config {
        &self.config
    }

    /// The path of the logout route the layer watches, e.g. `/logout`.
    #[must_use]
    pub fn logout_path(&self) -> &str {
        &self.config.logout_path
    }

    /// The path of the callback route the layer watches: the path of
    /// `post_logout_redirect_uri`, or the one set with
    /// [`callback_path`](OidcLogoutBuilder::callback_path).
    #[must_use]
    pub fn callback_path(&self) -> &str {
        &self.config.callback_path
    }

    /// A [`Preflight`](crate::discovery::Preflight) of this configuration:
    /// the end-session endpoint, `client_id` and `post_logout_redirect_uri`
    /// as built, the provider's metadata if [`provider`](OidcLogoutBuilder::provider)
    /// was given, and the back- and front-channel routes that are on. Change
    /// its HTTP settings with [`fetcher`](crate::discovery::Preflight::fetcher),
    /// then [`run`](crate::discovery::Preflight::run) it at start-up.
    #[cfg(feature = "discovery")]
    pub fn preflight(&self) -> crate::discovery::Preflight {
        self.config.preflight.clone()
    }

    /// The logout route as a service of its own, for routing it yourself.
    #[must_use]
    pub fn logout_service(&self) -> LogoutService<H> {
        LogoutService::new(self.config.clone(), self.hook.clone())
    }

    /// The callback route as a service of its own wrapping `inner`, for
    /// routing it yourself.
    ///
    /// It treats every request it is given as a callback, except at a
    /// site-root callback path (`post_logout_redirect_uri` ending in `/`),
    /// where that path is also the home page: there only requests carrying
    /// `state` or `logout` (what providers send back) are checked, and the
    /// rest reach `inner` untouched, as through the layer.
    #[must_use]
    pub fn callback_service<S>(&self, inner: S) -> CallbackService<S> {
        CallbackService::new(inner, self.config.clone())
    }
}

impl<H> Clone for OidcLogoutLayer<H> {
    fn clone(&self) -> Self {
        Self { config: self.config.clone(), hook: self.hook.clone() }
    }
}

impl<H> fmt::Debug for OidcLogoutLayer<H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcLogoutLayer").field("config", &self.config).finish_non_exhaustive()
    }
}

impl<S, H> Layer<S> for OidcLogoutLayer<H> {
    type Service = OidcLogout<S, H>;

    fn layer(&self, inner: S) -> OidcLogout<S, H> {
        OidcLogout { inner, config: self.config.clone(), hook: self.hook.clone() }
    }
}

/// The service [`OidcLogoutLayer`] wraps around the app.
pub struct OidcLogout<S, H = NoServerSession> {
    inner: S,
    config: Arc<Config>,
    hook: Arc<H>,
}

impl<S: Clone, H> Clone for OidcLogout<S, H> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone(), config: self.config.clone(), hook: self.hook.clone() }
    }
}

impl<S: fmt::Debug, H> fmt::Debug for OidcLogout<S, H> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcLogout").field("inner", &self.inner).finish_non_exhaustive()
    }
}

impl<S, H, ReqBody, ResBody> Service<Request<ReqBody>> for OidcLogout<S, H>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: FromReply,
    H: EndSessionHook,
    ReqBody: Body + Send + 'static,
    ReqBody::Data: Send,
    ReqBody::Error: Into<BoxError>,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let path = request.uri().path();
        if path == self.config.logout_path {
            ResponseFuture::sign_out(logout::sign_out(&self.config, &self.hook, request))
        } else if path == self.config.callback_path {
            callback::validate_then_call(&self.config, &mut self.inner, request)
        } else {
            #[cfg(feature = "provider-logout")]
            if let Some(routes) = &self.config.provider_logout
                && routes.serves(path)
            {
                return ResponseFuture::sign_out(routes.respond(request));
            }
            ResponseFuture::pass_through(self.inner.call(request))
        }
    }
}
