//! The routes through which the provider ends sessions: Back-Channel Logout
//! (`POST logout_token=...`, server to server) and Front-Channel Logout
//! (`GET ?iss=&sid=` in an iframe of the provider's page). Both find the
//! app's sessions in the [session index](crate::index) and delete them from
//! the app's store, so a copied session cookie is dead on every instance.

use std::{fmt, sync::Arc};

use bytes::Bytes;
use http::{
    HeaderName, HeaderValue, Method, Request, Response, StatusCode,
    header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, PRAGMA, X_CONTENT_TYPE_OPTIONS},
    request::Parts,
};
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use url::{Url, form_urlencoded};

use super::{LogoutTokenError, LogoutTokenValidator, MAX_LOGOUT_TOKEN_LEN};
use crate::{
    BoxError,
    body::ReplyBody,
    index::{EndSessions, LogoutNotice, Pending, SessionIndex},
    logout::{LogoutFuture, has_form_body},
};

/// Largest back-channel request body read: a token at its cap, form-encoded.
const MAX_BODY_LEN: usize = MAX_LOGOUT_TOKEN_LEN * 3 / 2;
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache, no-store");
const PRAGMA_NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");
const JSON: HeaderValue = HeaderValue::from_static("application/json");
const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");
const CONTENT_SECURITY_POLICY: HeaderName = HeaderName::from_static("content-security-policy");
const SEC_FETCH_DEST: HeaderName = HeaderName::from_static("sec-fetch-dest");

/// What the provider-initiated logout routes need: whose logout tokens to
/// accept, where the app's sessions (and the token IDs used) are indexed,
/// and how the app's sessions end.
///
/// ```
/// use std::sync::Arc;
/// use tower_oidc_logout::{
///     LogoutTokenValidator, MemoryIndex, ProviderLogout,
///     index::{EndSessions, EndSessionsFuture, SessionsEnded},
/// };
///
/// # struct Store;
/// # impl EndSessions for Store {
/// #     fn end_sessions<'a>(&'a self, ids: &'a [String]) -> EndSessionsFuture<'a> {
/// #         Box::pin(async move { Ok(SessionsEnded::default()) })
/// #     }
/// # }
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let jwks = br#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}]}"#;
/// let validator = LogoutTokenValidator::builder()
///     .issuer("https://id.example")
///     .client_id("my-client-id")
///     .keys(tower_oidc_logout::KeySet::from_jwks(jwks)?) // or .provider(&metadata)
///     .build()?;
/// // One instance: the index in memory. Many: `RedisIndex`.
/// let logout = ProviderLogout::new(validator, Arc::new(MemoryIndex::new()), Store);
/// # let _ = logout;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct ProviderLogout {
    validator: LogoutTokenValidator,
    index: Arc<dyn SessionIndex>,
    sessions: Arc<dyn EndSessions>,
}

impl ProviderLogout {
    /// The routes' parts: `validator` checks logout tokens, `index` finds
    /// the app sessions of a provider session (recorded by the app at
    /// sign-in) and refuses a token ID used before (shared by every
    /// instance when it is a [`RedisIndex`](crate::index::RedisIndex)), and
    /// `sessions` deletes them from the app's store.
    pub fn new(
        validator: LogoutTokenValidator,
        index: Arc<dyn SessionIndex>,
        sessions: impl EndSessions + 'static,
    ) -> Self {
        Self { validator, index, sessions: Arc::new(sessions) }
    }

    /// Ends the app sessions `notice` names, or changes nothing: the index
    /// gives them up (and the token's `jti` is used) only once the store
    /// deleted them, so a failure leaves all for the provider's retry.
    async fn end_app_sessions(&self, notice: &LogoutNotice<'_>) -> Result<Ended, BoxError> {
        let ids = match self.index.pending(notice).await? {
            Pending::Replayed => return Ok(Ended::Replayed),
            Pending::Sessions(ids) => ids,
        };
        let mut ended = Vec::new();
        if !ids.is_empty() {
            let report = self.sessions.end_sessions(&ids).await?;
            // Malformed IDs can never be deleted: they leave the index too.
            ended = report.deleted;
            ended.extend(report.malformed);
        }
        self.index.complete(notice, &ended).await?;
        Ok(Ended::Sessions)
    }
}

/// How [`ProviderLogout::end_app_sessions`] went.
enum Ended {
    /// The sessions named are gone, and the token's `jti` used.
    Sessions,
    /// The token's `jti` was used before: nothing done.
    Replayed,
}

