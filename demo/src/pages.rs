//! The app's pages: every HTML the demo writes, and the escaping all of it goes through.
//!
//! The layer hands the pages what it validated ([`LoggedOut`] at the
//! callback) and what it refused ([`Rejection`], [`EndSessionFailed`]).

use axum::{
    Extension,
    body::Body,
    extract::State,
    http::{
        HeaderMap, HeaderValue, Response, StatusCode,
        header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, LOCATION},
    },
};
use percent_encoding::percent_decode_str;
use tower_oidc_logout::{EndSessionFailed, LoggedOut, Rejection};
use tower_sessions_0_14::Session;

use crate::{
    AppState,
    login::{DEMO_USER, ID_TOKEN_KEY, LOCAL_COOKIE, SID_KEY, USER_KEY},
    settings::{BACKCHANNEL_PATH, CALLBACK_PATH, FRONTCHANNEL_PATH},
    signin::LOGIN_CALLBACK_PATH,
};

/// Where the sign-out form offers to land afterwards.
const LANDINGS: [(&str, &str); 3] = [
    ("/goodbye", "a goodbye page"),
    ("/", "the home page"),
    ("/help?topic=sign-out", "the help page"),
];

/// `/`: who is signed in, the three sessions (local, server-side, at the
/// provider), and the sign-out form.
pub(crate) async fn home(
    State(app): State<AppState>,
    session: Session,
    headers: HeaderMap,
) -> Response<Body> {
    let (user, sessions) = sessions_now(&app, &session, &headers).await;
    // Signed in at a provider, the server-side session is the sign-in: when the provider
    // ended it by Back- or Front-Channel Logout, a local cookie left behind signs nobody in.
    let user = match &app.index {
        Some(_) => session.get::<String>(USER_KEY).await.ok().flatten(),
        None => user,
    };
    let mut body = match &user {
        Some(user) => {
            let sid = match session.get::<String>(SID_KEY).await.ok().flatten() {
                Some(sid) => format!(
                    "<p>Session at the provider (<code>sid</code>): <code id=\"sid\">{}</code>.</p>",
                    escape(&sid)
                ),
                None => String::new(),
            };
            format!(
                "<p id=\"status\"><strong>Signed in</strong> as <span id=\"user\">{}</span>.</p>{sid}",
                escape(user)
            )
        }
        None => {
            "<p id=\"status\"><strong>Not signed in.</strong> <a href=\"/login\">Sign in</a></p>"
                .to_owned()
        }
    };
    body.push_str(&sessions);
    body.push_str(&elsewhere(&app));
    body.push_str(&logout_form());
    body.push_str(&format!(
        "<p><small>Client ID <code>{}</code>; the provider sends the browser back to <code>{rp}{LOGIN_CALLBACK_PATH}</code> \
         after sign-in and to <code>{rp}{CALLBACK_PATH}</code> after sign-out.</small></p>",
        escape(&app.client_id),
        rp = escape(&app.rp_url)
    ));
    page(StatusCode::OK, "tower-oidc-logout demo", &body)
}

/// Who is signed in (locally or on the server), and the three sessions as HTML.
async fn sessions_now(
    app: &AppState,
    session: &Session,
    headers: &HeaderMap,
) -> (Option<String>, String) {
    let local = request_cookie(headers, LOCAL_COOKIE);
    let server = session.get::<String>(USER_KEY).await.ok().flatten();
    let local_line = match &local {
        Some(user) => {
            format!("<strong>present</strong>: <code>{LOCAL_COOKIE}={}</code>", escape(user))
        }
        None => format!("<strong>none</strong> (no <code>{LOCAL_COOKIE}</code> cookie)"),
    };
    let server_line = match (&server, session.id()) {
        (Some(user), Some(id)) => {
            let token = match session.get::<String>(ID_TOKEN_KEY).await.ok().flatten() {
                Some(token) => format!(
                    ", with its ID token ({} bytes, sent as <code>id_token_hint</code> at sign-out)",
                    token.len()
                ),
                None => String::new(),
            };
            format!(
                "<strong>present</strong> in the tower-sessions store: session <code>{id}</code> for {}{token}",
                escape(user)
            )
        }
        _ => "<strong>none</strong> in the tower-sessions store".to_owned(),
    };
    let user = server.clone().or_else(|| {
        local.as_ref().map(|value| percent_decode_str(value).decode_utf8_lossy().into_owned())
    });
    let html = format!(
        "<h2>Sessions</h2><ul>\
         <li>Local session (cookie in this browser): <span id=\"local\">{local_line}</span></li>\
         <li>Server-side session: <span id=\"server\">{server_line}</span></li>\
         <li>Hosted session at the provider: <span id=\"hosted\">{}</span></li>\
         <li>Refresh tokens at the provider: <span id=\"refresh\">{}</span></li></ul>",
        hosted_status(app, user.as_deref().unwrap_or(DEMO_USER)),
        refresh_status(app, user.as_deref().unwrap_or(DEMO_USER), server.is_some()),
    );
    (user, html)
}

