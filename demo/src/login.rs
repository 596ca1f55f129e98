//! The sign-in handlers: `/login` and `/login/callback` (the code flow
//! itself is in `signin.rs`), and the session a sign-in starts.

use axum::{
    body::Body,
    extract::{Query, State, rejection::QueryRejection},
    http::{HeaderValue, Response, StatusCode, header::SET_COOKIE},
};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use tower_oidc_logout::{
    provider_logout::index::SessionIndex, tower_sessions::v0_14::record_sign_in,
};
use tower_sessions_0_14::Session;

use crate::{
    AppState,
    pages::{escape, page, see_other, store_failed},
    signin::{CallbackQuery, PendingSignIn},
};

/// The user the mock's sign-in form offers, the one a local sign-in
/// (`PROVIDER_END_SESSION_URL` only) is for, and the one whose hosted session
/// the home page shows before anyone signed in.
pub const DEMO_USER: &str = "demo-user";
/// Session key: the signed-in user (the ID token's `sub`).
pub const USER_KEY: &str = "user";
/// Session key: the provider's session (the ID token's `sid`), when it sent one.
pub const SID_KEY: &str = "sid";
/// Session key: the ID token as received, sent as `id_token_hint` at sign-out.
pub const ID_TOKEN_KEY: &str = "id_token";
/// Where the session keeps the refresh token (revoked at sign-out).
pub const REFRESH_TOKEN_KEY: &str = "refresh_token";
/// Session key: a sign-in on its way (state, nonce, PKCE verifier), removed at the callback.
const PENDING_SIGN_IN_KEY: &str = "pending_sign_in";
/// What the local cookie's value escapes of the user name (`sub` is any string).
const COOKIE_VALUE_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.');
/// The local cookie the app sets at sign-in (besides the session cookie): the
/// user name, percent-encoded.
pub const LOCAL_COOKIE: &str = "demo_user";

/// Starts a sign-in at the provider (authorization code flow with PKCE), or,
/// with `PROVIDER_END_SESSION_URL` only, signs in locally at once.
pub(crate) async fn login(State(app): State<AppState>, session: Session) -> Response<Body> {
    let Some(sign_in) = &app.sign_in else {
        return signed_in(&session, DEMO_USER, None, Tokens::default(), None).await;
    };
    let (authorization_url, pending) = sign_in.start();
    // Single use, in the session until the provider sends the browser back.
    if let Err(e) = session.insert(PENDING_SIGN_IN_KEY, pending).await {
        return store_failed(&e);
    }
    see_other(
        page(StatusCode::SEE_OTHER, "Signing in", "<p>To the provider...</p>"),
        &authorization_url,
    )
}

/// The provider's return from sign-in: state, code, ID token checked, then the session starts.
pub(crate) async fn login_callback(
    State(app): State<AppState>,
    session: Session,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Response<Body> {
    let Some(sign_in) = &app.sign_in else {
        return page(StatusCode::NOT_FOUND, "Not found", "<p>This demo signs in locally.</p>");
    };
    // Taken out whatever happens next: a pending sign-in is used once.
    let pending = match session.remove::<PendingSignIn>(PENDING_SIGN_IN_KEY).await {
        Ok(pending) => pending,
        Err(e) => return store_failed(&e),
    };
    // A query that does not parse (a repeated parameter, say) has no usable state: refused below.
    let query = query.map(|Query(q)| q).unwrap_or_default();
    match sign_in.finish(pending, query).await {
        Ok(user) => {
            signed_in(
                &session,
                &user.sub,
                user.sid.as_deref(),
                Tokens {
                    id_token: Some(&user.id_token),
                    refresh_token: user.refresh_token.as_deref(),
                },
                app.index.as_ref().map(|(iss, index)| (iss.as_str(), &**index)),
            )
            .await
        }
        Err(failure) => {
            let status = StatusCode::from_u16(failure.status()).unwrap_or(StatusCode::BAD_REQUEST);
            let body = format!(
                "<p id=\"error\">{} (<code>{}</code>)</p><p>HTTP status {status}. Nobody was signed \
                 in.</p><p><a href=\"/login\">Try again</a> · <a href=\"/\">Home</a></p>",
                escape(&failure.to_string()),
                failure.code()
            );
            page(status, "Sign-in could not be completed", &body)
        }
    }
}

/// The tokens a sign-in at a provider keeps in the session.
#[derive(Default)]
struct Tokens<'a> {
    id_token: Option<&'a str>,
    refresh_token: Option<&'a str>,
}

/// Starts the server-side session for `user` under a fresh ID (no session
/// fixation), records it in the index under (`iss`, `sid`, `sub`) so that the
/// provider's Back- or Front-Channel Logout can end it, sets the local
/// cookie, and goes home.
async fn signed_in(
    session: &Session,
    user: &str,
    sid: Option<&str>,
    tokens: Tokens<'_>,
    index: Option<(&str, &dyn SessionIndex)>,
) -> Response<Body> {
    let saved = async {
        session.cycle_id().await?;
        session.insert(USER_KEY, user).await?;
        if let Some(sid) = sid {
            session.insert(SID_KEY, sid).await?;
        }
        if let Some(id_token) = tokens.id_token {
            session.insert(ID_TOKEN_KEY, id_token).await?;
        }
        if let Some(refresh_token) = tokens.refresh_token {
            session.insert(REFRESH_TOKEN_KEY, refresh_token).await?;
        }
        // Saved now, so that the session has its (new) ID to record.
        session.save().await?;
        Ok::<_, tower_sessions_0_14::session::Error>(())
    };
    if let Err(e) = saved.await {
        return store_failed(&e);
    }
    if let Some((iss, index)) = index
        && let Err(e) = record_sign_in(index, session, iss, sid, user).await
    {
        // Unrecorded, the session could not be ended by the provider's
        // logout: it signs nobody in (a flush that fails too leaves it to expire).
        let _ = session.flush().await;
        return store_failed(&e);
    }
    let mut response =
        see_other(page(StatusCode::SEE_OTHER, "Signed in", "<p>Signed in.</p>"), "/");
    let value = utf8_percent_encode(user, COOKIE_VALUE_ESCAPES);
    if let Ok(cookie) =
        HeaderValue::try_from(format!("{LOCAL_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax"))
    {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}