impl fmt::Debug for ProviderLogout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderLogout").field("validator", &self.validator).finish_non_exhaustive()
    }
}

/// The provider-initiated logout routes of a layer: their paths and parts.
#[derive(Debug)]
pub(crate) struct ProviderLogoutRoutes {
    pub(crate) backchannel_path: Option<String>,
    pub(crate) frontchannel_path: Option<String>,
    logout: ProviderLogout,
    /// `frame-ancestors` limited to the provider's origin.
    frame_ancestors: HeaderValue,
}

impl ProviderLogoutRoutes {
    /// `None` when the issuer is not a URL with an origin (checked by the builder).
    pub(crate) fn new(
        logout: ProviderLogout,
        backchannel_path: Option<String>,
        frontchannel_path: Option<String>,
    ) -> Option<Self> {
        let origin = Url::parse(logout.validator.issuer()).ok()?.origin().ascii_serialization();
        let policy = format!("frame-ancestors {origin}; default-src 'none'");
        let frame_ancestors = HeaderValue::try_from(policy).ok()?;
        Some(Self { backchannel_path, frontchannel_path, logout, frame_ancestors })
    }

    /// Whether `path` is one of these routes.
    #[inline]
    pub(crate) fn serves(&self, path: &str) -> bool {
        self.backchannel_path.as_deref() == Some(path)
            || self.frontchannel_path.as_deref() == Some(path)
    }

    /// Answers a request to one of these routes.
    pub(crate) fn respond<B>(self: &Arc<Self>, request: Request<B>) -> LogoutFuture
    where
        B: Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<BoxError>,
    {
        let routes = self.clone();
        let (parts, body) = request.into_parts();
        if routes.backchannel_path.as_deref() == Some(parts.uri.path()) {
            LogoutFuture::new(Box::pin(async move { routes.backchannel(parts, body).await }))
        } else {
            LogoutFuture::new(Box::pin(async move { routes.frontchannel(&parts).await }))
        }
    }

    /// Back-Channel Logout 1.0, sections 2.5 to 2.8.
    async fn backchannel<B>(&self, parts: Parts, body: B) -> Response<ReplyBody>
    where
        B: Body,
        B::Error: Into<BoxError>,
    {
        if parts.method != Method::POST {
            let mut response = backchannel_error("method_not_allowed", "use POST".into());
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response.headers_mut().insert(ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        if !has_form_body(&parts.headers) {
            let why = "the body must be application/x-www-form-urlencoded".into();
            return backchannel_error("not_a_form", why);
        }
        let Ok(form) = Limited::new(body, MAX_BODY_LEN).collect().await.map(|b| b.to_bytes())
        else {
            let why = format!("the body could not be read or is over {MAX_BODY_LEN} bytes");
            return backchannel_error("too_large", why);
        };
        let mut tokens = form_urlencoded::parse(&form).filter(|(name, _)| name == "logout_token");
        let (Some((_, token)), None) = (tokens.next(), tokens.next()) else {
            let why = "the form must carry exactly one logout_token".into();
            return backchannel_error("no_logout_token", why);
        };
        let token = match self.logout.validator.validate(&token).await {
            Ok(token) => token,
            Err(error @ LogoutTokenError::KeysUnavailable { .. }) => {
                // The fetch error names internal URLs and network errors: logged, not sent.
                #[cfg(feature = "tracing")]
                tracing::warn!(%error, "back-channel logout refused: the provider's keys are unavailable");
                let why = "the provider's signing keys could not be fetched; retry later".into();
                return backchannel_error(error.code(), why);
            }
            Err(error) => return backchannel_error(error.code(), error.to_string()),
        };
        let notice = LogoutNotice::new(token.issuer(), token.sid(), token.sub())
            .token(token.jti(), token.remember_until());
        match self.logout.end_app_sessions(&notice).await {
            Ok(Ended::Sessions) => no_cache(StatusCode::OK, ReplyBody::empty()),
            Ok(Ended::Replayed) => {
                let why = "this logout token (its jti) was already used".into();
                backchannel_error("replayed", why)
            }
            Err(error) => backchannel_failed(&error),
        }
    }

    /// Front-Channel Logout 1.0: `iss` and `sid` in the query, checked
    /// against the issuer; the page is only ever framed by the provider.
    async fn frontchannel(&self, parts: &Parts) -> Response<ReplyBody> {
        // HEAD is a GET without effects for every other route: here it would end sessions.
        if parts.method != Method::GET {
            let mut response =
                self.refusal(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Use GET.");
            response.headers_mut().insert(ALLOW, HeaderValue::from_static("GET"));
            return response;
        }
        // The provider loads this route in an iframe (or, at worst, as a page);
        // an <img>, a script or a fetch() from any page is not the provider.
        if let Some(dest) = parts.headers.get(SEC_FETCH_DEST)
            && dest != "iframe"
            && dest != "document"
        {
            let why = "Only the provider's page may load this route, in a frame.";
            return self.refusal(StatusCode::FORBIDDEN, "not_a_frame", why);
        }
        let query = parts.uri.query().unwrap_or_default();
        let (mut iss, mut sid, mut repeated) = (None, None, false);
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let slot = match &*name {
                "iss" => &mut iss,
                "sid" => &mut sid,
                _ => continue,
            };
            repeated |= slot.replace(value).is_some();
        }
        let (Some(iss), Some(sid), false) = (iss, sid, repeated) else {
            let why = "iss and sid are required, once each.";
            return self.refusal(StatusCode::BAD_REQUEST, "no_iss_or_sid", why);
        };
        if iss != self.logout.validator.issuer() {
            let why = "iss is not this app's provider.";
            return self.refusal(StatusCode::BAD_REQUEST, "wrong_issuer", why);
        }
        match self.logout.end_app_sessions(&LogoutNotice::new(&iss, Some(&sid), None)).await {
            Ok(_) => self.page(StatusCode::OK, "Signed out."),
            Err(error) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(%error, "front-channel logout failed: the sessions were not ended");
                let _ = error;
                let why = "The session could not be ended.";
                self.refusal(StatusCode::INTERNAL_SERVER_ERROR, "server_error", why)
            }
        }
    }

    /// [`page`](Self::page) with `code` in the extensions.
    fn refusal(
        &self,
        status: StatusCode,
        code: &'static str,
        text: &'static str,
    ) -> Response<ReplyBody> {
        let mut response = self.page(status, text);
        response.extensions_mut().insert(BackchannelRefusal(code));
        response
    }

    /// A small page the provider may frame, and no one else.
    fn page(&self, status: StatusCode, text: &'static str) -> Response<ReplyBody> {
        let html = format!(
            "<!doctype html><meta charset=\"utf-8\"><title>Sign-out</title><p>{text}</p>\n"
        );
        let mut response = no_cache(status, ReplyBody::text(html));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HTML);
        headers.insert(CONTENT_SECURITY_POLICY, self.frame_ancestors.clone());
        response
    }
}