/// The hosted session at the provider, as far as the demo can see it (the mock's only).
fn hosted_status(app: &AppState, user: &str) -> String {
    match &app.mock {
        Some((mock, url)) => {
            let state = if mock.has_session(user) { "active" } else { "none" };
            format!(
                "<strong>{state}</strong> for {user} at the mock provider \
                 (<a href=\"{url}/authorize\">see the provider's own page</a>)",
                user = escape(user),
                url = escape(url)
            )
        }
        None => "unknown: the demo cannot see an external provider's sessions".to_owned(),
    }
}

/// The refresh tokens the provider issued to `user`, as far as the demo can
/// see them (the mock's only): active ones live until revoked, which **Sign
/// out** does, even when the browser never comes back from the provider.
fn refresh_status(app: &AppState, user: &str, signed_in: bool) -> String {
    match &app.mock {
        Some((mock, _)) => {
            let count = mock.refresh_tokens_of(user);
            let active = match count.active {
                0 => "none active".to_owned(),
                n => format!("{n} active"),
            };
            format!(
                "<strong>{active}</strong> for {user} ({} revoked at sign-out)",
                count.revoked,
                user = escape(user)
            )
        }
        None if signed_in => {
            "held in the server-side session; revoked at sign-out (the demo cannot ask an \
             external provider whether it is still active)"
                .to_owned()
        }
        None => "none held".to_owned(),
    }
}

/// How to see Back-Channel Logout: a sign-out at the provider that the browser never brings here.
fn elsewhere(app: &AppState) -> String {
    if app.index.is_none() {
        return String::new();
    }
    let provider = match &app.mock {
        Some((_, url)) => format!(
            "open <a id=\"provider-page\" href=\"{url}/authorize\" target=\"_blank\">the provider's \
             page</a> in another tab, click \"Sign out everywhere\"",
            url = escape(url)
        ),
        None => "sign out at the provider in another tab".to_owned(),
    };
    format!(
        "<h2>Sign out elsewhere</h2><p id=\"elsewhere\">To see Back-Channel Logout: {provider}, \
         then reload this page: signed out. The provider sends a logout token to \
         <code>{rp}{BACKCHANNEL_PATH}</code>, which ends this app's sessions in that provider \
         session (Front-Channel Logout: <code>{rp}{FRONTCHANNEL_PATH}</code>).</p>",
        rp = escape(&app.rp_url)
    )
}

/// The sign-out form: `POST /logout`, which the layer serves, with a `return_to`.
fn logout_form() -> String {
    let options: String = LANDINGS
        .iter()
        .map(|(path, label)| format!("<option value=\"{}\">{label}</option>", escape(path)))
        .collect();
    format!(
        "<h2>Sign out</h2><form method=\"post\" action=\"/logout\">\
         <label>Afterwards, go to <select name=\"return_to\">{options}</select></label> \
         <button type=\"submit\">Sign out</button></form>\
         <p><small>Signing out ends the local session, the server-side session and the hosted session \
         at the provider, whether or not you are signed in.</small></p>"
    )
}

/// `response` as a redirect to `location`.
pub(crate) fn see_other(mut response: Response<Body>, location: &str) -> Response<Body> {
    if let Ok(location) = HeaderValue::try_from(location) {
        response.headers_mut().insert(LOCATION, location);
    }
    response
}

