//! Front-Channel Logout 1.0: the provider's page frames `?iss=&sid=`.

use http::{HeaderName, Method, Response, StatusCode, request::Parts};

use super::{Refusal, Routes, index::LogoutNotice};
use crate::{body::ReplyBody, form, reply};

const SEC_FETCH_DEST: HeaderName = HeaderName::from_static("sec-fetch-dest");

/// Answers one front-channel request: `iss` and `sid` in the query, checked
/// against the issuer; the page is only ever framed by the provider.
pub(super) async fn respond(routes: &Routes, parts: &Parts) -> Response<ReplyBody> {
    let (status, refusal) = match end(routes, parts).await {
        Ok(()) => (StatusCode::OK, None),
        Err(refusal) => {
            let status = match refusal {
                Refusal::NotGet => StatusCode::METHOD_NOT_ALLOWED,
                Refusal::NotAFrame => StatusCode::FORBIDDEN,
                Refusal::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
                _ => StatusCode::BAD_REQUEST,
            };
            (status, Some(refusal))
        }
    };
    reply::frontchannel_page(status, refusal, &routes.frame_ancestors)
}

async fn end(routes: &Routes, parts: &Parts) -> Result<(), Refusal> {
    // HEAD is a GET without effects for every other route: here it would end sessions.
    if parts.method != Method::GET {
        return Err(Refusal::NotGet);
    }
    // The provider loads this route in an iframe (or, at worst, as a page);
    // an <img>, a script or a fetch() from any page is not the provider.
    if let Some(dest) = parts.headers.get(SEC_FETCH_DEST)
        && dest != "iframe"
        && dest != "document"
    {
        return Err(Refusal::NotAFrame);
    }
    let query = parts.uri.query().unwrap_or_default();
    let [iss, sid] =
        form::params_once_str(query, ["iss", "sid"]).map_err(|_| Refusal::NoIssOrSid)?;
    let (Some(iss), Some(sid)) = (iss, sid) else { return Err(Refusal::NoIssOrSid) };
    if iss != routes.validator.issuer() {
        return Err(Refusal::WrongIssuer);
    }
    match routes.logout.end_app_sessions(&LogoutNotice::new(&iss, Some(&sid), None)).await {
        Ok(_) => Ok(()),
        Err(error) => {
            #[cfg(feature = "tracing")]
            tracing::warn!(%error, "front-channel logout failed: the sessions were not ended");
            let _ = error;
            Err(Refusal::ServerError)
        }
    }
}