/// `Cache-Control: no-cache, no-store` and `Pragma: no-cache` (section 2.8), `nosniff`.
fn no_cache(status: StatusCode, body: ReplyBody) -> Response<ReplyBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, NO_CACHE);
    headers.insert(PRAGMA, PRAGMA_NO_CACHE);
    headers.insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    response
}

/// `400 {"error":"invalid_request","error_description":"<code>: <why>"}`.
fn backchannel_error(code: &'static str, why: String) -> Response<ReplyBody> {
    #[cfg(feature = "tracing")]
    tracing::debug!(code, "back-channel logout refused: {why}");
    json_refusal("invalid_request", code, format!("{code}: {why}"))
}

/// The token was valid but the sessions could not be ended: the section
/// 2.8 answer to a failed logout (400), told apart by `server_error`. The
/// cause (store addresses, network errors) is logged, not sent.
fn backchannel_failed(error: &BoxError) -> Response<ReplyBody> {
    #[cfg(feature = "tracing")]
    tracing::warn!(%error, "back-channel logout failed: the sessions were not ended");
    let _ = error;
    let description = "the sessions could not be ended; nothing was changed: retry".to_owned();
    json_refusal("server_error", "server_error", description)
}

/// A `400` with the OAuth-style JSON error body, and `code` in the extensions.
fn json_refusal(error: &str, code: &'static str, description: String) -> Response<ReplyBody> {
    let body = serde_json::json!({ "error": error, "error_description": description });
    let body = ReplyBody::from(Bytes::from(body.to_string()));
    let mut response = no_cache(StatusCode::BAD_REQUEST, body);
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response.extensions_mut().insert(BackchannelRefusal(code));
    response
}

/// Why a provider-logout route refused a request, in the response extensions.
///
/// Back-channel: a [`LogoutTokenError::code`](super::LogoutTokenError::code),
/// or one of `method_not_allowed`, `not_a_form`, `too_large`,
/// `no_logout_token`, `replayed`, `server_error`. Front-channel: one of
/// `method_not_allowed`, `not_a_frame`, `no_iss_or_sid`, `wrong_issuer`,
/// `server_error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackchannelRefusal(pub &'static str);