/// A 500 page: the session store failed during a sign-in.
pub(crate) fn store_failed(error: &dyn std::fmt::Display) -> Response<Body> {
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Sign-in failed",
        &format!("<p id=\"error\">The session store failed: {}</p>", escape(&error.to_string())),
    )
}

/// The sign-out callback, reached only with a state the layer validated.
pub(crate) async fn signed_out(
    State(app): State<AppState>,
    Extension(done): Extension<LoggedOut>,
    session: Session,
    headers: HeaderMap,
) -> Response<Body> {
    let logout = match done.logout() {
        Some(value) => format!("<code>{}</code> (opaque: shown, not relied on)", escape(value)),
        None => "none".to_owned(),
    };
    let target = escape(done.return_target().map_or("/", |t| t.as_str()));
    let (_, sessions) = sessions_now(&app, &session, &headers).await;
    let body = format!(
        "<p id=\"status\"><strong>Signed out.</strong> The provider sent you back with the state \
         this browser was given, so the layer let this page through.</p>\
         <h2>What the layer validated</h2><ul>\
         <li>State echoed by the provider and matching the sealed cookie: {echoed}</li>\
         <li>Provider's <code>logout</code> parameter: {logout}</li>\
         <li>Where you asked to land: <code>{target}</code></li></ul>\
         {sessions}<p><a id=\"continue\" href=\"{target}\">Continue to {target}</a></p>",
        echoed = if done.state_echoed() { "yes" } else { "no (accepted without state)" },
    );
    page(StatusCode::OK, "Signed out", &body)
}

/// `/goodbye`: one of the landings the sign-out form offers.
pub(crate) async fn goodbye() -> Response<Body> {
    page(StatusCode::OK, "Goodbye", "<p>You are signed out. <a href=\"/\">Home</a></p>")
}

/// `/help`: one of the landings the sign-out form offers.
pub(crate) async fn help() -> Response<Body> {
    page(
        StatusCode::OK,
        "Help",
        "<p>Signing out here also signs you out at the identity provider. <a href=\"/\">Home</a></p>",
    )
}

/// The layer's refusals (a cross-site sign-out, a bad `state` at the
/// callback, ...) as a readable page; the layer keeps the status, the cookies
/// and the [`Rejection`] in the extensions.
pub(crate) fn refusal_page(rejection: &Rejection) -> String {
    let detail = format!("{} (<code>{}</code>)", escape(&rejection.to_string()), rejection.code());
    error_html("Sign-out could not be completed", &detail, rejection.status())
}

/// A failed storage hook ([`EndSessionFailed`], a 500) as a readable page.
///
/// The layer's `refusal_page` covers [`Rejection`]s only; this failure is
/// not one (nothing was refused: the store failed), so this one small
/// `map_response` stays for it.
pub(crate) async fn end_session_failed_page(response: Response<Body>) -> Response<Body> {
    let Some(failure) = response.extensions().get::<EndSessionFailed>() else {
        return response;
    };
    let detail = escape(&failure.to_string());
    let (mut parts, _) = response.into_parts();
    let html = error_html("Sign-out failed on the server", &detail, parts.status);
    parts.headers.remove(CONTENT_LENGTH);
    parts.headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    Response::from_parts(parts, Body::from(html))
}

/// An error page with the sign-out form, to try again.
fn error_html(title: &str, detail: &str, status: StatusCode) -> String {
    let body = format!(
        "<p id=\"error\">{detail}</p><p>HTTP status {status}. Nothing was signed out by following \
         this link, and no page of the app was shown.</p>{form}<p><a href=\"/\">Home</a></p>",
        form = logout_form(),
    );
    html_document(title, &body)
}

/// The demo's HTML document around `body`.
fn html_document(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; max-width: 44em; margin: 2em auto; line-height: 1.5\">\n\
         <p><small>tower-oidc-logout demo app</small></p>\n<h1>{title}</h1>\n{body}\n</body></html>\n",
        title = escape(title)
    )
}

/// An HTML page, never cached.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(html_document(title, body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The value of the request's cookie `name`.
fn request_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// `text` made safe for HTML text and quoted attribute values.
///
/// A `ReturnTarget` holds no `<`, `>`, `"`, `'` or backtick, but its `&`
/// still needs escaping, and the provider's `logout` value is anything at all.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}
