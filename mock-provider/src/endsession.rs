//! `GET /endsession`, as Next Identity documents it.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, HeaderValue, Response, StatusCode, Uri},
};
use url::form_urlencoded;

use crate::{
    backchannel, frontchannel, hosted::removal_cookie, records::EndSessionCall, reply,
    state::Provider,
};

/// The value of the `logout` parameter the mock appends on success.
///
/// *Our assumption*: Next Identity documents that a `logout` parameter is
/// sent back but not its value.
pub const LOGOUT_PARAM_VALUE: &str = "success";

pub(super) async fn end_session(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response<Body> {
    let params: Vec<(String, String)> =
        form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
    let mut outcome = Outcome::default();
    let response = match check(&provider, &params, &mut outcome) {
        Ok(location) => end(&provider, &headers, &location, &mut outcome).await,
        Err(refusal) => refusal.into_response(),
    };
    let id_token_hint =
        params.iter().find(|(name, _)| name == "id_token_hint").map(|(_, value)| value.clone());
    provider.record(EndSessionCall {
        params,
        status: response.status().as_u16(),
        ended_hosted_session: outcome.ended_hosted_session,
        id_token_hint,
        id_token_hint_sid: outcome.hint_sid,
    });
    response
}

/// What a request did, for its record.
#[derive(Debug, Default)]
struct Outcome {
    ended_hosted_session: bool,
    hint_sid: Option<String>,
}

/// Why a request ends nothing.
#[derive(Debug)]
enum Refusal {
    /// `client_id` missing or unknown: the documented `403`.
    Forbidden,
    /// Anything else: `400` in the documented shape.
    InvalidRequest(String),
}

impl Refusal {
    fn invalid_request(message: impl Into<String>) -> Self {
        Self::InvalidRequest(message.into())
    }

    fn into_response(self) -> Response<Body> {
        match self {
            Self::Forbidden => reply::forbidden(),
            Self::InvalidRequest(message) => reply::invalid_request(&message),
        }
    }
}

/// Ends the browser's hosted session, tells its clients (back-channel first,
/// so that they are told even if the browser never loads the page), and
/// answers: `302` to `location`, or the logged-out page with the
/// front-channel iframes when a client of the session has a
/// `frontchannel_logout_uri`.
async fn end(
    provider: &Arc<Provider>,
    headers: &HeaderMap,
    location: &str,
    outcome: &mut Outcome,
) -> Response<Body> {
    let ended = provider.sessions.end(headers);
    outcome.ended_hosted_session = !ended.is_empty();
    backchannel::notify(provider, &ended).await;
    let logouts = frontchannel::logouts(provider, &ended);
    provider.record_frontchannel(&logouts);
    if logouts.is_empty() {
        reply::redirect(StatusCode::FOUND, location, Some(removal_cookie())).unwrap_or_else(|| {
            reply::invalid_request("post_logout_redirect_uri cannot be redirected to")
        })
    } else {
        frontchannel::logged_out_page(&logouts, location, removal_cookie())
    }
}

/// Checks the request; the post-logout location (a valid header value), or the refusal.
fn check(
    provider: &Provider,
    params: &[(String, String)],
    outcome: &mut Outcome,
) -> Result<String, Refusal> {
    let count = |name: &str| params.iter().filter(|(n, _)| n == name).count();
    let first = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    if let Some(name) = ["client_id", "post_logout_redirect_uri", "state", "id_token_hint"]
        .into_iter()
        .find(|name| count(name) > 1)
    {
        return Err(Refusal::invalid_request(format!("{name} is given more than once")));
    }
    let (client_id, redirect_uri, state) =
        (first("client_id"), first("post_logout_redirect_uri"), first("state"));

    let Some((client_id, client)) =
        client_id.and_then(|id| provider.clients.get(id).map(|client| (id, client)))
    else {
        return Err(Refusal::Forbidden);
    };
    let Some(redirect_uri) = redirect_uri else {
        return Err(Refusal::invalid_request("post_logout_redirect_uri is required"));
    };
    if !client.post_logout_redirect_uris().iter().any(|uri| uri == redirect_uri) {
        return Err(Refusal::invalid_request(
            "post_logout_redirect_uri is not on this client's allow-list",
        ));
    }
    if let Some(hint) = first("id_token_hint") {
        match hinted_sid(provider, hint, client_id) {
            Ok(sid) => outcome.hint_sid = sid,
            Err(message) => return Err(Refusal::invalid_request(message)),
        }
    }

    let location = post_logout_location(redirect_uri, state);
    // Checked before the session ends: a URI that cannot be a Location ends nothing.
    if HeaderValue::try_from(location.as_str()).is_err() {
        return Err(Refusal::invalid_request("post_logout_redirect_uri cannot be redirected to"));
    }
    Ok(location)
}

/// Checks an `id_token_hint` (RP-Initiated Logout 1.0, section 2): an ID
/// token this mock issued (its signature and `iss`; an expired one is still
/// a good hint) to `client_id`. Its `sid`, if it has one.
fn hinted_sid(
    provider: &Provider,
    hint: &str,
    client_id: &str,
) -> Result<Option<String>, &'static str> {
    let claims = provider
        .keys
        .verify(hint)
        .ok_or("id_token_hint is not an ID token signed by this provider")?;
    if claims.get("iss").and_then(|iss| iss.as_str()) != Some(provider.issuer.as_str()) {
        return Err("id_token_hint was not issued by this provider");
    }
    let issued_to_client = match claims.get("aud") {
        Some(serde_json::Value::String(aud)) => aud == client_id,
        Some(serde_json::Value::Array(auds)) => auds.iter().any(|aud| aud == client_id),
        _ => false,
    };
    if !issued_to_client {
        return Err("id_token_hint was not issued to client_id");
    }
    Ok(claims.get("sid").and_then(|sid| sid.as_str()).map(str::to_owned))
}

/// `uri` with `logout` and `state` appended to its query, before any fragment.
fn post_logout_location(uri: &str, state: Option<&str>) -> String {
    let logout = Some(("logout", LOGOUT_PARAM_VALUE));
    reply::with_query(uri, logout.into_iter().chain(state.map(|state| ("state", state))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_to_the_uri_and_keeps_its_query() {
        assert_eq!(
            post_logout_location("https://app.example/cb", Some("abc")),
            "https://app.example/cb?logout=success&state=abc"
        );
        assert_eq!(
            post_logout_location("https://app.example/cb?x=1%202", None),
            "https://app.example/cb?x=1%202&logout=success"
        );
        assert_eq!(
            post_logout_location("https://app.example/cb?", Some("a b&c")),
            "https://app.example/cb?logout=success&state=a+b%26c"
        );
        assert_eq!(
            post_logout_location("https://app.example/cb#top", Some("s")),
            "https://app.example/cb?logout=success&state=s#top"
        );
    }
}
