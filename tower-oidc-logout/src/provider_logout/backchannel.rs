//! Back-Channel Logout 1.0, sections 2.5 to 2.8: the provider POSTs a
//! signed `logout_token`, server to server.

use http::{Method, Response, request::Parts};
use http_body::Body;
use http_body_util::{BodyExt, Limited};

use super::{Ended, MAX_LOGOUT_TOKEN_LEN, Refusal, Routes, index::LogoutNotice};
use crate::{body::ReplyBody, error::BoxError, form, reply};

/// Largest back-channel request body read: a token at its cap, form-encoded.
const MAX_BODY_LEN: usize = MAX_LOGOUT_TOKEN_LEN * 3 / 2;

/// Answers one back-channel request.
pub(super) async fn respond<B>(routes: &Routes, parts: Parts, body: B) -> Response<ReplyBody>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    match end(routes, &parts, body).await {
        Ok(()) => reply::provider_logout_done(),
        Err(refusal) => reply::backchannel_refusal(refusal),
    }
}

async fn end<B>(routes: &Routes, parts: &Parts, body: B) -> Result<(), Refusal>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    if parts.method != Method::POST {
        return Err(Refusal::NotPost);
    }
    if !form::has_form_body(&parts.headers) {
        return Err(Refusal::NotAForm);
    }
    let form = Limited::new(body, MAX_BODY_LEN)
        .collect()
        .await
        .map_err(|_| Refusal::TooLarge { max: MAX_BODY_LEN })?
        .to_bytes();
    let [token] = form::params_once(&form, ["logout_token"]).map_err(|_| Refusal::NoLogoutToken)?;
    let token = token.ok_or(Refusal::NoLogoutToken)?;
    let token = routes.validator.validate(&token).await.map_err(|error| {
        #[cfg(feature = "tracing")]
        if let super::LogoutTokenError::KeysUnavailable { .. } = error {
            tracing::warn!(%error, "back-channel logout refused: the provider's keys are unavailable");
        }
        Refusal::Token(error)
    })?;
    let notice = LogoutNotice::new(token.issuer(), token.sid(), token.sub())
        .token(token.jti(), token.remember_until());
    match routes.logout.end_app_sessions(&notice).await {
        Ok(Ended::Sessions) => Ok(()),
        Ok(Ended::Replayed) => Err(Refusal::Replayed),
        Err(error) => {
            #[cfg(feature = "tracing")]
            tracing::warn!(%error, "back-channel logout failed: the sessions were not ended");
            let _ = error;
            Err(Refusal::ServerError)
        }
    }
}
