//! The middleware's own responses: 303 to the provider, 4xx refusals (or the
//! app's refusal page), the 500 of a failed hook, all `Cache-Control:
//! no-store`; and the provider-logout routes' answers, `no-cache, no-store`
//! with `Pragma: no-cache` as Back-Channel Logout section 2.8 asks.

use std::sync::Arc;

use bytes::Bytes;
use http::{
    HeaderValue, Response, StatusCode,
    header::Entry,
    header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE, X_CONTENT_TYPE_OPTIONS},
    request::Parts,
};

#[cfg(feature = "provider-logout")]
use crate::provider_logout::Refusal;
use crate::{
    body::ReplyBody,
    error::{EndSessionFailed, Rejection},
};

/// The app's page for a refusal, set with
/// [`refusal_page`](crate::OidcLogoutBuilder::refusal_page).
pub(crate) type RefusalPage = Arc<dyn Fn(&Rejection, &Parts) -> Response<Bytes> + Send + Sync>;

const NO_STORE: HeaderValue = HeaderValue::from_static("no-store");
const TEXT: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");
const HTML: HeaderValue = HeaderValue::from_static("text/html; charset=utf-8");
const NOSNIFF: HeaderValue = HeaderValue::from_static("nosniff");

fn reply(status: StatusCode, body: ReplyBody) -> Response<ReplyBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    // Room for every header the middleware writes (five at most), allocated
    // once; 6 rather than 8 keeps the table under 1 KiB, in the allocator's
    // per-thread cache.
    response.headers_mut().reserve(6);
    response.headers_mut().insert(CACHE_CONTROL, NO_STORE);
    response
}

fn text(status: StatusCode, text: String) -> Response<ReplyBody> {
    let mut response = reply(status, ReplyBody::text(text));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, TEXT);
    headers.insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    response
}

/// Marks a response the middleware (or the inner service, at the callback)
/// answers with as never to be cached.
pub(crate) fn no_store<B>(response: &mut Response<B>) {
    response.headers_mut().insert(CACHE_CONTROL, NO_STORE);
}

/// `303 See Other` to `location`.
pub(crate) fn see_other(location: HeaderValue) -> Response<ReplyBody> {
    let mut response = reply(StatusCode::SEE_OTHER, ReplyBody::empty());
    response.headers_mut().insert(LOCATION, location);
    response
}

/// A refusal of the request whose parts are `parts`: the app's page, else
/// `<code>: <message>` as text. Whichever it is, the status is the
/// rejection's, it is `no-store` and `nosniff`, a 405 says what is
/// `Allow`ed, and the [`Rejection`] rides in the extensions.
pub(crate) fn rejection(
    page: Option<&RefusalPage>,
    parts: &Parts,
    rejection: Rejection,
    allow: Option<HeaderValue>,
) -> Response<ReplyBody> {
    #[cfg(feature = "tracing")]
    tracing::debug!(code = rejection.code(), "sign-out request refused: {rejection}");
    let mut response = match page {
        None => text(rejection.status(), format!("{}: {rejection}\n", rejection.code())),
        Some(page) => {
            let mut response = page(&rejection, parts).map(ReplyBody::from);
            *response.status_mut() = rejection.status();
            let headers = response.headers_mut();
            headers.insert(CACHE_CONTROL, NO_STORE);
            headers.insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);
            headers.entry(CONTENT_TYPE).or_insert(HTML);
            response
        }
    };
    if let Some(allow) = allow {
        response.headers_mut().insert(ALLOW, allow);
    }
    response.extensions_mut().insert(rejection);
    response
}

/// The hook failed: say so, and keep the error for the app. When the cause is
/// the app's layer order, say that instead: retrying would never help.
pub(crate) fn end_session_failed(failure: EndSessionFailed) -> Response<ReplyBody> {
    #[cfg(feature = "tracing")]
    tracing::warn!(error = %failure.error(), "sign-out stopped: the storage hook failed");
    let text_of = if failure.is_layer_order() {
        "end_session_failed: the server-side session could not be ended because the request \
         carries no session: the app's session layer must wrap the logout layer (in axum, \
         `.layer(sessions)` after `.layer(logout)`). This site's cookies were cleared.\n"
    } else {
        "end_session_failed: the server-side session could not be ended, so sign-out stopped here. \
         This site's cookies were cleared; please try signing out again.\n"
    };
    let mut response = text(StatusCode::INTERNAL_SERVER_ERROR, text_of.to_owned());
    response.extensions_mut().insert(failure);
    response
}

