//! The hosted screens: the hosted-session page, the sign-in form, and the mock-only `GET /login`.

use std::sync::Arc;

use axum::{
    body::Body,
    extract::State,
    http::{HeaderMap, Response, StatusCode, Uri},
};
use url::{Url, form_urlencoded};

use crate::{
    backchannel, frontchannel,
    hosted::{removal_cookie, set_cookie},
    reply::{self, html_escape},
    state::Provider,
};

/// Longest user name the mock accepts.
const MAX_USER_LEN: usize = 64;

/// `user` trimmed, if it is a name the mock accepts: 1 to 64 bytes, no control characters.
pub(super) fn user_name(user: &str) -> Option<&str> {
    let user = user.trim();
    (!user.is_empty() && user.len() <= MAX_USER_LEN && !user.chars().any(char::is_control))
        .then_some(user)
}

/// The user name the sign-in forms offer.
pub(super) const DEFAULT_USER: &str = "demo-user";

/// One line that says whether the browser has a hosted session.
fn hosted_session_status(provider: &Provider, headers: &HeaderMap) -> String {
    match provider.sessions.user(headers) {
        Some(user) => format!(
            "<p id=\"hosted-session\">Hosted session: <strong>active</strong>, signed in as <strong>{}</strong>.</p>",
            html_escape(&user)
        ),
        None => "<p id=\"hosted-session\">Hosted session: <strong>none</strong>. Nobody is signed in here.</p>".to_owned(),
    }
}

/// `GET /authorize` without OAuth parameters: whether the browser has a
/// hosted session; the "sign out everywhere" button when it has one.
pub(super) fn hosted_session_page(provider: &Provider, headers: &HeaderMap) -> Response<Body> {
    let status = hosted_session_status(provider, headers);
    let sign_out = if provider.sessions.user(headers).is_some() {
        "<form id=\"sign-out-everywhere\" method=\"post\" action=\"/logout\">\n\
         <button type=\"submit\">Sign out everywhere</button>\n</form>\n"
    } else {
        ""
    };
    let body = format!(
        "{status}\n{sign_out}<form method=\"get\" action=\"/login\">\n\
         <label>User name <input name=\"user\" value=\"{DEFAULT_USER}\" maxlength=\"{MAX_USER_LEN}\"></label>\n\
         <button type=\"submit\">Sign in at the provider</button>\n</form>"
    );
    reply::page("Hosted session", &body)
}

/// `POST /logout` (mock-only), the "sign out everywhere" button: ends the
/// browser's hosted session and tells every client that had it, by
/// back-channel and by the front-channel iframes of the page it answers.
pub(super) async fn sign_out_everywhere(
    State(provider): State<Arc<Provider>>,
    headers: HeaderMap,
) -> Response<Body> {
    let ended = provider.sessions.end(&headers);
    backchannel::notify(&provider, &ended).await;
    let logouts = frontchannel::logouts(&provider, &ended);
    provider.record_frontchannel(&logouts);
    frontchannel::signed_out_everywhere_page(!ended.is_empty(), &logouts, removal_cookie())
}

/// The sign-in form of an authorization request: it posts the request's
/// parameters back to `/authorize` in hidden fields, with the user name.
pub(super) fn sign_in_page(
    provider: &Provider,
    headers: &HeaderMap,
    client_id: &str,
    params: &[(String, String)],
    user: &str,
    error: Option<&str>,
) -> Response<Body> {
    let status = hosted_session_status(provider, headers);
    let hidden: String = params
        .iter()
        .filter(|(name, _)| name != "user")
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">\n",
                html_escape(name),
                html_escape(value)
            )
        })
        .collect();
    let error = error
        .map(|e| format!("<p id=\"error\"><strong>{}</strong></p>\n", html_escape(e)))
        .unwrap_or_default();
    let body = format!(
        "{status}\n<p>Sign in to continue to <strong id=\"client\">{client}</strong>.</p>\n{error}\
         <form id=\"sign-in\" method=\"post\" action=\"/authorize\">\n{hidden}\
         <label>User name <input name=\"user\" value=\"{user}\" maxlength=\"{MAX_USER_LEN}\"></label>\n\
         <button type=\"submit\">Sign in</button>\n</form>",
        client = html_escape(client_id),
        user = html_escape(user),
    );
    reply::page("Sign in", &body)
}

pub(super) async fn login(State(provider): State<Arc<Provider>>, uri: Uri) -> Response<Body> {
    let (mut user, mut client_id, mut redirect_uri) = (None, None, None);
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        match &*name {
            "user" => user = Some(value.into_owned()),
            "client_id" => client_id = Some(value.into_owned()),
            "redirect_uri" => redirect_uri = Some(value.into_owned()),
            _ => {}
        }
    }
    let Some(user) = user_name(user.as_deref().unwrap_or_default()) else {
        return reply::invalid_request("user must be a name of 1 to 64 characters");
    };
    let location = match redirect_uri {
        None => "/authorize".to_owned(),
        Some(redirect_uri) => {
            let Some(client) = client_id.as_deref().and_then(|id| provider.clients.get(id)) else {
                return reply::forbidden();
            };
            let registered =
                client.post_logout_redirect_uris().iter().chain(client.redirect_uris());
            if !same_origin_as_any(&redirect_uri, registered) {
                return reply::invalid_request(
                    "redirect_uri must be on the origin of one of the client's post-logout redirect URIs",
                );
            }
            redirect_uri
        }
    };
    let Some(id) = provider.sessions.start(user, provider.now()) else {
        return reply::invalid_request("the hosted session could not be started");
    };
    reply::redirect(StatusCode::SEE_OTHER, &location, Some(set_cookie(&id)))
        .unwrap_or_else(|| reply::invalid_request("redirect_uri cannot be redirected to"))
}

/// Whether `uri` is on the origin of any of `registered` (mock-only rule).
fn same_origin_as_any<'a>(uri: &str, registered: impl IntoIterator<Item = &'a String>) -> bool {
    let Ok(uri) = Url::parse(uri) else {
        return false;
    };
    let origin = uri.origin();
    origin.is_tuple()
        && registered.into_iter().filter_map(|r| Url::parse(r).ok()).any(|r| r.origin() == origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_redirects_stay_on_registered_origins() {
        let registered = ["http://127.0.0.1:3000/logout/callback".to_owned()];
        assert!(same_origin_as_any("http://127.0.0.1:3000/", &registered));
        assert!(same_origin_as_any("http://127.0.0.1:3000/account?x=1", &registered));
        assert!(!same_origin_as_any("http://127.0.0.1:3001/", &registered));
        assert!(!same_origin_as_any("http://localhost:3000/", &registered));
        assert!(!same_origin_as_any("/relative", &registered));
        assert!(!same_origin_as_any("data:text/html,hi", &registered));
    }
}