/// No randomness for the state: a transient server fault, nothing was changed.
pub(crate) fn unavailable() -> Response<ReplyBody> {
    text(
        StatusCode::SERVICE_UNAVAILABLE,
        "randomness_unavailable: the server could not start the sign-out; please try again.\n"
            .to_owned(),
    )
}

/// Appends `Set-Cookie` values, looking the header up once.
pub(crate) fn set_cookies<B>(
    response: &mut Response<B>,
    cookies: impl IntoIterator<Item = HeaderValue>,
) {
    let mut cookies = cookies.into_iter();
    let Some(first) = cookies.next() else { return };
    let mut entry = match response.headers_mut().entry(SET_COOKIE) {
        Entry::Occupied(mut entry) => {
            entry.append(first);
            entry
        }
        Entry::Vacant(entry) => entry.insert_entry(first),
    };
    for cookie in cookies {
        entry.append(cookie);
    }
}

/// A response future polled again after it finished: a caller bug, answered
/// rather than panicking.
pub(crate) fn polled_again() -> Response<ReplyBody> {
    text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal_error: the response future was polled after it completed.\n".to_owned(),
    )
}

#[cfg(feature = "provider-logout")]
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache, no-store");
#[cfg(feature = "provider-logout")]
const PRAGMA_NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");
#[cfg(feature = "provider-logout")]
const JSON: HeaderValue = HeaderValue::from_static("application/json");
#[cfg(feature = "provider-logout")]
const CONTENT_SECURITY_POLICY: http::HeaderName =
    http::HeaderName::from_static("content-security-policy");

/// A provider-logout answer: `no-cache, no-store`, `Pragma: no-cache`, `nosniff`.
#[cfg(feature = "provider-logout")]
fn no_cache(status: StatusCode, body: ReplyBody) -> Response<ReplyBody> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CACHE_CONTROL, NO_CACHE);
    headers.insert(http::header::PRAGMA, PRAGMA_NO_CACHE);
    headers.insert(X_CONTENT_TYPE_OPTIONS, NOSNIFF);
    response
}

/// The back-channel logout is done: `200`, empty.
#[cfg(feature = "provider-logout")]
pub(crate) fn provider_logout_done() -> Response<ReplyBody> {
    no_cache(StatusCode::OK, ReplyBody::empty())
}

/// A back-channel refusal: `400` (`405` with `Allow: POST` for another
/// method) with `{"error":"invalid_request"|"server_error","error_description":"<code>: <why>"}`.
#[cfg(feature = "provider-logout")]
pub(crate) fn backchannel_refusal(refusal: Refusal) -> Response<ReplyBody> {
    #[cfg(feature = "tracing")]
    tracing::debug!(code = refusal.code(), "back-channel logout refused: {refusal}");
    let error = match refusal {
        Refusal::ServerError => "server_error",
        _ => "invalid_request",
    };
    let description = format!("{}: {refusal}", refusal.code());
    let body = serde_json::json!({ "error": error, "error_description": description });
    let status = match refusal {
        Refusal::NotPost => StatusCode::METHOD_NOT_ALLOWED,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut response = no_cache(status, ReplyBody::from(Bytes::from(body.to_string())));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, JSON);
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(ALLOW, HeaderValue::from_static("POST"));
    }
    response.extensions_mut().insert(refusal);
    response
}

/// The front-channel page: "Signed out." or the refusal's reason, framed by
/// `frame_ancestors` only; a `405` says `Allow: GET`.
#[cfg(feature = "provider-logout")]
pub(crate) fn frontchannel_page(
    status: StatusCode,
    refusal: Option<Refusal>,
    frame_ancestors: &HeaderValue,
) -> Response<ReplyBody> {
    let text = refusal.as_ref().map_or_else(|| "Signed out".to_owned(), ToString::to_string);
    let html =
        format!("<!doctype html><meta charset=\"utf-8\"><title>Sign-out</title><p>{text}.</p>\n");
    let mut response = no_cache(status, ReplyBody::text(html));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HTML);
    headers.insert(CONTENT_SECURITY_POLICY, frame_ancestors.clone());
    if status == StatusCode::METHOD_NOT_ALLOWED {
        headers.insert(ALLOW, HeaderValue::from_static("GET"));
    }
    if let Some(refusal) = refusal {
        response.extensions_mut().insert(refusal);
    }
    response
}
